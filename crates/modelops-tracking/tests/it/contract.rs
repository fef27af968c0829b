//! The store contract: one suite of behaviours, run against SQLite always and PostgreSQL when
//! `MODELOPS_TEST_POSTGRES_URL` is set (required when `MODELOPS_REQUIRE_EXTERNAL=1`).

use modelops_tracking::{
    CreateRun, ExperimentId, LifecycleStage, Metric, Param, RunId, RunStatus, SearchExperiments,
    SearchRuns, Store, StoreError, Tag, UpdateRun, ViewType,
};
use std::sync::Arc;

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

fn metric(key: &str, value: f64, timestamp: i64, step: i64) -> Metric {
    Metric {
        key: key.into(),
        value,
        timestamp,
        step,
    }
}

async fn new_run(store: &Arc<dyn Store>, experiment: &ExperimentId, name: &str) -> RunId {
    store
        .create_run(&CreateRun {
            experiment_id: Some(experiment.clone()),
            run_name: Some(name.into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .info
        .run_id
}

/// Every contract check, in sequence, on one store.
pub async fn run_contract(store: Arc<dyn Store>) {
    default_experiment_exists(&store).await;
    experiments_lifecycle(&store).await;
    runs_params_metrics_tags(&store).await;
    search_runs_filters_order_and_pages(&store).await;
    deleted_runs_refuse_writes(&store).await;
    concurrent_writers_lose_nothing(&store).await;
}

pub(crate) async fn default_experiment_exists(store: &Arc<dyn Store>) {
    let default = store
        .get_experiment(&ExperimentId("0".into()))
        .await
        .unwrap();
    assert_eq!(default.name, "Default");
    assert_eq!(default.artifact_location, "mlflow-artifacts:/0");
    assert_eq!(default.lifecycle_stage, LifecycleStage::Active);
}

pub(crate) async fn experiments_lifecycle(store: &Arc<dyn Store>) {
    let name = unique("exp");
    let tags = [Tag {
        key: "team".into(),
        value: "forecast".into(),
    }];
    let id = store.create_experiment(&name, None, &tags).await.unwrap();
    let experiment = store.get_experiment_by_name(&name).await.unwrap();
    assert_eq!(experiment.experiment_id, id);
    assert_eq!(
        experiment.artifact_location,
        format!("mlflow-artifacts:/{id}")
    );
    assert_eq!(experiment.tags, tags);
    assert!(matches!(
        store.create_experiment(&name, None, &[]).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert!(matches!(
        store.get_experiment(&ExperimentId("999999".into())).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.get_experiment_by_name(&unique("nope")).await,
        Err(StoreError::NotFound(_))
    ));

    let run = new_run(store, &id, "r").await;
    store.delete_experiment(&id).await.unwrap();
    assert_eq!(
        store.get_run(&run).await.unwrap().info.lifecycle_stage,
        LifecycleStage::Deleted
    );
    assert!(matches!(
        store.create_experiment(&name, None, &[]).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert!(matches!(
        store
            .create_run(&CreateRun {
                experiment_id: Some(id.clone()),
                ..Default::default()
            })
            .await,
        Err(StoreError::InvalidParameter(_))
    ));
    assert!(matches!(
        store.delete_experiment(&id).await,
        Err(StoreError::NotFound(_))
    ));
    store.restore_experiment(&id).await.unwrap();
    assert_eq!(
        store.get_run(&run).await.unwrap().info.lifecycle_stage,
        LifecycleStage::Active
    );
    assert!(matches!(
        store.restore_experiment(&id).await,
        Err(StoreError::NotFound(_))
    ));

    let renamed = unique("renamed");
    store.rename_experiment(&id, &renamed).await.unwrap();
    assert_eq!(store.get_experiment(&id).await.unwrap().name, renamed);

    let prefix = unique("page");
    for i in 0..3 {
        store
            .create_experiment(&format!("{prefix}-{i}"), None, &[])
            .await
            .unwrap();
    }
    let mut request = SearchExperiments {
        filter: format!("name LIKE '{prefix}%'"),
        order_by: vec!["name DESC".into()],
        max_results: Some(2),
        ..Default::default()
    };
    let first = store.search_experiments(&request).await.unwrap();
    assert_eq!(
        first
            .items
            .iter()
            .map(|e| e.name.clone())
            .collect::<Vec<_>>(),
        [format!("{prefix}-2"), format!("{prefix}-1")]
    );
    request.page_token = first.next_page_token.clone();
    assert!(request.page_token.is_some());
    let second = store.search_experiments(&request).await.unwrap();
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.next_page_token, None);
}

pub(crate) async fn runs_params_metrics_tags(store: &Arc<dyn Store>) {
    let exp = store
        .create_experiment(&unique("runs"), None, &[])
        .await
        .unwrap();
    let created = store
        .create_run(&CreateRun {
            experiment_id: Some(exp.clone()),
            tags: vec![Tag {
                key: "mlflow.user".into(),
                value: "me".into(),
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    let id = created.info.run_id.clone();
    assert_eq!(id.0.len(), 32);
    assert!(id.0.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(created.info.status, RunStatus::Running);
    assert_eq!(
        created.info.artifact_uri,
        format!("mlflow-artifacts:/{exp}/{id}/artifacts")
    );
    assert_eq!(
        created.info.run_name.split('-').count(),
        3,
        "generated name"
    );
    assert!(
        created
            .data
            .tags
            .iter()
            .any(|t| t.key == "mlflow.runName" && t.value == created.info.run_name)
    );

    store
        .log_param(
            &id,
            &Param {
                key: "lr".into(),
                value: "0.01".into(),
            },
        )
        .await
        .unwrap();
    store
        .log_param(
            &id,
            &Param {
                key: "lr".into(),
                value: "0.01".into(),
            },
        )
        .await
        .unwrap();
    let changed = store
        .log_param(
            &id,
            &Param {
                key: "lr".into(),
                value: "0.02".into(),
            },
        )
        .await;
    match changed {
        Err(StoreError::InvalidParameter(m)) => {
            assert!(m.starts_with("Changing param values is not allowed"), "{m}")
        }
        other => panic!("changing a param gave {other:?}"),
    }
    store
        .log_batch(
            &id,
            &[
                metric("loss", 0.5, 10, 1),
                metric("loss", 0.4, 20, 2),
                metric("loss", 0.9, 5, 0),
                metric("loss", 0.9, 5, 0),
            ],
            &[Param {
                key: "long".into(),
                value: "x".repeat(7000),
            }],
            &[Tag {
                key: "t".into(),
                value: "y".repeat(9000),
            }],
        )
        .await
        .unwrap();
    store
        .log_metric(&id, &metric("odd", f64::NAN, 1, 0))
        .await
        .unwrap();
    store
        .log_metric(&id, &metric("big", f64::INFINITY, 1, 0))
        .await
        .unwrap();
    let run = store.get_run(&id).await.unwrap();
    let loss = run.data.metrics.iter().find(|m| m.key == "loss").unwrap();
    assert_eq!(
        (loss.value, loss.step),
        (0.4, 2),
        "latest = greatest (step, timestamp, value)"
    );
    assert!(
        run.data
            .metrics
            .iter()
            .find(|m| m.key == "odd")
            .unwrap()
            .value
            .is_nan()
    );
    assert_eq!(
        run.data
            .metrics
            .iter()
            .find(|m| m.key == "big")
            .unwrap()
            .value,
        f64::MAX
    );
    assert_eq!(
        run.data
            .params
            .iter()
            .find(|p| p.key == "long")
            .unwrap()
            .value
            .len(),
        6000
    );
    assert_eq!(
        run.data
            .tags
            .iter()
            .find(|t| t.key == "t")
            .unwrap()
            .value
            .len(),
        8000
    );

    let history = store
        .get_metric_history(&id, "loss", None, None)
        .await
        .unwrap();
    assert_eq!(
        history
            .items
            .iter()
            .map(|m| m.timestamp)
            .collect::<Vec<_>>(),
        [5, 10, 20],
        "dedup + order"
    );
    let page = store
        .get_metric_history(&id, "loss", Some(2), None)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    let rest = store
        .get_metric_history(&id, "loss", Some(2), page.next_page_token.as_deref())
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.next_page_token, None);

    assert!(matches!(
        store.delete_tag(&id, "absent").await,
        Err(StoreError::NotFound(_))
    ));
    store.delete_tag(&id, "t").await.unwrap();
    assert!(
        !store
            .get_run(&id)
            .await
            .unwrap()
            .data
            .tags
            .iter()
            .any(|t| t.key == "t")
    );

    let info = store
        .update_run(
            &id,
            &UpdateRun {
                status: Some(RunStatus::Finished),
                end_time: Some(99),
                run_name: Some("renamed".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (info.status, info.end_time, info.run_name.as_str()),
        (RunStatus::Finished, Some(99), "renamed")
    );
    let tags = store.get_run(&id).await.unwrap().data.tags;
    assert!(
        tags.iter()
            .any(|t| t.key == "mlflow.runName" && t.value == "renamed")
    );
    assert!(matches!(
        store.get_run(&RunId("f".repeat(32))).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .log_batch(&id, &[metric("bad*name", 1.0, 0, 0)], &[], &[])
            .await,
        Err(StoreError::InvalidParameter(_))
    ));
    // A failed batch writes nothing.
    let partial = store
        .log_batch(
            &id,
            &[metric("partial", 1.0, 0, 0)],
            &[Param {
                key: "lr".into(),
                value: "9".into(),
            }],
            &[],
        )
        .await;
    assert!(partial.is_err());
    assert!(
        !store
            .get_run(&id)
            .await
            .unwrap()
            .data
            .metrics
            .iter()
            .any(|m| m.key == "partial")
    );
}

pub(crate) async fn search_runs_filters_order_and_pages(store: &Arc<dyn Store>) {
    let exp = store
        .create_experiment(&unique("search"), None, &[])
        .await
        .unwrap();
    let mut ids = Vec::new();
    for (i, (loss, status)) in [
        (0.5, RunStatus::Finished),
        (0.8, RunStatus::Finished),
        (1.2, RunStatus::Finished),
        (0.3, RunStatus::Failed),
    ]
    .into_iter()
    .enumerate()
    {
        let id = store
            .create_run(&CreateRun {
                experiment_id: Some(exp.clone()),
                run_name: Some(format!("s{i}")),
                start_time: Some(1000 + i as i64),
                ..Default::default()
            })
            .await
            .unwrap()
            .info
            .run_id;
        store
            .log_batch(
                &id,
                &[metric("loss", loss, 0, 0)],
                &[Param {
                    key: "i".into(),
                    value: i.to_string(),
                }],
                &[],
            )
            .await
            .unwrap();
        store
            .update_run(
                &id,
                &UpdateRun {
                    status: Some(status),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        ids.push(id);
    }
    let search = |filter: &str, order: &[&str]| SearchRuns {
        experiment_ids: vec![exp.clone()],
        filter: filter.into(),
        order_by: order.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    let found = store
        .search_runs(&search(
            "metrics.loss < 0.9 and params.i != '1' and attributes.status = 'FINISHED' and tags.mlflow.runName LIKE 's%'",
            &["metrics.loss ASC", "attributes.start_time DESC"],
        ))
        .await
        .unwrap();
    assert_eq!(
        found
            .items
            .iter()
            .map(|r| r.info.run_id.clone())
            .collect::<Vec<_>>(),
        [ids[0].clone()]
    );
    let all = store.search_runs(&search("", &[])).await.unwrap();
    assert_eq!(
        all.items
            .iter()
            .map(|r| r.info.run_id.clone())
            .collect::<Vec<_>>(),
        ids.iter().rev().cloned().collect::<Vec<_>>(),
        "default order start_time DESC"
    );
    let by_loss = store
        .search_runs(&search("", &["metrics.loss DESC"]))
        .await
        .unwrap();
    let losses: Vec<f64> = by_loss
        .items
        .iter()
        .map(|r| r.data.metrics[0].value)
        .collect();
    assert_eq!(losses, [1.2, 0.8, 0.5, 0.3]);
    let ilike = store
        .search_runs(&search("attributes.run_name ILIKE 'S1'", &[]))
        .await
        .unwrap();
    assert_eq!(ilike.items.len(), 1);
    let like = store
        .search_runs(&search("attributes.run_name LIKE 'S1'", &[]))
        .await
        .unwrap();
    assert_eq!(like.items.len(), 0, "LIKE is case-sensitive");
    let in_list = format!("run_id IN ('{}', '{}')", ids[1], ids[2]);
    assert_eq!(
        store
            .search_runs(&search(&in_list, &[]))
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    assert_eq!(
        store
            .search_runs(&search("params.nope IS NULL", &[]))
            .await
            .unwrap()
            .items
            .len(),
        4
    );
    for bad in [
        "metrics.a < 1 OR metrics.b > 2",
        "metrics.m = 'x'",
        "params.a > 1",
        "status IN ('A')",
    ] {
        assert!(
            matches!(
                store.search_runs(&search(bad, &[])).await,
                Err(StoreError::InvalidParameter(_))
            ),
            "{bad}"
        );
    }
    let mut paged = SearchRuns {
        max_results: Some(2),
        ..search("", &[])
    };
    let first = store.search_runs(&paged).await.unwrap();
    assert_eq!(first.items.len(), 2);
    paged.page_token = first.next_page_token;
    let second = store.search_runs(&paged).await.unwrap();
    assert_eq!(second.items.len(), 2);
    assert_eq!(second.next_page_token, None);
    paged.page_token = Some("garbage".into());
    assert!(matches!(
        store.search_runs(&paged).await,
        Err(StoreError::InvalidParameter(_))
    ));
    store.delete_run(&ids[3]).await.unwrap();
    let deleted = store
        .search_runs(&SearchRuns {
            run_view_type: ViewType::DeletedOnly,
            ..search("", &[])
        })
        .await
        .unwrap();
    assert_eq!(deleted.items.len(), 1);
    let everything = store
        .search_runs(&SearchRuns {
            run_view_type: ViewType::All,
            ..search("", &[])
        })
        .await
        .unwrap();
    assert_eq!(everything.items.len(), 4);
    assert!(
        store
            .search_runs(&SearchRuns::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

pub(crate) async fn deleted_runs_refuse_writes(store: &Arc<dyn Store>) {
    let exp = store
        .create_experiment(&unique("deleted"), None, &[])
        .await
        .unwrap();
    let id = new_run(store, &exp, "d").await;
    store.delete_run(&id).await.unwrap();
    match store
        .log_param(
            &id,
            &Param {
                key: "a".into(),
                value: "1".into(),
            },
        )
        .await
    {
        Err(StoreError::InvalidParameter(m)) => {
            assert!(m.contains("must be in the 'active' state"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        store.get_run(&id).await.unwrap().info.lifecycle_stage,
        LifecycleStage::Deleted
    );
    store.restore_run(&id).await.unwrap();
    store
        .log_param(
            &id,
            &Param {
                key: "a".into(),
                value: "1".into(),
            },
        )
        .await
        .unwrap();
}

pub(crate) async fn concurrent_writers_lose_nothing(store: &Arc<dyn Store>) {
    let exp = store
        .create_experiment(&unique("concurrent"), None, &[])
        .await
        .unwrap();
    let id = new_run(store, &exp, "c").await;
    let mut tasks = Vec::new();
    for writer in 0..8i64 {
        let store = store.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..25i64 {
                let m = Metric {
                    key: "m".into(),
                    value: (writer * 100 + i) as f64,
                    timestamp: i,
                    step: writer,
                };
                store.log_metric(&id, &m).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let history = store
        .get_metric_history(&id, "m", None, None)
        .await
        .unwrap();
    assert_eq!(history.items.len(), 200, "every accepted point is kept");
    let latest = store.get_run(&id).await.unwrap().data.metrics;
    assert_eq!((latest[0].step, latest[0].timestamp), (7, 24));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_honours_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite://{}/mlflow.db", dir.path().display());
    let store = modelops_tracking::open(&uri).await.unwrap();
    run_contract(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sqlite_stores_on_one_file_write_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite://{}/shared.db", dir.path().display());
    let (a, b) = tokio::join!(modelops_tracking::open(&uri), modelops_tracking::open(&uri));
    let (a, b) = (a.unwrap(), b.unwrap());
    let exp = a.create_experiment("shared", None, &[]).await.unwrap();
    let id = new_run(&a, &exp, "x").await;
    let write = |store: Arc<dyn Store>, offset: i64| {
        let id = id.clone();
        tokio::spawn(async move {
            for i in 0..50 {
                store
                    .log_metric(&id, &metric("m", 1.0, offset + i, 0))
                    .await
                    .unwrap();
            }
        })
    };
    let (x, y) = tokio::join!(write(a.clone(), 0), write(b.clone(), 1000));
    x.unwrap();
    y.unwrap();
    assert_eq!(
        b.get_metric_history(&id, "m", None, None)
            .await
            .unwrap()
            .items
            .len(),
        100
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_store_honours_the_contract() {
    let Ok(url) = std::env::var("MODELOPS_TEST_POSTGRES_URL") else {
        if std::env::var("MODELOPS_REQUIRE_EXTERNAL").as_deref() == Ok("1") {
            panic!(
                "MODELOPS_TEST_POSTGRES_URL is unset but MODELOPS_REQUIRE_EXTERNAL=1; run scripts/start-postgres.sh"
            );
        }
        eprintln!(
            "skipping the PostgreSQL contract: set MODELOPS_TEST_POSTGRES_URL (scripts/start-postgres.sh prints it)"
        );
        return;
    };
    let store = modelops_tracking::open(&url).await.unwrap();
    run_contract(store).await;
}
