//! The estimator traits every engine implements (shape borrowed from linfa's `Fit`/`Predict`).

use crate::{FeatureMatrix, ModelError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The engines modelops knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// LightGBM through its C API (native text model).
    Lightgbm,
    /// XGBoost through its C API (native JSON model).
    Xgboost,
    /// Our CatBoost-compatible oblivious-tree booster (CatBoost JSON model).
    Catboost,
}

impl Engine {
    /// The key used in configs, params and weights (`lightgbm`, `xgboost`, `catboost`).
    pub fn key(self) -> &'static str {
        match self {
            Engine::Lightgbm => "lightgbm",
            Engine::Xgboost => "xgboost",
            Engine::Catboost => "catboost",
        }
    }
}

/// Rows, target and optional weights, borrowed together.
#[derive(Clone, Copy, Debug)]
pub struct TrainSet<'a> {
    /// The features.
    pub features: &'a FeatureMatrix,
    /// One target value per row.
    pub target: &'a [f32],
    /// Optional per-row weights.
    pub weights: Option<&'a [f32]>,
}

impl TrainSet<'_> {
    /// Checks that target (and weights) match the rows and contain only finite values.
    ///
    /// # Errors
    /// [`ModelError::InvalidData`] naming the first problem.
    pub fn check(&self) -> Result<(), ModelError> {
        let n = self.features.n_rows();
        if n == 0 {
            return Err(ModelError::InvalidData(
                "the training set has no rows".into(),
            ));
        }
        if self.target.len() != n {
            return Err(ModelError::InvalidData(format!(
                "{} target values for {} rows",
                self.target.len(),
                n
            )));
        }
        if let Some(i) = self.target.iter().position(|v| !v.is_finite()) {
            return Err(ModelError::InvalidData(format!(
                "target of row {i} is not finite"
            )));
        }
        if let Some(w) = self.weights {
            if w.len() != n {
                return Err(ModelError::InvalidData(format!(
                    "{} weights for {} rows",
                    w.len(),
                    n
                )));
            }
            if let Some(i) = w.iter().position(|v| !v.is_finite() || *v < 0.0) {
                return Err(ModelError::InvalidData(format!(
                    "weight of row {i} is negative or not finite"
                )));
            }
        }
        Ok(())
    }
}

/// Receives training progress; the binary draws bars from it, libraries never print.
pub trait TrainProgress: Send + Sync {
    /// `done` of `total` boosting rounds are finished; `eval_metric` is the latest evaluation score, if any.
    fn on_round(&self, done: usize, total: usize, eval_metric: Option<f64>);
}

/// Progress that goes nowhere.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl TrainProgress for NoProgress {
    fn on_round(&self, _done: usize, _total: usize, _eval_metric: Option<f64>) {}
}

/// Settings that learn: settings plus a training set give a fitted model.
pub trait Fit {
    /// The fitted model.
    type Model: Regressor;
    /// Checks the settings, then trains. With `eval` and early stopping configured, stops when the evaluation
    /// score has not improved for the configured number of rounds and keeps the best iteration.
    ///
    /// # Errors
    /// [`ModelError::InvalidConfig`] or [`ModelError::InvalidData`] before training; engine errors during it.
    fn fit(
        &self,
        train: &TrainSet<'_>,
        eval: Option<&TrainSet<'_>>,
        progress: &dyn TrainProgress,
    ) -> Result<Self::Model, ModelError>;
}

/// A fitted model: one prediction per row; same input, same bytes.
pub trait Regressor: Send + Sync {
    /// Which engine this is.
    fn engine(&self) -> Engine;
    /// Predicts every row of `features` (whose columns must match the training columns by name and order).
    ///
    /// # Errors
    /// [`ModelError::InvalidData`] when the columns do not match.
    fn predict(&self, features: &FeatureMatrix) -> Result<Vec<f64>, ModelError>;
    /// Writes the model in its engine's native format into `dir` and returns the file written.
    ///
    /// # Errors
    /// [`ModelError::Io`] when the file cannot be written.
    fn save(&self, dir: &Path) -> Result<PathBuf, ModelError>;
    /// Total gain per feature, in column order, as (name, gain).
    fn feature_importance(&self) -> Vec<(String, f64)>;
    /// Number of boosting rounds kept (after early stopping).
    fn n_rounds(&self) -> usize;
}

/// Early-stopping bookkeeping shared by the engines: remembers the best evaluation score (lower is better) and
/// says when `patience` rounds have passed without a strict improvement.
#[derive(Clone, Debug)]
pub struct EarlyStopping {
    patience: usize,
    best: Option<(usize, f64)>,
}

impl EarlyStopping {
    /// Stops after `patience` rounds without improvement (`patience` ≥ 1).
    pub fn new(patience: usize) -> Self {
        Self {
            patience: patience.max(1),
            best: None,
        }
    }

    /// Records the evaluation score after `rounds_done` rounds; returns true when training should stop.
    /// A `NaN` score never counts as an improvement.
    pub fn should_stop(&mut self, rounds_done: usize, score: f64) -> bool {
        let improved = match self.best {
            None => !score.is_nan(),
            Some((_, best)) => score < best,
        };
        if improved {
            self.best = Some((rounds_done, score));
        }
        let best_round = self.best.map_or(0, |(round, _)| round);
        rounds_done.saturating_sub(best_round) >= self.patience
    }

    /// Number of rounds up to and including the best one, if any score was recorded.
    pub fn best_rounds(&self) -> Option<usize> {
        self.best.map(|(round, _)| round)
    }

    /// The best score seen so far.
    pub fn best_score(&self) -> Option<f64> {
        self.best.map(|(_, score)| score)
    }
}

#[cfg(test)]
mod early_stopping_tests {
    use super::EarlyStopping;

    #[test]
    fn stops_after_patience_rounds_without_improvement_and_keeps_best_round() {
        let mut stop = EarlyStopping::new(2);
        assert!(!stop.should_stop(1, 3.0));
        assert!(!stop.should_stop(2, 2.0));
        assert!(!stop.should_stop(3, 2.5));
        assert!(stop.should_stop(4, 2.0)); // equal is not better
        assert_eq!(stop.best_rounds(), Some(2));
        assert_eq!(stop.best_score(), Some(2.0));
    }

    #[test]
    fn nan_scores_never_improve() {
        let mut stop = EarlyStopping::new(1);
        assert!(stop.should_stop(1, f64::NAN));
        assert_eq!(stop.best_rounds(), None);
    }
}
