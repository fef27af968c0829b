//! XGBoost through the real library: training, intercept estimation, early stopping, determinism, save/load and
//! interoperability with Python `xgboost` (PyPI 3.2.0 reading models of the bundled 3.4.1 library).

use super::*;
use modelops_models::xgboost::{MODEL_FILE, XgBoostModel};
use modelops_models::{Engine, Fit, NoProgress, Regressor, TrainSet, XgBoostConfig};

fn small_config() -> XgBoostConfig {
    XgBoostConfig {
        max_depth: 5,
        learning_rate: 0.2,
        subsample: 0.8,
        colsample_bytree: 0.8,
        rounds: 60,
        nthread: 2,
        ..XgBoostConfig::default()
    }
}

fn train_set(data: &Synthetic) -> TrainSet<'_> {
    TrainSet {
        features: &data.features,
        target: &data.target,
        weights: None,
    }
}

#[test]
fn learns_the_synthetic_problem() {
    let data = synthetic(3000, 21);
    let model = small_config()
        .fit(&train_set(&data), None, &NoProgress)
        .unwrap();
    let test = synthetic(1000, 22);
    let error = rmse(&model.predict(&test.features).unwrap(), &test.target);
    assert!(error < 60.0, "holdout RMSE {error}");
    assert_eq!(model.engine(), Engine::Xgboost);
    assert_eq!(model.n_rounds(), 60);
}

#[test]
fn the_intercept_is_estimated_from_the_target_as_python_xgboost_does() {
    // With a tiny learning rate and one round the trees add almost nothing: predictions sit at the intercept.
    // XGBoost estimates it from the target (≈ 1100 here); a fixed base_score of 0.5 would predict ≈ 0.5.
    let data = synthetic(1000, 23);
    let config = XgBoostConfig {
        rounds: 1,
        learning_rate: 0.001,
        ..small_config()
    };
    let model = config.fit(&train_set(&data), None, &NoProgress).unwrap();
    let mean_target =
        data.target.iter().map(|v| f64::from(*v)).sum::<f64>() / data.target.len() as f64;
    let first = model.predict(&data.features).unwrap()[0];
    assert!(
        (first - mean_target).abs() < 0.05 * mean_target,
        "prediction {first}, target mean {mean_target}"
    );
}

#[test]
fn same_data_and_seed_give_byte_identical_predictions() {
    let data = synthetic(2000, 24);
    let a = small_config()
        .fit(&train_set(&data), None, &NoProgress)
        .unwrap();
    let b = small_config()
        .fit(&train_set(&data), None, &NoProgress)
        .unwrap();
    assert_eq!(
        bits(&a.predict(&data.features).unwrap()),
        bits(&b.predict(&data.features).unwrap())
    );
    assert_eq!(a.model_bytes(), b.model_bytes());
    let other = XgBoostConfig {
        seed: 7,
        ..small_config()
    }
    .fit(&train_set(&data), None, &NoProgress)
    .unwrap();
    assert_ne!(
        a.model_bytes(),
        other.model_bytes(),
        "the seed must reach row and column sampling"
    );
}

#[test]
fn early_stopping_keeps_the_best_iteration_and_reports_progress() {
    let train = synthetic(2000, 25);
    let eval = synthetic(500, 26);
    let config = XgBoostConfig {
        learning_rate: 0.5,
        rounds: 400,
        early_stopping_rounds: Some(10),
        ..small_config()
    };
    let progress = RecordedProgress::default();
    let eval_set = train_set(&eval);
    let model = config
        .fit(&train_set(&train), Some(&eval_set), &progress)
        .unwrap();
    let rounds = progress.rounds.lock().unwrap().clone();
    assert!(
        rounds.len() < 400,
        "should stop early, ran {}",
        rounds.len()
    );
    assert!(
        rounds
            .iter()
            .enumerate()
            .all(|(i, (done, total, score))| *done == i + 1 && *total == 400 && score.is_some())
    );
    let (best_round, best_score) = rounds
        .iter()
        .map(|(done, _, score)| (*done, score.unwrap()))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap();
    assert_eq!(model.n_rounds(), best_round);
    assert_eq!(rounds.len(), best_round + 10);
    let kept_rmse = rmse(&model.predict(&eval.features).unwrap(), &eval.target);
    assert!(
        (kept_rmse - best_score).abs() / best_score < 1e-9,
        "{kept_rmse} vs {best_score}"
    );
    assert_eq!(
        model.feature_names(),
        train.features.names(),
        "the sliced model keeps the feature names"
    );
}

