//! XGBoost through its real C++ library (XGBoost 3.4.1, built from the source bundled in `xgboost_lib-sys` and
//! linked as a shared library; `crates/modelops/build.rs` gives the binary an rpath to it).
//!
//! Owns [`XgBoostConfig`] and, with the `xgboost` cargo feature, [`XgBoostModel`]: `hist` training, optional
//! evaluation set with early stopping (the model is sliced to the best round), per-round progress, total-gain
//! importance and the native JSON model (`xgboost.json`) that Python `xgboost` loads unchanged. Without the
//! feature, [`XgBoostConfig::fit_boxed`] and [`load`] return [`ModelError::EngineNotBuilt`].
//!
//! Categorical columns go in as the integer codes already in the [`crate::FeatureMatrix`], as numbers, like the
//! reference (`.cat.codes`). The codes are fixed at training time by the feature builder and stored in the
//! package's feature spec, so a prediction batch can never re-number them (the reference's defect D5).
//!
//! We call the C API through `xgboost_lib-sys` ourselves rather than through the `xgb` crate: `xgb` always sends
//! `base_score=0.5` (which switches off XGBoost's intercept estimation that Python `xgboost` uses) plus deprecated
//! parameters, and keeps its handles private, so an evaluation score per round cannot be computed through it.

#[cfg(feature = "xgboost")]
mod forest;
#[cfg(feature = "xgboost")]
mod native;

#[cfg(feature = "xgboost")]
pub use native::XgBoostModel;

use crate::{ModelError, Regressor, TrainProgress, TrainSet};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// File name of the native model inside a model package.
pub const MODEL_FILE: &str = "xgboost.json";

/// XGBoost settings. Defaults are XGBoost's own, except `seed` (the reference's 42) and `rounds` (100).
/// [`XgBoostConfig::reference`] gives the reference's tuned values.
///
/// | Name | Default | Meaning | Range |
/// |---|---|---|---|
/// | `objective` | `reg:squarederror` | loss (XGBoost objective name; eval metric is always `rmse`) | an XGBoost objective |
/// | `max_depth` | 6 | maximum tree depth | 1..=64 |
/// | `learning_rate` | 0.3 | shrinkage per tree (`eta`) | (0, 1] |
/// | `subsample` | 1.0 | share of rows sampled per tree | (0, 1] |
/// | `colsample_bytree` | 1.0 | share of features sampled per tree | (0, 1] |
/// | `min_child_weight` | 1.0 | minimum hessian sum per child | ≥ 0 |
/// | `reg_alpha` | 0.0 | L1 regularisation on leaf weights (`alpha`) | ≥ 0 |
/// | `reg_lambda` | 1.0 | L2 regularisation on leaf weights (`lambda`) | ≥ 0 |
/// | `gamma` | 0.0 | minimum loss reduction to split | ≥ 0 |
/// | `max_bin` | 256 | histogram bins per feature | 2..=65536 |
/// | `rounds` | 100 | boosting rounds (upper bound with early stopping) | ≥ 1 |
/// | `early_stopping_rounds` | none | stop after this many rounds without RMSE improvement on the eval set | ≥ 1 |
/// | `seed` | 42 | seeds row and column sampling | any `u64` |
/// | `nthread` | 0 | threads; 0 = all cores | ≥ 0 |
///
/// Always set as well: `tree_method=hist`, `eval_metric=rmse`, `verbosity=0`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct XgBoostConfig {
    /// XGBoost objective name.
    pub objective: String,
    /// Maximum tree depth.
    pub max_depth: u32,
    /// Shrinkage per tree (`eta`).
    pub learning_rate: f64,
    /// Share of rows sampled per tree.
    pub subsample: f64,
    /// Share of features sampled per tree.
    pub colsample_bytree: f64,
    /// Minimum hessian sum per child.
    pub min_child_weight: f64,
    /// L1 regularisation.
    pub reg_alpha: f64,
    /// L2 regularisation.
    pub reg_lambda: f64,
    /// Minimum loss reduction to split.
    pub gamma: f64,
    /// Histogram bins per feature.
    pub max_bin: u32,
    /// Boosting rounds.
    pub rounds: u32,
    /// Early-stopping patience in rounds (needs an evaluation set).
    pub early_stopping_rounds: Option<u32>,
    /// Random seed.
    pub seed: u64,
    /// Threads, 0 for all cores.
    pub nthread: u32,
}

