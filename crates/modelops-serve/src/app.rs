//! The HTTP surface: the reference API's routes (`/`, `/health`, `/model/info`, `/model/load`, `/predict`), MLflow's
//! scoring protocol (`/invocations`, `/ping`), and the OpenAPI document (`/openapi.json`), built as a [`Router`]
//! without binding a port so tests drive it with `tower::ServiceExt::oneshot`.
//!
//! Handlers translate and nothing more: body → checked rows ([`crate::input`]), pick the model ([`ModelSet`]),
//! predict ([`ServedModel::predict`], the same code as batch prediction), queue the log rows, reply. Every client
//! mistake is a 4xx JSON error ([`ApiError`]); a 5xx means the service itself failed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use chrono::{SecondsFormat, Utc};
use modelops_features::InputRow;
use modelops_tracking::registry::{SearchRegistry, Stage};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::error::{ApiError, FieldError, ServeError};
use crate::input::{check_against_model, parse_invocations, parse_predict_request};
use crate::log::{LogLabel, LogWriter};
use crate::model::{ModelKey, ModelSet, ModelSource, ServedModel};

/// Default largest request body: 10 MiB (about 60,000 rows).
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// Batches with more rows than this are predicted on the blocking pool so they do not stall other requests.
const BLOCKING_ROWS: usize = 256;
/// The service's API version (the reference's).
pub const API_VERSION: &str = "1.0.0";

/// Everything handlers share: cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("models", &self.inner.models)
            .field("source", &self.inner.source)
            .field("logging", &self.inner.log.is_some())
            .field("max_body_bytes", &self.inner.max_body_bytes)
            .finish()
    }
}

struct Inner {
    models: ModelSet,
    source: ModelSource,
    log: Option<LogWriter>,
    max_body_bytes: usize,
    /// Serialises loads (on-demand, `/model/load`, hot reload) so one version is never loaded twice at once.
    load_lock: Mutex<()>,
}

impl AppState {
    /// A state serving `model` under `key`, loading further models from `source`, logging to `log` when given.
    pub fn new(
        source: ModelSource,
        key: ModelKey,
        model: ServedModel,
        log: Option<LogWriter>,
        max_body_bytes: usize,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                models: ModelSet::new(key, model),
                source,
                log,
                max_body_bytes,
                load_lock: Mutex::new(()),
            }),
        }
    }

    /// The loaded models.
    pub fn models(&self) -> &ModelSet {
        &self.inner.models
    }

    /// Where models come from.
    pub fn source(&self) -> &ModelSource {
        &self.inner.source
    }

    /// The prediction log's writer, when logging is on.
    pub fn log(&self) -> Option<&LogWriter> {
        self.inner.log.as_ref()
    }

    /// The model for `key`, loading it from the registry when it is not loaded yet.
    ///
    /// # Errors
    /// [`ServeError`] when the registry has no such model or it cannot be loaded.
    pub async fn model_for(&self, key: ModelKey) -> Result<Arc<ServedModel>, ServeError> {
        let key = match self.source() {
            ModelSource::Path(_) => ModelKey::Path,
            ModelSource::Registry(_) => key,
        };
        if let Some(model) = self.models().get(key) {
            return Ok(model);
        }
        let ModelSource::Registry(registry) = self.source() else {
            return Err(ServeError::Invalid("no model is loaded".into()));
        };
        let _guard = self.inner.load_lock.lock().await;
        if let Some(model) = self.models().get(key) {
            return Ok(model);
        }
        let model = Arc::new(registry.load(key).await?);
        tracing::info!(version = ?model.identity.version, ?key, "model loaded on demand");
        self.models().swap(key, model.clone());
        Ok(model)
    }

    /// Re-reads `key` from its source now (registry: the stage's current version; path: the folder again),
    /// installs it and makes it the default. Returns the new model.
    ///
    /// # Errors
    /// [`ServeError`] when it cannot be loaded; the previous model keeps serving then.
    pub async fn reload(&self, key: ModelKey) -> Result<Arc<ServedModel>, ServeError> {
        let _guard = self.inner.load_lock.lock().await;
        let (key, model) = match self.source() {
            ModelSource::Path(dir) => {
                let identity = self
                    .models()
                    .get(ModelKey::Path)
                    .map(|m| m.identity.clone())
                    .unwrap_or_default();
                (
                    ModelKey::Path,
                    crate::model::load_blocking(dir.clone(), identity).await?,
                )
            }
            ModelSource::Registry(registry) => (key, registry.load(key).await?),
        };
        let model = Arc::new(model);
        self.models().swap(key, model.clone());
        self.models().set_default(key);
        Ok(model)
    }

    /// One hot-reload pass: for every loaded stage whose registry version changed, loads the new version and
    /// swaps it in. Returns `(key, old version, new version)` per swap. A stage that became empty keeps its model.
    ///
    /// # Errors
    /// The first registry or load failure (models loaded before it stay swapped).
    pub async fn poll_registry_once(
        &self,
    ) -> Result<Vec<(ModelKey, Option<String>, Option<String>)>, ServeError> {
        let ModelSource::Registry(registry) = self.source() else {
            return Ok(vec![]);
        };
        let mut swaps = Vec::new();
        for key in self.models().keys() {
            let ModelKey::Stage(stage) = key else {
                continue;
            };
            let loaded = self
                .models()
                .get(key)
                .and_then(|m| m.identity.version.clone());
            let current = registry.current_version(key).await?;
            let Some(current) = current else {
                tracing::warn!(stage = stage.as_str(), version = ?loaded, "the stage has no version now; keeping the loaded model");
                continue;
            };
            if loaded.as_deref() == Some(current.to_string().as_str()) {
                continue;
            }
            let _guard = self.inner.load_lock.lock().await;
            let model = Arc::new(registry.load(key).await?);
            let new = model.identity.version.clone();
            self.models().swap(key, model);
            tracing::info!(stage = stage.as_str(), old = ?loaded, new = ?new, "hot reload: new model version in service");
            swaps.push((key, loaded, new));
        }
        Ok(swaps)
    }
}

