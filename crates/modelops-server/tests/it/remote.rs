//! The remote backend (`RemoteStore`, MLflow REST over HTTP) against our own server on a loopback port: the
//! same calls behave as on the embedded store, errors map back to the same `StoreError` variants, and
//! `RunLogger` uploads artifacts through the proxy.

use modelops_tracking::{
    CreateRun, ExperimentId, Metric, Param, RunLogger, RunStatus, SearchRuns, StoreError, Tag,
};

/// Starts a server on `127.0.0.1:0` in a background runtime; returns its URL, the runtime and a stop handle.
fn start_server(
    dir: &std::path::Path,
) -> (
    String,
    tokio::runtime::Runtime,
    tokio::sync::oneshot::Sender<()>,
) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let backend = format!("sqlite://{}/mlflow.db", dir.display());
    let artifacts = dir.join("mlartifacts");
    let (state, listener) = runtime.block_on(async {
        let state = modelops_server::AppState::open(&backend, artifacts.to_str().unwrap())
            .await
            .unwrap();
        (
            state,
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        )
    });
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    runtime.spawn(modelops_server::serve_on(listener, state, async {
        let _ = stopped.await;
    }));
    (url, runtime, stop)
}

#[test]
fn remote_store_behaves_like_the_embedded_one() {
    let dir = tempfile::tempdir().unwrap();
    let (url, server_runtime, stop) = start_server(dir.path());
    let client_runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    client_runtime.block_on(async {
        let store = modelops_tracking::open(&url).await.unwrap();
        let tags = [Tag {
            key: "team".into(),
            value: "f".into(),
        }];
        let exp = store
            .create_experiment("remote", None, &tags)
            .await
            .unwrap();
        assert!(matches!(
            store.create_experiment("remote", None, &[]).await,
            Err(StoreError::AlreadyExists(_))
        ));
        assert_eq!(
            store.get_experiment_by_name("remote").await.unwrap().tags,
            tags
        );
        assert!(matches!(
            store.get_experiment(&ExperimentId("424242".into())).await,
            Err(StoreError::NotFound(_))
        ));
        let run = store
            .create_run(&CreateRun {
                experiment_id: Some(exp.clone()),
                run_name: Some("r1".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        let id = run.info.run_id.clone();
        let metrics = [
            Metric {
                key: "loss".into(),
                value: 0.5,
                timestamp: 1,
                step: 0,
            },
            Metric {
                key: "loss".into(),
                value: 0.4,
                timestamp: 2,
                step: 1,
            },
            Metric {
                key: "odd".into(),
                value: f64::NAN,
                timestamp: 1,
                step: 0,
            },
        ];
        let params = [Param {
            key: "lr".into(),
            value: "0.1".into(),
        }];
        store.log_batch(&id, &metrics, &params, &[]).await.unwrap();
        assert!(matches!(
            store
                .log_param(
                    &id,
                    &Param {
                        key: "lr".into(),
                        value: "0.2".into()
                    }
                )
                .await,
            Err(StoreError::InvalidParameter(_))
        ));
        let got = store.get_run(&id).await.unwrap();
        assert_eq!(got.info.run_name, "r1");
        let latest = got.data.metrics.iter().find(|m| m.key == "loss").unwrap();
        assert_eq!(latest.value, 0.4);
        assert!(
            got.data
                .metrics
                .iter()
                .find(|m| m.key == "odd")
                .unwrap()
                .value
                .is_nan()
        );
        let history = store
            .get_metric_history(&id, "loss", Some(1), None)
            .await
            .unwrap();
        assert_eq!(history.items.len(), 1);
        assert!(history.next_page_token.is_some());
        let found = store
            .search_runs(&SearchRuns {
                experiment_ids: vec![exp.clone()],
                filter: "metrics.loss < 0.45 and params.lr = '0.1'".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(found.items.len(), 1);
        assert!(matches!(
            store
                .search_runs(&SearchRuns {
                    experiment_ids: vec![exp.clone()],
                    filter: "metrics.loss >>> 1".into(),
                    ..Default::default()
                })
                .await,
            Err(StoreError::InvalidParameter(_))
        ));
        store.delete_tag(&id, "mlflow.runName").await.unwrap();
        assert!(matches!(
            store.delete_tag(&id, "absent").await,
            Err(StoreError::NotFound(_))
        ));
    });

    let outputs = dir.path().join("outputs");
    std::fs::create_dir_all(outputs.join("nested")).unwrap();
    std::fs::write(outputs.join("nested/model.txt"), b"trees").unwrap();
    let logger = RunLogger::start(&url, "unused", "remote-logger", Some("train"), &[]).unwrap();
    logger.log_params(&[("depth", 6)]).unwrap();
    logger.log_metrics(&[("rmspe", 0.1)], 0).unwrap();
    assert_eq!(logger.log_artifact_dir(&outputs, "model").unwrap(), 1);
    let (experiment_id, run_id) = (logger.experiment_id().to_string(), logger.run_id().clone());
    logger.end(RunStatus::Finished).unwrap();
    let stored = dir
        .path()
        .join("mlartifacts")
        .join(experiment_id)
        .join(&run_id.0)
        .join("artifacts/model/nested/model.txt");
    assert_eq!(std::fs::read(stored).unwrap(), b"trees");

    let _ = stop.send(());
    server_runtime.shutdown_timeout(std::time::Duration::from_secs(5));
}
