//! A run's page (info, metrics with charts, params, tags, artifacts), one metric's large chart, the artifact
//! browser with previews and the artifact download.
//!
//! Artifacts are read through the server's [`ArtifactStore`](modelops_tracking::ArtifactStore), so only runs whose
//! artifact URI is `mlflow-artifacts:/…` (the default here) can be browsed; others get a note saying where the
//! files are. Downloads are sent with `X-Content-Type-Options: nosniff`, and HTML with a `sandbox` CSP, so an
//! uploaded page cannot act as this site.

use crate::AppState;
use crate::ui::UiOptions;
use crate::ui::chart::{self, Series};
use crate::ui::layout::{self, Nav};
use crate::ui::security::{CsrfToken, logout_token};
use crate::ui::{
    Params, UiError, UiResult, encode_segment, format_duration, format_time, format_value,
    query_string,
};
use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use modelops_tracking::artifacts::{artifact_path, proxied_path};
use modelops_tracking::validation::MAX_HISTORY_RESULTS;
use modelops_tracking::{Metric, Run, RunId, Store, StoreError};

/// Most metric charts drawn inline on a run page (the rest are linked).
const MAX_INLINE_CHARTS: usize = 12;
/// Largest file previewed inline.
const MAX_PREVIEW_BYTES: u64 = 512 * 1024;
/// Points asked for per metric-history page.
const WHOLE_HISTORY_PAGE: i64 = 1_000_000;
/// Rows of a CSV preview.
const CSV_PREVIEW_ROWS: usize = 100;

/// Fetches a run, mapping "no such run" (and malformed ids) to a 404 page.
pub async fn load_run(store: &dyn Store, id: &str) -> Result<Run, UiError> {
    store
        .get_run(&RunId(id.to_string()))
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) | StoreError::InvalidParameter(_) => {
                UiError::not_found(format!("No run with id '{id}'"))
            }
            other => other.into(),
        })
}

/// Every point of one metric, all pages.
///
/// # Errors
/// Whatever the store reports.
pub async fn full_history(
    store: &dyn Store,
    run: &RunId,
    key: &str,
) -> Result<Vec<Metric>, StoreError> {
    let mut points = Vec::new();
    let mut token: Option<String> = None;
    // One large page when the backend allows it (the SQL store sorts the whole history for every page, so
    // 25,000-point pages would sort a 100,000-point metric four times); MLflow's own limit otherwise.
    let mut page_size = WHOLE_HISTORY_PAGE;
    loop {
        let page = match store
            .get_metric_history(run, key, Some(page_size), token.as_deref())
            .await
        {
            Err(StoreError::InvalidParameter(_)) if page_size != MAX_HISTORY_RESULTS => {
                page_size = MAX_HISTORY_RESULTS;
                continue;
            }
            other => other?,
        };
        points.extend(page.items);
        match page.next_page_token {
            Some(next) => token = Some(next),
            None => return Ok(points),
        }
    }
}

/// A metric history as chart points and the name of its x axis: steps when they vary, else seconds since the
/// first point, else the point's index.
pub fn history_points(history: &[Metric]) -> (Vec<(f64, f64)>, &'static str) {
    let steps_vary = history.windows(2).any(|w| w[0].step != w[1].step);
    let times_vary = history.windows(2).any(|w| w[0].timestamp != w[1].timestamp);
    let t0 = history.first().map_or(0, |m| m.timestamp);
    let mut points: Vec<(f64, f64)> = history
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let x = if steps_vary {
                m.step as f64
            } else if times_vary {
                (m.timestamp - t0) as f64 / 1000.0
            } else {
                i as f64
            };
            (x, m.value)
        })
        .collect();
    // The store orders by (timestamp, step); charts need x order.
    if steps_vary {
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let label = if steps_vary {
        "step"
    } else if times_vary {
        "seconds"
    } else {
        "point"
    };
    (points, label)
}

fn run_link(run: &RunId) -> String {
    format!("/runs/{}", encode_segment(&run.0))
}

fn metric_link(run: &RunId, key: &str) -> String {
    format!("{}/metrics/{}", run_link(run), encode_segment(key))
}

fn artifacts_link(run: &RunId, path: &str) -> String {
    let qs = query_string([("path", path)]);
    if qs.is_empty() {
        format!("{}/artifacts", run_link(run))
    } else {
        format!("{}/artifacts?{qs}", run_link(run))
    }
}

