//! The oblivious booster against Python `catboost`: a model trained here, saved as `catboost.json`, must load in
//! `CatBoost().load_model(path, format="json")` and predict the same values (relative error ≤ 1e-6), including
//! missing numeric values, a one-hot categorical column and a high-cardinality CTR column (codes ≥ 1000 exercise
//! CatBoost's level hashing on 4-byte strings), plus unseen and missing categorical levels at prediction time.

use crate::{max_relative_difference, python, run_python};
use modelops_models::oblivious::{ObliviousConfig, ObliviousModel};
use modelops_models::{FeatureKind, FeatureMatrix, Fit, NoProgress, Regressor, TrainSet};
use std::fmt::Write as _;
use std::path::Path;

const STORES: u32 = 1200;

/// Store-like data: numeric columns (one with NaNs), a 2-level categorical (one-hot) and a 1200-level one (CTRs).
fn store_problem(rows: usize, seed: u64) -> (FeatureMatrix, Vec<f32>) {
    let mut rng = crate::Rng::new(seed);
    let mut values = Vec::with_capacity(rows * 4);
    let mut target = Vec::with_capacity(rows);
    for _ in 0..rows {
        let promo = (rng.uniform() * 2.0).floor() as f32;
        let distance = if rng.uniform() < 0.15 {
            f32::NAN
        } else {
            (rng.uniform() * 5000.0) as f32
        };
        let store = (rng.uniform() * f64::from(STORES)).floor() as f32;
        let day = (rng.uniform() * 7.0).floor() as f32;
        let store_effect = ((store as u32 * 7919) % 1000) as f32;
        let y = 3000.0
            + 800.0 * promo
            + if distance.is_nan() {
                300.0
            } else {
                -0.1 * distance
            }
            + 2.0 * store_effect
            + 150.0 * (day - 3.0).abs()
            + 100.0 * rng.uniform() as f32;
        values.extend([distance, promo, store, day]);
        target.push(y);
    }
    let features = FeatureMatrix::new(
        ["distance", "promo", "store", "day"]
            .map(String::from)
            .to_vec(),
        vec![
            FeatureKind::Numeric,
            FeatureKind::Categorical { levels: 2 },
            FeatureKind::Categorical { levels: STORES },
            FeatureKind::Numeric,
        ],
        values,
    )
    .unwrap();
    (features, target)
}

/// CSV for pandas: numeric NaN as an empty cell, categorical levels as their code, missing/unseen as "missing".
fn write_csv(path: &Path, features: &FeatureMatrix) {
    let mut text = features.names().join(",");
    text.push('\n');
    for r in 0..features.n_rows() {
        let row = features.row(r);
        let cells: Vec<String> = row
            .iter()
            .zip(features.kinds())
            .map(|(v, kind)| match kind {
                FeatureKind::Numeric if v.is_nan() => String::new(),
                FeatureKind::Numeric => format!("{v:?}"),
                FeatureKind::Categorical { levels } => {
                    if v.is_finite() && *v >= 0.0 && (*v as u32) < *levels {
                        format!("{}", *v as u32)
                    } else {
                        "missing".into()
                    }
                }
            })
            .collect();
        let _ = writeln!(text, "{}", cells.join(","));
    }
    std::fs::write(path, text).unwrap();
}

const PREDICT_SCRIPT: &str = r#"
import sys, json
import numpy as np, pandas as pd
from catboost import CatBoost, Pool
model_path, csv_path, out_path = sys.argv[1:4]
model = CatBoost()
model.load_model(model_path, format="json")
frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
cat_idx = model.get_cat_feature_indices()
for i, col in enumerate(frame.columns):
    if i not in cat_idx:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
pred = model.predict(Pool(frame, cat_features=cat_idx), prediction_type="RawFormulaVal")
np.asarray(pred, dtype="<f8").tofile(out_path)
print(len(pred))
"#;

#[test]
fn python_catboost_loads_the_json_and_predicts_the_same() {
    let Some(python) = python() else { return };
    let (train, y) = store_problem(6000, 11);
    let config = ObliviousConfig {
        depth: 6,
        iterations: 80,
        learning_rate: 0.2,
        seed: 5,
        ..Default::default()
    };
    let model = config
        .fit(
            &TrainSet {
                features: &train,
                target: &y,
                weights: None,
            },
            None,
            &NoProgress,
        )
        .unwrap();

    // Prediction rows: fresh rows, plus missing and unseen categorical levels.
    let (mut test, _) = store_problem(2000, 12);
    let mut values = test.values().to_vec();
    values[1] = f32::NAN; // missing promo
    values[2] = f32::NAN; // missing store
    values[4 + 2] = STORES as f32 + 5.0; // unseen store code
    test = FeatureMatrix::new(test.names().to_vec(), test.kinds().to_vec(), values).unwrap();
    let ours = model.predict(&test).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let model_path = model.save(dir.path()).unwrap();
    let csv = dir.path().join("rows.csv");
    write_csv(&csv, &test);
    let out = dir.path().join("pred.f64");
    let printed = run_python(&python, PREDICT_SCRIPT, &[&model_path, &csv, &out]);
    assert_eq!(printed.trim(), test.n_rows().to_string());
    let bytes = std::fs::read(&out).unwrap();
    let theirs: Vec<f64> = bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let diff = max_relative_difference(&ours, &theirs);
    assert!(
        diff <= 1e-6,
        "max relative difference {diff} between modelops and catboost predictions"
    );

    // The model really uses the categorical columns (otherwise this test would prove little).
    let importance = model.feature_importance();
    assert!(importance[2].1 > 0.0, "store column unused: {importance:?}");

    // And it loads back here identically.
    let loaded = ObliviousModel::load(&model_path).unwrap();
    assert_eq!(loaded.predict(&test).unwrap(), ours);
}
