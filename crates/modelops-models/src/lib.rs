//! Models: the [`Regressor`] and [`Fit`] traits, the engines behind them (LightGBM and XGBoost through their real
//! libraries, and our CatBoost-compatible oblivious-tree booster), the weighted ensemble and the model package.
//!
//! Everything crosses engine boundaries as a [`FeatureMatrix`]: dense, row-major `f32`, `NaN` for missing, categorical
//! columns holding integer codes fixed at training time. No Polars type crosses this line.
#![deny(missing_docs)]

pub mod ensemble;
mod error;
pub mod hyperparams;
pub mod lightgbm;
mod matrix;
pub mod oblivious;
pub mod package;
#[cfg(any(feature = "lightgbm", feature = "xgboost"))]
mod packed_tree;
mod regressor;
pub mod xgboost;

pub use ensemble::{Ensemble, EnsembleWeights};
pub use error::ModelError;
pub use lightgbm::LightGbmConfig;
pub use matrix::{
    FeatureKind, FeatureMatrix, GROUP_BLOCK_MAX_ROWS, GROUP_BLOCK_MIN_ROWS, PREDICT_BLOCK_ROWS,
    RowBlock,
};
pub use package::{LoadedPackage, ModelPackage};
pub use regressor::{EarlyStopping, Engine, Fit, NoProgress, Regressor, TrainProgress, TrainSet};
pub use xgboost::XgBoostConfig;
