//! A compiled copy of a LightGBM model's trees that predicts a block of rows tree by tree.
//!
//! Why our own evaluator rather than LightGBM's predictor: LightGBM walks each row through every tree before the
//! next row, so every row streams the whole model (about 5 MB for the reference's 1,600 trees of up to 112
//! leaves) through the cache. Here a block of rows goes through one tree at a time, so the tree (a few KB of
//! packed nodes) stays in L1 while the block's rows stay in L2. No crate does this for LightGBM's text model
//! (treelite and lleaves are C++/Python code generators).
//!
//! It is LightGBM's arithmetic, not an approximation: the decisions follow `Tree::NumericalDecision` and
//! `Tree::CategoricalDecision` of LightGBM 4 (missing type none / zero / NaN, default direction, the
//! `kZeroThreshold` rounding of inputs, category bitsets, NaN and negative categories to the right), leaf values
//! and thresholds are read back exactly from the text model, and each row's leaves are summed in tree order from
//! 0.0 as LightGBM does — so predictions are bit-identical to the library's (tests compare both on every model
//! they train). Models outside that scope (linear trees, several trees per iteration, objectives whose output is
//! transformed) are not compiled and keep LightGBM's own predictor.

use crate::matrix::RowBlock;
use crate::packed_tree::{BlockWalker, Child, PackedTree, Rows, Split, Test, round_down};

/// LightGBM's `kZeroThreshold` (a `float` literal, compared as `double`).
const ZERO_THRESHOLD: f64 = ZERO_THRESHOLD_F32 as f64;
const ZERO_THRESHOLD_F32: f32 = 1.0e-35;
/// `decision_type` bit: categorical split.
const CATEGORICAL: u8 = 1;
/// `decision_type` bit: missing values go left.
const DEFAULT_LEFT: u8 = 2;
/// Objectives whose prediction is the raw score.
const IDENTITY_OBJECTIVES: [&str; 6] = [
    "regression",
    "regression_l1",
    "huber",
    "fair",
    "quantile",
    "mape",
];

/// A split as LightGBM stores it.
#[derive(Clone, Copy, Debug)]
struct Node {
    threshold: f64,
    decision: u8,
}

#[derive(Clone, Debug)]
struct Tree {
    packed: PackedTree,
    leaves: Vec<f64>,
}

/// A column computed once per row for the splits that are not one comparison of an input (see the packed tree's
/// module doc), shared by every split that asks the same question.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Derived {
    /// 0.0 when LightGBM's rule sends the feature's value left, 1.0 when right.
    Rule { feature: usize, rule: Rule },
    /// The feature with zeros and NaN made missing — `-inf` when missing goes left, `NaN` when it goes right — so
    /// a zero-as-missing split is `derived <= threshold`.
    ZeroMissing { feature: usize, missing_left: bool },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Rule {
    /// A categorical split: the words of its category bitset.
    Categorical(Vec<u32>),
    /// A numerical split with a `NaN` threshold (which LightGBM does not write; its rule still decides).
    Numerical { threshold_bits: u64, decision: u8 },
}

impl Derived {
    /// The column's value for a row of inputs (as LightGBM reads them: see [`Forest::predict`]).
    fn value(&self, row: &[f32]) -> f32 {
        match self {
            Self::Rule { feature, rule } => {
                let value = f64::from(row[*feature]);
                let left = match rule {
                    Rule::Categorical(bits) => categorical(bits, value),
                    Rule::Numerical {
                        threshold_bits,
                        decision,
                    } => numerical(
                        &Node {
                            threshold: f64::from_bits(*threshold_bits),
                            decision: *decision,
                        },
                        value,
                    ),
                };
                if left { 0.0 } else { 1.0 }
            }
            Self::ZeroMissing {
                feature,
                missing_left,
            } => {
                let value = row[*feature];
                match (value == 0.0 || value.is_nan(), missing_left) {
                    (false, _) => value,
                    (true, true) => f32::NEG_INFINITY,
                    (true, false) => f32::NAN,
                }
            }
        }
    }
}

/// The derived columns of a forest, each once.
#[derive(Default)]
struct DerivedColumns {
    columns: Vec<Derived>,
    index: std::collections::HashMap<Derived, usize>,
}

impl DerivedColumns {
    fn index_of(&mut self, derived: Derived) -> usize {
        let next = self.columns.len();
        *self.index.entry(derived.clone()).or_insert_with(|| {
            self.columns.push(derived);
            next
        })
    }
}

