//! LightGBM through the real library: training, categorical splits, early stopping, determinism, save/load and
//! interoperability with Python `lightgbm`.

use super::*;
use modelops_models::lightgbm::{LightGbmModel, MODEL_FILE};
use modelops_models::{Engine, Fit, LightGbmConfig, NoProgress, Regressor, TrainSet};

fn small_config() -> LightGbmConfig {
    LightGbmConfig {
        num_leaves: 15,
        learning_rate: 0.2,
        rounds: 60,
        min_child_samples: 5,
        feature_fraction: 0.8,
        bagging_fraction: 0.8,
        bagging_freq: 1,
        num_threads: 2,
        ..LightGbmConfig::default()
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
    let data = synthetic(3000, 1);
    let model = small_config()
        .fit(&train_set(&data), None, &NoProgress)
        .unwrap();
    let test = synthetic(1000, 2);
    let error = rmse(&model.predict(&test.features).unwrap(), &test.target);
    assert!(error < 60.0, "holdout RMSE {error}");
    assert_eq!(model.engine(), Engine::Lightgbm);
    assert_eq!(model.n_rounds(), 60);
}

#[test]
fn same_data_and_seed_give_byte_identical_predictions() {
    let data = synthetic(2000, 3);
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
    assert_eq!(a.model_text(), b.model_text());
    let other_seed = LightGbmConfig {
        seed: 7,
        ..small_config()
    }
    .fit(&train_set(&data), None, &NoProgress)
    .unwrap();
    assert_ne!(
        a.model_text(),
        other_seed.model_text(),
        "the seed must reach bagging and feature sampling"
    );
}

#[test]
fn categorical_columns_get_native_categorical_splits() {
    // Codes {0, 2, 5, 7} are high and the rest low: one categorical (many-vs-many) split separates them, no
    // threshold on the code can. (More than 4 levels, so LightGBM does not fall back to one-vs-rest.)
    let mut rng = Rng::new(11);
    let rows = 4000;
    let mut values = Vec::with_capacity(rows * 2);
    let mut target = Vec::with_capacity(rows);
    for _ in 0..rows {
        let code = (rng.uniform() * 8.0).floor() as f32;
        values.extend([rng.uniform() as f32, code]);
        target.push(if [0.0, 2.0, 5.0, 7.0].contains(&code) {
            100.0
        } else {
            10.0
        });
    }
    let features = FeatureMatrix::new(
        vec!["noise".into(), "level".into()],
        vec![FeatureKind::Numeric, FeatureKind::Categorical { levels: 8 }],
        values,
    )
    .unwrap();
    let config = LightGbmConfig {
        num_leaves: 2,
        rounds: 1,
        learning_rate: 1.0,
        min_child_samples: 1,
        ..LightGbmConfig::default()
    };
    let set = TrainSet {
        features: &features,
        target: &target,
        weights: None,
    };
    let model = config.fit(&set, None, &NoProgress).unwrap();
    assert!(
        model.model_text().contains("num_cat=1"),
        "the only split must be categorical"
    );
    let predictions = model.predict(&features).unwrap();
    // One leaf per group (LightGBM's cat_l2 shrinks the leaf values slightly, so not exactly 100 and 10).
    let (high, low) = (
        predictions[(0..rows).position(|i| target[i] > 50.0).unwrap()],
        predictions[(0..rows).position(|i| target[i] < 50.0).unwrap()],
    );
    for (i, p) in predictions.iter().enumerate() {
        let expected = if target[i] > 50.0 { high } else { low };
        assert_eq!(*p, expected, "row {i} is not in its group's leaf");
    }
    assert!(high - low > 80.0, "high {high}, low {low}");
}

#[test]
fn early_stopping_keeps_the_best_iteration_and_reports_progress() {
    let train = synthetic(2000, 5);
    let eval = synthetic(500, 6);
    let config = LightGbmConfig {
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
        (kept_rmse - best_score).abs() / best_score < 1e-6,
        "{kept_rmse} vs {best_score}"
    );
}

#[test]
fn save_and_load_give_the_same_bytes_and_predictions() {
    let data = synthetic(1500, 7);
    let model = small_config()
        .fit(&train_set(&data), None, &NoProgress)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = model.save(dir.path()).unwrap();
    assert_eq!(path, dir.path().join(MODEL_FILE));
    let loaded = LightGbmModel::load(&path).unwrap();
    assert_eq!(
        bits(&model.predict(&data.features).unwrap()),
        bits(&loaded.predict(&data.features).unwrap())
    );
    assert_eq!(loaded.feature_names(), data.features.names());
    assert_eq!(loaded.n_rounds(), model.n_rounds());
    let resaved = tempfile::tempdir().unwrap();
    loaded.save(resaved.path()).unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        std::fs::read(resaved.path().join(MODEL_FILE)).unwrap()
    );
}

