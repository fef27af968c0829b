//! Live performance: once actual sales are recorded, RMSPE and MAE per model version per ISO week, and alerts
//! for the weeks above a threshold.
//!
//! Definitions follow the reference's evaluation: RMSPE = `sqrt(mean(((y − ŷ)/y)²))` over rows with `y ≠ 0`
//! (`None` when a week has none); MAE = `mean(|y − ŷ|)` over all rows given. Which rows to pass (e.g. open days
//! only, as the holdout does) is the caller's choice. The metric code is ours rather than `modelops-eval`'s so
//! this crate stays free of that crate's dependencies; the definitions are the same.

use crate::error::MonitorError;
use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One prediction whose actual value is known.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoredPrediction {
    /// The day predicted.
    pub date: NaiveDate,
    /// Store id.
    pub store: u32,
    /// Model output.
    pub prediction: f64,
    /// Recorded actual sales.
    pub actual: f64,
    /// Model version that made the prediction.
    pub model_version: String,
}

/// Scores of one model version in one ISO week.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeeklyPerformance {
    /// Model version.
    pub model_version: String,
    /// ISO week-numbering year.
    pub iso_year: i32,
    /// ISO week, 1..=53.
    pub iso_week: u32,
    /// Monday of that week.
    pub week_start: NaiveDate,
    /// Rows scored.
    pub rows: u64,
    /// Rows with a non-zero actual (the RMSPE rows).
    pub rmspe_rows: u64,
    /// Root mean squared percentage error over `rmspe_rows`; `None` when there are none.
    pub rmspe: Option<f64>,
    /// Mean absolute error over all rows.
    pub mae: f64,
}

/// Alert thresholds for live performance.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PerformanceThresholds {
    /// Alert when a week's RMSPE is above this (e.g. the validation gate, 0.10).
    pub rmspe: f64,
    /// Alert when a week's MAE is above this, if set.
    pub mae: Option<f64>,
}

/// A week that scored worse than a threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PerformanceAlert {
    /// Model version.
    pub model_version: String,
    /// ISO year.
    pub iso_year: i32,
    /// ISO week.
    pub iso_week: u32,
    /// `rmspe` or `mae`.
    pub metric: String,
    /// The week's value.
    pub value: f64,
    /// The threshold it exceeded.
    pub threshold: f64,
    /// One line for logs and e-mails.
    pub message: String,
}

/// RMSPE and MAE per model version per ISO week, sorted by version (numerically when versions are numbers) then
/// week.
///
/// # Errors
/// [`MonitorError::InvalidValue`] for a non-finite prediction or actual, naming the 1-based row.
pub fn weekly_performance(
    rows: &[ScoredPrediction],
) -> Result<Vec<WeeklyPerformance>, MonitorError> {
    #[derive(Default)]
    struct Sums {
        week_start: Option<NaiveDate>,
        rows: u64,
        rmspe_rows: u64,
        squared_pct: f64,
        absolute: f64,
    }
    let mut groups: BTreeMap<(VersionKey, i32, u32), Sums> = BTreeMap::new();
    for (i, row) in rows.iter().enumerate() {
        for (field, value) in [("prediction", row.prediction), ("actual", row.actual)] {
            if !value.is_finite() {
                return Err(MonitorError::InvalidValue {
                    feature: field.to_owned(),
                    row: i + 1,
                    value: value.to_string(),
                    expected: "predictions and actuals must be finite numbers",
                });
            }
        }
        let week = row.date.iso_week();
        let sums = groups
            .entry((
                VersionKey::new(&row.model_version),
                week.year(),
                week.week(),
            ))
            .or_default();
        sums.week_start =
            Some(row.date - Duration::days(i64::from(row.date.weekday().num_days_from_monday())));
        sums.rows += 1;
        sums.absolute += (row.actual - row.prediction).abs();
        if row.actual != 0.0 {
            sums.rmspe_rows += 1;
            sums.squared_pct += ((row.actual - row.prediction) / row.actual).powi(2);
        }
    }
    Ok(groups
        .into_iter()
        .map(|((version, iso_year, iso_week), s)| WeeklyPerformance {
            model_version: version.text,
            iso_year,
            iso_week,
            week_start: s.week_start.unwrap_or_default(),
            rows: s.rows,
            rmspe_rows: s.rmspe_rows,
            rmspe: (s.rmspe_rows > 0).then(|| (s.squared_pct / s.rmspe_rows as f64).sqrt()),
            mae: s.absolute / s.rows as f64,
        })
        .collect())
}

/// Weeks whose RMSPE (or MAE, when a threshold is set) is above the threshold, in the order of `weeks`.
pub fn performance_alerts(
    weeks: &[WeeklyPerformance],
    thresholds: &PerformanceThresholds,
) -> Vec<PerformanceAlert> {
    let mut alerts = Vec::new();
    for week in weeks {
        let mut check = |metric: &str, value: Option<f64>, threshold: Option<f64>| {
            if let (Some(value), Some(threshold)) = (value, threshold)
                && value > threshold
            {
                alerts.push(PerformanceAlert {
                    model_version: week.model_version.clone(),
                    iso_year: week.iso_year,
                    iso_week: week.iso_week,
                    metric: metric.to_owned(),
                    value,
                    threshold,
                    message: format!(
                        "model version {} week {}-W{:02} (from {}): {} {:.4} above the threshold {} over {} rows",
                        week.model_version,
                        week.iso_year,
                        week.iso_week,
                        week.week_start,
                        metric.to_uppercase(),
                        value,
                        threshold,
                        if metric == "rmspe" { week.rmspe_rows } else { week.rows }
                    ),
                });
            }
        };
        check("rmspe", week.rmspe, Some(thresholds.rmspe));
        check("mae", Some(week.mae), thresholds.mae);
    }
    alerts
}

/// Orders model versions numerically when they are numbers ("2" before "10"), else as text after the numbers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct VersionKey {
    is_text: bool,
    number: u64,
    text: String,
}

impl VersionKey {
    fn new(text: &str) -> Self {
        let number = text.trim().parse().ok();
        Self {
            is_text: number.is_none(),
            number: number.unwrap_or(0),
            text: text.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_versions_sort_numerically() {
        assert!(VersionKey::new("2") < VersionKey::new("10"));
        assert!(VersionKey::new("10") > VersionKey::new("9"));
        assert!(VersionKey::new("10") < VersionKey::new("canary"));
    }
}
