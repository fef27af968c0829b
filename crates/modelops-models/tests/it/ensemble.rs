//! The weighted ensemble over real engines: combination, validation, and weights fitted on out-of-fold predictions.

use super::*;
use modelops_models::ensemble::{ENGINES, combine_predictions, optimize_weights};
use modelops_models::oblivious::ObliviousConfig;
use modelops_models::{
    Engine, Ensemble, EnsembleWeights, Fit, LightGbmConfig, NoProgress, Regressor, TrainSet,
    XgBoostConfig,
};

/// One model per engine built into this test binary (LightGBM and XGBoost need their features; the oblivious
/// booster is always there), trained on `data` with small settings.
pub fn fit_members(data: &Synthetic) -> Vec<Box<dyn Regressor>> {
    let set = TrainSet {
        features: &data.features,
        target: &data.target,
        weights: None,
    };
    let mut members: Vec<Box<dyn Regressor>> = Vec::new();
    let lightgbm = LightGbmConfig {
        num_leaves: 15,
        rounds: 40,
        learning_rate: 0.2,
        num_threads: 2,
        ..Default::default()
    };
    match lightgbm.fit_boxed(&set, None, &NoProgress) {
        Ok(model) => members.push(model),
        Err(ModelError::EngineNotBuilt(_)) => {
            eprintln!("lightgbm not built: ensemble tests run without it")
        }
        Err(err) => panic!("{err}"),
    }
    let xgboost = XgBoostConfig {
        max_depth: 5,
        rounds: 40,
        learning_rate: 0.2,
        nthread: 2,
        ..Default::default()
    };
    match xgboost.fit_boxed(&set, None, &NoProgress) {
        Ok(model) => members.push(model),
        Err(ModelError::EngineNotBuilt(_)) => {
            eprintln!("xgboost not built: ensemble tests run without it")
        }
        Err(err) => panic!("{err}"),
    }
    let oblivious = ObliviousConfig {
        depth: 4,
        iterations: 40,
        learning_rate: 0.2,
        seed: 42,
        ..Default::default()
    };
    members.push(Box::new(oblivious.fit(&set, None, &NoProgress).unwrap()));
    members
}

/// Weights spread over the engines present: the reference's when all three are built.
pub fn weights_for(members: &[Box<dyn Regressor>]) -> EnsembleWeights {
    if members.len() == 3 {
        return EnsembleWeights::default();
    }
    let share = 1.0 / members.len() as f64;
    let pairs: Vec<(Engine, f64)> = members.iter().map(|m| (m.engine(), share)).collect();
    EnsembleWeights::from_pairs(&pairs).unwrap()
}

#[test]
fn prediction_is_the_weighted_sum_of_member_predictions() {
    let data = synthetic(1500, 41);
    let members = fit_members(&data);
    let weights = weights_for(&members);
    let ensemble = Ensemble::new(members, weights).unwrap();
    let combined = ensemble.predict(&data.features).unwrap();
    let per_member = ensemble.predict_members(&data.features).unwrap();
    let borrowed: Vec<(Engine, &[f64])> =
        per_member.iter().map(|(e, p)| (*e, p.as_slice())).collect();
    assert_eq!(
        bits(&combined),
        bits(&combine_predictions(&weights, &borrowed).unwrap())
    );
    for row in [0, 17, 1499] {
        let by_hand: f64 = ENGINES
            .iter()
            .filter_map(|e| per_member.iter().find(|(m, _)| m == e))
            .map(|(e, p)| weights.get(*e) * p[row])
            .sum();
        assert!(
            (combined[row] - by_hand).abs() <= 1e-9 * by_hand.abs(),
            "row {row}"
        );
    }
    assert!(rmse(&combined, &data.target) < 100.0);
}

