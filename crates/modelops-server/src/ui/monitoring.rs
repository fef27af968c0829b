//! The monitoring page: traffic (predictions per day and per model version), latency, live RMSPE per version and
//! ISO week once actual sales are recorded, and drift checks.
//!
//! The prediction log's tables belong to `modelops-serve`, which depends on Polars and the model engines; this
//! crate must stay free of them, so the page reads the log through the small [`PredictionSource`] trait and the
//! `modelops` binary plugs in an implementation over `modelops_serve::log::PredictionLog`
//! ([`UiOptions::predictions`](crate::ui::UiOptions::predictions)). Live RMSPE comes from
//! [`modelops_monitor::performance::weekly_performance`]. Drift checks are the runs of experiment
//! [`MONITORING_EXPERIMENT`] tagged `modelops.kind=drift` (recorded by `modelops monitor drift`).

use crate::AppState;
use crate::ui::UiOptions;
use crate::ui::chart::{self, Series};
use crate::ui::layout::{self, Nav};
use crate::ui::security::{CsrfToken, logout_token};
use crate::ui::{UiResult, encode_segment, format_time, format_value, query_string};
use axum::Extension;
use axum::extract::State;
use axum::response::IntoResponse;
use chrono::{DateTime, NaiveDate, Utc};
use maud::{Markup, html};
use modelops_monitor::performance::{ScoredPrediction, weekly_performance};
use modelops_tracking::{Run, SearchRuns, StoreError};
use std::collections::{BTreeMap, HashMap};

/// The experiment drift checks are recorded in.
pub const MONITORING_EXPERIMENT: &str = "rossmann-monitoring";
/// Days of traffic shown.
pub const TRAFFIC_DAYS: i64 = 60;
/// Most drift checks drawn in the trend.
const DRIFT_RUNS: i64 = 500;

/// One logged prediction, as much of it as the page needs.
#[derive(Clone, Debug, PartialEq)]
pub struct LoggedPrediction {
    /// Shared by the rows of one request or batch.
    pub batch_id: String,
    /// When it was made, ms since the epoch.
    pub logged_at_ms: i64,
    /// Registered model version (`""` for a plain package).
    pub model_version: String,
    /// Store id.
    pub store: u32,
    /// The day predicted, `YYYY-MM-DD`.
    pub date: String,
    /// Predicted sales.
    pub prediction: f64,
    /// Time of the whole request or batch, ms.
    pub response_time_ms: f64,
}

/// Actual sales of one store-day.
#[derive(Clone, Debug, PartialEq)]
pub struct LoggedActual {
    /// Store id.
    pub store: u32,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Sales.
    pub sales: f64,
}

/// A boxed error from a [`PredictionSource`].
pub type SourceError = Box<dyn std::error::Error + Send + Sync>;
/// The future a [`PredictionSource`] method returns (boxed, so the trait stays object-safe without a macro).
pub type SourceFuture<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, SourceError>> + Send + 'a>>;