/// LightGBM's `CategoricalDecision` (whether `value` goes left) for a category set's bitset words.
fn categorical(bits: &[u32], value: f64) -> bool {
    // C++ `static_cast<int>` of NaN is INT_MIN on x86-64, so NaN takes the "negative category" branch (right).
    if value.is_nan() || value <= -1.0 {
        return false;
    }
    let category = value.trunc();
    let word = (category / 32.0) as usize;
    if category >= f64::from(i32::MAX) || word >= bits.len() {
        return false;
    }
    let bit = category as usize % 32;
    (bits[word] >> bit) & 1 == 1
}

/// LightGBM's `NumericalDecision` (whether `value` goes left), for the splits that do not reduce to one
/// comparison of an input; [`reduce`] gives the others.
fn numerical(n: &Node, value: f64) -> bool {
    let missing = (n.decision >> 2) & 3;
    let value = if value.is_nan() && missing != 2 {
        0.0
    } else {
        value
    };
    if (missing == 1 && (-ZERO_THRESHOLD..=ZERO_THRESHOLD).contains(&value))
        || (missing == 2 && value.is_nan())
    {
        return n.decision & DEFAULT_LEFT != 0;
    }
    value <= n.threshold
}

/// An input as LightGBM's dense row reader passes it on: |v| <= kZeroThreshold reads as 0.0, NaN stays NaN.
fn as_read(v: f32) -> f32 {
    if v.abs() <= ZERO_THRESHOLD_F32 {
        0.0
    } else {
        v
    }
}

/// A numerical split as one comparison, exactly: inputs are `f32`, so `f64::from(v) <= threshold` is
/// `v <= round_down(threshold)`. Missing type none reads a missing value as 0.0 and type NaN sends it the default
/// way, both a comparison of the input; type zero (values near 0.0 go the default way too) compares a
/// [`Derived::ZeroMissing`] column. A `NaN` threshold is left to LightGBM's rule ([`Rule::Numerical`]).
fn reduce(n: &Node, feature: usize, derived: &mut DerivedColumns) -> Test {
    let missing = (n.decision >> 2) & 3;
    let default_left = n.decision & DEFAULT_LEFT != 0;
    if n.threshold.is_nan() {
        let rule = Rule::Numerical {
            threshold_bits: n.threshold.to_bits(),
            decision: n.decision,
        };
        return Test::Derived {
            index: derived.index_of(Derived::Rule { feature, rule }),
            threshold: 0.0,
        };
    }
    let threshold = round_down(n.threshold);
    match missing {
        1 => Test::Derived {
            index: derived.index_of(Derived::ZeroMissing {
                feature,
                missing_left: default_left,
            }),
            threshold,
        },
        2 => Test::LessOrEqual {
            feature,
            threshold,
            missing_left: default_left,
        },
        _ => Test::LessOrEqual {
            feature,
            threshold,
            missing_left: 0.0 <= n.threshold,
        },
    }
}

/// The trees of one LightGBM model, ready for block prediction.
#[derive(Clone, Debug)]
pub(crate) struct Forest {
    trees: Vec<Tree>,
    n_features: usize,
    derived: Vec<Derived>,
}

impl Forest {
    /// Compiles a LightGBM text model; `Ok(None)` when the model is outside the evaluator's scope (see the module
    /// doc), `Err` when the text is inconsistent.
    pub(crate) fn compile(text: &str) -> Result<Option<Self>, String> {
        let header = |key: &str| {
            text.lines()
                .take_while(|l| !l.starts_with("Tree="))
                .find_map(|l| l.strip_prefix(key))
        };
        let objective = header("objective=").unwrap_or("");
        let objective = objective.split_whitespace().next().unwrap_or("");
        if !IDENTITY_OBJECTIVES.contains(&objective)
            || header("num_tree_per_iteration=") != Some("1")
            || header("average_output").is_some()
        {
            return Ok(None);
        }
        let n_features = header("max_feature_idx=")
            .and_then(|v| v.trim().parse::<usize>().ok())
            .ok_or("the model has no max_feature_idx line")?
            + 1;
        let mut trees = Vec::new();
        let mut derived = DerivedColumns::default();
        let mut lines = text.lines().peekable();
        while let Some(line) = lines.next() {
            if line.starts_with("end of trees") {
                break;
            }
            let Some(index) = line.strip_prefix("Tree=") else {
                continue;
            };
            let mut fields = std::collections::HashMap::new();
            while let Some(next) = lines.peek() {
                if next.trim().is_empty() {
                    break;
                }
                if let Some((key, value)) = next.split_once('=') {
                    fields.insert(key, value);
                }
                lines.next();
            }
            if fields.get("is_linear").is_some_and(|v| v.trim() != "0") {
                return Ok(None);
            }
            trees.push(
                parse_tree(&fields, n_features, &mut derived)
                    .map_err(|e| format!("tree {index}: {e}"))?,
            );
        }
        if trees.is_empty() {
            return Err("the model text has no trees".into());
        }
        Ok(Some(Self {
            trees,
            n_features,
            derived: derived.columns,
        }))
    }

