//! The web UI (issue 9): server-rendered HTML pages over the same [`Store`](modelops_tracking::Store) the REST API
//! uses, mounted on the API's router (same process, same port).
//!
//! | Path | Page |
//! |---|---|
//! | `/`, `/experiments` | experiments: name, run count, last activity |
//! | `/experiments/{id}` | runs table: chosen columns, sort, MLflow filter, pages, select → compare |
//! | `/runs/{id}` | a run: info, params, tags, metrics with charts, artifacts |
//! | `/runs/{id}/metrics/{key}` | one metric's history as a large chart |
//! | `/runs/{id}/artifacts?path=` | artifact browser and preview; `/runs/{id}/artifact?path=` downloads |
//! | `/compare?runs=…` | metrics overlaid, param diff |
//! | `/models`, `/models/{name}`, `/models/{name}/versions/{v}` | registry, lineage, audit trail, approval |
//! | `/monitoring` | predictions per day and version, latency, live RMSPE, drift |
//! | `/login`, `/logout` | optional token login ([`security`]) |
//!
//! Pages are written with maud, which escapes every interpolated string, so user-supplied names, params and
//! tags always render as text. Assets (one CSS and one JS file) are embedded with `include_str!`: the UI works
//! offline and needs no Node build. State-changing forms are POSTs carrying a CSRF token ([`security`]).

pub mod chart;
pub mod compare;
pub mod experiments;
pub mod layout;
pub mod models;
pub mod monitoring;
pub mod run;
pub mod security;

use crate::AppState;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::html;
use modelops_tracking::StoreError;
use std::collections::HashMap;

pub use monitoring::{LoggedActual, LoggedPrediction, PredictionSource};
pub use security::AuthToken;

/// The UI's options, beside [`AppState`](crate::AppState) (whose fields other code builds literally).
#[derive(Clone, Default)]
pub struct UiOptions {
    /// When set, the UI and the API's write endpoints need this token (see [`security`]).
    pub auth: Option<AuthToken>,
    /// The prediction log behind the monitoring page, when this process can read it.
    pub predictions: Option<std::sync::Arc<dyn PredictionSource>>,
}

impl std::fmt::Debug for UiOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UiOptions")
            .field("auth", &self.auth)
            .field("predictions", &self.predictions.is_some())
            .finish()
    }
}

/// The stylesheet, embedded in the binary.
pub const CSS: &str = include_str!("../../assets/ui.css");
/// The progressive-enhancement script (compare selection, chart tooltips, error hook), embedded in the binary.
pub const JS: &str = include_str!("../../assets/ui.js");

/// The UI's routes (state-changing ones behind the CSRF check).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(experiments::experiments_page))
        .route("/experiments", get(experiments::experiments_page))
        .route("/experiments/{id}", get(experiments::runs_page))
        .route("/runs/{id}", get(run::run_page))
        .route("/runs/{id}/metrics/{*key}", get(run::metric_page))
        .route("/runs/{id}/artifacts", get(run::artifacts_page))
        .route("/runs/{id}/artifact", get(run::artifact_download))
        .route("/compare", get(compare::compare_page))
        .route("/models", get(models::models_page))
        .route("/models/{name}", get(models::model_page))
        .route(
            "/models/{name}/versions/{version}",
            get(models::version_page),
        )
        .route(
            "/models/{name}/versions/{version}/approve",
            post(models::approve),
        )
        .route(
            "/models/{name}/versions/{version}/reject",
            post(models::reject),
        )
        .route("/models/{name}/rollback", post(models::rollback_action))
        .route("/monitoring", get(monitoring::monitoring_page))
        .route("/login", get(security::login_page).post(security::login))
        .route("/logout", post(security::logout))
        .route("/ui/assets/ui.css", get(css))
        .route("/ui/assets/ui.js", get(js))
        .layer(axum::middleware::from_fn(security::csrf_layer))
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

async fn js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        JS,
    )
        .into_response()
}

/// A UI failure rendered as an HTML error page with its status (never a 5xx for a client mistake).
#[derive(Debug)]
pub struct UiError {
    status: StatusCode,
    message: String,
}