#[test]
fn save_and_load_give_the_same_bytes_and_predictions() {
    let data = synthetic(1500, 27);
    let model = small_config()
        .fit(&train_set(&data), None, &NoProgress)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = model.save(dir.path()).unwrap();
    assert_eq!(path, dir.path().join(MODEL_FILE));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(json["learner"]["feature_names"][1], "distance");
    let loaded = XgBoostModel::load(&path).unwrap();
    assert_eq!(
        bits(&model.predict(&data.features).unwrap()),
        bits(&loaded.predict(&data.features).unwrap())
    );
    assert_eq!(loaded.n_rounds(), 60);
    let resaved = tempfile::tempdir().unwrap();
    loaded.save(resaved.path()).unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        std::fs::read(resaved.path().join(MODEL_FILE)).unwrap()
    );
}

#[test]
fn gain_importance_ranks_the_informative_feature_above_noise() {
    let data = synthetic(2000, 28);
    let model = small_config()
        .fit(&train_set(&data), None, &NoProgress)
        .unwrap();
    let importance = model.feature_importance();
    assert_eq!(importance.len(), data.features.n_features());
    let gain = |name: &str| importance.iter().find(|(n, _)| n == name).unwrap().1;
    assert!(
        gain("day_of_week") > 10.0 * gain("noise_a"),
        "{importance:?}"
    );
}

#[test]
fn wrong_columns_and_files_are_refused() {
    let data = synthetic(500, 29);
    let model = small_config()
        .fit(&train_set(&data), None, &NoProgress)
        .unwrap();
    let mut names = synthetic_names();
    names.truncate(6);
    let fewer = FeatureMatrix::new(
        names,
        data.features.kinds()[..6].to_vec(),
        (0..500)
            .flat_map(|i| data.features.row(i)[..6].to_vec())
            .collect(),
    )
    .unwrap();
    let err = model.predict(&fewer).unwrap_err();
    assert!(is_invalid_data(&err), "{err}");
    let garbage = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(garbage.path(), "{\"not\": \"a model\"}").unwrap();
    let err = XgBoostModel::load(garbage.path()).unwrap_err();
    assert!(matches!(err, ModelError::Format { .. }), "{err}");
}

#[test]
fn python_xgboost_loads_the_model_and_predicts_the_same() {
    let Some(python) = python() else { return };
    let data = synthetic(2000, 30);
    let model = small_config()
        .fit(&train_set(&data), None, &NoProgress)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let model_path = model.save(dir.path()).unwrap();
    let x_path = dir.path().join("x.f32");
    let p_path = dir.path().join("p.f64");
    let resaved = dir.path().join("python_resaved.json");
    write_f32(&x_path, data.features.values());
    let ours = model.predict(&data.features).unwrap();
    write_f64(&p_path, &ours);
    let script = r#"
import sys, numpy as np, xgboost as xgb
model, x, p, resaved = sys.argv[1:5]
booster = xgb.Booster()
booster.load_model(model)
X = np.fromfile(x, dtype="<f4").reshape(-1, booster.num_features())
expected = np.fromfile(p, dtype="<f8")
got = booster.predict(xgb.DMatrix(X, feature_names=booster.feature_names, missing=np.nan)).astype(np.float64)
rel = np.abs(got - expected) / np.maximum(np.maximum(np.abs(got), np.abs(expected)), 1e-12)
print(f"max_relative_difference={rel.max():.3e} rows={len(got)} xgboost={xgb.__version__}")
assert rel.max() <= 1e-6, rel.max()
booster.save_model(resaved)
"#;
    let out = run_python(&python, script, &[&model_path, &x_path, &p_path, &resaved]);
    eprintln!("{}", out.trim());
    // And back: the JSON written by Python's older library loads here and predicts the same.
    let back = XgBoostModel::load(&resaved).unwrap();
    assert!(max_relative_difference(&back.predict(&data.features).unwrap(), &ours) <= 1e-6);
}

#[test]
fn compiled_forest_predicts_bit_identically_to_xgboost() {
    // Deep trees, NaN inputs in every column (default directions), early stopping (a sliced model): the block
    // evaluator must give XGBoost's exact floats.
    let data = synthetic(3000, 46);
    let eval = synthetic(600, 47);
    let config = XgBoostConfig {
        max_depth: 10,
        rounds: 120,
        early_stopping_rounds: Some(10),
        ..small_config()
    };
    let eval_set = train_set(&eval);
    let model = config
        .fit(&train_set(&data), Some(&eval_set), &NoProgress)
        .unwrap();
    assert!(model.is_compiled());
    let probe = synthetic(1200, 48);
    let width = probe.features.n_features();
    let values: Vec<f32> = probe
        .features
        .values()
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            if (i / width) % 5 == i % width % 5 {
                f32::NAN
            } else {
                v
            }
        })
        .collect();
    let probe = with_values(&probe.features, values);
    // Row groups sharing all but two columns, NaN included: the specialized walk.
    let groups = [grouped(&data.features, &[0, 2]), grouped(&probe, &[0, 2])];
    for features in [&data.features, &probe, &groups[0], &groups[1]] {
        assert_eq!(
            bits(&model.predict(features).unwrap()),
            bits(&model.predict_with_library(features).unwrap())
        );
    }
}