fn download_link(run: &RunId, path: &str, inline: bool) -> String {
    let qs = query_string([("path", path), ("inline", if inline { "1" } else { "" })]);
    format!("{}/artifact?{qs}", run_link(run))
}

async fn crumbs(app: &AppState, run: &Run) -> Markup {
    let experiment_name = app
        .store
        .get_experiment(&run.info.experiment_id)
        .await
        .map(|e| e.name)
        .unwrap_or_else(|_| run.info.experiment_id.0.clone());
    html! {
        nav.crumbs {
            a href="/experiments" { "Experiments" } " / "
            a href=(format!("/experiments/{}", encode_segment(&run.info.experiment_id.0))) { (experiment_name) } " / "
            a href=(run_link(&run.info.run_id)) { (run.info.run_name) }
        }
    }
}

/// `GET /runs/{id}`.
pub async fn run_page(
    State(app): State<AppState>,
    Extension(csrf): Extension<CsrfToken>,
    Extension(ui): Extension<UiOptions>,
    Path(id): Path<String>,
) -> UiResult {
    let run = load_run(&*app.store, &id).await?;
    let mut metrics = run.data.metrics.clone();
    metrics.sort_by(|a, b| a.key.cmp(&b.key));
    let mut charts = Vec::new();
    for metric in &metrics {
        if charts.len() >= MAX_INLINE_CHARTS {
            break;
        }
        let history = full_history(&*app.store, &run.info.run_id, &metric.key).await?;
        if history.len() > 1 {
            let (points, x_label) = history_points(&history);
            charts.push((
                metric.key.clone(),
                history.len(),
                chart::line_chart(
                    &[Series {
                        label: metric.key.clone(),
                        points,
                    }],
                    chart::SMALL,
                    x_label,
                    false,
                ),
            ));
        }
    }
    let mut params = run.data.params.clone();
    params.sort_by(|a, b| a.key.cmp(&b.key));
    let mut tags = run.data.tags.clone();
    tags.sort_by(|a, b| a.key.cmp(&b.key));
    let artifacts = artifact_listing(&app, &run, "").await;
    let info = &run.info;
    let body = html! {
        (crumbs(&app, &run).await)
        div.title-row {
            h1 { (info.run_name) }
            (layout::status_badge(info.status.as_str()))
        }
        div.cards {
            div.card.info {
                dl {
                    dt { "Run id" } dd { code { (info.run_id) } }
                    dt { "User" } dd { (if info.user_id.is_empty() { "—" } else { &info.user_id }) }
                    dt { "Started" } dd { (format_time(info.start_time)) " UTC" }
                    dt { "Duration" } dd { @if let Some(end) = info.end_time { (format_duration(end - info.start_time)) } @else { "running" } }
                    dt { "Artifacts" } dd { code { (info.artifact_uri) } }
                    @if info.lifecycle_stage.as_str() == "deleted" { dt { "State" } dd { span.badge.status-failed { "deleted" } } }
                }
            }
        }
        h2 { "Metrics" }
        (layout::key_value_table(
            ("Metric", "Latest value"),
            metrics.iter().map(|m| (m.key.as_str(), html! {
                a href=(metric_link(&info.run_id, &m.key)) { (format_value(m.value)) }
                span.muted { " (step " (m.step) ")" }
            })),
            "No metrics logged.",
        ))
        @if !charts.is_empty() {
            div.chart-grid {
                @for (key, n, svg) in &charts {
                    div.card.chart-card {
                        h3 { a href=(metric_link(&info.run_id, key)) { (key) } span.muted { " · " (n) " points" } }
                        (svg)
                    }
                }
            }
        }
        h2 { "Parameters" }
        (layout::key_value_table(("Parameter", "Value"), params.iter().map(|p| (p.key.as_str(), html! { (p.value) })), "No parameters logged."))
        h2 { "Tags" }
        (layout::key_value_table(("Tag", "Value"), tags.iter().map(|t| (t.key.as_str(), html! { (t.value) })), "No tags."))
        h2 { "Artifacts" }
        (artifacts)
    };
    Ok(layout::page(
        &run.info.run_name,
        Nav::Experiments,
        logout_token(&ui, &csrf),
        body,
    )
    .into_response())
}

