//! `RunLogger` against an embedded SQLite store and a local artifact root.

use modelops_tracking::{RunLogger, RunStatus};

#[test]
fn a_command_run_is_recorded_with_params_metrics_and_artifacts() {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite://{}/mlflow.db", dir.path().display());
    let root = dir.path().join("mlartifacts");
    let outputs = dir.path().join("out");
    std::fs::create_dir_all(outputs.join("nested")).unwrap();
    std::fs::write(outputs.join("report.json"), b"{}").unwrap();
    std::fs::write(outputs.join("nested/model.txt"), b"tree").unwrap();

    let logger = RunLogger::start(
        &uri,
        root.to_str().unwrap(),
        "rossmann-forecasting",
        Some("train"),
        &[("k", "v")],
    )
    .unwrap();
    logger.log_params(&[("lr", 0.05), ("depth", 6.0)]).unwrap();
    logger.log_metrics(&[("rmspe", 0.11)], 0).unwrap();
    assert_eq!(logger.log_artifact_dir(&outputs, "model").unwrap(), 2);
    let run_id = logger.run_id().clone();
    let experiment_id = logger.experiment_id().to_string();
    let store = logger.store();
    logger.end(RunStatus::Finished).unwrap();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let run = runtime.block_on(store.get_run(&run_id)).unwrap();
    assert_eq!(run.info.status, RunStatus::Finished);
    assert_eq!(run.info.run_name, "train");
    assert_eq!(run.data.params.len(), 2);
    assert!(run.data.tags.iter().any(|t| t.key == "k"));
    let stored = root
        .join(&experiment_id)
        .join(&run_id.0)
        .join("artifacts/model/nested/model.txt");
    assert_eq!(std::fs::read(stored).unwrap(), b"tree");
}
