//! LightGBM through its real C++ library (LightGBM 4.7.0, bundled and statically linked by `lightgbm3-sys`).
//!
//! Owns [`LightGbmConfig`] (the settings, validated and turned into LightGBM's parameter string) and, with the
//! `lightgbm` cargo feature, [`LightGbmModel`]: training with native categorical features, optional evaluation set
//! with early stopping, per-round progress, gain importance, and the native text model (`lightgbm.txt`) that Python
//! `lightgbm` loads unchanged. Without the feature, [`LightGbmConfig::fit_boxed`] and [`load`] return
//! [`ModelError::EngineNotBuilt`].
//!
//! Training drives the C API round by round itself (through `lightgbm3-sys`) instead of `lightgbm3::Booster::train`,
//! because that wrapper builds its `Dataset` with no parameters, so `categorical_feature`, `min_data_in_leaf` (used
//! by LightGBM's feature pre-filter) and the seed would not reach the binning step, and it has no per-round hook for
//! progress. Prediction, importance and loading use `lightgbm3::Booster`.

#[cfg(feature = "lightgbm")]
mod forest;
#[cfg(feature = "lightgbm")]
mod native;

#[cfg(feature = "lightgbm")]
pub use native::LightGbmModel;

use crate::{FeatureMatrix, ModelError, Regressor, TrainProgress, TrainSet};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// File name of the native model inside a model package.
pub const MODEL_FILE: &str = "lightgbm.txt";

/// LightGBM settings. Defaults are LightGBM's own (as Python `lightgbm.train` gets them), except `seed`, which is
/// the reference's 42. [`LightGbmConfig::reference`] gives the reference's tuned values.
///
/// | Name | Default | Meaning | Range |
/// |---|---|---|---|
/// | `objective` | `regression` | loss (LightGBM objective name; the eval metric is always `rmse`) | a LightGBM objective |
/// | `num_leaves` | 31 | maximum leaves per tree | 2..=131072 |
/// | `max_depth` | -1 | maximum tree depth; -1 = unlimited | -1 or ≥ 1 |
/// | `learning_rate` | 0.1 | shrinkage applied to each tree | (0, 1] |
/// | `feature_fraction` | 1.0 | share of features sampled per tree | (0, 1] |
/// | `bagging_fraction` | 1.0 | share of rows sampled every `bagging_freq` rounds | (0, 1] |
/// | `bagging_freq` | 0 | resample rows every k rounds; 0 = no bagging | ≥ 0 |
/// | `min_child_samples` | 20 | minimum rows per leaf (LightGBM `min_data_in_leaf`) | ≥ 0 |
/// | `reg_alpha` | 0.0 | L1 regularisation on leaf values (`lambda_l1`) | ≥ 0 |
/// | `reg_lambda` | 0.0 | L2 regularisation on leaf values (`lambda_l2`) | ≥ 0 |
/// | `rounds` | 100 | boosting rounds (upper bound with early stopping) | ≥ 1 |
/// | `early_stopping_rounds` | none | stop after this many rounds without RMSE improvement on the eval set | ≥ 1 |
/// | `seed` | 42 | seeds bagging, feature sampling and binning (LightGBM `seed`) | 0..=2147483647 |
/// | `num_threads` | 0 | OpenMP threads; 0 = all cores | ≥ 0 |
///
/// Always set as well: `boosting=gbdt`, `metric=rmse`, `deterministic=true` and `force_col_wise=true` (so the
/// same data, seed and thread count give the same trees), `verbosity=-1`, and `categorical_feature` for every
/// [`crate::FeatureKind::Categorical`] column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LightGbmConfig {
    /// LightGBM objective name.
    pub objective: String,
    /// Maximum leaves per tree.
    pub num_leaves: u32,
    /// Maximum depth; -1 for unlimited.
    pub max_depth: i32,
    /// Shrinkage per tree.
    pub learning_rate: f64,
    /// Share of features sampled per tree.
    pub feature_fraction: f64,
    /// Share of rows sampled when bagging.
    pub bagging_fraction: f64,
    /// Bagging period in rounds; 0 disables bagging.
    pub bagging_freq: u32,
    /// Minimum rows per leaf.
    pub min_child_samples: u32,
    /// L1 regularisation.
    pub reg_alpha: f64,
    /// L2 regularisation.
    pub reg_lambda: f64,
    /// Boosting rounds.
    pub rounds: u32,
    /// Early-stopping patience in rounds (needs an evaluation set).
    pub early_stopping_rounds: Option<u32>,
    /// Random seed.
    pub seed: u64,
    /// OpenMP threads, 0 for all cores.
    pub num_threads: u32,
}