    /// Raw scores of `rows` rows of row-major `values`, one thread.
    pub(crate) fn predict(&self, block: RowBlock<'_>) -> Vec<f64> {
        let (values, rows) = (block.values, block.n_rows);
        let width = self.n_features;
        let inputs = Rows::widen(
            &values[..rows * width],
            width,
            as_read,
            self.derived.len(),
            |row, columns| {
                for (column, derived) in columns.iter_mut().zip(&self.derived) {
                    *column = derived.value(row);
                }
            },
        );
        let mut out = vec![0.0f64; rows];
        let mut walker = BlockWalker::new(&inputs);
        for tree in &self.trees {
            walker.add_leaf_values(&tree.packed, &tree.leaves, &mut out);
        }
        out
    }
}

fn numbers<T: std::str::FromStr>(
    fields: &std::collections::HashMap<&str, &str>,
    key: &str,
) -> Result<Vec<T>, String> {
    let Some(text) = fields.get(key) else {
        return Err(format!("no {key} line"));
    };
    text.split_whitespace()
        .map(|v| {
            v.parse()
                .map_err(|_| format!("{key}: '{v}' is not a number"))
        })
        .collect()
}

fn parse_tree(
    fields: &std::collections::HashMap<&str, &str>,
    n_features: usize,
    derived: &mut DerivedColumns,
) -> Result<Tree, String> {
    let num_leaves: usize = fields
        .get("num_leaves")
        .and_then(|v| v.trim().parse().ok())
        .ok_or("no num_leaves line")?;
    let leaves: Vec<f64> = numbers(fields, "leaf_value")?;
    if leaves.len() != num_leaves || num_leaves == 0 {
        return Err(format!(
            "{} leaf values for {num_leaves} leaves",
            leaves.len()
        ));
    }
    if num_leaves == 1 {
        return Ok(Tree {
            packed: PackedTree::new(&[], 1, n_features)?,
            leaves,
        });
    }
    let features: Vec<u32> = numbers(fields, "split_feature")?;
    let thresholds: Vec<f64> = numbers(fields, "threshold")?;
    let decisions: Vec<i16> = numbers(fields, "decision_type")?;
    let left: Vec<i32> = numbers(fields, "left_child")?;
    let right: Vec<i32> = numbers(fields, "right_child")?;
    let n_nodes = num_leaves - 1;
    for (name, len) in [
        ("split_feature", features.len()),
        ("threshold", thresholds.len()),
        ("decision_type", decisions.len()),
        ("left_child", left.len()),
        ("right_child", right.len()),
    ] {
        if len != n_nodes {
            return Err(format!("{name} has {len} entries for {n_nodes} splits"));
        }
    }
    let num_cat: usize = fields
        .get("num_cat")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let (cat_boundaries, cat_bits) = if num_cat > 0 {
        let bounds: Vec<usize> = numbers(fields, "cat_boundaries")?;
        let bits: Vec<u32> = numbers(fields, "cat_threshold")?;
        if bounds.len() != num_cat + 1
            || bounds.windows(2).any(|w| w[0] > w[1])
            || bounds.last() != Some(&bits.len())
        {
            return Err("cat_boundaries do not match cat_threshold".into());
        }
        (bounds, bits)
    } else {
        (Vec::new(), Vec::new())
    };
    // LightGBM's children: `>= 0` a split, `< 0` the leaf `!child`.
    let child = |c: i32| {
        if c >= 0 {
            Child::Split(c as usize)
        } else {
            Child::Leaf((!c) as usize)
        }
    };
    let mut splits = Vec::with_capacity(n_nodes);
    for i in 0..n_nodes {
        let decision = u8::try_from(decisions[i])
            .map_err(|_| format!("decision_type {} is out of range", decisions[i]))?;
        let node = Node {
            threshold: thresholds[i],
            decision,
        };
        let feature = features[i] as usize;
        if feature >= n_features {
            return Err(format!("split {i} tests feature {feature} of {n_features}"));
        }
        let test = if decision & CATEGORICAL != 0 {
            let set = thresholds[i];
            if !(set >= 0.0 && (set as usize) < num_cat) {
                return Err(format!("split {i} names a missing category set"));
            }
            let set = set as usize;
            let bits = cat_bits[cat_boundaries[set]..cat_boundaries[set + 1]].to_vec();
            let rule = Rule::Categorical(bits);
            Test::Derived {
                index: derived.index_of(Derived::Rule { feature, rule }),
                threshold: 0.0,
            }
        } else {
            reduce(&node, feature, derived)
        };
        splits.push(Split {
            test,
            left: child(left[i]),
            right: child(right[i]),
        });
    }
    Ok(Tree {
        packed: PackedTree::new(&splits, num_leaves, n_features)?,
        leaves,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_TREES: &str = "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n\
max_feature_idx=1\nobjective=regression\nfeature_names=a b\n\n\
Tree=0\nnum_leaves=3\nnum_cat=1\nsplit_feature=1 0\nthreshold=0 1.5\ndecision_type=1 10\n\
left_child=-1 -2\nright_child=1 -3\nleaf_value=10 20 30\ncat_boundaries=0 1\ncat_threshold=5\n\
is_linear=0\nshrinkage=1\n\n\nTree=1\nnum_leaves=1\nnum_cat=0\nleaf_value=0.5\nis_linear=0\nshrinkage=1\n\n\n\
end of trees\n";

    /// The forest's predictions for rows of two features, as one block.
    fn predict_rows(forest: &Forest, rows: &[[f32; 2]]) -> Vec<f64> {
        let values: Vec<f32> = rows.iter().flatten().copied().collect();
        forest.predict(RowBlock {
            values: &values,
            n_rows: rows.len(),
        })
    }

    #[test]
    fn decisions_follow_lightgbm() {
        let forest = Forest::compile(TWO_TREES).unwrap().unwrap();
        // Category set {0, 2} (bits 0b101) goes left; NaN, negative and unseen categories go right, where a
        // numeric split on feature 0 (missing type NaN, default left) decides.
        let rows: [[f32; 2]; 7] = [
            [0.0, 0.0],
            [0.0, 2.9],
            [0.0, 1.0],
            [1.0, f32::NAN],
            [2.0, -3.0],
            [f32::NAN, 40.0],
            [1.5, 1.0],
        ];
        let predicted = predict_rows(&forest, &rows);
        assert_eq!(predicted, vec![10.5, 10.5, 20.5, 20.5, 30.5, 20.5, 20.5]);
    }

    #[test]
    fn zero_as_missing_and_nan_threshold_splits_follow_lightgbm() {
        // Root: feature 0 <= 1.5 with missing type zero, default left (decision 1*4 + 2); right of it a split on
        // feature 1 with a NaN threshold, missing type NaN, default left (2*4 + 2): only NaN goes left.
        let text = "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n\
max_feature_idx=1\nobjective=regression\nfeature_names=a b\n\n\
Tree=0\nnum_leaves=3\nnum_cat=0\nsplit_feature=0 1\nthreshold=1.5 nan\ndecision_type=6 10\n\
left_child=-1 -2\nright_child=1 -3\nleaf_value=10 20 30\nis_linear=0\nshrinkage=1\n\n\n\
end of trees\n";
        let forest = Forest::compile(text).unwrap().unwrap();
        let root = Node {
            threshold: 1.5,
            decision: 6,
        };
        let second = Node {
            threshold: f64::NAN,
            decision: 10,
        };
        let rows: [[f32; 2]; 9] = [
            [0.0, 1.0],
            [1e-36, 1.0],
            [-1e-36, 1.0],
            [f32::NAN, 1.0],
            [-3.0, 0.0],
            [1.5, 7.0],
            [1.6, f32::NAN],
            [2.0, 5.0],
            [2.0, 0.0],
        ];
        let predicted = predict_rows(&forest, &rows);
        // LightGBM reads |v| <= kZeroThreshold as 0.0 before deciding.
        let read = |v: f32| f64::from(as_read(v));
        let expected: Vec<f64> = rows
            .iter()
            .map(
                |r| match (numerical(&root, read(r[0])), numerical(&second, read(r[1]))) {
                    (true, _) => 10.0,
                    (false, true) => 20.0,
                    (false, false) => 30.0,
                },
            )
            .collect();
        assert_eq!(predicted, expected);
        assert_eq!(
            expected,
            vec![10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 20.0, 30.0, 30.0]
        );
    }

    #[test]
    fn models_outside_the_scope_are_not_compiled() {
        let poisson = TWO_TREES.replace("objective=regression", "objective=poisson");
        assert!(Forest::compile(&poisson).unwrap().is_none());
        let linear = TWO_TREES.replacen("is_linear=0", "is_linear=1", 1);
        assert!(Forest::compile(&linear).unwrap().is_none());
        let broken = TWO_TREES.replace("left_child=-1 -2", "left_child=-1 7");
        assert!(Forest::compile(&broken).unwrap_err().contains("tree 0"));
    }
}
