//! A compiled copy of an XGBoost model's trees that predicts a block of rows tree by tree.
//!
//! Why our own evaluator rather than XGBoost's predictor: the same reason as LightGBM's (see
//! `lightgbm/forest.rs`) plus XGBoost's per-call cost — each prediction builds a `DMatrix` and parses a JSON
//! configuration, which dominates a single-row request. Here the model's trees are packed once at load and a block
//! of rows goes through one tree at a time.
//!
//! It is XGBoost's arithmetic: a row goes left when `value < split_condition` (`f32` against `f32`), missing
//! (`NaN`) values follow `default_left`, and each row's score starts at `base_score` and adds the leaf values tree
//! by tree in `f32`, as XGBoost's CPU predictor accumulates — so predictions are bit-identical to the library's
//! (tests compare both). Models outside that scope (categorical splits, DART, several targets or classes,
//! objectives whose output is transformed) are not compiled and keep XGBoost's predictor.

use crate::matrix::RowBlock;
use crate::packed_tree::{BlockWalker, Child, PackedTree, Rows, Split, Test};
use serde_json::Value;

/// Objectives whose prediction is the raw margin.
const IDENTITY_OBJECTIVES: [&str; 4] = [
    "reg:squarederror",
    "reg:absoluteerror",
    "reg:pseudohubererror",
    "reg:quantileerror",
];

/// One tree: its splits packed, and its leaf values.
#[derive(Clone, Debug)]
struct Tree {
    packed: PackedTree,
    leaves: Vec<f32>,
}

/// The trees of one XGBoost model, ready for block prediction.
#[derive(Clone, Debug)]
pub(crate) struct Forest {
    trees: Vec<Tree>,
    base_score: f32,
    n_features: usize,
}

fn field<'a>(value: &'a Value, path: &[&str]) -> Result<&'a Value, String> {
    path.iter().try_fold(value, |v, key| {
        v.get(key)
            .ok_or_else(|| format!("the model has no {}", path.join(".")))
    })
}

fn text_number<T: std::str::FromStr>(value: &Value, what: &str) -> Result<T, String> {
    let text = value
        .as_str()
        .ok_or_else(|| format!("{what} is not a string"))?;
    let text = text.trim().trim_start_matches('[').trim_end_matches(']');
    text.trim()
        .parse()
        .map_err(|_| format!("{what} '{text}' is not a number"))
}

fn array<'a>(tree: &'a Value, key: &str) -> Result<&'a Vec<Value>, String> {
    tree.get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| format!("no {key} array"))
}

impl Forest {
    /// Compiles an XGBoost JSON model; `Ok(None)` when the model is outside the evaluator's scope (see the module
    /// doc), `Err` when the JSON is inconsistent.
    pub(crate) fn compile(json: &[u8]) -> Result<Option<Self>, String> {
        let root: Value =
            serde_json::from_slice(json).map_err(|e| format!("not an XGBoost JSON model: {e}"))?;
        let learner = field(&root, &["learner"])?;
        let objective = field(learner, &["objective", "name"])?
            .as_str()
            .unwrap_or("");
        let booster = field(learner, &["gradient_booster", "name"])?
            .as_str()
            .unwrap_or("");
        let params = field(learner, &["learner_model_param"])?;
        let num_class: u32 = text_number(field(params, &["num_class"])?, "num_class")?;
        let num_target: u32 = params
            .get("num_target")
            .map_or(Ok(1), |v| text_number(v, "num_target"))?;
        if !IDENTITY_OBJECTIVES.contains(&objective)
            || booster != "gbtree"
            || num_class > 1
            || num_target != 1
        {
            return Ok(None);
        }
        let base_score: f32 = text_number(field(params, &["base_score"])?, "base_score")?;
        let n_features: usize = text_number(field(params, &["num_feature"])?, "num_feature")?;
        let model = field(learner, &["gradient_booster", "model"])?;
        let parallel: u32 = model
            .get("gbtree_model_param")
            .and_then(|p| p.get("num_parallel_tree"))
            .map_or(Ok(1), |v| text_number(v, "num_parallel_tree"))?;
        if parallel != 1 {
            return Ok(None);
        }
        let mut trees = Vec::new();
        for (index, tree) in array(model, "trees")?.iter().enumerate() {
            match parse_tree(tree, n_features).map_err(|e| format!("tree {index}: {e}"))? {
                Some(nodes) => trees.push(nodes),
                None => return Ok(None),
            }
        }
        Ok(Some(Self {
            trees,
            base_score,
            n_features,
        }))
    }

    /// Predictions of `rows` rows of row-major `values` (`NaN` = missing), one thread.
    pub(crate) fn predict(&self, block: RowBlock<'_>) -> Vec<f64> {
        let (values, rows) = (block.values, block.n_rows);
        let width = self.n_features;
        let inputs = Rows::widen(&values[..rows * width], width, |v| v, 0, |_, _| {});
        let mut out = vec![self.base_score; rows];
        let mut walker = BlockWalker::new(&inputs);
        for tree in &self.trees {
            walker.add_leaf_values(&tree.packed, &tree.leaves, &mut out);
        }
        out.into_iter().map(f64::from).collect()
    }
}

