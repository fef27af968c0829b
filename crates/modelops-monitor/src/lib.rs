//! Monitoring: reference profiles, drift statistics, drift reports (JSON and self-contained HTML) and live
//! performance per model version and week.
//!
//! A pure library: it reads columns the caller extracted (from the training data when a model is packaged, from
//! the prediction log when monitoring) and never touches the tracking store, the prediction log or Polars.
//!
//! # How the pieces fit
//! 1. At packaging time, put the training rows' monitored columns in a [`ColumnSet`] (with their dates, so the
//!    profile is partitioned by calendar month, and the model's predictions) and call
//!    [`ReferenceProfile::build`]; store [`ReferenceProfile::to_json`] in the model package.
//! 2. When monitoring, build a [`ColumnSet`] from the logged window and call [`detect_drift`] with a
//!    [`DriftConfig`] (thresholds, rules, `full` or `same-months` reference). The [`DriftReport`] is the JSON
//!    summary; [`write_report`] writes `drift_report_<date>.{json,html}` plus `latest.{json,html}`.
//! 3. With actuals recorded, [`weekly_performance`] gives RMSPE and MAE per model version per ISO week and
//!    [`performance_alerts`] the weeks above a threshold.
//!
//! # Modules
//! - [`stats`]: KS, chi-square, TVD, PSI and their special functions (our own; see the module for why and how).
//! - [`sketch`]: compact numeric sketches (with their error bound) and category counts.
//! - [`profile`]: [`ColumnSet`] and [`ReferenceProfile`].
//! - [`drift`]: the drift check, its rules and the report structure.
//! - [`monitored`]: the Rossmann columns both sides of a check use ([`MonitoredRows`]).
//! - [`html`]: the HTML report (inline CSS and SVG, no scripts); [`report`]: writing report files.
//! - [`performance`]: live RMSPE/MAE.
#![deny(missing_docs)]

pub mod drift;
pub mod error;
pub mod html;
pub mod monitored;
pub mod performance;
pub mod profile;
pub mod report;
pub mod sketch;
pub mod stats;

pub use drift::{
    CategoricalRule, Chart, CurrentWindow, DriftConfig, DriftReport, DriftStatus, FeatureDrift,
    NumericRule, ReferenceSelection, ReferenceWindow, detect_drift,
};
pub use error::MonitorError;
pub use html::render_html;
pub use monitored::{MONITORED_FEATURES, MonitoredRow, MonitoredRows};
pub use performance::{
    PerformanceAlert, PerformanceThresholds, ScoredPrediction, WeeklyPerformance,
};
pub use performance::{performance_alerts, weekly_performance};
pub use profile::{ColumnSet, ColumnValues, FeatureKind, ReferenceProfile};
pub use report::{WrittenReport, write_report};
pub use sketch::SketchConfig;
