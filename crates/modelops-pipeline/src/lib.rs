//! Orchestration of modelops' multi-step jobs. Each job strings library calls together — data, features, models,
//! evaluation, tracking — and reports progress through [`Progress`]; it owns no modelling or storage logic of its
//! own.
//!
//! - [`train`]: cleaned data → origin-safe features → LightGBM, XGBoost and the oblivious booster → weighted
//!   ensemble → holdout scores → model package, tracked as one run.
//! - [`predict`]: a model package plus raw rows in the Kaggle test schema → predictions in input order.
//! - [`retrain`]: the retraining run's lock and summary; [`smoke`]: the inference smoke test.
#![deny(missing_docs)]

mod error;
pub mod gate;
pub mod predict;
pub mod progress;
pub mod registry;
pub mod retrain;
pub mod serving;
pub mod smoke;
pub mod track;
pub mod train;
pub mod tune;

pub use error::PipelineError;
pub use progress::{Progress, Silent};
