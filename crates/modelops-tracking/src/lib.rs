//! Tracking store: experiments, runs, params, metrics and tags (registered models come with the registry),
//! behind one [`Store`] trait, plus run artifacts in an [`ArtifactStore`].
//!
//! How the pieces fit:
//! - [`open`] picks a backend from the tracking URI: `sqlite:///abs/path.db` (embedded, the default) and
//!   `postgresql://…` ([`SqlStore`], one implementation over both databases), `http(s)://host:port`
//!   ([`RemoteStore`], any MLflow-compatible server).
//! - [`filter`] parses MLflow's search grammar; [`validation`] holds MLflow's input rules, so every backend that
//!   stores data itself refuses the same inputs the reference server refuses.
//! - [`ArtifactStore`] keeps artifacts in a folder or an S3-compatible bucket and never lets a path escape.
//! - [`RunLogger`] is the small blocking API commands use to record a run.
//!
//! Does not own HTTP routing (`modelops-server`) or model files (`modelops-models`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), modelops_tracking::StoreError> {
//! use modelops_tracking::{CreateRun, Metric, Store};
//! let store = modelops_tracking::open("sqlite:////tmp/mlflow.db").await?;
//! let experiment_id = store.create_experiment("rossmann-forecasting", None, &[]).await?;
//! let run = store.create_run(&CreateRun { experiment_id: Some(experiment_id), ..Default::default() }).await?;
//! store.log_metric(&run.info.run_id, &Metric { key: "rmspe".into(), value: 0.11, timestamp: 0, step: 0 }).await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod artifacts;
pub mod entities;
pub mod error;
pub mod filter;
pub mod logger;
pub mod names;
pub mod registry;
pub mod remote;
pub mod sql;
pub mod store;
pub mod validation;
pub mod wire;

pub use artifacts::ArtifactStore;
pub use entities::*;
pub use error::StoreError;
pub use logger::RunLogger;
pub use registry::Registry;
pub use remote::RemoteStore;
pub use sql::SqlStore;
pub use store::Store;

use std::sync::Arc;

/// Opens the store a tracking URI names: the only code that knows every scheme.
///
/// # Errors
/// [`StoreError::InvalidParameter`] for an unknown scheme; whatever the backend reports when opening fails.
pub async fn open(uri: &str) -> Result<Arc<dyn Store>, StoreError> {
    match uri.split_once("://").map(|(scheme, _)| scheme) {
        Some("sqlite") => Ok(Arc::new(SqlStore::open_sqlite(uri).await?)),
        Some("postgresql" | "postgres" | "postgresql+psycopg2") => {
            Ok(Arc::new(SqlStore::open_postgres(uri).await?))
        }
        Some("http" | "https") => Ok(Arc::new(RemoteStore::new(uri)?)),
        _ => Err(StoreError::invalid(format!(
            "unsupported tracking URI '{uri}': use sqlite:///path.db, postgresql://user@host/db or http://host:port"
        ))),
    }
}