/// `GET /runs/{id}/metrics/{key}`: one metric's full history, downsampled, with a table of its last points.
pub async fn metric_page(
    State(app): State<AppState>,
    Extension(csrf): Extension<CsrfToken>,
    Extension(ui): Extension<UiOptions>,
    Path((id, key)): Path<(String, String)>,
) -> UiResult {
    let run = load_run(&*app.store, &id).await?;
    let history = full_history(&*app.store, &run.info.run_id, &key).await?;
    if history.is_empty() {
        return Err(UiError::not_found(format!(
            "Run '{}' has no metric '{key}'",
            run.info.run_name
        )));
    }
    let (points, x_label) = history_points(&history);
    let finite: Vec<f64> = history
        .iter()
        .map(|m| m.value)
        .filter(|v| v.is_finite())
        .collect();
    let min = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let svg = chart::line_chart(
        &[Series {
            label: key.clone(),
            points,
        }],
        chart::LARGE,
        x_label,
        false,
    );
    let body = html! {
        (crumbs(&app, &run).await)
        h1 { (key) }
        p.muted {
            (history.len()) " points"
            @if history.len() > chart::MAX_POINTS { " (drawn as " (chart::MAX_POINTS) ", shape-preserving downsampling)" }
            @if !finite.is_empty() { " · min " (format_value(min)) " · max " (format_value(max)) }
            " · x axis: " (x_label)
        }
        div.card.chart-card.large #metric-chart { (svg) }
        h2 { "Last points" }
        div.table-wrap {
            table.data {
                thead { tr { th.num { "Step" } th { "Time (UTC)" } th.num { "Value" } } }
                tbody {
                    @for m in history.iter().rev().take(20) {
                        tr { td.num { (m.step) } td { (format_time(m.timestamp)) } td.num { (format_value(m.value)) } }
                    }
                }
            }
        }
    };
    Ok(layout::page(&key, Nav::Experiments, logout_token(&ui, &csrf), body).into_response())
}

/// The proxy path of a run's artifact root, or a note saying why the UI cannot read it.
fn artifact_base(run: &Run) -> Result<String, String> {
    match proxied_path(&run.info.artifact_uri) {
        Some(base) => Ok(base.trim_end_matches('/').to_string()),
        None => Err(format!(
            "This run's artifacts live at '{}', outside this server's artifact store; open them there.",
            run.info.artifact_uri
        )),
    }
}

fn join(base: &str, sub: &str) -> String {
    let sub = sub.trim_matches('/');
    if sub.is_empty() {
        base.to_string()
    } else {
        format!("{base}/{sub}")
    }
}

async fn artifact_listing(app: &AppState, run: &Run, sub: &str) -> Markup {
    let base = match artifact_base(run) {
        Ok(base) => base,
        Err(note) => return html! { p.muted { (note) } },
    };
    let files = match app.artifacts.list(&join(&base, sub)).await {
        Ok(files) => files,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list artifacts");
            return html! { p.error-box { "Cannot list artifacts: " (e) } };
        }
    };
    let id = &run.info.run_id;
    html! {
        @if files.is_empty() {
            p.muted { "No artifacts." }
        } @else {
            ul.files {
                @for file in &files {
                    @let path = join(sub, &file.path);
                    li {
                        @if file.is_dir {
                            a.dir href=(artifacts_link(id, &path)) { "📁 " (file.path) "/" }
                        } @else {
                            a.file href=(artifacts_link(id, &path)) { "📄 " (file.path) }
                            span.muted { " " (human_size(file.file_size.unwrap_or(0))) }
                            " " a.download href=(download_link(id, &path, false)) { "download" }
                        }
                    }
                }
            }
        }
    }
}

fn human_size(bytes: i64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 {
        format!("{:.1} MB", b / 1024.0 / 1024.0)
    } else if b >= 1024.0 {
        format!("{:.1} KB", b / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

/// How a file is previewed, from its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreviewKind {
    /// Plain text (logs, YAML, Python, MLmodel …).
    Text,
    /// JSON, pretty-printed.
    Json,
    /// CSV/TSV as a table.
    Csv(u8),
    /// An image shown with `<img>`.
    Image,
    /// An HTML report, opened sandboxed in a new tab.
    Html,
    /// Not previewable.
    Binary,
}

/// Chooses the preview for a file name.
pub fn preview_kind(path: &str) -> PreviewKind {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "json" => PreviewKind::Json,
        "csv" => PreviewKind::Csv(b','),
        "tsv" => PreviewKind::Csv(b'\t'),
        "png" | "jpg" | "jpeg" | "gif" | "webp" | "svg" => PreviewKind::Image,
        "html" | "htm" => PreviewKind::Html,
        "txt" | "log" | "yaml" | "yml" | "md" | "py" | "toml" | "ini" | "cfg" | "sh" | "rs" => {
            PreviewKind::Text
        }
        "" if matches!(name, "MLmodel" | "requirements" | "Dockerfile" | "LICENSE") => {
            PreviewKind::Text
        }
        _ => PreviewKind::Binary,
    }
}

fn content_type(path: &str) -> &'static str {
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "json" => "application/json",
        "csv" => "text/csv; charset=utf-8",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "html" | "htm" => "text/html; charset=utf-8",
        _ => match preview_kind(path) {
            PreviewKind::Text | PreviewKind::Csv(_) => "text/plain; charset=utf-8",
            _ => "application/octet-stream",
        },
    }
}

