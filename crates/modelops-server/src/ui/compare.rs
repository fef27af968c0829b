//! The compare page: two or more runs side by side — latest metrics (best value marked), every metric's history
//! overlaid in one chart, and a param diff table highlighting the params whose values differ.

use crate::AppState;
use crate::ui::UiOptions;
use crate::ui::chart::{self, PALETTE, Series};
use crate::ui::layout::{self, Nav};
use crate::ui::run::{full_history, history_points, load_run};
use crate::ui::security::{CsrfToken, logout_token};
use crate::ui::{Params, UiError, UiResult, encode_segment, format_value};
use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::response::IntoResponse;
use maud::html;
use std::collections::BTreeSet;

/// Most runs compared at once.
const MAX_COMPARED_RUNS: usize = 8;
/// Most overlaid metric charts.
const MAX_OVERLAY_CHARTS: usize = 12;

/// `GET /compare?runs=<id>&runs=<id>…`.
pub async fn compare_page(
    State(app): State<AppState>,
    Extension(csrf): Extension<CsrfToken>,
    Extension(ui): Extension<UiOptions>,
    RawQuery(query): RawQuery,
) -> UiResult {
    let params = Params::parse(query.as_deref());
    let mut ids = params.all("runs");
    ids.dedup();
    if ids.len() < 2 {
        return Err(UiError::bad_request(
            "Select at least two runs to compare (query parameter 'runs', repeated).",
        ));
    }
    if ids.len() > MAX_COMPARED_RUNS {
        return Err(UiError::bad_request(format!(
            "At most {MAX_COMPARED_RUNS} runs can be compared at once; {} were selected.",
            ids.len()
        )));
    }
    let mut runs = Vec::with_capacity(ids.len());
    for id in &ids {
        runs.push(load_run(&*app.store, id).await?);
    }
    let metric_keys: BTreeSet<String> = runs
        .iter()
        .flat_map(|r| r.data.metrics.iter().map(|m| m.key.clone()))
        .collect();
    let param_keys: BTreeSet<String> = runs
        .iter()
        .flat_map(|r| r.data.params.iter().map(|p| p.key.clone()))
        .collect();
    let param = |run: &modelops_tracking::Run, key: &str| {
        run.data
            .params
            .iter()
            .find(|p| p.key == key)
            .map(|p| p.value.clone())
    };
    let metric = |run: &modelops_tracking::Run, key: &str| {
        run.data
            .metrics
            .iter()
            .find(|m| m.key == key)
            .map(|m| m.value)
    };
    let differing = param_keys
        .iter()
        .filter(|k| {
            let values: BTreeSet<Option<String>> = runs.iter().map(|r| param(r, k)).collect();
            values.len() > 1
        })
        .count();
    let only_diff = params.get("diff") == Some("1");
    // Overlaid histories for metrics with more than one point in some run.
    let mut overlays = Vec::new();
    for key in &metric_keys {
        if overlays.len() >= MAX_OVERLAY_CHARTS {
            break;
        }
        let mut series = Vec::with_capacity(runs.len());
        let mut x_label = "step";
        let mut longest = 0;
        for run in &runs {
            let history = full_history(&*app.store, &run.info.run_id, key).await?;
            longest = longest.max(history.len());
            let (points, label) = history_points(&history);
            if history.len() > 1 {
                x_label = label;
            }
            series.push(Series {
                label: run.info.run_name.clone(),
                points,
            });
        }
        if longest > 1 {
            overlays.push((
                key.clone(),
                chart::line_chart(&series, chart::LARGE, x_label, false),
            ));
        }
    }
    let base_query: Vec<String> = ids
        .iter()
        .map(|id| format!("runs={}", encode_segment(id)))
        .collect();
    let base_query = base_query.join("&");
    let body = html! {
        nav.crumbs { a href="/experiments" { "Experiments" } " / " span { "Compare " (runs.len()) " runs" } }
        h1 { "Compare runs" }
        div.table-wrap {
            table.data.compare {
                thead {
                    tr {
                        th { "Run" }
                        @for (i, run) in runs.iter().enumerate() {
                            th {
                                span.swatch style=(format!("background:{}", PALETTE[i % PALETTE.len()])) {}
                                a href=(format!("/runs/{}", encode_segment(&run.info.run_id.0))) { (run.info.run_name) }
                            }
                        }
                    }
                }
                tbody {
                    tr { td.key { "Status" } @for run in &runs { td { (layout::status_badge(run.info.status.as_str())) } } }
                    tr { td.key { "Started (UTC)" } @for run in &runs { td { (crate::ui::format_time(run.info.start_time)) } } }
                }
            }
        }
        h2 { "Metrics" }
        @if metric_keys.is_empty() {
            p.muted { "None of these runs logged metrics." }
        } @else {
            div.table-wrap {
                table.data.compare {
                    thead { tr { th { "Metric" } @for run in &runs { th { (run.info.run_name) } } } }
                    tbody {
                        @for key in &metric_keys {
                            @let values: Vec<Option<f64>> = runs.iter().map(|r| metric(r, key)).collect();
                            @let lowest = values.iter().flatten().copied().filter(|v| v.is_finite()).fold(f64::INFINITY, f64::min);
                            tr {
                                td.key { (key) }
                                @for value in &values {
                                    td class=(if values.len() > 1 && *value == Some(lowest) { "num lowest" } else { "num" }) {
                                        @if let Some(v) = value { (format_value(*v)) } @else { span.muted { "—" } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            p.muted { "The lowest value of each metric is marked." }
        }
        @for (key, svg) in &overlays {
            div.card.chart-card.large {
                h3 { (key) }
                (svg)
            }
        }
        h2 { "Parameters" }
        p {
            (differing) " of " (param_keys.len()) " parameters differ. "
            @if only_diff {
                a href=(format!("/compare?{base_query}")) { "Show all" }
            } @else {
                a href=(format!("/compare?{base_query}&diff=1")) { "Show only differences" }
            }
        }
        @if param_keys.is_empty() {
            p.muted { "None of these runs logged parameters." }
        } @else {
            div.table-wrap.tall {
                table.data.compare.params-diff {
                    thead { tr { th { "Parameter" } @for run in &runs { th { (run.info.run_name) } } } }
                    tbody {
                        @for key in &param_keys {
                            @let values: Vec<Option<String>> = runs.iter().map(|r| param(r, key)).collect();
                            @let differs = values.iter().collect::<BTreeSet<_>>().len() > 1;
                            @if differs || !only_diff {
                                tr class=@if differs { "differs" } {
                                    td.key { (key) }
                                    @for value in &values {
                                        td { @if let Some(v) = value { (v) } @else { span.muted { "—" } } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(
        "Compare runs",
        Nav::Experiments,
        logout_token(&ui, &csrf),
        body,
    )
    .into_response())
}
