//! Integration tests of the HTTP surface: the router driven without a socket, and the real MLflow client
//! driving a server bound to a loopback port.

// clippy.toml allows unwrap in `#[test]` functions only; the helpers here are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod mlflow_client;
mod registry;
mod remote;
mod router;
mod s3_artifacts;
mod ui;
mod ui_browser;

use modelops_server::AppState;

/// A fresh server state over a temporary SQLite file and artifact folder (kept alive by the returned guard).
pub async fn temp_state() -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite://{}/mlflow.db", dir.path().display());
    let state = AppState::open(&uri, dir.path().join("mlartifacts").to_str().unwrap())
        .await
        .unwrap();
    (state, dir)
}
