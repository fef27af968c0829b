//! Forecast evaluation: metrics (RMSPE and friends), expanding-window time-series folds, the holdout split and
//! baselines.
//!
//! - [`metrics`]: RMSPE over rows with actual ≠ 0, RMSE, MAE, zero-masked MAPE; empty input is an error.
//! - [`cv`]: [`FoldPlan`] (5 expanding folds × 42 days after ≥ 365 training days, holdout = last 42 days) and its
//!   printable [`FoldTable`].
//! - [`baseline`]: naive last-week and store×DayOfWeek×Promo-mean forecasters, and [`evaluate_model`] for any
//!   `modelops_models::Fit` trained on rolling-origin features. History is recomputed at every window's origin.
//! - [`report`]: the JSON written to `outputs/metrics/baseline_<timestamp>.json`.
#![deny(missing_docs)]

pub mod baseline;
pub mod cv;
pub mod metrics;
pub mod report;

pub use baseline::{
    Baseline, EvalProgress, ModelEvaluation, ModelReport, Silent, WindowScore, evaluate_baseline,
    evaluate_model,
};
pub use cv::{CvConfig, Fold, FoldPlan, FoldTable, expanding_window_folds};
pub use metrics::Scores;

/// Why an evaluation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// Inputs cannot be scored (empty, mismatched lengths, non-finite values, no fold fits); the text says which.
    #[error("{0}")]
    InvalidInput(String),
    /// Building features failed.
    #[error(transparent)]
    Features(#[from] modelops_features::FeatureError),
    /// A report could not be written.
    #[error("cannot write {path}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}
