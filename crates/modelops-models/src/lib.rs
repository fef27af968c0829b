//! Models: the [`Regressor`] and [`Fit`] traits, the engines behind them (LightGBM and XGBoost through their real
//! libraries, and our CatBoost-compatible oblivious-tree booster), the weighted ensemble and the model package.
//!
//! Everything crosses engine boundaries as a [`FeatureMatrix`]: dense, row-major `f32`, `NaN` for missing, categorical
//! columns holding integer codes fixed at training time. No Polars type crosses this line.
#![deny(missing_docs)]

mod error;
mod matrix;
pub mod oblivious;
mod regressor;

pub use error::ModelError;
pub use matrix::{FeatureKind, FeatureMatrix};
pub use regressor::{Engine, Fit, NoProgress, Regressor, TrainProgress, TrainSet};
