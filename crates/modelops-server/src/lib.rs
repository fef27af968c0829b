//! The MLflow-compatible tracking server (`modelops server`): MLflow REST API 2.0 for tracking under
//! `/api/2.0/mlflow/` (and `/ajax-api/2.0/mlflow/` for web UIs), the `mlflow-artifacts` proxy, and service
//! routes (`/health`, `/version`, `/api/3.0/mlflow/server-info`). A thin layer over
//! [`modelops_tracking::Store`]: every handler parses fields, makes one store call and writes JSON.
//!
//! Client mistakes are always MLflow-style 4xx JSON (the MLflow client retries 5xx for minutes); unknown routes
//! answer JSON `ENDPOINT_NOT_FOUND`. The registry (issue 6) adds its routes to [`router`]; the web UI ([`ui`],
//! issue 9) serves its pages from the same router, and [`ui::security::require_auth`] guards the UI and the API's
//! writes when an auth token is configured.
#![deny(missing_docs)]

pub mod artifacts;
pub mod error;
pub mod registry;
pub mod request;
pub mod tracking;
pub mod ui;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
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

/// The whole HTTP surface, built without binding a port, so tests call it too. The UI runs with
/// [`ui::UiOptions::default`]: no login, no prediction log.
pub fn router(state: AppState) -> Router {
    router_with_ui(state, ui::UiOptions::default())
}

/// [`router`] with the UI's options: the auth token guarding the UI and the API's writes, the prediction log
/// behind the monitoring page.
pub fn router_with_ui(state: AppState, options: ui::UiOptions) -> Router {
    Router::new()
        .nest("/api/2.0/mlflow", tracking_routes())
        .nest("/ajax-api/2.0/mlflow", tracking_routes())
        .nest("/api/2.0/mlflow-artifacts", artifact_routes())
        .nest("/ajax-api/2.0/mlflow-artifacts", artifact_routes())
        .route("/health", get(|| async { "OK" }))
        .route("/version", get(|| async { env!("CARGO_PKG_VERSION") }))
        .route("/api/3.0/mlflow/server-info", get(server_info))
        .merge(ui::routes())
        .fallback(endpoint_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::Extension(options.clone()))
        .layer(axum::middleware::from_fn_with_state(
            options,
            ui::security::require_auth,
        ))
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
    serve_with_ui(addr, state, ui::UiOptions::default()).await
}

/// [`serve`] with the UI's options; warns when bound to a non-loopback address without an auth token.
///
/// # Errors
/// When the address cannot be bound or the server fails.
pub async fn serve_with_ui(
    addr: SocketAddr,
    state: AppState,
    options: ui::UiOptions,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tracing::info!(address = %local, "modelops tracking server listening");
    if !local.ip().is_loopback() && options.auth.is_none() {
        tracing::warn!(
            address = %local,
            "serving on a non-loopback address without authentication: anyone who can reach it can change runs \
             and approve models; set --auth-token (MODELOPS_AUTH_TOKEN)"
        );
    }
    axum::serve(listener, router_with_ui(state, options))
        .with_graceful_shutdown(shutdown_signal())
        .await
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
