//! Saving and loading in CatBoost's JSON model format, which Python `catboost` loads with
//! `CatBoost().load_model(path, format="json")`.
//!
//! What we write, in CatBoost's terms:
//! - `features_info.float_features`: every numeric column with its borders; columns with missing values get the
//!   `f32::MIN` border and `nan_value_treatment: AsFalse` (CatBoost's `nan_mode = Min`);
//! - `features_info.categorical_features`: every categorical column; one-hot columns list the CatBoost hashes of
//!   their levels in `values`;
//! - `features_info.ctrs` and `ctr_data`: `Borders` (target binarized into two classes, `target_border_idx` 0) and
//!   `Counter` CTRs over single columns, with full-training-set counts keyed by CatBoost's level hashes;
//! - `oblivious_trees`: splits (`FloatFeature`, `OneHotFeature`, `OnlineCtr`) with **`split_index`**, the position
//!   of the split among all binary features in CatBoost's order (float borders, then one-hot values sorted as
//!   signed hashes, then CTR borders); without it CatBoost loads the file but predicts wrong;
//! - `scale_and_bias`: `[1, [bias]]`; leaf values already include the learning rate.
//!
//! Categorical levels reach CatBoost as text: level code `k` is the string `"k"` (what `str(k)` gives for an
//! integer column in pandas); a missing or unseen level is any other string (e.g. `"nan"`), which CatBoost, like
//! us, treats as a level without statistics. A top-level `modelops` object (ignored by CatBoost) keeps what the
//! format has no place for: column kinds and level counts, and the gain-based feature importance.

use super::ctr::{CtrFeature, CtrKind, LevelStats, PRIOR_DENOMINATOR};
use super::hash::{ctr_table_key, level_hash};
use super::model::{BinnedSource, CatFeature, FloatFeature, ObliviousModel, ObliviousTree, Split};
use crate::{FeatureKind, ModelError};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;

/// Every binary feature in CatBoost's `split_index` order, as our splits, with the CatBoost description.
fn binary_features(model: &ObliviousModel) -> Vec<(Split, Value)> {
    let mut out = Vec::new();
    for (f, source) in model.binned.iter().enumerate() {
        match *source {
            BinnedSource::Float(i) => {
                for (t, border) in model.floats[i].borders.iter().enumerate() {
                    out.push((
                        Split { feature: f, threshold: t as u8, is_equality: false },
                        json!({"border": f64::from(*border), "float_feature_index": i, "split_type": "FloatFeature"}),
                    ));
                }
            }
            BinnedSource::OneHot(i) => {
                for (level, hash) in sorted_level_hashes(model.cats[i].levels) {
                    out.push((
                        Split { feature: f, threshold: (level + 1) as u8, is_equality: true },
                        json!({"cat_feature_index": i, "split_type": "OneHotFeature", "value": hash}),
                    ));
                }
            }
            BinnedSource::Ctr(i) => {
                for (t, border) in model.ctrs[i].borders.iter().enumerate() {
                    out.push((
                        Split { feature: f, threshold: t as u8, is_equality: false },
                        json!({"border": f64::from(*border), "ctr_target_border_idx": 0, "split_type": "OnlineCtr"}),
                    ));
                }
            }
        }
    }
    out
}

/// (level, hash) for levels `0..levels`, sorted by the signed hash as CatBoost orders one-hot values.
fn sorted_level_hashes(levels: u32) -> Vec<(u32, i32)> {
    let mut v: Vec<(u32, i32)> = (0..levels).map(|l| (l, level_hash(l))).collect();
    v.sort_by_key(|&(_, h)| h);
    v
}

fn ctr_type(kind: CtrKind) -> &'static str {
    match kind {
        CtrKind::Borders { .. } => "Borders",
        CtrKind::Counter => "Counter",
    }
}

/// CatBoost's CTR identifier string for a single-column CTR.
fn ctr_identifier(cat_index: usize, kind: CtrKind) -> String {
    format!(
        r#"{{"identifier":[{{"cat_feature_index":{cat_index},"combination_element":"cat_feature_value"}}],"type":"{}"}}"#,
        ctr_type(kind)
    )
}