#[test]
fn a_positive_weight_without_its_model_is_refused() {
    let data = synthetic(300, 42);
    let set = TrainSet {
        features: &data.features,
        target: &data.target,
        weights: None,
    };
    let only = ObliviousConfig {
        depth: 2,
        iterations: 5,
        ..Default::default()
    }
    .fit(&set, None, &NoProgress)
    .unwrap();
    let err = Ensemble::new(vec![Box::new(only)], EnsembleWeights::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("lightgbm") && err.contains("no lightgbm model"),
        "{err}"
    );
}

#[test]
fn weights_are_fitted_on_out_of_fold_predictions_and_beat_every_member() {
    // Two folds: each row is predicted by models trained on the other fold only.
    let data = synthetic(2400, 43);
    let n = data.features.n_rows();
    let (first, second): (Vec<usize>, Vec<usize>) = (0..n).partition(|i| i % 2 == 0);
    let fold = |rows: &[usize]| Synthetic {
        features: data.features.select_rows(rows),
        target: rows.iter().map(|&i| data.target[i]).collect(),
    };
    let (a, b) = (fold(&first), fold(&second));
    let (models_a, models_b) = (fit_members(&a), fit_members(&b));
    let mut oof: Vec<(Engine, Vec<f64>)> = Vec::new();
    for (model_a, model_b) in models_a.iter().zip(&models_b) {
        let mut predictions = vec![0.0; n];
        for (&row, p) in second.iter().zip(model_a.predict(&b.features).unwrap()) {
            predictions[row] = p;
        }
        for (&row, p) in first.iter().zip(model_b.predict(&a.features).unwrap()) {
            predictions[row] = p;
        }
        oof.push((model_a.engine(), predictions));
    }
    let actual: Vec<f64> = data.target.iter().map(|v| f64::from(*v)).collect();
    let borrowed: Vec<(Engine, &[f64])> = oof.iter().map(|(e, p)| (*e, p.as_slice())).collect();
    let fitted = optimize_weights(&borrowed, &actual).unwrap();
    let sum: f64 = fitted.weights.pairs().iter().map(|(_, w)| w).sum();
    assert!((sum - 1.0).abs() < 1e-9 && fitted.weights.pairs().iter().all(|(_, w)| *w >= 0.0));
    let rmspe = |p: &[f64]| {
        (p.iter()
            .zip(&actual)
            .map(|(p, y)| ((y - p) / y).powi(2))
            .sum::<f64>()
            / actual.len() as f64)
            .sqrt()
    };
    let blended = combine_predictions(&fitted.weights, &borrowed).unwrap();
    assert!((rmspe(&blended) - fitted.rmspe).abs() < 1e-9);
    for (engine, p) in &oof {
        assert!(
            fitted.rmspe <= rmspe(p) + 1e-12,
            "{engine:?} alone is better than the fitted blend"
        );
    }
    eprintln!(
        "fitted weights {} (oof rmspe {:.5})",
        fitted.weights, fitted.rmspe
    );
}

#[test]
fn blocked_and_concurrent_predictions_equal_row_by_row_ones() {
    // 1,300 rows = three prediction blocks (512, 512, 276) spread over rayon's pool; each single row is one block
    // on the calling thread. Four threads predicting at once share each engine's booster (no lock).
    let data = synthetic(1300, 43);
    assert!(data.features.n_rows() > 2 * modelops_models::PREDICT_BLOCK_ROWS);
    for member in fit_members(&data) {
        let whole = member.predict(&data.features).unwrap();
        let one_by_one: Vec<f64> = (0..data.features.n_rows())
            .map(|i| member.predict(&data.features.select_rows(&[i])).unwrap()[0])
            .collect();
        assert_eq!(bits(&whole), bits(&one_by_one), "{:?}", member.engine());
        let concurrent: Vec<Vec<f64>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| scope.spawn(|| member.predict(&data.features).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for predicted in concurrent {
            assert_eq!(bits(&predicted), bits(&whole), "{:?}", member.engine());
        }
    }
}
