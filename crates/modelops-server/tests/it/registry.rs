//! The MLflow client's registry calls (`tests/python/test_registry.py`, mlflow-skinny) against a server started
//! here on `127.0.0.1:0`, over SQLite and, when `MODELOPS_TEST_POSTGRES_URL` is set, PostgreSQL. Skips like the
//! tracking suite when the test Python is missing (fails instead under `MODELOPS_REQUIRE_EXTERNAL=1`).

use crate::mlflow_client::run_python_suite;

fn run_registry_suite(backend: &str, artifacts: &std::path::Path) {
    run_python_suite(
        "test_registry.py",
        "MLflow registry suite",
        backend,
        artifacts,
    );
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