/// Starts the background task that calls [`AppState::poll_registry_once`] every `interval` (registry mode only).
pub fn spawn_hot_reload(
    state: AppState,
    interval: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            if let Err(err) = state.poll_registry_once().await {
                tracing::warn!(error = %err, "hot reload: polling the registry failed; keeping the loaded models");
            }
        }
    })
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let limit = state.inner.max_body_bytes;
    Router::new()
        .route("/", get(root))
        .route("/health", get(health))
        .route("/ping", get(ping))
        .route("/model/info", get(model_info))
        .route("/model/load", post(model_load))
        .route("/predict", post(predict))
        .route("/invocations", post(invocations))
        .route("/openapi.json", get(openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true)
}

async fn root() -> Json<Value> {
    Json(json!({
        "name": "Rossmann Sales Forecasting API",
        "version": API_VERSION,
        "description": "Daily sales forecasts for Rossmann stores from a weighted GBDT ensemble (modelops)",
        "model": "Ensemble (LightGBM + XGBoost + CatBoost)",
        "target_metric": "RMSPE < 0.09856",
        "endpoints": {
            "health": "/health",
            "model_info": "/model/info",
            "model_load": "/model/load",
            "predict": "/predict",
            "invocations": "/invocations",
            "docs": "/openapi.json"
        }
    }))
}

async fn health(State(state): State<AppState>) -> Json<Value> {
    let model = state.models().current();
    Json(json!({
        "status": "healthy",
        "timestamp": now(),
        "model_loaded": model.is_some(),
        "model_version": model.as_ref().and_then(|m| m.identity.version.clone()),
        "model_name": model.as_ref().and_then(|m| m.identity.name.clone()),
        "model_stage": model.as_ref().and_then(|m| m.identity.stage.clone()),
        "model_uri": model.as_ref().map(|m| m.identity.uri.clone()),
        "loaded_at": model.as_ref().map(|m| m.loaded_at.to_rfc3339_opts(SecondsFormat::Micros, true)),
        "prediction_log": state.log().map(|l| json!({"written_rows": l.written_rows(), "dropped_rows": l.dropped_rows()})),
    }))
}

async fn ping() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn model_info(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let served = state.models().current().map(|m| {
        json!({
            "name": m.identity.name, "version": m.identity.version, "stage": m.identity.stage,
            "uri": m.identity.uri, "loaded_at": m.loaded_at.to_rfc3339_opts(SecondsFormat::Micros, true),
            "forecast_origin": modelops_features::calendar::format_day(m.spec.features.origin()),
            "stores": m.spec.features.stores.stores().len(),
        })
    });
    match state.source() {
        ModelSource::Path(dir) => Ok(Json(json!({
            "registered_models": [],
            "production_version": null,
            "staging_version": null,
            "mlflow_uri": null,
            "model_path": dir.display().to_string(),
            "served_model": served,
            "timestamp": now(),
        }))),
        ModelSource::Registry(registry) => {
            let page = registry
                .store
                .search_registered_models(&SearchRegistry {
                    max_results: Some(1000),
                    ..Default::default()
                })
                .await
                .map_err(ServeError::from)?;
            let names: Vec<String> = page.items.iter().map(|m| m.name.clone()).collect();
            let version_in = |stage| async move {
                registry
                    .current_version(ModelKey::Stage(stage))
                    .await
                    .map(|v| v.map(|v| v.to_string()))
            };
            let production = version_in(Stage::Production).await?;
            let staging = version_in(Stage::Staging).await?;
            Ok(Json(json!({
                "registered_models": names,
                "model_name": registry.model_name,
                "production_version": production,
                "staging_version": staging,
                "mlflow_uri": registry.tracking_uri,
                "served_model": served,
                "timestamp": now(),
            })))
        }
    }
}