impl Default for XgBoostConfig {
    fn default() -> Self {
        Self {
            objective: "reg:squarederror".into(),
            max_depth: 6,
            learning_rate: 0.3,
            subsample: 1.0,
            colsample_bytree: 1.0,
            min_child_weight: 1.0,
            reg_alpha: 0.0,
            reg_lambda: 1.0,
            gamma: 0.0,
            max_bin: 256,
            rounds: 100,
            early_stopping_rounds: None,
            seed: 42,
            nthread: 0,
        }
    }
}

impl XgBoostConfig {
    /// The reference system's tuned settings (`config/best_hyperparameters.json`) with its 1,600 fixed rounds.
    pub fn reference() -> Self {
        Self {
            max_depth: 15,
            learning_rate: 0.030794654216388606,
            subsample: 0.7030572357656915,
            colsample_bytree: 0.855766511682563,
            min_child_weight: 10.0,
            reg_alpha: 0.4844786966814199,
            reg_lambda: 0.2629301632630104,
            gamma: 0.35822958859053944,
            rounds: 1600,
            ..Self::default()
        }
    }

    /// Checks every setting against its range.
    ///
    /// # Errors
    /// [`ModelError::InvalidConfig`] naming the first bad setting and its allowed range.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |name: &str, range: &str, value: &dyn std::fmt::Display| {
            Err(ModelError::InvalidConfig(format!(
                "xgboost {name} = {value} is outside {range}"
            )))
        };
        if self.objective.is_empty()
            || !self
                .objective
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-'))
        {
            return bad(
                "objective",
                "XGBoost objective names such as `reg:squarederror`",
                &self.objective,
            );
        }
        if !(1..=64).contains(&self.max_depth) {
            return bad("max_depth", "1..=64", &self.max_depth);
        }
        if !(self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            return bad("learning_rate", "(0, 1]", &self.learning_rate);
        }
        if !(self.subsample > 0.0 && self.subsample <= 1.0) {
            return bad("subsample", "(0, 1]", &self.subsample);
        }
        if !(self.colsample_bytree > 0.0 && self.colsample_bytree <= 1.0) {
            return bad("colsample_bytree", "(0, 1]", &self.colsample_bytree);
        }
        for (name, value) in [
            ("min_child_weight", self.min_child_weight),
            ("reg_alpha", self.reg_alpha),
            ("reg_lambda", self.reg_lambda),
            ("gamma", self.gamma),
        ] {
            if !(value >= 0.0 && value.is_finite()) {
                return bad(name, "[0, inf)", &value);
            }
        }
        if !(2..=65_536).contains(&self.max_bin) {
            return bad("max_bin", "2..=65536", &self.max_bin);
        }
        if self.rounds == 0 || self.rounds > i32::MAX as u32 {
            return bad("rounds", "1..=2147483647", &self.rounds);
        }
        if self.early_stopping_rounds == Some(0) {
            return bad("early_stopping_rounds", ">= 1 (or unset)", &0);
        }
        Ok(())
    }

    /// The XGBoost parameters, in the order they are set on the booster.
    pub fn native_parameters(&self) -> Vec<(&'static str, String)> {
        vec![
            ("verbosity", "0".into()),
            ("booster", "gbtree".into()),
            ("tree_method", "hist".into()),
            ("objective", self.objective.clone()),
            ("eval_metric", "rmse".into()),
            ("max_depth", self.max_depth.to_string()),
            ("eta", self.learning_rate.to_string()),
            ("subsample", self.subsample.to_string()),
            ("colsample_bytree", self.colsample_bytree.to_string()),
            ("min_child_weight", self.min_child_weight.to_string()),
            ("alpha", self.reg_alpha.to_string()),
            ("lambda", self.reg_lambda.to_string()),
            ("gamma", self.gamma.to_string()),
            ("max_bin", self.max_bin.to_string()),
            ("seed", self.seed.to_string()),
            ("nthread", self.nthread.to_string()),
        ]
    }

    /// Settings as flat (name, value) pairs for run tracking, with the reference's names (`max_depth`,
    /// `eval_metric`, `seed`, …); the caller adds its prefix (`xgb_`).
    pub fn to_params(&self) -> Vec<(String, String)> {
        let mut params = vec![
            ("objective".to_string(), self.objective.clone()),
            ("eval_metric".to_string(), "rmse".to_string()),
            ("seed".to_string(), self.seed.to_string()),
            ("verbosity".to_string(), "0".to_string()),
            ("tree_method".to_string(), "hist".to_string()),
            ("max_depth".to_string(), self.max_depth.to_string()),
            ("learning_rate".to_string(), self.learning_rate.to_string()),
            ("subsample".to_string(), self.subsample.to_string()),
            (
                "colsample_bytree".to_string(),
                self.colsample_bytree.to_string(),
            ),
            (
                "min_child_weight".to_string(),
                self.min_child_weight.to_string(),
            ),
            ("reg_alpha".to_string(), self.reg_alpha.to_string()),
            ("reg_lambda".to_string(), self.reg_lambda.to_string()),
            ("gamma".to_string(), self.gamma.to_string()),
            ("max_bin".to_string(), self.max_bin.to_string()),
            ("num_boost_round".to_string(), self.rounds.to_string()),
            ("nthread".to_string(), self.nthread.to_string()),
        ];
        if let Some(patience) = self.early_stopping_rounds {
            params.push(("early_stopping_rounds".to_string(), patience.to_string()));
        }
        params
    }

    /// Trains and returns the model behind the [`Regressor`] trait, whether or not the engine is built in.
    ///
    /// # Errors
    /// [`ModelError::EngineNotBuilt`] without the `xgboost` feature; otherwise as [`crate::Fit::fit`].
    pub fn fit_boxed(
        &self,
        train: &TrainSet<'_>,
        eval: Option<&TrainSet<'_>>,
        progress: &dyn TrainProgress,
    ) -> Result<Box<dyn Regressor>, ModelError> {
        #[cfg(feature = "xgboost")]
        {
            Ok(Box::new(crate::Fit::fit(self, train, eval, progress)?))
        }
        #[cfg(not(feature = "xgboost"))]
        {
            let _ = (train, eval, progress);
            Err(ModelError::EngineNotBuilt("xgboost"))
        }
    }
}