fn parse_tree(tree: &Value, n_features: usize) -> Result<Option<Tree>, String> {
    if array(tree, "split_type")?
        .iter()
        .any(|t| t.as_u64() != Some(0))
    {
        return Ok(None); // categorical splits
    }
    let numbers = |key: &str| -> Result<Vec<f64>, String> {
        array(tree, key)?
            .iter()
            .map(|v| {
                v.as_f64()
                    .ok_or_else(|| format!("{key} holds a non-number"))
            })
            .collect()
    };
    let left = numbers("left_children")?;
    let right = numbers("right_children")?;
    let features = numbers("split_indices")?;
    let conditions = array(tree, "split_conditions")?;
    let default_left = numbers("default_left")?;
    let n = left.len();
    if n == 0
        || [
            right.len(),
            features.len(),
            conditions.len(),
            default_left.len(),
        ]
        .iter()
        .any(|&len| len != n)
    {
        return Err("node arrays of different lengths".into());
    }
    // Nodes are numbered splits and leaves together; the packed tree numbers each kind apart, in node order
    // (children come after their parent, so split numbers still only go down).
    let mut number = Vec::with_capacity(n);
    let (mut n_splits, mut n_leaves) = (0, 0);
    for &l in &left {
        if l < 0.0 {
            number.push(Child::Leaf(n_leaves));
            n_leaves += 1;
        } else {
            number.push(Child::Split(n_splits));
            n_splits += 1;
        }
    }
    let mut splits = Vec::with_capacity(n_splits);
    let mut leaves = Vec::with_capacity(n_leaves);
    for i in 0..n {
        // Numbers are read as written (shortest round-trip text of an f32), so parsing as f32 is exact.
        let value: f32 = conditions[i]
            .to_string()
            .parse()
            .map_err(|_| format!("split_conditions[{i}] is not a number"))?;
        if left[i] < 0.0 {
            leaves.push(value);
            continue;
        }
        if value.is_nan() || value == f32::NEG_INFINITY {
            return Ok(None); // nothing is below -inf or NaN; XGBoost does not write such splits
        }
        let (l, r) = (left[i] as i64, right[i] as i64);
        let in_tree = |c: i64| c > i as i64 && (c as usize) < n;
        if !in_tree(l) || !in_tree(r) || features[i] as usize >= n_features {
            return Err(format!("node {i} points outside the tree or the features"));
        }
        splits.push(Split {
            test: Test::LessOrEqual {
                feature: features[i] as usize,
                threshold: below(value),
                missing_left: default_left[i] != 0.0,
            },
            left: number[l as usize],
            right: number[r as usize],
        });
    }
    Ok(Some(Tree {
        packed: PackedTree::new(&splits, n_leaves, n_features)?,
        leaves,
    }))
}

/// XGBoost's `value < condition` as the packed tree's `value <= threshold`: for `f32` values and a condition
/// above -inf, `v < c` is `v <= c.next_down()`.
fn below(condition: f32) -> f32 {
    condition.next_down()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(objective: &str, split_type: &str) -> String {
        format!(
            r#"{{"learner": {{"learner_model_param": {{"base_score": "[5E-1]", "num_class": "0",
            "num_feature": "2", "num_target": "1"}}, "objective": {{"name": "{objective}"}},
            "gradient_booster": {{"name": "gbtree", "model": {{"gbtree_model_param": {{"num_parallel_tree": "1"}},
            "trees": [{{"left_children": [1, -1, -1], "right_children": [2, -1, -1], "split_indices": [1, 0, 0],
            "split_conditions": [2.5, 10.0, 20.0], "default_left": [0, 0, 0], "split_type": {split_type}}},
            {{"left_children": [-1], "right_children": [-1], "split_indices": [0], "split_conditions": [0.25],
            "default_left": [0], "split_type": [0]}}]}}}}}}}}"#
        )
    }

    #[test]
    fn decisions_follow_xgboost() {
        let forest = Forest::compile(model("reg:squarederror", "[0, 0, 0]").as_bytes())
            .unwrap()
            .unwrap();
        // Left when feature 1 < 2.5 (strictly); NaN takes the default direction (right here).
        let values = [0.0, 1.0, 0.0, 2.5, 0.0, f32::NAN, 7.0, -3.0];
        let block = RowBlock {
            values: &values,
            n_rows: 4,
        };
        assert_eq!(forest.predict(block), vec![10.75, 20.75, 20.75, 10.75]);
    }

    #[test]
    fn strictly_below_is_at_most_the_next_value_down() {
        let values = [
            0.0f32,
            -0.0,
            1e-45,
            -1e-45,
            2.5,
            2.5f32.next_down(),
            2.5f32.next_up(),
            f32::MAX,
            f32::MIN,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ];
        for &condition in values.iter().filter(|&&c| c > f32::NEG_INFINITY) {
            for &v in &values {
                assert_eq!(v <= below(condition), v < condition, "{v} < {condition}");
            }
        }
    }

    #[test]
    fn models_outside_the_scope_are_not_compiled() {
        let logistic = model("binary:logistic", "[0, 0, 0]");
        assert!(Forest::compile(logistic.as_bytes()).unwrap().is_none());
        let categorical = model("reg:squarederror", "[1, 0, 0]");
        assert!(Forest::compile(categorical.as_bytes()).unwrap().is_none());
        let broken = model("reg:squarederror", "[0, 0, 0]").replace("[1, -1, -1]", "[7, -1, -1]");
        assert!(
            Forest::compile(broken.as_bytes())
                .unwrap_err()
                .contains("tree 0")
        );
    }
}