impl Default for LightGbmConfig {
    fn default() -> Self {
        Self {
            objective: "regression".into(),
            num_leaves: 31,
            max_depth: -1,
            learning_rate: 0.1,
            feature_fraction: 1.0,
            bagging_fraction: 1.0,
            bagging_freq: 0,
            min_child_samples: 20,
            reg_alpha: 0.0,
            reg_lambda: 0.0,
            rounds: 100,
            early_stopping_rounds: None,
            seed: 42,
            num_threads: 0,
        }
    }
}

impl LightGbmConfig {
    /// The reference system's tuned settings (`config/best_hyperparameters.json`) with its 1,600 fixed rounds.
    pub fn reference() -> Self {
        Self {
            num_leaves: 112,
            max_depth: 14,
            learning_rate: 0.09907767405402476,
            feature_fraction: 0.7638691330886829,
            bagging_fraction: 0.846994779649261,
            bagging_freq: 9,
            min_child_samples: 47,
            reg_alpha: 0.874002054470144,
            reg_lambda: 0.5548869964298921,
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
                "lightgbm {name} = {value} is outside {range}"
            )))
        };
        if self.objective.is_empty()
            || !self
                .objective
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return bad(
                "objective",
                "LightGBM objective names such as `regression`",
                &self.objective,
            );
        }
        if !(2..=131_072).contains(&self.num_leaves) {
            return bad("num_leaves", "2..=131072", &self.num_leaves);
        }
        if self.max_depth == 0 || self.max_depth < -1 {
            return bad("max_depth", "-1 (unlimited) or >= 1", &self.max_depth);
        }
        if !(self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            return bad("learning_rate", "(0, 1]", &self.learning_rate);
        }
        if !(self.feature_fraction > 0.0 && self.feature_fraction <= 1.0) {
            return bad("feature_fraction", "(0, 1]", &self.feature_fraction);
        }
        if !(self.bagging_fraction > 0.0 && self.bagging_fraction <= 1.0) {
            return bad("bagging_fraction", "(0, 1]", &self.bagging_fraction);
        }
        if !(self.reg_alpha >= 0.0 && self.reg_alpha.is_finite()) {
            return bad("reg_alpha", "[0, inf)", &self.reg_alpha);
        }
        if !(self.reg_lambda >= 0.0 && self.reg_lambda.is_finite()) {
            return bad("reg_lambda", "[0, inf)", &self.reg_lambda);
        }
        if self.rounds == 0 || self.rounds > i32::MAX as u32 {
            return bad("rounds", "1..=2147483647", &self.rounds);
        }
        if self.early_stopping_rounds == Some(0) {
            return bad("early_stopping_rounds", ">= 1 (or unset)", &0);
        }
        if self.seed > i32::MAX as u64 {
            return bad("seed", "0..=2147483647", &self.seed);
        }
        if self.num_threads > i32::MAX as u32 {
            return bad("num_threads", "0..=2147483647", &self.num_threads);
        }
        Ok(())
    }

    /// The LightGBM parameter string (`key=value` separated by spaces) used for both the dataset and the booster,
    /// as Python `lightgbm` does. `categorical` holds the categorical column indices.
    pub fn native_parameters(&self, categorical: &[usize]) -> String {
        let mut params = vec![
            format!("objective={}", self.objective),
            "boosting=gbdt".to_string(),
            "metric=rmse".to_string(),
            format!("num_iterations={}", self.rounds),
            format!("num_leaves={}", self.num_leaves),
            format!("max_depth={}", self.max_depth),
            format!("learning_rate={}", self.learning_rate),
            format!("feature_fraction={}", self.feature_fraction),
            format!("bagging_fraction={}", self.bagging_fraction),
            format!("bagging_freq={}", self.bagging_freq),
            format!("min_data_in_leaf={}", self.min_child_samples),
            format!("lambda_l1={}", self.reg_alpha),
            format!("lambda_l2={}", self.reg_lambda),
            format!("seed={}", self.seed),
            format!("num_threads={}", self.num_threads),
            "deterministic=true".to_string(),
            "force_col_wise=true".to_string(),
            "verbosity=-1".to_string(),
        ];
        if !categorical.is_empty() {
            let list: Vec<String> = categorical.iter().map(usize::to_string).collect();
            params.push(format!("categorical_feature={}", list.join(",")));
        }
        params.join(" ")
    }

    /// Settings as flat (name, value) pairs for run tracking, with the reference's names (`num_leaves`,
    /// `objective`, `seed`, …); the caller adds its prefix (`lgb_`).
    pub fn to_params(&self) -> Vec<(String, String)> {
        let mut params = vec![
            ("objective".to_string(), self.objective.clone()),
            ("metric".to_string(), "rmse".to_string()),
            ("boosting_type".to_string(), "gbdt".to_string()),
            ("verbose".to_string(), "-1".to_string()),
            ("seed".to_string(), self.seed.to_string()),
            ("num_leaves".to_string(), self.num_leaves.to_string()),
            ("max_depth".to_string(), self.max_depth.to_string()),
            ("learning_rate".to_string(), self.learning_rate.to_string()),
            (
                "feature_fraction".to_string(),
                self.feature_fraction.to_string(),
            ),
            (
                "bagging_fraction".to_string(),
                self.bagging_fraction.to_string(),
            ),
            ("bagging_freq".to_string(), self.bagging_freq.to_string()),
            (
                "min_child_samples".to_string(),
                self.min_child_samples.to_string(),
            ),
            ("reg_alpha".to_string(), self.reg_alpha.to_string()),
            ("reg_lambda".to_string(), self.reg_lambda.to_string()),
            ("num_boost_round".to_string(), self.rounds.to_string()),
            ("num_threads".to_string(), self.num_threads.to_string()),
        ];
        if let Some(patience) = self.early_stopping_rounds {
            params.push(("early_stopping_rounds".to_string(), patience.to_string()));
        }
        params
    }

    /// Trains and returns the model behind the [`Regressor`] trait, whether or not the engine is built in.
    ///
    /// # Errors
    /// [`ModelError::EngineNotBuilt`] without the `lightgbm` feature; otherwise as [`crate::Fit::fit`].
    pub fn fit_boxed(
        &self,
        train: &TrainSet<'_>,
        eval: Option<&TrainSet<'_>>,
        progress: &dyn TrainProgress,
    ) -> Result<Box<dyn Regressor>, ModelError> {
        #[cfg(feature = "lightgbm")]
        {
            Ok(Box::new(crate::Fit::fit(self, train, eval, progress)?))
        }
        #[cfg(not(feature = "lightgbm"))]
        {
            let _ = (train, eval, progress);
            Err(ModelError::EngineNotBuilt("lightgbm"))
        }
    }
}