impl UiError {
    /// 400 with a message naming the bad parameter.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
    /// 404 naming what is missing.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }
    /// 403 (CSRF token missing or wrong).
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            message: message.into(),
        }
    }
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<StoreError> for UiError {
    fn from(err: StoreError) -> Self {
        match &err {
            StoreError::NotFound(m) => Self::not_found(m.clone()),
            StoreError::InvalidParameter(m) => Self::bad_request(m.clone()),
            StoreError::AlreadyExists(m) => Self {
                status: StatusCode::CONFLICT,
                message: m.clone(),
            },
            _ => {
                tracing::error!(error = ?err, "store call failed while rendering a page");
                Self {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    message: "The tracking store failed; the server log has the details.".into(),
                }
            }
        }
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let title = match self.status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::FORBIDDEN => "Forbidden",
            StatusCode::BAD_REQUEST => "Bad request",
            StatusCode::CONFLICT => "Conflict",
            _ => "Server error",
        };
        let body = layout::page(
            title,
            layout::Nav::None,
            None,
            html! {
                h1 { (title) }
                p.error-box { (self.message) }
                p { a href="/experiments" { "Back to experiments" } }
            },
        );
        (self.status, body).into_response()
    }
}

/// A page handler's result.
pub type UiResult = Result<Response, UiError>;

/// Query-string parameters, parsed leniently (repeated keys kept) and checked by the typed getters.
#[derive(Debug, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parses `a=1&b=2&b=3`.
    pub fn parse(query: Option<&str>) -> Self {
        let pairs = query
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Self { pairs }
    }
    /// The first value of `key`, when present and not empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }
    /// Every non-empty value of `key` (a comma-separated value counts as several).
    pub fn all(&self, key: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect()
    }
    /// A positive integer parameter within `1..=max`, `default` when absent.
    ///
    /// # Errors
    /// [`UiError::bad_request`] naming the parameter and the allowed range.
    pub fn positive(&self, key: &str, default: i64, max: i64) -> Result<i64, UiError> {
        match self.get(key) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| {
                    UiError::bad_request(format!(
                        "query parameter '{key}' must be a whole number from 1 to {max}, got '{raw}'"
                    ))
                }),
        }
    }
    /// As a map of first values (for building links that keep the other parameters).
    pub fn first_values(&self) -> HashMap<&str, &str> {
        let mut map = HashMap::new();
        for (k, v) in &self.pairs {
            map.entry(k.as_str()).or_insert(v.as_str());
        }
        map
    }
}

/// Percent-encodes one URL path segment (model names and metric keys may hold spaces, `/`, `?` or `#`).
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Builds a query string from pairs (values form-encoded).
pub fn query_string<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if !v.is_empty() {
            serializer.append_pair(k, v);
        }
    }
    serializer.finish()
}

/// Formats ms since the epoch as `YYYY-MM-DD HH:MM:SS` UTC (`—` for 0 or out of range).
pub fn format_time(ms: i64) -> String {
    if ms <= 0 {
        return "—".into();
    }
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "—".into())
}

/// Formats a duration in ms as `1h 2m`, `3m 4s` or `5.1s`.
pub fn format_duration(ms: i64) -> String {
    if ms < 0 {
        return "—".into();
    }
    let secs = ms / 1000;
    if secs >= 3600 {
        format!("{}h {}m", secs / 3600, (secs % 3600) / 60)
    } else if secs >= 60 {
        format!("{}m {}s", secs / 60, secs % 60)
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

/// Formats a metric value compactly: up to 6 significant digits, NaN as `NaN`.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v == 0.0 {
        return "0".into();
    }
    let magnitude = v.abs();
    if !(1e-4..1e9).contains(&magnitude) {
        return format!("{v:.4e}");
    }
    let digits = (5 - magnitude.log10().floor() as i32).clamp(0, 8) as usize;
    let text = format!("{v:.digits$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(encode_segment("rossmann ensemble"), "rossmann%20ensemble");
        assert_eq!(encode_segment("a/b?c#d"), "a%2Fb%3Fc%23d");
        assert_eq!(encode_segment("lgb_holdout_rmspe"), "lgb_holdout_rmspe");
    }

    #[test]
    fn values_are_formatted_compactly() {
        assert_eq!(format_value(0.123456789), "0.123457");
        assert_eq!(format_value(1234.5), "1234.5");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(3.0), "3");
        assert_eq!(format_value(1e12), "1.0000e12");
    }

    #[test]
    fn bad_numbers_are_bad_requests() {
        let params = Params::parse(Some("page=0&size=abc&ok=3"));
        assert!(params.positive("page", 1, 10).is_err());
        assert!(params.positive("size", 1, 10).is_err());
        assert_eq!(params.positive("ok", 1, 10).unwrap(), 3);
        assert_eq!(params.positive("missing", 7, 10).unwrap(), 7);
    }

    #[test]
    fn repeated_and_comma_separated_values_are_collected() {
        let params = Params::parse(Some("runs=a&runs=b,c&runs="));
        assert_eq!(params.all("runs"), vec!["a", "b", "c"]);
    }
}
