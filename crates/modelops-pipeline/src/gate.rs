//! The validation gate: scores a model package on the days that follow its training data and decides whether it
//! may enter Staging (holdout RMSPE ≤ threshold and MAE < limit, the reference's rule).
//!
//! The evaluation rows get their features exactly as a forecast made the day after training would: history at
//! that origin, read from the data directory, not the package's own (newer) history.

use std::path::Path;

use modelops_features::calendar::{day_of, format_day};
use modelops_features::{FeatureSpec, RowFilter};
use modelops_models::ModelPackage;
use serde::Serialize;

use crate::serving::{ServingSpec, predict_sales};
use crate::train::{ensure_clean_data, load_sales_data};
use crate::{PipelineError, Progress};

/// The gate's thresholds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct GateThresholds {
    /// Passes when RMSPE ≤ this.
    pub rmspe: f64,
    /// Passes when MAE < this.
    pub mae: f64,
}

/// The gate's verdict and the scores behind it.
#[derive(Clone, Debug, Serialize)]
pub struct GateReport {
    /// Whether both conditions hold.
    pub passed: bool,
    /// Ensemble scores on the window.
    pub scores: modelops_eval::metrics::Scores,
    /// Per engine.
    pub engine_scores: Vec<(String, modelops_eval::metrics::Scores)>,
    /// Thresholds applied.
    pub thresholds: GateThresholds,
    /// First and last day scored.
    pub window: (String, String),
    /// Rows scored (open days with sales).
    pub rows: usize,
    /// Why it failed, one line per failed condition.
    pub failures: Vec<String>,
}

/// Scores the package at `package_dir` on the `window_days` days after its training data found in `data_dir`.
///
/// # Errors
/// [`PipelineError::Invalid`] when the package has no training date range or the data has no days after it;
/// data, feature and model errors otherwise.
pub fn evaluate(
    package_dir: &Path,
    data_dir: &Path,
    window_days: i32,
    thresholds: GateThresholds,
    progress: &dyn Progress,
) -> Result<GateReport, PipelineError> {
    progress.step("load model", 0);
    let package = ModelPackage::load(package_dir)?;
    let spec = ServingSpec::from_package(&package)?;
    let range = package.lineage.training_date_range.ok_or_else(|| {
        PipelineError::Invalid(format!(
            "{}: the package records no training date range, so the days after its training data are unknown",
            package_dir.display()
        ))
    })?;
    progress.finish(&package_dir.display().to_string());

    let clean = ensure_clean_data(data_dir, progress)?;
    progress.step("build evaluation features", 0);
    let data = load_sales_data(&clean)?;
    let origin = day_of(range.end) + 1;
    let (_, last) = data.day_range();
    let end = (origin + window_days).min(last + 1);
    if end <= origin {
        return Err(PipelineError::Invalid(format!(
            "{}: no data after the model's training data (it was trained through {}; the data ends {}); validate \
             with a data directory holding the following {window_days} days, or train with --holdout-days {window_days}",
            data_dir.display(),
            range.end,
            format_day(last)
        )));
    }
    let builder = spec.features.builder.clone();
    let eval_spec = FeatureSpec::new(builder, data.stores().clone(), data.history_at(origin));
    let rows = data.forecast_set(&eval_spec.builder, origin, end, RowFilter::ModelRows)?;
    if rows.is_empty() {
        return Err(PipelineError::Invalid(format!(
            "no open days with sales between {} and {} to score",
            format_day(origin),
            format_day(end - 1)
        )));
    }
    progress.finish(&format!(
        "{} rows, {} … {}",
        rows.len(),
        format_day(origin),
        format_day(end - 1)
    ));

    progress.step("score", 0);
    let predicted = predict_sales(
        &package.ensemble,
        spec.target_transform,
        &rows.features,
        &rows.rows,
    )?;
    let actual: Vec<f64> = rows.sales.iter().map(|&s| f64::from(s)).collect();
    let scores = modelops_eval::metrics::Scores::compute(&actual, &predicted.ensemble)?;
    let mut engine_scores = Vec::new();
    for (engine, p) in &predicted.per_engine {
        engine_scores.push((
            engine.key().to_string(),
            modelops_eval::metrics::Scores::compute(&actual, p)?,
        ));
    }
    let mut failures = Vec::new();
    if scores.rmspe > thresholds.rmspe || scores.rmspe.is_nan() {
        failures.push(format!(
            "RMSPE {:.5} is above the threshold {}",
            scores.rmspe, thresholds.rmspe
        ));
    }
    if scores.mae >= thresholds.mae || scores.mae.is_nan() {
        failures.push(format!(
            "MAE {:.1} is not below {}",
            scores.mae, thresholds.mae
        ));
    }
    progress.finish(&format!("RMSPE {:.5}, MAE {:.1}", scores.rmspe, scores.mae));
    Ok(GateReport {
        passed: failures.is_empty(),
        scores,
        engine_scores,
        thresholds,
        window: (format_day(origin), format_day(end - 1)),
        rows: rows.len(),
        failures,
    })
}