/// Read access to the prediction log.
pub trait PredictionSource: Send + Sync {
    /// Predictions logged at or after `since_ms`, oldest first.
    fn predictions_since(&self, since_ms: i64) -> SourceFuture<'_, Vec<LoggedPrediction>>;
    /// Every recorded actual.
    fn actuals(&self) -> SourceFuture<'_, Vec<LoggedActual>>;
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn day_of(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

fn version_label(v: &str) -> String {
    if v.is_empty() {
        "(package)".into()
    } else {
        format!("v{v}")
    }
}

/// Per day and version: prediction counts; per day: latency percentiles over requests.
struct Traffic {
    days: BTreeMap<String, BTreeMap<String, u64>>,
    versions: Vec<String>,
    latency: BTreeMap<String, (usize, f64, f64, f64)>,
}

fn traffic(predictions: &[LoggedPrediction]) -> Traffic {
    let mut days: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let mut versions: Vec<String> = Vec::new();
    let mut requests: BTreeMap<String, HashMap<&str, f64>> = BTreeMap::new();
    for p in predictions {
        let day = day_of(p.logged_at_ms);
        *days
            .entry(day.clone())
            .or_default()
            .entry(p.model_version.clone())
            .or_default() += 1;
        if !versions.contains(&p.model_version) {
            versions.push(p.model_version.clone());
        }
        requests
            .entry(day)
            .or_default()
            .insert(p.batch_id.as_str(), p.response_time_ms);
    }
    versions.sort_by_key(|v| (v.parse::<i64>().unwrap_or(i64::MAX), v.clone()));
    let latency = requests
        .into_iter()
        .map(|(day, batches)| {
            let mut times: Vec<f64> = batches.into_values().filter(|t| t.is_finite()).collect();
            times.sort_by(f64::total_cmp);
            let stats = (
                times.len(),
                percentile(&times, 0.5),
                percentile(&times, 0.95),
                times.last().copied().unwrap_or(f64::NAN),
            );
            (day, stats)
        })
        .collect();
    Traffic {
        days,
        versions,
        latency,
    }
}

fn scored(predictions: &[LoggedPrediction], actuals: &[LoggedActual]) -> Vec<ScoredPrediction> {
    let by_key: HashMap<(u32, &str), f64> = actuals
        .iter()
        .map(|a| ((a.store, a.date.as_str()), a.sales))
        .collect();
    predictions
        .iter()
        .filter_map(|p| {
            let actual = *by_key.get(&(p.store, p.date.as_str()))?;
            let date = NaiveDate::parse_from_str(&p.date, "%Y-%m-%d").ok()?;
            (actual.is_finite() && p.prediction.is_finite()).then(|| ScoredPrediction {
                date,
                store: p.store,
                prediction: p.prediction,
                actual,
                model_version: p.model_version.clone(),
            })
        })
        .collect()
}

async fn drift_runs(app: &AppState) -> Result<Vec<Run>, StoreError> {
    let experiment = match app
        .store
        .get_experiment_by_name(MONITORING_EXPERIMENT)
        .await
    {
        Ok(e) => e,
        Err(StoreError::NotFound(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(app
        .store
        .search_runs(&SearchRuns {
            experiment_ids: vec![experiment.experiment_id],
            filter: "tags.`modelops.kind` = 'drift'".into(),
            max_results: Some(DRIFT_RUNS),
            order_by: vec!["attributes.start_time DESC".into()],
            ..Default::default()
        })
        .await?
        .items)
}

fn metric(run: &Run, key: &str) -> Option<f64> {
    run.data
        .metrics
        .iter()
        .find(|m| m.key == key)
        .map(|m| m.value)
}

fn drift_section(runs: &[Run]) -> Markup {
    let Some(latest) = runs.first() else {
        return html! {
            div.card.missing #drift-missing {
                h3 { "No drift checks recorded yet" }
                p { "Run " code { "modelops monitor drift" } " (for example from cron after each batch of predictions). Each check is recorded as a run in experiment "
                    code { (MONITORING_EXPERIMENT) } " tagged " code { "modelops.kind=drift" } ", with its HTML and JSON report as artifacts; the latest one and the drift-share trend appear here." }
            }
        };
    };
    let run_id = &latest.info.run_id.0;
    let report = format!(
        "/runs/{}/artifact?{}",
        encode_segment(run_id),
        query_string([("path", "drift_report.html"), ("inline", "1")])
    );
    let mut trend: Vec<(f64, f64)> = runs
        .iter()
        .filter_map(|r| {
            metric(r, "drift_share").map(|v| (r.info.start_time as f64 / 86_400_000.0, v))
        })
        .collect();
    trend.sort_by(|a, b| a.0.total_cmp(&b.0));
    let t0 = trend.first().map_or(0.0, |p| p.0);
    let trend: Vec<(f64, f64)> = trend.into_iter().map(|(x, y)| (x - t0, y)).collect();
    let drifted = metric(latest, "dataset_drift").is_some_and(|v| v >= 0.5);
    html! {
        div.card #drift-latest {
            h3 { "Latest check · " (format_time(latest.info.start_time)) " UTC" }
            p {
                @if drifted { span.badge.stage-production.alert { "Dataset drift" } } @else { span.badge.status-finished { "No dataset drift" } }
                " drift share " strong { (metric(latest, "drift_share").map_or("—".to_string(), format_value)) }
                " · drifted features " strong { (metric(latest, "n_drifted_features").map_or("—".to_string(), format_value)) }
            }
            p { a.button.primary href=(report) target="_blank" rel="noopener" { "Open the drift report" } " " a href=(format!("/runs/{}", encode_segment(run_id))) { "run details" } }
        }
        @if trend.len() > 1 {
            div.card.chart-card.large {
                h3 { "Drift share over " (runs.len()) " checks (x: days since the first)" }
                (chart::line_chart(&[Series { label: "drift_share".into(), points: trend }], chart::LARGE, "days", false))
            }
        }
    }
}

/// `GET /monitoring`.
pub async fn monitoring_page(
    State(app): State<AppState>,
    Extension(csrf): Extension<CsrfToken>,
    Extension(ui): Extension<UiOptions>,
) -> UiResult {
    let drift = drift_runs(&app).await?;
    let since_ms = Utc::now().timestamp_millis() - TRAFFIC_DAYS * 86_400_000;
    let log = match &ui.predictions {
        None => Err("The prediction log is not connected to this server: it is read from the tracking database \
                     (sqlite or PostgreSQL) by `modelops server`; a server over a remote store cannot reach it."
            .to_string()),
        Some(source) => match (source.predictions_since(since_ms).await, source.actuals().await) {
            (Ok(p), Ok(a)) => Ok((p, a)),
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!(error = %e, "cannot read the prediction log");
                Err("The prediction log cannot be read; the server log has the details.".to_string())
            }
        },
    };
    let traffic_section = match &log {
        Err(message) => html! { div.card.missing { p { (message) } } },
        Ok((predictions, _)) if predictions.is_empty() => html! {
            div.card.missing #traffic-missing {
                h3 { "No predictions logged in the last " (TRAFFIC_DAYS) " days" }
                p { "Start the prediction service (" code { "modelops serve" } ") or run " code { "modelops predict" } "; every prediction is logged to the tracking database and counted here." }
            }
        },
        Ok((predictions, _)) => {
            let t = traffic(predictions);
            let first_day = t.days.keys().next().cloned().unwrap_or_default();
            let first = NaiveDate::parse_from_str(&first_day, "%Y-%m-%d").ok();
            let offset = |day: &str| match (first, NaiveDate::parse_from_str(day, "%Y-%m-%d").ok())
            {
                (Some(a), Some(b)) => (b - a).num_days() as f64,
                _ => 0.0,
            };
            let series: Vec<Series> = t
                .versions
                .iter()
                .map(|v| Series {
                    label: version_label(v),
                    points: t
                        .days
                        .iter()
                        .map(|(day, counts)| (offset(day), *counts.get(v).unwrap_or(&0) as f64))
                        .collect(),
                })
                .collect();
            html! {
                div.card.chart-card.large {
                    h3 { "Predictions per day by model version (x: days since " (first_day) ")" }
                    (chart::line_chart(&series, chart::LARGE, "days", true))
                }
                div.table-wrap.tall {
                    table.data #traffic-table {
                        thead { tr { th { "Day (UTC)" } @for v in &t.versions { th.num { (version_label(v)) } } th.num { "Requests" } th.num { "p50 ms" } th.num { "p95 ms" } th.num { "max ms" } } }
                        tbody {
                            @for (day, counts) in t.days.iter().rev() {
                                @let lat = t.latency.get(day).copied().unwrap_or((0, f64::NAN, f64::NAN, f64::NAN));
                                tr {
                                    td { (day) }
                                    @for v in &t.versions { td.num { (counts.get(v).copied().unwrap_or(0)) } }
                                    td.num { (lat.0) } td.num { (format_value(lat.1)) } td.num { (format_value(lat.2)) } td.num { (format_value(lat.3)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let performance_section = match &log {
        Err(_) => html! {},
        Ok((predictions, actuals)) => {
            let rows = scored(predictions, actuals);
            match weekly_performance(&rows) {
                Ok(weeks) if !weeks.is_empty() => html! {
                    div.table-wrap {
                        table.data #performance-table {
                            thead { tr { th { "Version" } th { "ISO week" } th { "Week of" } th.num { "Rows" } th.num { "RMSPE" } th.num { "MAE" } } }
                            tbody {
                                @for w in &weeks {
                                    tr {
                                        td { (version_label(&w.model_version)) }
                                        td { (w.iso_year) "-W" (format!("{:02}", w.iso_week)) }
                                        td { (w.week_start.to_string()) }
                                        td.num { (w.rows) }
                                        td.num { (w.rmspe.map_or("—".to_string(), format_value)) }
                                        td.num { (format_value(w.mae)) }
                                    }
                                }
                            }
                        }
                    }
                },
                Ok(_) => html! {
                    div.card.missing #performance-missing {
                        p { "No logged prediction has a recorded actual yet. Record actual sales with "
                            code { "modelops monitor actuals --file <train.csv>" } "; RMSPE per version and week appears here." }
                    }
                },
                Err(e) => html! { p.error-box { (e.to_string()) } },
            }
        }
    };
    let body = html! {
        h1 { "Monitoring" }
        h2 { "Traffic and latency" }
        (traffic_section)
        h2 { "Live accuracy" }
        (performance_section)
        h2 { "Drift" }
        (drift_section(&drift))
    };
    Ok(layout::page(
        "Monitoring",
        Nav::Monitoring,
        logout_token(&ui, &csrf),
        body,
    )
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(
        batch: &str,
        ms: i64,
        version: &str,
        store: u32,
        date: &str,
        prediction: f64,
        latency: f64,
    ) -> LoggedPrediction {
        LoggedPrediction {
            batch_id: batch.into(),
            logged_at_ms: ms,
            model_version: version.into(),
            store,
            date: date.into(),
            prediction,
            response_time_ms: latency,
        }
    }

    #[test]
    fn traffic_counts_rows_per_version_and_latency_per_request() {
        let day = 1_700_000_000_000;
        let rows = vec![
            p("a", day, "2", 1, "2015-08-01", 10.0, 5.0),
            p("a", day, "2", 2, "2015-08-01", 10.0, 5.0),
            p("b", day, "3", 1, "2015-08-01", 10.0, 9.0),
        ];
        let t = traffic(&rows);
        let counts = t.days.values().next().unwrap();
        assert_eq!(counts["2"], 2);
        assert_eq!(counts["3"], 1);
        assert_eq!(t.versions, vec!["2", "3"]);
        let (requests, _, _, max) = t.latency.values().next().copied().unwrap();
        assert_eq!(requests, 2);
        assert_eq!(max, 9.0);
    }

    #[test]
    fn predictions_join_actuals_by_store_and_day() {
        let rows = vec![
            p("a", 0, "2", 1, "2015-08-03", 90.0, 1.0),
            p("a", 0, "2", 2, "2015-08-03", 50.0, 1.0),
        ];
        let actuals = vec![LoggedActual {
            store: 1,
            date: "2015-08-03".into(),
            sales: 100.0,
        }];
        let joined = scored(&rows, &actuals);
        assert_eq!(joined.len(), 1);
        let weeks = weekly_performance(&joined).unwrap();
        assert!((weeks[0].rmspe.unwrap() - 0.1).abs() < 1e-12);
    }
}
