//! The experiments list and an experiment's runs table (server-side paging, chosen columns, sort, MLflow filter
//! with inline errors, select → compare).
//!
//! Pages map to the store's offset page tokens (MLflow's `{"offset": N}` format), so "page 7" is one query
//! whatever the experiment's size. Run counts come from probing offsets (one-row queries, exponential then binary
//! search) instead of loading every run: exact, and about 35 tiny queries for 100,000 runs.

use crate::AppState;
use crate::ui::UiOptions;
use crate::ui::layout::{self, Nav};
use crate::ui::security::{CsrfToken, logout_token};
use crate::ui::{
    Params, UiError, UiResult, encode_segment, format_duration, format_time, format_value,
    query_string,
};
use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::response::IntoResponse;
use maud::{Markup, html};
use modelops_tracking::validation::encode_offset_token;
use modelops_tracking::{
    ExperimentId, Run, SearchExperiments, SearchRuns, Store, StoreError, ViewType,
};
use std::collections::BTreeSet;

/// Experiments per page.
const EXPERIMENTS_PER_PAGE: i64 = 50;
/// Default runs per page.
const DEFAULT_RUNS_PER_PAGE: i64 = 50;
/// Most runs per page.
const MAX_RUNS_PER_PAGE: i64 = 500;
/// Highest page number accepted (keeps offsets in range).
const MAX_PAGE: i64 = 1_000_000;
/// Default metric columns when none are chosen.
const DEFAULT_METRIC_COLUMNS: usize = 8;
/// Default param columns when none are chosen.
const DEFAULT_PARAM_COLUMNS: usize = 4;

/// Whether `store` has a run at position `offset` of experiment `id`.
async fn has_run_at(store: &dyn Store, id: &ExperimentId, offset: i64) -> Result<bool, StoreError> {
    let page = store
        .search_runs(&SearchRuns {
            experiment_ids: vec![id.clone()],
            max_results: Some(1),
            page_token: (offset > 0).then(|| encode_offset_token(offset)),
            ..Default::default()
        })
        .await?;
    Ok(!page.items.is_empty())
}

/// The number of active runs in an experiment, found by probing offsets.
///
/// # Errors
/// Whatever the store reports.
pub async fn count_runs(store: &dyn Store, id: &ExperimentId) -> Result<i64, StoreError> {
    if !has_run_at(store, id, 0).await? {
        return Ok(0);
    }
    let mut present = 0i64;
    let mut absent = 1i64;
    while has_run_at(store, id, absent).await? {
        present = absent;
        absent = absent.saturating_mul(2);
    }
    while absent - present > 1 {
        let mid = present + (absent - present) / 2;
        if has_run_at(store, id, mid).await? {
            present = mid;
        } else {
            absent = mid;
        }
    }
    Ok(present + 1)
}

/// `GET /` and `GET /experiments`: every active experiment with its run count and last activity.
pub async fn experiments_page(
    State(app): State<AppState>,
    Extension(csrf): Extension<CsrfToken>,
    Extension(ui): Extension<UiOptions>,
    RawQuery(query): RawQuery,
) -> UiResult {
    let params = Params::parse(query.as_deref());
    let page = params.positive("page", 1, MAX_PAGE)?;
    let result = app
        .store
        .search_experiments(&SearchExperiments {
            view_type: ViewType::ActiveOnly,
            max_results: Some(EXPERIMENTS_PER_PAGE),
            order_by: vec!["last_update_time DESC".into()],
            page_token: (page > 1).then(|| encode_offset_token((page - 1) * EXPERIMENTS_PER_PAGE)),
            ..Default::default()
        })
        .await?;
    let mut rows = Vec::with_capacity(result.items.len());
    for experiment in &result.items {
        let count = count_runs(&*app.store, &experiment.experiment_id).await?;
        let latest = app
            .store
            .search_runs(&SearchRuns {
                experiment_ids: vec![experiment.experiment_id.clone()],
                max_results: Some(1),
                order_by: vec!["attributes.start_time DESC".into()],
                ..Default::default()
            })
            .await?;
        let last_run = latest
            .items
            .first()
            .map(|r| r.info.end_time.unwrap_or(r.info.start_time))
            .unwrap_or(0);
        rows.push((experiment, count, experiment.last_update_time.max(last_run)));
    }
    let body = html! {
        h1 { "Experiments" }
        @if rows.is_empty() {
            p.empty { "No experiments yet. Run " code { "modelops demo" } " or " code { "modelops train" } " to record one." }
        } @else {
            div.table-wrap {
                table.data {
                    thead { tr { th { "Name" } th.num { "Runs" } th { "Last activity (UTC)" } th { "Id" } } }
                    tbody {
                        @for (experiment, count, last) in &rows {
                            tr {
                                td { a href=(format!("/experiments/{}", encode_segment(&experiment.experiment_id.0))) { (experiment.name) } }
                                td.num { (count) }
                                td { (format_time(*last)) }
                                td.muted { (experiment.experiment_id) }
                            }
                        }
                    }
                }
            }
            (layout::pager(page, result.next_page_token.is_some(), |p| format!("/experiments?page={p}")))
        }
    };
    Ok(layout::page(
        "Experiments",
        Nav::Experiments,
        logout_token(&ui, &csrf),
        body,
    )
    .into_response())
}

