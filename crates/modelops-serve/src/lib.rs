//! The prediction service (`modelops serve`, port 8000) and the prediction log.
//!
//! How the pieces fit:
//! - [`input`] turns request bodies (the reference API's `{"inputs": …}`, MLflow's `dataframe_split` /
//!   `dataframe_records`) into checked [`InputRow`](modelops_features::InputRow)s, one error per bad row and field.
//! - [`model`] loads model packages (from a folder or the registry), predicts through
//!   `modelops_pipeline::serving` — the same code as batch prediction, so both agree exactly — and holds the loaded
//!   models in a [`ModelSet`] that hot reload swaps atomically.
//! - [`app`] is the HTTP surface ([`router`]) and the hot-reload poller ([`spawn_hot_reload`]).
//! - [`log`] is the prediction log in the tracking store's database: the off-request-path [`LogWriter`],
//!   [`BatchLogger`] for `modelops predict`, and actual sales for live performance; [`actuals`] reads actuals files.
//! - [`openapi`] is the OpenAPI document.
//!
//! Does not own feature engineering (`modelops-features`), model files (`modelops-models`) or the registry
//! (`modelops-tracking`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use modelops_serve::{ServeConfig, ModelChoice};
//! let config = ServeConfig {
//!     address: "127.0.0.1:8000".parse()?,
//!     model: ModelChoice::Path("outputs/models/run-1".into()),
//!     log_uri: Some("sqlite:////tmp/mlflow.db".into()),
//!     ..ServeConfig::default()
//! };
//! // Any future ends the service gracefully; `modelops serve` passes `modelops_server::shutdown_signal()`.
//! let ctrl_c = async {
//!     let _ = tokio::signal::ctrl_c().await;
//! };
//! modelops_serve::serve(config, ctrl_c).await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod actuals;
pub mod app;
mod error;
pub mod input;
pub mod log;
pub mod model;
pub mod openapi;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use app::{AppState, DEFAULT_MAX_BODY_BYTES, router, spawn_hot_reload};
pub use error::{ApiError, FieldError, ServeError};
pub use log::{
    ActualSales, BatchLogger, LogLabel, LogWriter, PredictionLog, PredictionRecord,
    log_uri_for_tracking,
};
pub use model::{ModelIdentity, ModelKey, ModelSet, ModelSource, RegistrySource, ServedModel};

/// Which model the service starts with.
#[derive(Clone, Debug)]
pub enum ModelChoice {
    /// A package folder (`--model PATH`); never reloaded by itself (`POST /model/load` re-reads it).
    Path(PathBuf),
    /// A registered model's stage or version (`--model-stage Production`), hot-reloaded when it is a stage.
    Registry {
        /// The tracking URI whose registry to read.
        tracking_uri: String,
        /// Registered model name.
        model_name: String,
        /// Stage or version.
        key: ModelKey,
        /// Where `mlflow-artifacts:/` locations resolve for database-backed stores.
        artifact_root: String,
        /// Where downloaded packages are cached.
        cache_dir: PathBuf,
    },
}

/// Everything [`serve`] needs.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Address to listen on.
    pub address: SocketAddr,
    /// The model to start with.
    pub model: ModelChoice,
    /// Prediction log database (`None`: no logging).
    pub log_uri: Option<String>,
    /// Largest accepted request body, bytes.
    pub max_body_bytes: usize,
    /// How often the registry is polled for a new version of the served stage.
    pub reload_interval: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            address: SocketAddr::from(([127, 0, 0, 1], 8000)),
            model: ModelChoice::Path(PathBuf::from("model")),
            log_uri: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            reload_interval: Duration::from_secs(30),
        }
    }
}

/// Loads the starting model and opens the log: everything [`serve`] does before it binds.
///
/// # Errors
/// [`ServeError::Registry`] when the stage is empty or the registry unreachable, [`ServeError::Package`] when the
/// package is unreadable, [`ServeError::Log`] when the log database cannot be opened.
pub async fn start(config: &ServeConfig) -> Result<AppState, ServeError> {
    let (source, key, model) = match &config.model {
        ModelChoice::Path(dir) => {
            let identity = ModelIdentity {
                uri: dir.display().to_string(),
                ..Default::default()
            };
            let model = model::load_blocking(dir.clone(), identity).await?;
            (ModelSource::Path(dir.clone()), ModelKey::Path, model)
        }
        ModelChoice::Registry {
            tracking_uri,
            model_name,
            key,
            artifact_root,
            cache_dir,
        } => {
            let store = modelops_tracking::open(tracking_uri).await?;
            let access = modelops_tracking::registry::ArtifactAccess::for_tracking_uri(
                tracking_uri,
                artifact_root,
            )?;
            let registry = Arc::new(RegistrySource {
                store,
                model_name: model_name.clone(),
                access,
                cache_dir: cache_dir.clone(),
                tracking_uri: tracking_uri.clone(),
            });
            let model = registry.load(*key).await?;
            (ModelSource::Registry(registry), *key, model)
        }
    };
    let log = match &config.log_uri {
        Some(uri) => Some(LogWriter::spawn(PredictionLog::open(uri).await?)?),
        None => None,
    };
    Ok(AppState::new(
        source,
        key,
        model,
        log,
        config.max_body_bytes,
    ))
}

/// Loads the model, binds, serves until `shutdown` completes, then lets in-flight requests finish and drains the
/// prediction log.
///
/// # Errors
/// As [`start`], plus binding and serving failures.
pub async fn serve(
    config: ServeConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let state = start(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.address)
        .await
        .map_err(|e| {
            ServeError::Invalid(format!(
                "cannot listen on {}: {e} (is the port in use?)",
                config.address
            ))
        })?;
    serve_on(listener, state, config.reload_interval, shutdown).await
}

/// Serves `state` on an already bound listener (tests bind `127.0.0.1:0`), with hot reload when the state serves
/// a registry stage; drains the prediction log after `shutdown`.
///
/// # Errors
/// When the server fails.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    state: AppState,
    reload_interval: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let reloader = match state.source() {
        ModelSource::Registry(_) => Some(spawn_hot_reload(state.clone(), reload_interval)),
        ModelSource::Path(_) => None,
    };
    let result = axum::serve(listener, router(state.clone()))
        .with_graceful_shutdown(shutdown)
        .await;
    if let Some(task) = reloader {
        task.abort();
    }
    if let Some(log) = state.log() {
        log.shutdown().await;
    }
    result.map_err(|e| ServeError::Invalid(format!("the server failed: {e}")))
}
