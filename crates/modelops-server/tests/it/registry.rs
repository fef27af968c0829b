//! The MLflow client's registry calls (`tests/python/test_registry.py`, mlflow-skinny) against a server started
//! here on `127.0.0.1:0`, over SQLite and, when `MODELOPS_TEST_POSTGRES_URL` is set, PostgreSQL. Skips like the
//! tracking suite when the test Python is missing (fails instead under `MODELOPS_REQUIRE_EXTERNAL=1`).

use crate::mlflow_client::test_python;
use std::path::PathBuf;
use std::process::Command;

fn run_registry_suite(backend: &str, artifacts: &std::path::Path) {
    let Some(python) = test_python() else { return };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (state, listener) = runtime.block_on(async {
        let state = modelops_server::AppState::open(backend, artifacts.to_str().unwrap())
            .await
            .unwrap();
        (
            state,
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        )
    });
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(modelops_server::serve_on(listener, state, async {
        let _ = stopped.await;
    }));
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/test_registry.py");
    let output = Command::new(&python)
        .arg(&script)
        .env("MLFLOW_TRACKING_URI", format!("http://{address}"))
        .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        .env("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
        .output()
        .unwrap();
    let _ = stop.send(());
    runtime.block_on(server).unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "MLflow registry suite failed on {backend}:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}

#[test]
fn mlflow_registry_suite_passes_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let backend = format!("sqlite://{}/mlflow.db", dir.path().display());
    run_registry_suite(&backend, &dir.path().join("mlartifacts"));
}

#[test]
fn mlflow_registry_suite_passes_on_postgres() {
    let Ok(url) = std::env::var("MODELOPS_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("MODELOPS_REQUIRE_EXTERNAL").as_deref() != Ok("1"),
            "MODELOPS_TEST_POSTGRES_URL is unset but MODELOPS_REQUIRE_EXTERNAL=1"
        );
        eprintln!(
            "skipping the MLflow registry suite on PostgreSQL: set MODELOPS_TEST_POSTGRES_URL"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    run_registry_suite(&url, &dir.path().join("mlartifacts"));
}
