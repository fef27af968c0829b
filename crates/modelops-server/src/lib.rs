//! The MLflow-compatible tracking server (`modelops server`): MLflow REST API 2.0 for tracking under
//! `/api/2.0/mlflow/` (and `/ajax-api/2.0/mlflow/` for web UIs), the `mlflow-artifacts` proxy, and service
//! routes (`/health`, `/version`, `/api/3.0/mlflow/server-info`). A thin layer over
//! [`modelops_tracking::Store`]: every handler parses fields, makes one store call and writes JSON.
//!
//! Client mistakes are always MLflow-style 4xx JSON (the MLflow client retries 5xx for minutes); unknown routes
//! answer JSON `ENDPOINT_NOT_FOUND`. The registry (issue 6) and the web UI add their routes to [`router`].
#![deny(missing_docs)]

pub mod artifacts;
pub mod error;
pub mod registry;
pub mod request;
pub mod tracking;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use error::ApiError;
use modelops_tracking::{ArtifactStore, Store, StoreError};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;

/// Shared state of every handler: the tracking store and the artifact proxy's root. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Where experiments and runs are recorded.
    pub store: Arc<dyn Store>,
    /// The proxy's root: `mlflow-artifacts:/<path>` resolves to `<root>/<path>`.
    pub artifacts: Arc<ArtifactStore>,
}

impl AppState {
    /// Opens the backend store and artifact root named by the server's flags.
    ///
    /// # Errors
    /// Whatever opening the store or the artifact root reports.
    pub async fn open(backend_store_uri: &str, artifact_root: &str) -> Result<Self, StoreError> {
        let store = modelops_tracking::open(backend_store_uri).await?;
        let artifacts = Arc::new(ArtifactStore::open(artifact_root)?);
        Ok(Self { store, artifacts })
    }
}

/// The MLflow tracking RPC routes, mounted under both API prefixes.
fn tracking_routes() -> Router<AppState> {
    use tracking::*;
    Router::new()
        .route("/experiments/create", post(create_experiment))
        .route("/experiments/get", get(get_experiment))
        .route("/experiments/get-by-name", get(get_experiment_by_name))
        .route(
            "/experiments/search",
            post(search_experiments).get(search_experiments),
        )
        .route("/experiments/update", post(update_experiment))
        .route("/experiments/delete", post(delete_experiment))
        .route("/experiments/restore", post(restore_experiment))
        .route("/experiments/set-experiment-tag", post(set_experiment_tag))
        .route("/runs/create", post(create_run))
        .route("/runs/get", get(get_run))
        .route("/runs/update", post(update_run))
        .route("/runs/delete", post(delete_run))
        .route("/runs/restore", post(restore_run))
        .route("/runs/search", post(search_runs))
        .route("/runs/log-parameter", post(log_param))
        .route("/runs/log-metric", post(log_metric))
        .route("/runs/log-batch", post(log_batch))
        .route("/runs/set-tag", post(set_tag))
        .route("/runs/delete-tag", post(delete_tag))
        .route("/metrics/get-history", get(get_metric_history))
        .route("/artifacts/list", get(artifacts::list_run_artifacts))
        .route("/logged-models/search", post(search_logged_models))
        .merge(registry::routes())
        .layer(DefaultBodyLimit::max(request::MAX_JSON_BODY_BYTES))
}

/// The artifact proxy routes (streamed bodies, so no body limit).
fn artifact_routes() -> Router<AppState> {
    Router::new()
        .route("/artifacts", get(artifacts::list))
        .route(
            "/artifacts/{*path}",
            get(artifacts::download)
                .put(artifacts::upload)
                .delete(artifacts::delete),
        )
        .layer(DefaultBodyLimit::disable())
}

/// The whole HTTP surface, built without binding a port, so tests call it too.
pub fn router(state: AppState) -> Router {
    Router::new()
        .nest("/api/2.0/mlflow", tracking_routes())
        .nest("/ajax-api/2.0/mlflow", tracking_routes())
        .nest("/api/2.0/mlflow-artifacts", artifact_routes())
        .nest("/ajax-api/2.0/mlflow-artifacts", artifact_routes())
        .route("/health", get(|| async { "OK" }))
        .route("/version", get(|| async { env!("CARGO_PKG_VERSION") }))
        .route("/api/3.0/mlflow/server-info", get(server_info))
        .route("/", get(home))
        .fallback(endpoint_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

async fn server_info() -> impl IntoResponse {
    axum::Json(json!({
        "store_type": "SqlStore",
        "workspaces_enabled": false,
        "multipart_uploads_enabled": false,
        "multipart_downloads_enabled": false,
    }))
}

async fn home() -> Html<&'static str> {
    Html(
        "<!doctype html><html><head><title>modelops tracking server</title></head><body>\
         <h1>modelops tracking server</h1>\
         <p>MLflow REST API 2.0 at <code>/api/2.0/mlflow/</code>, artifact proxy at \
         <code>/api/2.0/mlflow-artifacts/</code>. Point the MLflow client here with \
         <code>MLFLOW_TRACKING_URI</code>.</p></body></html>",
    )
}

async fn endpoint_not_found(request: Request) -> Response {
    ApiError::endpoint_not_found(request.uri().path()).into_response()
}

async fn method_not_allowed(request: Request) -> Response {
    let mut response =
        ApiError::method_not_allowed(request.method().as_str(), request.uri().path())
            .into_response();
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response
}

/// Binds `addr` and serves until Ctrl-C or SIGTERM, then lets in-flight requests finish.
///
/// # Errors
/// When the address cannot be bound or the server fails.
pub async fn serve(addr: SocketAddr, state: AppState) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(address = %listener.local_addr()?, "modelops tracking server listening");
    serve_on(listener, state, shutdown_signal()).await
}

/// Serves on an already bound listener until `shutdown` completes (tests bind `127.0.0.1:0`).
///
/// # Errors
/// When the server fails.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down; finishing in-flight requests");
}