/// A column of the runs table.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Column {
    /// `metrics`, `params` or `tags`.
    pub kind: &'static str,
    /// The key.
    pub key: String,
}

impl Column {
    /// Parses `metrics.rmspe`, `params.lgb_num_leaves`, `tags.modelops.job`.
    pub fn parse(spec: &str) -> Option<Self> {
        let (kind, key) = spec.split_once('.')?;
        let kind = match kind {
            "metrics" => "metrics",
            "params" => "params",
            "tags" => "tags",
            _ => return None,
        };
        (!key.is_empty()).then(|| Self {
            kind,
            key: key.to_string(),
        })
    }
    /// The column spec as in the query string.
    pub fn spec(&self) -> String {
        format!("{}.{}", self.kind, self.key)
    }
    /// The identifier in MLflow's order-by grammar (backticks around unusual keys).
    pub fn order_key(&self) -> String {
        if self
            .key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            self.spec()
        } else {
            format!("{}.`{}`", self.kind, self.key.replace('`', ""))
        }
    }
    /// This column's value for `run`.
    pub fn value(&self, run: &Run) -> Option<String> {
        match self.kind {
            "metrics" => run
                .data
                .metrics
                .iter()
                .find(|m| m.key == self.key)
                .map(|m| format_value(m.value)),
            "params" => run
                .data
                .params
                .iter()
                .find(|p| p.key == self.key)
                .map(|p| p.value.clone()),
            _ => run
                .data
                .tags
                .iter()
                .find(|t| t.key == self.key)
                .map(|t| t.value.clone()),
        }
    }
}

/// Attribute sort keys offered besides the columns.
const ATTRIBUTE_ORDERS: [(&str, &str); 3] = [
    ("attributes.start_time", "Started"),
    ("attributes.run_name", "Run"),
    ("attributes.status", "Status"),
];