/// Loads a native LightGBM text model written by [`Regressor::save`] (or by Python `lightgbm`).
///
/// # Errors
/// [`ModelError::EngineNotBuilt`] without the `lightgbm` feature; [`ModelError::Io`] or [`ModelError::Format`]
/// when the file cannot be read or is not a LightGBM model.
pub fn load(path: &Path) -> Result<Box<dyn Regressor>, ModelError> {
    #[cfg(feature = "lightgbm")]
    {
        Ok(Box::new(LightGbmModel::load(path)?))
    }
    #[cfg(not(feature = "lightgbm"))]
    {
        let _ = path;
        Err(ModelError::EngineNotBuilt("lightgbm"))
    }
}

/// Checks that every column name can be stored in a LightGBM model unchanged (LightGBM rewrites spaces and rejects
/// JSON punctuation), so predictions can match columns by name.
#[cfg_attr(not(feature = "lightgbm"), allow(dead_code))]
fn check_feature_names(features: &FeatureMatrix) -> Result<(), ModelError> {
    for (i, name) in features.names().iter().enumerate() {
        if name.is_empty()
            || name
                .chars()
                .any(|c| c.is_whitespace() || matches!(c, '"' | ',' | ':' | '[' | ']' | '{' | '}'))
        {
            return Err(ModelError::InvalidData(format!(
                "feature column {i} is named `{name}`; LightGBM needs non-empty names without whitespace or \
                 any of \" , : [ ] {{ }}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_settings_are_valid_and_reach_the_parameter_string() {
        let config = LightGbmConfig::reference();
        config.validate().unwrap();
        let params = config.native_parameters(&[2, 5]);
        for expected in [
            "num_leaves=112",
            "max_depth=14",
            "learning_rate=0.09907767405402476",
            "feature_fraction=0.7638691330886829",
            "bagging_fraction=0.846994779649261",
            "bagging_freq=9",
            "min_data_in_leaf=47",
            "lambda_l1=0.874002054470144",
            "lambda_l2=0.5548869964298921",
            "seed=42",
            "num_iterations=1600",
            "categorical_feature=2,5",
        ] {
            assert!(
                params.split(' ').any(|p| p == expected),
                "{expected} missing from {params}"
            );
        }
    }

    #[test]
    fn out_of_range_settings_name_the_setting() {
        let config = LightGbmConfig {
            feature_fraction: 0.0,
            ..LightGbmConfig::default()
        };
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("feature_fraction"), "{err}");
        let config = LightGbmConfig {
            max_depth: 0,
            ..LightGbmConfig::default()
        };
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("max_depth")
        );
        let config = LightGbmConfig {
            objective: "regression metric=auc".into(),
            ..LightGbmConfig::default()
        };
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("objective")
        );
    }

    #[test]
    fn names_with_spaces_are_rejected() {
        let m = FeatureMatrix::new(
            vec!["a b".into()],
            vec![crate::FeatureKind::Numeric],
            vec![1.0],
        )
        .unwrap();
        assert!(
            check_feature_names(&m)
                .unwrap_err()
                .to_string()
                .contains("`a b`")
        );
    }
}