/// Splits one CSV line (double-quoted fields with `""` escapes).
fn split_csv_line(line: &str, delimiter: u8) -> Vec<String> {
    let delimiter = delimiter as char;
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if in_quotes && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => in_quotes = !in_quotes,
            c if c == delimiter && !in_quotes => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
}

fn preview(
    kind: PreviewKind,
    bytes: &[u8],
    truncated: bool,
    image_src: &str,
    html_src: &str,
) -> Markup {
    let text = String::from_utf8_lossy(bytes);
    let note = html! { @if truncated { p.muted { "Showing the first " (human_size(MAX_PREVIEW_BYTES as i64)) "; download for the rest." } } };
    match kind {
        PreviewKind::Image => html! { img.preview-image src=(image_src) alt="artifact preview"; },
        PreviewKind::Html => html! {
            p { a.button.primary href=(html_src) target="_blank" rel="noopener" { "Open the report in a new tab" } }
            p.muted { "HTML artifacts open sandboxed: they cannot act as this site." }
        },
        PreviewKind::Json if !truncated => {
            let pretty = serde_json::from_slice::<serde_json::Value>(bytes)
                .ok()
                .and_then(|v| serde_json::to_string_pretty(&v).ok())
                .unwrap_or_else(|| text.to_string());
            html! { pre.preview { (pretty) } }
        }
        PreviewKind::Csv(delimiter) => {
            let mut lines = text.lines();
            let header = lines
                .next()
                .map(|l| split_csv_line(l, delimiter))
                .unwrap_or_default();
            let rows: Vec<Vec<String>> = lines
                .take(CSV_PREVIEW_ROWS)
                .map(|l| split_csv_line(l, delimiter))
                .collect();
            html! {
                p.muted { "First " (rows.len()) " rows." }
                div.table-wrap.tall {
                    table.data {
                        thead { tr { @for h in &header { th { (h) } } } }
                        tbody { @for row in &rows { tr { @for cell in row { td { (cell) } } } } }
                    }
                }
                (note)
            }
        }
        PreviewKind::Binary => html! { p.muted { "No preview for this file type." } },
        PreviewKind::Text | PreviewKind::Json => html! { pre.preview { (text) } (note) },
    }
}

/// `GET /runs/{id}/artifacts?path=`: a folder listing, or a file's preview.
pub async fn artifacts_page(
    State(app): State<AppState>,
    Extension(csrf): Extension<CsrfToken>,
    Extension(ui): Extension<UiOptions>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> UiResult {
    let run = load_run(&*app.store, &id).await?;
    let params = Params::parse(query.as_deref());
    let sub = params
        .get("path")
        .unwrap_or("")
        .trim_matches('/')
        .to_string();
    artifact_path(&sub).map_err(|e| UiError::bad_request(e.to_string()))?;
    let run_id = run.info.run_id.clone();
    let mut trail = Vec::new();
    let mut so_far = String::new();
    for segment in sub.split('/').filter(|s| !s.is_empty()) {
        so_far = join(&so_far, segment);
        trail.push((segment.to_string(), so_far.clone()));
    }
    let content = match artifact_base(&run) {
        Err(note) => html! { p.muted { (note) } },
        Ok(base) => {
            let full = join(&base, &sub);
            let listing = if sub.is_empty() {
                Vec::new()
            } else {
                app.artifacts.list(&full).await.unwrap_or_default()
            };
            if sub.is_empty() || !listing.is_empty() {
                artifact_listing(&app, &run, &sub).await
            } else {
                match app.artifacts.get(&full).await {
                    Err(StoreError::NotFound(_)) => {
                        return Err(UiError::not_found(format!(
                            "Run '{}' has no artifact '{sub}'",
                            run.info.run_name
                        )));
                    }
                    Err(e) => return Err(e.into()),
                    Ok((size, stream)) => {
                        let kind = preview_kind(&sub);
                        let bytes = if matches!(
                            kind,
                            PreviewKind::Image | PreviewKind::Html | PreviewKind::Binary
                        ) {
                            Vec::new()
                        } else {
                            read_prefix(stream, MAX_PREVIEW_BYTES).await?
                        };
                        html! {
                            p {
                                span.muted { (human_size(size as i64)) " · " }
                                a.button href=(download_link(&run_id, &sub, false)) { "Download" }
                            }
                            (preview(kind, &bytes, size > MAX_PREVIEW_BYTES, &download_link(&run_id, &sub, true), &download_link(&run_id, &sub, true)))
                        }
                    }
                }
            }
        }
    };
    let body = html! {
        (crumbs(&app, &run).await)
        h1 { "Artifacts" }
        nav.crumbs.path {
            a href=(artifacts_link(&run_id, "")) { "artifacts" }
            @for (name, path) in &trail { " / " a href=(artifacts_link(&run_id, path)) { (name) } }
        }
        (content)
    };
    Ok(layout::page(
        "Artifacts",
        Nav::Experiments,
        logout_token(&ui, &csrf),
        body,
    )
    .into_response())
}

async fn read_prefix(
    mut stream: modelops_tracking::artifacts::ByteStream,
    limit: u64,
) -> Result<Vec<u8>, UiError> {
    use futures::StreamExt;
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(UiError::from)?;
        out.extend_from_slice(&chunk);
        if out.len() as u64 >= limit {
            out.truncate(limit as usize);
            break;
        }
    }
    Ok(out)
}