fn to_value(model: &ObliviousModel) -> Value {
    let float_features: Vec<Value> = model
        .floats
        .iter()
        .enumerate()
        .map(|(i, f)| {
            json!({
                "borders": f.borders.iter().map(|b| f64::from(*b)).collect::<Vec<f64>>(),
                "feature_id": model.names[f.column],
                "feature_index": i,
                "flat_feature_index": f.column,
                "has_nans": f.has_nans,
                "nan_value_treatment": if f.has_nans { "AsFalse" } else { "AsIs" },
            })
        })
        .collect();
    let categorical_features: Vec<Value> = model
        .cats
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut v = json!({"feature_id": model.names[c.column], "feature_index": i, "flat_feature_index": c.column});
            if c.one_hot {
                v["values"] = json!(sorted_level_hashes(c.levels).iter().map(|(_, h)| *h).collect::<Vec<i32>>());
            }
            v
        })
        .collect();
    let ctrs: Vec<Value> = model
        .ctrs
        .iter()
        .map(|c| {
            let prior = match c.kind {
                CtrKind::Borders { prior } => prior,
                CtrKind::Counter => 0.0,
            };
            json!({
                "borders": c.borders.iter().map(|b| f64::from(*b)).collect::<Vec<f64>>(),
                "ctr_type": ctr_type(c.kind),
                "elements": [{"cat_feature_index": c.cat_index, "combination_element": "cat_feature_value"}],
                "identifier": ctr_identifier(c.cat_index, c.kind),
                "prior_denomerator": f64::from(PRIOR_DENOMINATOR),
                "prior_numerator": f64::from(prior),
                "scale": f64::from(c.scale),
                "shift": 0.0,
                "target_border_idx": 0,
            })
        })
        .collect();
    let mut ctr_data = serde_json::Map::new();
    for c in &model.ctrs {
        let id = ctr_identifier(c.cat_index, c.kind);
        if ctr_data.contains_key(&id) {
            continue;
        }
        let cat = &model.cats[c.cat_index];
        let Some(stats) = &cat.stats else { continue };
        let mut hash_map: Vec<Value> = Vec::new();
        for (level, counts) in stats.class_counts.iter().enumerate() {
            if counts[0] + counts[1] == 0 {
                continue;
            }
            hash_map.push(json!(ctr_table_key(level as u32).to_string()));
            match c.kind {
                CtrKind::Borders { .. } => {
                    hash_map.push(json!(counts[0]));
                    hash_map.push(json!(counts[1]));
                }
                CtrKind::Counter => hash_map.push(json!(counts[0] + counts[1])),
            }
        }
        let (stride, denominator) = match c.kind {
            CtrKind::Borders { .. } => (3, 0),
            CtrKind::Counter => (2, stats.max_count),
        };
        ctr_data.insert(
            id,
            json!({"counter_denominator": denominator, "hash_map": hash_map, "hash_stride": stride}),
        );
    }
    let table = binary_features(model);
    let index: HashMap<(usize, u8), usize> = table
        .iter()
        .enumerate()
        .map(|(i, (s, _))| ((s.feature, s.threshold), i))
        .collect();
    let trees: Vec<Value> = model
        .trees
        .iter()
        .map(|t| {
            let splits: Vec<Value> = t
                .splits
                .iter()
                .map(|s| {
                    let i = index
                        .get(&(s.feature, s.threshold))
                        .copied()
                        .unwrap_or(usize::MAX);
                    let mut v = table.get(i).map_or(Value::Null, |(_, v)| v.clone());
                    v["split_index"] = json!(i);
                    v
                })
                .collect();
            json!({"leaf_values": t.leaf_values, "leaf_weights": t.leaf_weights, "splits": splits})
        })
        .collect();
    let kinds: Vec<Value> = model.kinds.iter().map(|k| json!(k)).collect();
    json!({
        "features_info": {
            "float_features": float_features,
            "categorical_features": categorical_features,
            "ctrs": ctrs,
        },
        "ctr_data": ctr_data,
        "oblivious_trees": trees,
        "scale_and_bias": [1.0, [model.bias]],
        "modelops": {
            "engine": "oblivious (CatBoost-compatible)",
            "feature_names": model.names,
            "feature_kinds": kinds,
            "feature_gains": model.gains,
        },
    })
}