/// Loads a native XGBoost JSON (or UBJSON) model written by [`Regressor::save`] (or by Python `xgboost`).
///
/// # Errors
/// [`ModelError::EngineNotBuilt`] without the `xgboost` feature; [`ModelError::Io`] or [`ModelError::Format`]
/// when the file cannot be read or is not an XGBoost model.
pub fn load(path: &Path) -> Result<Box<dyn Regressor>, ModelError> {
    #[cfg(feature = "xgboost")]
    {
        Ok(Box::new(XgBoostModel::load(path)?))
    }
    #[cfg(not(feature = "xgboost"))]
    {
        let _ = path;
        Err(ModelError::EngineNotBuilt("xgboost"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_settings_are_valid_and_reach_the_parameters() {
        let config = XgBoostConfig::reference();
        config.validate().unwrap();
        let params = config.native_parameters();
        for (key, value) in [
            ("tree_method", "hist"),
            ("max_depth", "15"),
            ("eta", "0.030794654216388606"),
            ("subsample", "0.7030572357656915"),
            ("colsample_bytree", "0.855766511682563"),
            ("min_child_weight", "10"),
            ("alpha", "0.4844786966814199"),
            ("lambda", "0.2629301632630104"),
            ("gamma", "0.35822958859053944"),
            ("seed", "42"),
        ] {
            assert!(
                params.iter().any(|(k, v)| *k == key && v == value),
                "{key}={value} missing: {params:?}"
            );
        }
        assert!(
            !params.iter().any(|(k, _)| *k == "base_score"),
            "base_score must be left to XGBoost"
        );
    }

    #[test]
    fn out_of_range_settings_name_the_setting() {
        let config = XgBoostConfig {
            subsample: 1.5,
            ..XgBoostConfig::default()
        };
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("subsample")
        );
        let config = XgBoostConfig {
            gamma: -1.0,
            ..XgBoostConfig::default()
        };
        assert!(config.validate().unwrap_err().to_string().contains("gamma"));
    }
}