/// `GET /runs/{id}/artifact?path=[&inline=1]`: the file itself (attachment unless `inline=1`).
pub async fn artifact_download(
    State(app): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, UiError> {
    let run = load_run(&*app.store, &id).await?;
    let params = Params::parse(query.as_deref());
    let sub = params
        .get("path")
        .ok_or_else(|| UiError::bad_request("query parameter 'path' is required"))?
        .trim_matches('/')
        .to_string();
    artifact_path(&sub).map_err(|e| UiError::bad_request(e.to_string()))?;
    let base = artifact_base(&run).map_err(UiError::bad_request)?;
    let (size, stream) = match app.artifacts.get(&join(&base, &sub)).await {
        Err(StoreError::NotFound(_)) => {
            return Err(UiError::not_found(format!(
                "Run '{}' has no artifact '{sub}'",
                run.info.run_name
            )));
        }
        other => other?,
    };
    let name = sub
        .rsplit('/')
        .next()
        .unwrap_or("artifact")
        .replace(['"', '\\'], "_");
    let inline = params.get("inline") == Some("1");
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&sub)),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    // HTML runs in an opaque origin; SVG cannot script either way.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox allow-scripts; default-src 'self' 'unsafe-inline' data:"),
    );
    let disposition = if inline {
        "inline".to_string()
    } else {
        format!("attachment; filename=\"{name}\"")
    };
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    *response.status_mut() = StatusCode::OK;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_follow_the_extension() {
        assert_eq!(preview_kind("a/b/metrics.json"), PreviewKind::Json);
        assert_eq!(preview_kind("x.CSV"), PreviewKind::Csv(b','));
        assert_eq!(preview_kind("ensemble_model/MLmodel"), PreviewKind::Text);
        assert_eq!(preview_kind("conda.yaml"), PreviewKind::Text);
        assert_eq!(preview_kind("plot.png"), PreviewKind::Image);
        assert_eq!(preview_kind("drift_report.html"), PreviewKind::Html);
        assert_eq!(preview_kind("model.bin"), PreviewKind::Binary);
    }

    #[test]
    fn csv_lines_split_with_quotes() {
        assert_eq!(
            split_csv_line(r#"a,"b,c","d""e""#, b','),
            vec!["a", "b,c", "d\"e"]
        );
    }

    #[test]
    fn histories_use_steps_when_they_vary() {
        let m = |step, timestamp, value| Metric {
            key: "k".into(),
            value,
            timestamp,
            step,
        };
        let (points, label) = history_points(&[m(1, 10, 1.0), m(0, 20, 2.0)]);
        assert_eq!(label, "step");
        assert_eq!(points, vec![(0.0, 2.0), (1.0, 1.0)]);
        let (points, label) = history_points(&[m(0, 1000, 1.0), m(0, 3000, 2.0)]);
        assert_eq!(label, "seconds");
        assert_eq!(points[1].0, 2.0);
    }
}