/// Writes `model` to `path` in CatBoost's JSON format.
pub(crate) fn save(model: &ObliviousModel, path: &Path) -> Result<(), ModelError> {
    let text = serde_json::to_string(&to_value(model)).map_err(|e| ModelError::Format {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    std::fs::write(path, text).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a model written by [`save`].
pub(crate) fn load(path: &Path) -> Result<ObliviousModel, ModelError> {
    let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |reason: String| ModelError::Format {
        path: path.to_path_buf(),
        reason,
    };
    let root: Value = serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    from_value(&root).map_err(bad)
}

fn field<'a>(v: &'a Value, key: &str, context: &str) -> Result<&'a Value, String> {
    v.get(key)
        .ok_or_else(|| format!("{context} has no '{key}'"))
}

fn as_usize(v: &Value, what: &str) -> Result<usize, String> {
    v.as_u64()
        .map(|x| x as usize)
        .ok_or_else(|| format!("{what} is not a non-negative integer"))
}

fn as_f64(v: &Value, what: &str) -> Result<f64, String> {
    v.as_f64().ok_or_else(|| format!("{what} is not a number"))
}

fn f32_list(v: &Value, what: &str) -> Result<Vec<f32>, String> {
    v.as_array()
        .ok_or_else(|| format!("{what} is not a list"))?
        .iter()
        .map(|b| as_f64(b, what).map(|x| x as f32))
        .collect()
}

fn from_value(root: &Value) -> Result<ObliviousModel, String> {
    let meta = field(root, "modelops", "the model (not written by modelops)")?;
    let names: Vec<String> =
        serde_json::from_value(field(meta, "feature_names", "modelops")?.clone())
            .map_err(|e| format!("modelops.feature_names: {e}"))?;
    let kinds: Vec<FeatureKind> =
        serde_json::from_value(field(meta, "feature_kinds", "modelops")?.clone())
            .map_err(|e| format!("modelops.feature_kinds: {e}"))?;
    let gains: Vec<f64> = serde_json::from_value(field(meta, "feature_gains", "modelops")?.clone())
        .map_err(|e| format!("modelops.feature_gains: {e}"))?;
    if names.len() != kinds.len() || names.len() != gains.len() {
        return Err("modelops feature names, kinds and gains differ in length".into());
    }
    let info = field(root, "features_info", "the model")?;
    let empty = Vec::new();
    let list = |key: &str| info.get(key).and_then(Value::as_array).unwrap_or(&empty);

    let mut floats = Vec::new();
    for (i, f) in list("float_features").iter().enumerate() {
        let context = format!("float feature {i}");
        let column = as_usize(field(f, "flat_feature_index", &context)?, &context)?;
        let borders = match f.get("borders") {
            Some(b) => f32_list(b, &format!("{context} borders"))?,
            None => Vec::new(),
        };
        let has_nans = f.get("has_nans").and_then(Value::as_bool).unwrap_or(false);
        if column >= names.len() || !matches!(kinds[column], FeatureKind::Numeric) {
            return Err(format!(
                "{context} points at column {column}, which is not numeric"
            ));
        }
        floats.push(FloatFeature {
            column,
            borders,
            has_nans,
        });
    }
    let mut cats = Vec::new();
    for (i, c) in list("categorical_features").iter().enumerate() {
        let context = format!("categorical feature {i}");
        let column = as_usize(field(c, "flat_feature_index", &context)?, &context)?;
        let levels = match kinds.get(column) {
            Some(FeatureKind::Categorical { levels }) => *levels,
            _ => {
                return Err(format!(
                    "{context} points at column {column}, which is not categorical"
                ));
            }
        };
        cats.push(CatFeature {
            column,
            levels,
            one_hot: c.get("values").is_some(),
            stats: None,
        });
    }
    let ctr_data = root.get("ctr_data").cloned().unwrap_or(Value::Null);
    let mut ctrs = Vec::new();
    for (i, c) in list("ctrs").iter().enumerate() {
        let context = format!("ctr {i}");
        let elements = field(c, "elements", &context)?
            .as_array()
            .ok_or(format!("{context} elements"))?;
        if elements.len() != 1 {
            return Err(format!(
                "{context} combines {} columns; only single-column CTRs are supported",
                elements.len()
            ));
        }
        let cat_index = as_usize(
            field(&elements[0], "cat_feature_index", &context)?,
            &context,
        )?;
        if cat_index >= cats.len() {
            return Err(format!(
                "{context} refers to categorical feature {cat_index}, which does not exist"
            ));
        }
        let kind = match field(c, "ctr_type", &context)?.as_str() {
            Some("Borders") => CtrKind::Borders {
                prior: as_f64(field(c, "prior_numerator", &context)?, &context)? as f32,
            },
            Some("Counter") => CtrKind::Counter,
            other => return Err(format!("{context} has unsupported type {other:?}")),
        };
        let scale = as_f64(field(c, "scale", &context)?, &context)? as f32;
        let borders = f32_list(field(c, "borders", &context)?, &context)?;
        let identifier = field(c, "identifier", &context)?
            .as_str()
            .ok_or(format!("{context} identifier"))?;
        let table = ctr_data
            .get(identifier)
            .ok_or(format!("{context}: no ctr_data for {identifier}"))?;
        merge_table(&mut cats[cat_index], kind, table).map_err(|e| format!("{context}: {e}"))?;
        ctrs.push(CtrFeature {
            cat_index,
            kind,
            scale,
            borders,
        });
    }
    let mut binned: Vec<BinnedSource> = (0..floats.len()).map(BinnedSource::Float).collect();
    binned.extend(
        cats.iter()
            .enumerate()
            .filter(|(_, c)| c.one_hot)
            .map(|(i, _)| BinnedSource::OneHot(i)),
    );
    binned.extend((0..ctrs.len()).map(BinnedSource::Ctr));
    let sb = field(root, "scale_and_bias", "the model")?;
    let scale = sb
        .get(0)
        .and_then(Value::as_f64)
        .ok_or("scale_and_bias has no scale")?;
    if scale != 1.0 {
        return Err(format!(
            "scale_and_bias scale {scale} is not 1, which modelops never writes"
        ));
    }
    let bias = sb
        .get(1)
        .and_then(|b| b.get(0))
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    let mut model = ObliviousModel {
        names,
        kinds,
        floats,
        cats,
        ctrs,
        binned,
        trees: Vec::new(),
        bias,
        gains,
    };
    let table = binary_features(&model);
    let trees = field(root, "oblivious_trees", "the model")?
        .as_array()
        .ok_or("oblivious_trees is not a list")?;
    for (t, tree) in trees.iter().enumerate() {
        let context = format!("tree {t}");
        let mut splits = Vec::new();
        for s in field(tree, "splits", &context)?
            .as_array()
            .ok_or(format!("{context} splits"))?
        {
            let i = as_usize(field(s, "split_index", &context)?, &context)?;
            let (split, _) = table
                .get(i)
                .ok_or(format!("{context}: split_index {i} out of range"))?;
            splits.push(*split);
        }
        let leaf_values: Vec<f64> =
            serde_json::from_value(field(tree, "leaf_values", &context)?.clone())
                .map_err(|e| format!("{context} leaf_values: {e}"))?;
        if leaf_values.len() != 1usize << splits.len() {
            return Err(format!(
                "{context} has {} leaf values for {} splits",
                leaf_values.len(),
                splits.len()
            ));
        }
        let leaf_weights: Vec<f64> = match tree.get("leaf_weights") {
            Some(w) => serde_json::from_value(w.clone())
                .map_err(|e| format!("{context} leaf_weights: {e}"))?,
            None => vec![0.0; leaf_values.len()],
        };
        model.trees.push(ObliviousTree {
            splits,
            leaf_values,
            leaf_weights,
        });
    }
    Ok(model)
}

/// Fills a categorical column's statistics from a CatBoost CTR table.
fn merge_table(cat: &mut CatFeature, kind: CtrKind, table: &Value) -> Result<(), String> {
    let stride = table
        .get("hash_stride")
        .and_then(Value::as_u64)
        .ok_or("no hash_stride")? as usize;
    let entries = table
        .get("hash_map")
        .and_then(Value::as_array)
        .ok_or("no hash_map")?;
    let expected = match kind {
        CtrKind::Borders { .. } => 3,
        CtrKind::Counter => 2,
    };
    if stride != expected || entries.len() % stride != 0 {
        return Err(format!(
            "hash_stride {stride} does not fit a {} table",
            ctr_type(kind)
        ));
    }
    let mut by_key: HashMap<u64, Vec<u32>> = HashMap::new();
    for chunk in entries.chunks(stride) {
        let key = match &chunk[0] {
            Value::String(s) => s.parse::<u64>().map_err(|e| format!("bad key {s}: {e}"))?,
            v => v.as_u64().ok_or("bad key")?,
        };
        let counts = chunk[1..]
            .iter()
            .map(|c| c.as_u64().map(|x| x as u32).ok_or("bad count"))
            .collect::<Result<_, _>>()?;
        by_key.insert(key, counts);
    }
    let stats = cat.stats.get_or_insert_with(|| LevelStats {
        class_counts: vec![[0, 0]; cat.levels as usize],
        max_count: 0,
    });
    for level in 0..cat.levels {
        if let Some(counts) = by_key.get(&ctr_table_key(level)) {
            match kind {
                CtrKind::Borders { .. } => {
                    stats.class_counts[level as usize] = [counts[0], counts[1]]
                }
                CtrKind::Counter => {
                    let c = &mut stats.class_counts[level as usize];
                    if c[0] + c[1] == 0 {
                        *c = [counts[0], 0];
                    }
                }
            }
        }
    }
    if let CtrKind::Counter = kind {
        stats.max_count = table
            .get("counter_denominator")
            .and_then(Value::as_u64)
            .unwrap_or(0) as u32;
    } else if stats.max_count == 0 {
        stats.max_count = stats
            .class_counts
            .iter()
            .map(|c| c[0] + c[1])
            .max()
            .unwrap_or(0);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::oblivious::ObliviousConfig;
    use crate::{FeatureKind, FeatureMatrix, Fit, NoProgress, Regressor, TrainSet};

    #[test]
    fn save_then_load_predicts_identically() {
        let n = 1500;
        let mut values = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let a = (i % 37) as f32 / 37.0;
            let b = if i % 11 == 0 {
                f32::NAN
            } else {
                (i % 13) as f32
            };
            let small = (i % 2) as f32;
            let big = (i % 50) as f32;
            values.extend([a, b, small, big]);
            y.push(a * 4.0 + small * 2.0 + (big % 7.0) - if b.is_nan() { 3.0 } else { 0.0 });
        }
        let m = FeatureMatrix::new(
            vec!["a".into(), "b".into(), "small".into(), "big".into()],
            vec![
                FeatureKind::Numeric,
                FeatureKind::Numeric,
                FeatureKind::Categorical { levels: 2 },
                FeatureKind::Categorical { levels: 50 },
            ],
            values,
        )
        .unwrap();
        let model = ObliviousConfig {
            depth: 4,
            iterations: 30,
            learning_rate: 0.3,
            ..Default::default()
        }
        .fit(
            &TrainSet {
                features: &m,
                target: &y,
                weights: None,
            },
            None,
            &NoProgress,
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = model.save(dir.path()).unwrap();
        assert!(path.ends_with("catboost.json"));
        let loaded = super::load(&path).unwrap();
        assert_eq!(loaded, model);
        assert_eq!(loaded.predict(&m).unwrap(), model.predict(&m).unwrap());
    }

    #[test]
    fn loading_a_foreign_or_broken_file_is_a_format_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catboost.json");
        std::fs::write(&path, r#"{"oblivious_trees": []}"#).unwrap();
        let err = super::load(&path).unwrap_err().to_string();
        assert!(err.contains("modelops"), "{err}");
        std::fs::write(&path, "not json").unwrap();
        assert!(super::load(&path).is_err());
        assert!(super::load(&dir.path().join("missing.json")).is_err());
    }
}
