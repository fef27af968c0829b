//! The real client as the judge: `tests/python/mlflow_compat.py` (mlflow-skinny) against a server started here
//! on `127.0.0.1:0`. Needs the test venv (`MODELOPS_TEST_PYTHON`, else `<workspace>/.tools/pyenv/bin/python`);
//! skips with a message when absent unless `MODELOPS_REQUIRE_EXTERNAL=1`. Runs against PostgreSQL too when
//! `MODELOPS_TEST_POSTGRES_URL` is set.

use std::path::PathBuf;
use std::process::Command;

fn require_external() -> bool {
    std::env::var("MODELOPS_REQUIRE_EXTERNAL").as_deref() == Ok("1")
}

/// The test Python interpreter, or `None` (after printing why) when the test should skip.
pub fn test_python() -> Option<PathBuf> {
    let candidate = match std::env::var("MODELOPS_TEST_PYTHON") {
        Ok(path) if !path.is_empty() => PathBuf::from(path),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/pyenv/bin/python"),
    };
    if candidate.exists() {
        return Some(candidate);
    }
    assert!(
        !require_external(),
        "no test Python at {} but MODELOPS_REQUIRE_EXTERNAL=1; run scripts/bootstrap.sh test",
        candidate.display()
    );
    eprintln!(
        "skipping the MLflow client suite: no Python at {} (run scripts/bootstrap.sh test)",
        candidate.display()
    );
    None
}

/// Serves `backend` on a free loopback port in a background runtime, runs `tests/python/<script>` against it,
/// stops the server; `suite` names it in failure messages.
pub fn run_python_suite(script: &str, suite: &str, backend: &str, artifacts: &std::path::Path) {
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
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
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
        "{suite} failed on {backend}:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}

fn run_suite(backend: &str, artifacts: &std::path::Path) {
    run_python_suite(
        "mlflow_compat.py",
        "MLflow client suite",
        backend,
        artifacts,
    );
}

#[test]
fn mlflow_client_suite_passes_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let backend = format!("sqlite://{}/mlflow.db", dir.path().display());
    run_suite(&backend, &dir.path().join("mlartifacts"));
}

#[test]
fn mlflow_client_suite_passes_on_postgres() {
    let Ok(url) = std::env::var("MODELOPS_TEST_POSTGRES_URL") else {
        assert!(
            !require_external(),
            "MODELOPS_TEST_POSTGRES_URL is unset but MODELOPS_REQUIRE_EXTERNAL=1"
        );
        eprintln!("skipping the MLflow client suite on PostgreSQL: set MODELOPS_TEST_POSTGRES_URL");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    run_suite(&url, &dir.path().join("mlartifacts"));
}
