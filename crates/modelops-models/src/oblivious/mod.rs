//! A CatBoost-compatible oblivious-tree booster, written in Rust (no library can train CatBoost from Rust).
//!
//! It implements CatBoost's algorithm for the RMSE loss: symmetric (oblivious) trees of `depth` levels, numeric
//! features quantized once into at most `border_count` borders, leaf values by one Newton step with `l2_leaf_reg`,
//! CatBoost's `Cosine` split score with `random_strength` Gaussian noise that decays as the model grows, Bayesian
//! (or Bernoulli) bootstrap per tree, shrinkage, early stopping on an evaluation set keeping the best iteration,
//! and categorical columns as one-hot splits (few levels) or ordered target statistics (CTRs). The model is saved
//! in CatBoost's own JSON format (`catboost.json`), which Python `catboost` loads and evaluates to the same values.
//!
//! Module map: [`ObliviousConfig`] (settings, `config`), `quantize` (borders and bins), `ctr` (categorical
//! statistics), `hash` (CatBoost's level hashing), `train` (the histogram-based trainer), [`ObliviousModel`]
//! (prediction, `model`) and `json` (CatBoost JSON export/import).
//!
//! Differences from CatBoost that change numbers but not the method: borders come from an equal-frequency grid,
//! not `GreedyLogSum`; CTRs use one permutation and a median target border; the plain (not ordered) boosting
//! scheme is used, as CatBoost does by default on large data; `MVS` bootstrap (CatBoost 1.2's CPU default, under
//! which `bagging_temperature` is ignored) is not implemented; feature combinations are not built.
//!
//! ```
//! use modelops_models::oblivious::{ObliviousConfig, ObliviousModel};
//! use modelops_models::{FeatureKind, FeatureMatrix, Fit, NoProgress, Regressor, TrainSet};
//! let x: Vec<f32> = (0..200).map(|i| (i % 20) as f32).collect();
//! let y: Vec<f32> = x.iter().map(|v| if *v > 9.5 { 10.0 } else { 0.0 }).collect();
//! let features = FeatureMatrix::new(vec!["x".into()], vec![FeatureKind::Numeric], x).unwrap();
//! let config = ObliviousConfig { depth: 2, iterations: 50, learning_rate: 0.3, ..Default::default() };
//! let model = config.fit(&TrainSet { features: &features, target: &y, weights: None }, None, &NoProgress).unwrap();
//! let p = model.predict(&features).unwrap();
//! assert!((p[15] - 10.0).abs() < 0.5 && p[5].abs() < 0.5);
//! ```

mod config;
mod ctr;
mod hash;
mod json;
mod model;
mod quantize;
mod train;

pub use config::{Bootstrap, ObliviousConfig};
pub use model::ObliviousModel;

use crate::{Fit, ModelError, TrainProgress, TrainSet};

impl Fit for ObliviousConfig {
    type Model = ObliviousModel;

    fn fit(
        &self,
        train: &TrainSet<'_>,
        eval: Option<&TrainSet<'_>>,
        progress: &dyn TrainProgress,
    ) -> Result<ObliviousModel, ModelError> {
        train::fit(self, train, eval, progress)
    }
}