async fn model_load(
    State(state): State<AppState>,
    query: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::malformed(format!("bad query string: {e}")))?;
    let stage = query.get("stage").map_or("Production", String::as_str);
    let key = ModelKey::parse(stage)
        .map_err(|e| ApiError::invalid_input(vec![FieldError::request("stage", e.to_string())]))?;
    let model = state.reload(key).await?;
    Ok(Json(json!({
        "status": "loaded",
        "model_version": model.identity.version,
        "stage": model.identity.stage.clone().unwrap_or_else(|| stage.to_string()),
        "loaded_at": model.loaded_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        "timestamp": now(),
    })))
}

fn json_body(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Value, ApiError> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(limit)
        } else {
            ApiError::malformed(format!("cannot read the request body: {rejection}"))
        }
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::malformed(format!("the body is not valid JSON: {e}")))
}

/// Scores checked rows with the model for `key` and queues their log rows; returns the model and the predictions.
async fn score(
    state: &AppState,
    key: ModelKey,
    rows: Vec<InputRow>,
    started: Instant,
) -> Result<(Arc<ServedModel>, Vec<f64>), ApiError> {
    let model = state.model_for(key).await?;
    let problems = check_against_model(&rows, &model.spec.features);
    if !problems.is_empty() {
        return Err(ApiError::invalid_input(problems));
    }
    let (rows, predicted) = if rows.len() > BLOCKING_ROWS {
        let worker = model.clone();
        tokio::task::spawn_blocking(move || {
            let predicted = worker.predict(&rows);
            (rows, predicted)
        })
        .await
        .map_err(|e| ApiError::internal("prediction was interrupted", &e))?
    } else {
        let predicted = model.predict(&rows);
        (rows, predicted)
    };
    let predicted = predicted.map_err(|e| ApiError::internal("prediction failed", &e))?;
    if let Some(log) = state.log() {
        let label = LogLabel {
            source: "serve".into(),
            model_name: model.identity.name.clone().unwrap_or_default(),
            model_version: model.identity.version.clone().unwrap_or_default(),
            model_stage: model.identity.stage.clone().unwrap_or_default(),
        };
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        log.submit(
            label,
            model.clone(),
            rows,
            Some(&predicted.features),
            predicted.sales.clone(),
            elapsed_ms,
        );
    }
    Ok((model, predicted.sales))
}

async fn predict(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let value = json_body(body, state.inner.max_body_bytes)?;
    let request = parse_predict_request(&value).map_err(ApiError::invalid_input)?;
    let key = match request.model_stage.as_deref().filter(|s| !s.is_empty()) {
        None => state.models().default_key(),
        Some(stage) => ModelKey::parse(stage).map_err(|e| {
            ApiError::invalid_input(vec![FieldError::request("model_stage", e.to_string())])
        })?,
    };
    let (model, predictions) = score(&state, key, request.rows, started).await?;
    let count = predictions.len();
    Ok(Json(json!({
        "predictions": predictions,
        "model_version": model.identity.version,
        "count": count,
        "timestamp": now(),
    }))
    .into_response())
}

async fn invocations(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let value = json_body(body, state.inner.max_body_bytes)?;
    let rows = parse_invocations(&value).map_err(ApiError::invalid_input)?;
    let key = state.models().default_key();
    let (_, predictions) = score(&state, key, rows, started).await?;
    Ok(Json(json!({ "predictions": predictions })).into_response())
}

async fn openapi() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        crate::openapi::OPENAPI_JSON,
    )
        .into_response()
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!(
        "no endpoint {}; see /openapi.json for the routes",
        uri.path()
    ))
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        code: "METHOD_NOT_ALLOWED",
        message: format!(
            "{method} is not allowed on {}; see /openapi.json",
            uri.path()
        ),
        errors: vec![],
    }
}