/// `GET /experiments/{id}`: the runs table.
pub async fn runs_page(
    State(app): State<AppState>,
    Extension(csrf): Extension<CsrfToken>,
    Extension(ui): Extension<UiOptions>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> UiResult {
    let params = Params::parse(query.as_deref());
    let experiment_id = ExperimentId(id);
    let experiment = app
        .store
        .get_experiment(&experiment_id)
        .await
        .map_err(|e| match e {
            StoreError::InvalidParameter(_) | StoreError::NotFound(_) => {
                UiError::not_found(format!("No experiment with id '{}'", experiment_id))
            }
            other => other.into(),
        })?;
    let page = params.positive("page", 1, MAX_PAGE)?;
    let size = params.positive("size", DEFAULT_RUNS_PER_PAGE, MAX_RUNS_PER_PAGE)?;
    let filter = params.get("filter").unwrap_or("").to_string();
    let order = params.get("order").unwrap_or("").to_string();
    let chosen: Vec<Column> = params
        .all("cols")
        .iter()
        .filter_map(|c| Column::parse(c))
        .collect();
    let request = SearchRuns {
        experiment_ids: vec![experiment_id.clone()],
        filter: filter.clone(),
        run_view_type: ViewType::ActiveOnly,
        max_results: Some(size),
        order_by: if order.is_empty() {
            vec![]
        } else {
            vec![order.clone()]
        },
        page_token: (page > 1).then(|| encode_offset_token((page - 1) * size)),
    };
    let (runs, has_next, search_error) = match app.store.search_runs(&request).await {
        Ok(result) => (result.items, result.next_page_token.is_some(), None),
        Err(StoreError::InvalidParameter(message)) => (Vec::new(), false, Some(message)),
        Err(e) => return Err(e.into()),
    };
    // Keys seen on this page, for the column chooser and the default columns.
    let mut available: BTreeSet<Column> = BTreeSet::new();
    for run in &runs {
        for m in &run.data.metrics {
            available.insert(Column {
                kind: "metrics",
                key: m.key.clone(),
            });
        }
        for p in &run.data.params {
            available.insert(Column {
                kind: "params",
                key: p.key.clone(),
            });
        }
        for t in run
            .data
            .tags
            .iter()
            .filter(|t| !t.key.starts_with("mlflow."))
        {
            available.insert(Column {
                kind: "tags",
                key: t.key.clone(),
            });
        }
    }
    for column in &chosen {
        available.insert(column.clone());
    }
    let columns: Vec<Column> = if chosen.is_empty() {
        let metrics = available
            .iter()
            .filter(|c| c.kind == "metrics")
            .take(DEFAULT_METRIC_COLUMNS);
        let params = available
            .iter()
            .filter(|c| c.kind == "params")
            .take(DEFAULT_PARAM_COLUMNS);
        metrics.chain(params).cloned().collect()
    } else {
        chosen.clone()
    };
    let cols_value = chosen
        .iter()
        .map(Column::spec)
        .collect::<Vec<_>>()
        .join(",");
    let base = format!("/experiments/{}", encode_segment(&experiment_id.0));
    let link = |page: i64, order: &str| {
        let page_text = page.to_string();
        let size_text = size.to_string();
        let qs = query_string([
            ("filter", filter.as_str()),
            ("order", order),
            ("cols", cols_value.as_str()),
            (
                "size",
                if size == DEFAULT_RUNS_PER_PAGE {
                    ""
                } else {
                    size_text.as_str()
                },
            ),
            ("page", if page == 1 { "" } else { page_text.as_str() }),
        ]);
        if qs.is_empty() {
            base.clone()
        } else {
            format!("{base}?{qs}")
        }
    };
    let sort_header = |key: &str, label: Markup, class: &str| {
        let (next, arrow) = if order == format!("{key} DESC") {
            (format!("{key} ASC"), " ▼")
        } else if order == format!("{key} ASC") || order == key {
            (format!("{key} DESC"), " ▲")
        } else {
            (format!("{key} DESC"), "")
        };
        html! { th class=(class) { a.sort href=(link(1, &next)) { (label) (arrow) } } }
    };
    let body = html! {
        nav.crumbs { a href="/experiments" { "Experiments" } " / " span { (experiment.name) } }
        h1 { (experiment.name) }
        form.filter-bar method="get" action=(base) {
            input type="search" name="filter" value=(filter) placeholder="metrics.rmspe < 0.12 and params.lgb_num_leaves = '63'" aria-label="Filter runs";
            @if !order.is_empty() { input type="hidden" name="order" value=(order); }
            @if !cols_value.is_empty() { input type="hidden" name="cols" value=(cols_value); }
            button.primary type="submit" { "Search" }
            @if !filter.is_empty() { a.button href=(base) { "Clear" } }
        }
        @if let Some(message) = &search_error {
            p.error-box.filter-error { strong { "Cannot search: " } (message) }
        }
        details.columns {
            summary { "Columns (" (columns.len()) ")" }
            form method="get" action=(base) {
                input type="hidden" name="filter" value=(filter);
                input type="hidden" name="order" value=(order);
                div.column-grid {
                    @for column in &available {
                        label {
                            input type="checkbox" name="cols" value=(column.spec()) checked[columns.contains(column)];
                            span.kind { (column.kind) } " " (column.key)
                        }
                    }
                }
                button type="submit" { "Apply" }
            }
        }
        form #runs-form method="get" action="/compare" {
            div.toolbar {
                button.primary #compare-button type="submit" { "Compare selected" }
                span.muted #selection-count {}
            }
            @if runs.is_empty() {
                @if search_error.is_none() {
                    p.empty { @if filter.is_empty() { "No runs in this experiment yet." } @else { "No run matches this filter." } }
                }
            } @else {
                div.table-wrap.tall {
                    table.data.runs {
                        thead {
                            tr {
                                th.select { input type="checkbox" #select-all aria-label="Select all runs on this page"; }
                                (sort_header(ATTRIBUTE_ORDERS[1].0, html! { (ATTRIBUTE_ORDERS[1].1) }, ""))
                                (sort_header(ATTRIBUTE_ORDERS[2].0, html! { (ATTRIBUTE_ORDERS[2].1) }, ""))
                                (sort_header(ATTRIBUTE_ORDERS[0].0, html! { (ATTRIBUTE_ORDERS[0].1) }, ""))
                                th { "Duration" }
                                @for column in &columns {
                                    (sort_header(&column.order_key(), html! { span.kind { (column.kind) } br; (column.key) }, if column.kind == "metrics" { "num" } else { "" }))
                                }
                            }
                        }
                        tbody {
                            @for run in &runs {
                                tr {
                                    td.select { input type="checkbox" name="runs" value=(run.info.run_id) aria-label="Select run"; }
                                    td { a href=(format!("/runs/{}", encode_segment(&run.info.run_id.0))) { (run.info.run_name) } }
                                    td { (layout::status_badge(run.info.status.as_str())) }
                                    td.nowrap { (format_time(run.info.start_time)) }
                                    td.nowrap { @if let Some(end) = run.info.end_time { (format_duration(end - run.info.start_time)) } @else { "—" } }
                                    @for column in &columns {
                                        td class=(if column.kind == "metrics" { "num" } else { "" }) {
                                            @if let Some(v) = column.value(run) { (v) } @else { span.muted { "—" } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        (layout::pager(page, has_next, |p| link(p, &order)))
    };
    let status = if search_error.is_some() {
        axum::http::StatusCode::BAD_REQUEST
    } else {
        axum::http::StatusCode::OK
    };
    Ok((
        status,
        layout::page(
            &experiment.name,
            Nav::Experiments,
            logout_token(&ui, &csrf),
            body,
        ),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_parse_and_quote_unusual_keys() {
        let c = Column::parse("metrics.rmspe").unwrap();
        assert_eq!(c.order_key(), "metrics.rmspe");
        let odd = Column::parse("params.learning rate").unwrap();
        assert_eq!(odd.order_key(), "params.`learning rate`");
        assert!(Column::parse("attributes.x").is_none());
        assert!(Column::parse("metrics.").is_none());
        assert_eq!(
            Column::parse("tags.modelops.job").unwrap().key,
            "modelops.job"
        );
    }
}
