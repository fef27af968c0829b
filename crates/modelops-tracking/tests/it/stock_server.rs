//! `RemoteStore` against a stock `mlflow server` 3.17.2 (SQLite backend, artifact proxy) from the test venv:
//! the same store and registry contract checks that run on the embedded backends, the artifact proxy, and a
//! `RunLogger` run (what `modelops train --tracking-uri http://…` records) read back through the stock server.
//! Where a stock server legitimately differs from `modelops server`, the test pins the stock behaviour and says
//! so (also in `docs/tracking-server.md`).
//!
//! Skips with a message when the venv has no `mlflow` console script, unless `MODELOPS_REQUIRE_EXTERNAL=1`.

use crate::external::StockMlflow;
use crate::{contract, registry};
use bytes::Bytes;
use modelops_tracking::entities::FileInfo;
use modelops_tracking::registry::{
    AuditContext, CreateModelVersion, PromoteRequest, Stage, Transition, TransitionSource, promote,
    register_version,
};
use modelops_tracking::{
    CreateRun, RemoteStore, RunLogger, RunStatus, SearchRuns, Store, StoreError,
};
use std::sync::Arc;

fn remote(server: &StockMlflow) -> Arc<dyn Store> {
    Arc::new(RemoteStore::new(server.url()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn remote_store_honours_the_tracking_contract_on_a_stock_server() {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = StockMlflow::start(dir.path(), Some(1)) else {
        return;
    };
    let store = remote(&server);
    contract::default_experiment_exists(&store).await;
    contract::experiments_lifecycle(&store).await;
    contract::runs_params_metrics_tags(&store).await;
    contract::search_runs_filters_order_and_pages(&store).await;
    contract::deleted_runs_refuse_writes(&store).await;
    contract::concurrent_writers_lose_nothing(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn remote_store_drives_the_registry_of_a_stock_server() {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = StockMlflow::start(dir.path(), Some(1)) else {
        return;
    };
    let store = remote(&server);
    registry::models_versions_tags_and_aliases(&store).await;
    registry::searches_filter_order_and_page(&store).await;
    registry::model_uris_resolve(&store).await;
    bad_registry_input_is_refused_in_mlflow_order(&store).await;

    // Plain MLflow transitions: every move allowed, archive_existing_versions archives the others.
    let name = format!("stock-{}", uuid::Uuid::new_v4().simple());
    let run = store
        .create_run(&CreateRun::default())
        .await
        .unwrap()
        .info
        .run_id;
    for _ in 0..3 {
        register_version(&*store, &name, &run, "model", &[], None)
            .await
            .unwrap();
    }
    let move_to = |version: i64, stage: Stage, archive: bool| Transition {
        name: name.clone(),
        version,
        stage,
        archive_existing_versions: archive,
        require_current_stage: None,
        audit: AuditContext::api("ci"),
    };
    store
        .transition_model_version_stage(&move_to(1, Stage::Production, false))
        .await
        .unwrap();
    store
        .transition_model_version_stage(&move_to(2, Stage::Production, false))
        .await
        .unwrap();
    let latest = store
        .get_latest_versions(&name, &[Stage::Production])
        .await
        .unwrap();
    assert_eq!(latest.iter().map(|v| v.version).collect::<Vec<_>>(), [2]);
    let moved = store
        .transition_model_version_stage(&move_to(3, Stage::Production, true))
        .await
        .unwrap();
    assert_eq!((moved.version, moved.current_stage), (3, Stage::Production));
    for version in [1, 2] {
        assert_eq!(
            store
                .get_model_version(&name, version)
                .await
                .unwrap()
                .current_stage,
            Stage::Archived
        );
    }

    // modelops' promote works against a stock server: the Staging-before-Production rule is checked by the
    // client (a stock server ignores the extension fields), ...
    let promotion = |version: i64, stage: Stage| PromoteRequest {
        name: name.clone(),
        version,
        stage,
        approver: "alice".into(),
        reason: "stock server".into(),
        force: false,
        source: TransitionSource::Cli,
    };
    assert!(matches!(
        promote(&*store, &promotion(1, Stage::Production)).await,
        Err(StoreError::InvalidParameter(m)) if m.contains("Staging")
    ));
    promote(&*store, &promotion(1, Stage::Staging))
        .await
        .unwrap();
    let promoted = promote(&*store, &promotion(1, Stage::Production))
        .await
        .unwrap();
    assert_eq!(promoted.current_stage, Stage::Production);
    assert_eq!(
        store
            .get_model_version(&name, 3)
            .await
            .unwrap()
            .current_stage,
        Stage::Archived
    );
    // ... but a stock server keeps no audit log, so `modelops registry audit` and `rollback` say so.
    match store.audit_trail(&name, None).await {
        Err(StoreError::InvalidParameter(m)) => {
            assert!(m.contains("keeps no registry audit log"), "{m}")
        }
        other => panic!("a stock server answered an audit trail: {other:?}"),
    }
}

/// The registry's bad-input cases on a stock server. One legitimate difference from `modelops server`: a stock
/// server validates a version's `source` against its `run_id` before it looks the model up, so a version of an
/// unknown model whose source names a run but which carries no `run_id` is INVALID_PARAMETER_VALUE there, not
/// RESOURCE_DOES_NOT_EXIST. Both refuse it; only the order of the checks differs.
async fn bad_registry_input_is_refused_in_mlflow_order(store: &Arc<dyn Store>) {
    let name = format!("bad-{}", uuid::Uuid::new_v4().simple());
    let run = store
        .create_run(&CreateRun::default())
        .await
        .unwrap()
        .info
        .run_id;
    assert!(matches!(
        store.create_registered_model("bad/name", &[], None).await,
        Err(StoreError::InvalidParameter(_))
    ));
    assert!(matches!(
        store.get_registered_model(&name).await,
        Err(StoreError::NotFound(_))
    ));
    let without_run_id = CreateModelVersion {
        name: name.clone(),
        source: format!("runs:/{run}/model"),
        ..Default::default()
    };
    assert!(matches!(
        store.create_model_version(&without_run_id).await,
        Err(StoreError::InvalidParameter(m)) if m.contains("run_id")
    ));
    let with_run_id = CreateModelVersion {
        run_id: Some(run.0.clone()),
        ..without_run_id.clone()
    };
    assert!(matches!(
        store.create_model_version(&with_run_id).await,
        Err(StoreError::NotFound(_))
    ));
    store
        .create_registered_model(&name, &[], None)
        .await
        .unwrap();
    assert!(matches!(
        store.create_model_version(&without_run_id).await,
        Err(StoreError::InvalidParameter(_))
    ));
    let dotted = CreateModelVersion {
        source: format!("runs:/{run}/../x"),
        ..with_run_id.clone()
    };
    assert!(matches!(
        store.create_model_version(&dotted).await,
        Err(StoreError::InvalidParameter(_))
    ));
    assert_eq!(
        store
            .create_model_version(&with_run_id)
            .await
            .unwrap()
            .version,
        1
    );
    assert!(matches!(
        store.get_model_version(&name, 9).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.set_registered_model_alias(&name, "x", 9).await,
        Err(StoreError::NotFound(_))
    ));
    for bad_alias in ["latest", "v1", "bad alias"] {
        assert!(matches!(
            store.set_registered_model_alias(&name, bad_alias, 1).await,
            Err(StoreError::InvalidParameter(_))
        ));
    }
    assert!(matches!(
        store.get_model_version_by_alias(&name, "nope").await,
        Err(StoreError::InvalidParameter(_))
    ));
    assert!(matches!(
        store
            .get_model_version_by_alias(&format!("{name}-absent"), "a")
            .await,
        Err(StoreError::NotFound(_))
    ));
}

fn file(path: &str, size: i64) -> FileInfo {
    FileInfo {
        path: path.into(),
        is_dir: false,
        file_size: Some(size),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifacts_go_through_the_stock_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = StockMlflow::start(dir.path(), Some(1)) else {
        return;
    };
    let client = RemoteStore::new(server.url()).unwrap();
    let run = client.create_run(&CreateRun::default()).await.unwrap();
    let root = modelops_tracking::artifacts::proxied_path(&run.info.artifact_uri)
        .unwrap()
        .to_string();
    assert_eq!(root, format!("0/{}/artifacts", run.info.run_id));

    client
        .upload_artifact(&format!("{root}/report.json"), Bytes::from_static(b"{}"))
        .await
        .unwrap();
    client
        .upload_artifact(
            &format!("{root}/model/weights v1.bin"),
            Bytes::from_static(b"\x00\x01\x02"),
        )
        .await
        .unwrap();
    client
        .upload_artifact(
            &format!("{root}/model/deeper/x.txt"),
            Bytes::from_static(b"x"),
        )
        .await
        .unwrap();
    // Replacing a file keeps one copy.
    client
        .upload_artifact(
            &format!("{root}/report.json"),
            Bytes::from_static(b"{\"v\":2}"),
        )
        .await
        .unwrap();

    let listing = client.list_artifacts(&root).await.unwrap();
    assert_eq!(
        listing,
        [
            FileInfo {
                path: "model".into(),
                is_dir: true,
                file_size: None
            },
            file("report.json", 7)
        ]
    );
    let nested = client
        .list_artifacts(&format!("{root}/model"))
        .await
        .unwrap();
    assert_eq!(nested.len(), 2, "{nested:?}");
    assert!(nested.contains(&file("weights v1.bin", 3)), "{nested:?}");
    assert!(
        client
            .list_artifacts(&format!("{root}/absent"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        &client
            .download_artifact(&format!("{root}/model/weights v1.bin"))
            .await
            .unwrap()[..],
        b"\x00\x01\x02"
    );
    assert!(
        client
            .download_artifact(&format!("{root}/absent.txt"))
            .await
            .is_err()
    );
    // RemoteStore refuses unsafe paths before sending anything (a URL library would silently resolve `..`)...
    for unsafe_path in [
        format!("{root}/../../escape.txt"),
        "/etc/escape.txt".to_string(),
        format!("{root}/a\\b"),
    ] {
        assert!(
            matches!(
                client
                    .upload_artifact(&unsafe_path, Bytes::from_static(b"x"))
                    .await,
                Err(StoreError::InvalidParameter(_))
            ),
            "{unsafe_path}"
        );
        assert!(client.download_artifact(&unsafe_path).await.is_err());
        assert!(client.list_artifacts(&unsafe_path).await.is_err());
    }
    // ... and the stock proxy refuses `..` sent raw, even when it would stay inside its destination.
    // Written by hand: every URL library resolves `%2E%2E` segments before sending, as the URL standard says.
    let raw = {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let address = server.url().trim_start_matches("http://").to_string();
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        let request = format!(
            "PUT /api/2.0/mlflow-artifacts/artifacts/0/%2E%2E/escape.txt HTTP/1.1\r\nHost: {address}\r\n\
             Content-Length: 1\r\nConnection: close\r\n\r\nx"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await.unwrap();
        reply
    };
    assert!(raw.starts_with("HTTP/1.1 400"), "{raw}");
    assert!(!server.artifacts.join("escape.txt").exists());
    assert!(!dir.path().join("escape.txt").exists());
    assert_eq!(
        std::fs::read(server.artifacts.join(&root).join("report.json")).unwrap(),
        b"{\"v\":2}"
    );
}

#[test]
fn a_modelops_run_logged_to_a_stock_server_reads_back_through_it() {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = StockMlflow::start(dir.path(), Some(1)) else {
        return;
    };
    let outputs = dir.path().join("outputs");
    std::fs::create_dir_all(outputs.join("model/components")).unwrap();
    std::fs::write(outputs.join("model/MLmodel"), b"flavors: {}\n").unwrap();
    std::fs::write(outputs.join("model/components/lightgbm.txt"), b"tree").unwrap();

    // What `modelops train --tracking-uri http://…` does, through the same API.
    let logger = RunLogger::start(
        server.url(),
        "ignored-for-http",
        "rossmann-forecasting",
        Some("train"),
        &[("modelops.command", "train")],
    )
    .unwrap();
    logger
        .log_params(&[("engine", "lightgbm"), ("learning_rate", "0.05")])
        .unwrap();
    let many: Vec<(String, f64)> = (0..1500)
        .map(|i| (format!("fold_{i}_rmspe"), 0.1))
        .collect();
    logger.log_metrics(&many, 0).unwrap();
    logger.log_metrics(&[("rmspe", 0.12)], 0).unwrap();
    logger.log_metrics(&[("rmspe", 0.11)], 1).unwrap();
    logger.set_tags(&[("stage", "candidate")]).unwrap();
    assert_eq!(logger.log_artifact_dir(&outputs, "").unwrap(), 2);
    let run_id = logger.run_id().clone();
    let experiment_id = logger.experiment_id().to_string();
    logger.end(RunStatus::Finished).unwrap();

    // A second run finds the experiment instead of creating it.
    let second = RunLogger::start(server.url(), "", "rossmann-forecasting", None, &[]).unwrap();
    assert_eq!(second.experiment_id(), experiment_id);
    second.end(RunStatus::Killed).unwrap();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = RemoteStore::new(server.url()).unwrap();
        let run = store.get_run(&run_id).await.unwrap();
        assert_eq!(run.info.status, RunStatus::Finished);
        assert_eq!(run.info.run_name, "train");
        assert!(run.info.end_time.is_some());
        assert_eq!(run.data.params.len(), 2);
        assert_eq!(run.data.metrics.len(), 1501);
        let rmspe = run.data.metrics.iter().find(|m| m.key == "rmspe").unwrap();
        assert_eq!((rmspe.value, rmspe.step), (0.11, 1));
        for (key, value) in [
            ("modelops.command", "train"),
            ("stage", "candidate"),
            ("mlflow.source.name", "modelops"),
            ("mlflow.runName", "train"),
        ] {
            assert!(
                run.data
                    .tags
                    .iter()
                    .any(|t| t.key == key && t.value == value),
                "tag {key}={value} missing from {:?}",
                run.data.tags
            );
        }
        let history = store
            .get_metric_history(&run_id, "rmspe", None, None)
            .await
            .unwrap();
        assert_eq!(history.items.len(), 2);
        let found = store
            .search_runs(&SearchRuns {
                experiment_ids: vec![run.info.experiment_id.clone()],
                filter: "params.engine = 'lightgbm' and metrics.rmspe < 0.2".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            found
                .items
                .iter()
                .map(|r| &r.info.run_id)
                .collect::<Vec<_>>(),
            [&run_id]
        );
        let root = modelops_tracking::artifacts::proxied_path(&run.info.artifact_uri)
            .unwrap()
            .to_string();
        assert_eq!(
            &store
                .download_artifact(&format!("{root}/model/components/lightgbm.txt"))
                .await
                .unwrap()[..],
            b"tree"
        );
        assert_eq!(
            store.list_artifacts(&root).await.unwrap(),
            [FileInfo {
                path: "model".into(),
                is_dir: true,
                file_size: None
            }]
        );
    });
    assert!(
        server
            .artifacts
            .join(&experiment_id)
            .join(&run_id.0)
            .join("artifacts/model/MLmodel")
            .is_file()
    );
}
