//! Hyperparameter tuning: search spaces, samplers (TPE, random), the median pruner, and studies persisted in SQL
//! so they resume after a crash and several workers share them.
//!
//! How the pieces fit:
//! - [`SearchSpaces`] loads `config/search_spaces.yaml` (built-in: the reference system's spaces for `lightgbm`,
//!   `xgboost`, `catboost`) and hands out one model's [`SearchSpace`].
//! - [`Study::create_or_load`] opens or creates a named study in SQLite or PostgreSQL with [`StudySettings`]
//!   (direction, space, [`SamplerConfig`], [`PrunerConfig`], seed).
//! - [`optimize`] runs an [`Objective`] on `workers` threads until the study holds `n_trials` trials; the objective
//!   reports per-step values through a [`TrialReporter`], which answers whether to prune.
//!
//! Does not own the objective itself (cross-validated RMSPE, in the binary's `tune` command), tracking runs
//! (`modelops-tracking`) or `best_hyperparameters.json` (`modelops-models`).
//!
//! ```no_run
//! use modelops_tune::{optimize, NoObserver, OptimizeOptions, SearchSpaces, ShouldPrune, Study, StudySettings,
//!     TrialInput, TrialOutcome, TrialReporter, ObjectiveError};
//! use std::sync::Arc;
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let spaces = SearchSpaces::load_or_builtin(std::path::Path::new("config/search_spaces.yaml"))?;
//! let settings = StudySettings::new(spaces.get("lightgbm")?.clone(), 42);
//! let study = Study::create_or_load("sqlite:////tmp/studies.db", "lightgbm_tuning", settings).await?;
//! let objective = |trial: &TrialInput<'_>, reporter: &mut dyn TrialReporter| -> Result<TrialOutcome, ObjectiveError> {
//!     let lr = trial.params["learning_rate"].as_f64().unwrap_or(0.05);
//!     let mut running = 0.0;
//!     for fold in 0..5u32 {
//!         running += (lr - 0.03).abs(); // stand-in for a fold's RMSPE
//!         if reporter.report(fold, running / f64::from(fold + 1)) == ShouldPrune::Prune {
//!             return Ok(TrialOutcome::Pruned);
//!         }
//!     }
//!     Ok(TrialOutcome::Complete(running / 5.0))
//! };
//! let summary = optimize(&study, Arc::new(objective), &OptimizeOptions::new(50), Arc::new(NoObserver)).await?;
//! println!("best: {:?}", summary.best.map(|t| t.params));
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod error;
mod optimize;
pub mod pruner;
pub mod sampler;
mod space;
pub mod study;
mod trial;

pub use error::TuneError;
pub use optimize::{
    NoObserver, Objective, ObjectiveError, OptimizeObserver, OptimizeOptions, OptimizeSummary,
    ShouldPrune, StopReason, TrialInput, TrialOutcome, TrialReporter, optimize,
};
pub use pruner::{MedianPruner, Pruner, PrunerConfig};
pub use sampler::{RandomSampler, Sampler, SamplerConfig, TpeSampler, TpeSettings};
pub use space::{
    BUILTIN_SEARCH_SPACES_YAML, Choices, Distribution, FloatRange, IntRange, ParamValue, Params,
    SearchSpace, SearchSpaces, params_to_json,
};
pub use study::{Claim, ClaimedTrial, ReportOutcome, Study, StudySettings};
pub use trial::{Direction, Trial, TrialState};