#[test]
fn gain_importance_ranks_the_informative_feature_above_noise() {
    let data = synthetic(2000, 8);
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
fn wrong_columns_and_bad_data_are_refused() {
    let data = synthetic(500, 9);
    let model = small_config()
        .fit(&train_set(&data), None, &NoProgress)
        .unwrap();
    let mut names = synthetic_names();
    names.swap(0, 1);
    let swapped = FeatureMatrix::new(
        names,
        data.features.kinds().to_vec(),
        data.features.values().to_vec(),
    )
    .unwrap();
    let err = model.predict(&swapped).unwrap_err();
    assert!(
        is_invalid_data(&err) && err.to_string().contains("distance"),
        "{err}"
    );

    let mut target = data.target.clone();
    target[3] = f32::NAN;
    let err = small_config()
        .fit(
            &TrainSet {
                features: &data.features,
                target: &target,
                weights: None,
            },
            None,
            &NoProgress,
        )
        .unwrap_err();
    assert!(err.to_string().contains("row 3"), "{err}");

    let err = LightGbmModel::load(Path::new("/nonexistent/lightgbm.txt")).unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent/lightgbm.txt"),
        "{err}"
    );
    let garbage = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(garbage.path(), "not a model").unwrap();
    assert!(matches!(
        LightGbmModel::load(garbage.path()),
        Err(ModelError::Format { .. })
    ));
}

#[test]
fn python_lightgbm_loads_the_model_and_predicts_the_same() {
    let Some(python) = python() else { return };
    let data = synthetic(2000, 10);
    let model = small_config()
        .fit(&train_set(&data), None, &NoProgress)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let model_path = model.save(dir.path()).unwrap();
    let x_path = dir.path().join("x.f32");
    let p_path = dir.path().join("p.f64");
    let resaved = dir.path().join("python_resaved.txt");
    write_f32(&x_path, data.features.values());
    let ours = model.predict(&data.features).unwrap();
    write_f64(&p_path, &ours);
    let script = r#"
import sys, numpy as np, lightgbm as lgb
model, x, p, resaved = sys.argv[1:5]
booster = lgb.Booster(model_file=model)
X = np.fromfile(x, dtype="<f4").reshape(-1, booster.num_feature())
expected = np.fromfile(p, dtype="<f8")
got = booster.predict(X)
rel = np.abs(got - expected) / np.maximum(np.maximum(np.abs(got), np.abs(expected)), 1e-12)
print(f"max_relative_difference={rel.max():.3e} rows={len(got)} lightgbm={lgb.__version__}")
assert rel.max() <= 1e-6, rel.max()
booster.save_model(resaved)
"#;
    let out = run_python(&python, script, &[&model_path, &x_path, &p_path, &resaved]);
    eprintln!("{}", out.trim());
    // And back: the model as Python re-saved it loads here and predicts the same.
    let back = LightGbmModel::load(&resaved).unwrap();
    assert!(max_relative_difference(&back.predict(&data.features).unwrap(), &ours) <= 1e-12);
}

#[test]
fn compiled_forest_predicts_bit_identically_to_lightgbm() {
    // Numeric splits with NaN inputs, native categorical splits (and unseen, negative and NaN categories), deep
    // trees and early stopping: the block evaluator must give LightGBM's exact doubles.
    let data = synthetic(3000, 44);
    let config = LightGbmConfig {
        num_leaves: 63,
        max_depth: 12,
        rounds: 80,
        ..small_config()
    };
    let model = config.fit(&train_set(&data), None, &NoProgress).unwrap();
    assert!(model.is_compiled());
    let mut probe = synthetic(1200, 45);
    let width = probe.features.n_features();
    let mut values = probe.features.values().to_vec();
    for (i, v) in values.iter_mut().enumerate() {
        match (i / width % 7, i % width) {
            (0, _) => *v = f32::NAN,
            (1, 6) => *v = 9.0,     // a category never seen in training
            (2, 6) => *v = -1.0,    // a negative category
            (3, 0) => *v = 1.0e-36, // below LightGBM's zero threshold
            _ => {}
        }
    }
    probe.features = with_values(&probe.features, values);
    // Row groups sharing all but two columns, the planted values included: the specialized walk.
    let groups = [
        grouped(&data.features, &[1, 3]),
        grouped(&probe.features, &[1, 3]),
    ];
    for features in [&data.features, &probe.features, &groups[0], &groups[1]] {
        assert_eq!(
            bits(&model.predict(features).unwrap()),
            bits(&model.predict_with_library(features).unwrap())
        );
    }
}
