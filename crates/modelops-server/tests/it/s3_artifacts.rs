//! `modelops server` with an `s3://` default artifact root: moto's S3-compatible server on a free loopback port,
//! the MLflow Python client logging, listing and downloading artifacts through our proxy, and the objects checked
//! in the bucket. Skips with a message when the venv lacks moto or MLflow, unless `MODELOPS_REQUIRE_EXTERNAL=1`.

#[path = "../../../modelops-tracking/tests/it/external.rs"]
mod external;

use external::{MOTO_ACCESS_KEY, MOTO_REGION, MOTO_SECRET_KEY, Moto};
use modelops_tracking::ArtifactStore;
use modelops_tracking::artifacts::S3Options;
use std::process::Command;
use std::sync::Arc;

/// Logs two artifacts with the MLflow client, lists and downloads them, prints `<experiment_id> <run_id>`.
const CLIENT_SCRIPT: &str = r#"
import os, tempfile
import mlflow
from mlflow.tracking import MlflowClient

mlflow.set_experiment("s3-artifacts")
with mlflow.start_run() as run:
    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "model.txt")
    with open(path, "w") as f:
        f.write("trees")
    mlflow.log_artifact(path, artifact_path="model")
    mlflow.log_text("hello", "notes/hello.txt")
client = MlflowClient()
top = sorted(f.path for f in client.list_artifacts(run.info.run_id))
assert top == ["model", "notes"], top
inner = [(f.path, f.file_size) for f in client.list_artifacts(run.info.run_id, "model")]
assert inner == [("model/model.txt", 5)], inner
out = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="model", dst_path=tempfile.mkdtemp())
with open(os.path.join(out, "model.txt")) as f:
    assert f.read() == "trees"
assert mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/notes/hello.txt") == "hello"
print(run.info.experiment_id, run.info.run_id)
"#;

#[test]
fn the_mlflow_client_logs_and_downloads_artifacts_kept_in_s3() {
    let Some(python) = crate::mlflow_client::test_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let Some(moto) = Moto::start(dir.path()) else {
        return;
    };
    let options = S3Options {
        endpoint: Some(moto.url().to_string()),
        region: Some(MOTO_REGION.into()),
        access_key_id: Some(MOTO_ACCESS_KEY.into()),
        secret_access_key: Some(MOTO_SECRET_KEY.into()),
        ..Default::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let backend = format!("sqlite://{}/mlflow.db", dir.path().display());
    let (state, listener) = runtime.block_on(async {
        moto.create_bucket("mlflow").await;
        let state = modelops_server::AppState {
            store: modelops_tracking::open(&backend).await.unwrap(),
            artifacts: Arc::new(
                ArtifactStore::open_with("s3://mlflow/artifacts", &options).unwrap(),
            ),
        };
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

    let output = Command::new(&python)
        .args(["-c", CLIENT_SCRIPT])
        .env("MLFLOW_TRACKING_URI", format!("http://{address}"))
        .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        .env("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
        .output()
        .unwrap();
    let _ = stop.send(());
    runtime.block_on(server).unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the MLflow client failed against an S3 artifact root:\n{stdout}\n{}\nmoto log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        moto.process.log_tail()
    );
    // The client prints "View run …" lines of its own first; the ids are the last line.
    let ids: Vec<&str> = stdout
        .lines()
        .last()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let [experiment_id, run_id] = ids[..] else {
        panic!("unexpected client output: {stdout}");
    };

    // The bytes are in the bucket, below the root's prefix, at MLflow's layout.
    let bucket = ArtifactStore::open_with("s3://mlflow", &options).unwrap();
    runtime.block_on(async {
        let stored = bucket
            .read(&format!(
                "artifacts/{experiment_id}/{run_id}/artifacts/model/model.txt"
            ))
            .await
            .unwrap();
        assert_eq!(&stored[..], b"trees");
        let notes = bucket
            .read(&format!(
                "artifacts/{experiment_id}/{run_id}/artifacts/notes/hello.txt"
            ))
            .await
            .unwrap();
        assert_eq!(&notes[..], b"hello");
    });
    assert!(
        !dir.path().join("mlartifacts").exists(),
        "nothing was written to a local folder"
    );
}
