//! The registry contract: registered models, versions, stages, aliases, tags, searches, the lifecycle rules
//! (promote, rollback, audit) and bad input, on SQLite always and on PostgreSQL when
//! `MODELOPS_TEST_POSTGRES_URL` is set (required when `MODELOPS_REQUIRE_EXTERNAL=1`).

use modelops_tracking::registry::{
    AuditContext, CreateModelVersion, PromoteRequest, SearchRegistry, Stage, Transition,
    TransitionSource, promote, register_version, resolve_model_uri, rollback,
};
use modelops_tracking::{CreateRun, RunId, Store, StoreError, Tag};
use std::sync::Arc;

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

fn tag(key: &str, value: &str) -> Tag {
    Tag {
        key: key.into(),
        value: value.into(),
    }
}

async fn new_run(store: &Arc<dyn Store>) -> RunId {
    store
        .create_run(&CreateRun::default())
        .await
        .unwrap()
        .info
        .run_id
}

fn promotion(name: &str, version: i64, stage: Stage, force: bool) -> PromoteRequest {
    PromoteRequest {
        name: name.into(),
        version,
        stage,
        approver: "alice".into(),
        reason: "test".into(),
        force,
        source: TransitionSource::Cli,
    }
}

/// Every registry check, in sequence, on one store.
pub async fn run_registry_contract(store: Arc<dyn Store>) {
    models_versions_tags_and_aliases(&store).await;
    rest_transitions_keep_mlflow_semantics(&store).await;
    lifecycle_promote_rollback_and_audit(&store).await;
    searches_filter_order_and_page(&store).await;
    bad_input_is_refused(&store).await;
    concurrent_promotions_leave_one_production(&store).await;
    model_uris_resolve(&store).await;
}

pub(crate) async fn models_versions_tags_and_aliases(store: &Arc<dyn Store>) {
    let name = unique("m");
    let model = store
        .create_registered_model(&name, &[tag("team", "fc")], Some("desc"))
        .await
        .unwrap();
    assert_eq!(
        (model.description.as_str(), model.tags.clone()),
        ("desc", vec![tag("team", "fc")])
    );
    assert!(matches!(
        store.create_registered_model(&name, &[], None).await,
        Err(StoreError::AlreadyExists(_))
    ));

    let run = new_run(store).await;
    let v1 = register_version(
        &**store,
        &name,
        &run,
        "model",
        &[tag("validation.rmspe", "0.09")],
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        (v1.version, v1.current_stage, v1.status.as_str()),
        (1, Stage::None, "READY")
    );
    assert!(
        v1.source.ends_with(&format!("{run}/artifacts/model")),
        "{}",
        v1.source
    );
    assert_eq!(v1.run_id.as_deref(), Some(run.0.as_str()));
    let v2 = register_version(&**store, &name, &run, "model", &[], None)
        .await
        .unwrap();
    assert_eq!(v2.version, 2);

    // Deleting a version never frees its number, and takes its aliases along.
    store
        .set_registered_model_alias(&name, "champion", 2)
        .await
        .unwrap();
    store.delete_model_version(&name, 2).await.unwrap();
    assert!(matches!(
        store.get_model_version(&name, 2).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(
        store
            .get_registered_model(&name)
            .await
            .unwrap()
            .aliases
            .is_empty()
    );
    let v3 = register_version(&**store, &name, &run, "model", &[], None)
        .await
        .unwrap();
    assert_eq!(v3.version, 3);

    // Aliases move (upsert), a version may carry several, `latest` is the highest live version.
    store
        .set_registered_model_alias(&name, "champion", 1)
        .await
        .unwrap();
    store
        .set_registered_model_alias(&name, "champion", 3)
        .await
        .unwrap();
    store
        .set_registered_model_alias(&name, "stable", 3)
        .await
        .unwrap();
    let by_alias = store
        .get_model_version_by_alias(&name, "champion")
        .await
        .unwrap();
    assert_eq!(
        (by_alias.version, by_alias.aliases.clone()),
        (3, vec!["champion".to_string(), "stable".to_string()])
    );
    assert_eq!(
        store
            .get_model_version_by_alias(&name, "LATEST")
            .await
            .unwrap()
            .version,
        3
    );
    store
        .delete_registered_model_alias(&name, "stable")
        .await
        .unwrap();
    store
        .delete_registered_model_alias(&name, "never-set")
        .await
        .unwrap();
    assert!(matches!(
        store.get_model_version_by_alias(&name, "stable").await,
        Err(StoreError::InvalidParameter(_))
    ));

    // Tags and descriptions.
    store
        .set_model_version_tag(&name, 1, &tag("k", "v"))
        .await
        .unwrap();
    assert!(
        store
            .get_model_version(&name, 1)
            .await
            .unwrap()
            .tags
            .contains(&tag("k", "v"))
    );
    store.delete_model_version_tag(&name, 1, "k").await.unwrap();
    store
        .delete_registered_model_tag(&name, "team")
        .await
        .unwrap();
    store
        .delete_registered_model_tag(&name, "team")
        .await
        .unwrap();
    assert!(
        store
            .get_registered_model(&name)
            .await
            .unwrap()
            .tags
            .is_empty()
    );
    let updated = store
        .update_model_version(&name, 1, "better")
        .await
        .unwrap();
    assert_eq!(updated.description, "better");
    assert_eq!(
        store
            .update_registered_model(&name, "new")
            .await
            .unwrap()
            .description,
        "new"
    );
    assert_eq!(
        store
            .get_model_version_download_uri(&name, 1)
            .await
            .unwrap(),
        v1.source
    );

    // Rename carries versions and aliases; delete is hard and the name numbers from 1 again.
    let renamed = unique("renamed");
    let model = store
        .rename_registered_model(&name, &renamed)
        .await
        .unwrap();
    assert_eq!(model.aliases.len(), 1);
    assert_eq!(
        store.get_model_version(&renamed, 3).await.unwrap().name,
        renamed
    );
    assert!(matches!(
        store.get_registered_model(&name).await,
        Err(StoreError::NotFound(_))
    ));
    store.delete_registered_model(&renamed).await.unwrap();
    assert!(matches!(
        store.get_registered_model(&renamed).await,
        Err(StoreError::NotFound(_))
    ));
    store
        .create_registered_model(&renamed, &[], None)
        .await
        .unwrap();
    assert_eq!(
        register_version(&**store, &renamed, &run, "model", &[], None)
            .await
            .unwrap()
            .version,
        1
    );
}

async fn rest_transitions_keep_mlflow_semantics(store: &Arc<dyn Store>) {
    let name = unique("rest");
    let run = new_run(store).await;
    for _ in 0..3 {
        register_version(&**store, &name, &run, "model", &[], None)
            .await
            .unwrap();
    }
    let move_to = |version: i64, stage: Stage, archive: bool| Transition {
        name: name.clone(),
        version,
        stage,
        archive_existing_versions: archive,
        require_current_stage: None,
        audit: AuditContext::api(""),
    };
    // Every move is allowed (None → Production too); without the flag several versions share a stage.
    store
        .transition_model_version_stage(&move_to(1, Stage::Production, false))
        .await
        .unwrap();
    store
        .transition_model_version_stage(&move_to(2, Stage::Production, false))
        .await
        .unwrap();
    assert_eq!(
        store
            .get_model_version(&name, 1)
            .await
            .unwrap()
            .current_stage,
        Stage::Production
    );
    let latest = store
        .get_latest_versions(&name, &[Stage::Production])
        .await
        .unwrap();
    assert_eq!(
        latest.iter().map(|v| v.version).collect::<Vec<_>>(),
        vec![2]
    );
    // With the flag, the others are archived in the same call.
    store
        .transition_model_version_stage(&move_to(3, Stage::Production, true))
        .await
        .unwrap();
    for v in [1, 2] {
        assert_eq!(
            store
                .get_model_version(&name, v)
                .await
                .unwrap()
                .current_stage,
            Stage::Archived
        );
    }
    assert!(matches!(
        store
            .transition_model_version_stage(&move_to(1, Stage::Archived, true))
            .await,
        Err(StoreError::InvalidParameter(_))
    ));
    assert!(
        store
            .get_latest_versions(&name, &[Stage::None])
            .await
            .unwrap()
            .is_empty()
    );
    let trail = store.audit_trail(&name, None).await.unwrap();
    assert_eq!(trail.len(), 5, "{trail:#?}");
    assert!(trail.iter().all(|e| e.source == TransitionSource::Api));
}

async fn lifecycle_promote_rollback_and_audit(store: &Arc<dyn Store>) {
    let name = unique("life");
    let run = new_run(store).await;
    for i in 1..=3 {
        let tags = [
            tag("validation.rmspe", &format!("0.0{i}")),
            tag("validation.mae", "900"),
        ];
        register_version(&**store, &name, &run, "model", &tags, None)
            .await
            .unwrap();
    }
    // Production straight from None is refused without force; Staging first.
    let refused = promote(&**store, &promotion(&name, 1, Stage::Production, false)).await;
    assert!(
        matches!(refused, Err(StoreError::InvalidParameter(ref m)) if m.contains("Staging")),
        "{refused:?}"
    );
    let mut no_approver = promotion(&name, 1, Stage::Production, true);
    no_approver.approver = " ".into();
    assert!(matches!(
        promote(&**store, &no_approver).await,
        Err(StoreError::InvalidParameter(_))
    ));

    promote(&**store, &promotion(&name, 1, Stage::Staging, false))
        .await
        .unwrap();
    promote(&**store, &promotion(&name, 1, Stage::Production, false))
        .await
        .unwrap();
    promote(&**store, &promotion(&name, 2, Stage::Staging, false))
        .await
        .unwrap();
    promote(&**store, &promotion(&name, 3, Stage::Staging, false))
        .await
        .unwrap();
    // Staging holds one version at a time.
    assert_eq!(
        store
            .get_model_version(&name, 2)
            .await
            .unwrap()
            .current_stage,
        Stage::Archived
    );
    promote(&**store, &promotion(&name, 3, Stage::Production, false))
        .await
        .unwrap();
    assert_eq!(
        store
            .get_model_version(&name, 1)
            .await
            .unwrap()
            .current_stage,
        Stage::Archived
    );

    // Rollback re-promotes the most recent archived former Production version (1), archiving 3.
    let back = rollback(
        &**store,
        &name,
        "bob",
        "v3 regressed",
        TransitionSource::Cli,
    )
    .await
    .unwrap();
    assert_eq!((back.version, back.current_stage), (1, Stage::Production));
    assert_eq!(
        store
            .get_model_version(&name, 3)
            .await
            .unwrap()
            .current_stage,
        Stage::Archived
    );
    let trail = store.audit_trail(&name, None).await.unwrap();
    let last = trail.last().unwrap();
    assert_eq!(
        (last.action.as_str(), last.actor.as_str(), last.version),
        ("rollback", "bob", 1)
    );
    assert_eq!(
        (last.from_stage, last.to_stage),
        (Stage::Archived, Stage::Production)
    );
    assert!(
        last.metrics.contains(&tag("rmspe", "0.01")),
        "{:?}",
        last.metrics
    );
    assert!(trail.windows(2).all(|w| w[0].id < w[1].id));
    assert!(
        trail
            .iter()
            .any(|e| e.action == "archive" && e.version == 3 && e.from_stage == Stage::Production)
    );
    let only_two = store.audit_trail(&name, Some(2)).await.unwrap();
    assert!(!only_two.is_empty() && only_two.iter().all(|e| e.version == 2));

    // A deleted version cannot be promoted; rollback skips deleted candidates.
    store.delete_model_version(&name, 3).await.unwrap();
    let deleted = promote(&**store, &promotion(&name, 3, Stage::Staging, false)).await;
    assert!(
        matches!(deleted, Err(StoreError::NotFound(_))),
        "{deleted:?}"
    );
    let none_left = rollback(&**store, &name, "bob", "again", TransitionSource::Cli).await;
    assert!(
        matches!(none_left, Err(StoreError::InvalidParameter(_))),
        "{none_left:?}"
    );
}

pub(crate) async fn searches_filter_order_and_page(store: &Arc<dyn Store>) {
    let prefix = unique("s");
    let run = new_run(store).await;
    for i in 0..3 {
        let name = format!("{prefix}-{i}");
        store
            .create_registered_model(&name, &[tag("t", &i.to_string())], None)
            .await
            .unwrap();
        register_version(&**store, &name, &run, "model", &[tag("t", "1")], None)
            .await
            .unwrap();
        register_version(&**store, &name, &run, "model", &[], None)
            .await
            .unwrap();
    }
    let prompt = format!("{prefix}-prompt");
    store
        .create_registered_model(&prompt, &[tag("mlflow.prompt.is_prompt", "true")], None)
        .await
        .unwrap();
    let search = |filter: String, max: Option<i64>, token: Option<String>| SearchRegistry {
        filter,
        max_results: max,
        order_by: vec!["name DESC".into()],
        page_token: token,
    };
    let client_clause =
        format!("name LIKE '{prefix}%' AND tag.`mlflow.prompt.is_prompt` != 'true'");
    let page = store
        .search_registered_models(&search(client_clause.clone(), Some(2), None))
        .await
        .unwrap();
    let names: Vec<String> = page.items.iter().map(|m| m.name.clone()).collect();
    assert_eq!(names, vec![format!("{prefix}-2"), format!("{prefix}-1")]);
    let rest = store
        .search_registered_models(&search(client_clause, Some(2), page.next_page_token))
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert!(rest.next_page_token.is_none());
    let prompts = store
        .search_registered_models(&search(
            format!("name LIKE '{prefix}%' AND tags.`mlflow.prompt.is_prompt` = 'true'"),
            None,
            None,
        ))
        .await
        .unwrap();
    assert_eq!(prompts.items.len(), 1);

    let versions = store
        .search_model_versions(&SearchRegistry {
            filter: format!("name = '{prefix}-1' and version_number > 1"),
            order_by: vec!["version_number ASC".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        versions.items.iter().map(|v| v.version).collect::<Vec<_>>(),
        vec![2]
    );
    let tagged = store
        .search_model_versions(&SearchRegistry {
            filter: format!("name LIKE '{prefix}%' AND tags.t = '1'"),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(tagged.items.len(), 3);
    let by_run = store
        .search_model_versions(&SearchRegistry {
            filter: format!("run_id = '{run}'"),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_run.items.len(), 6);
    assert!(matches!(
        store
            .search_model_versions(&SearchRegistry {
                filter: "current_stage = 'None'".into(),
                ..Default::default()
            })
            .await,
        Err(StoreError::InvalidParameter(_))
    ));
    assert!(matches!(
        store
            .search_registered_models(&SearchRegistry {
                max_results: Some(1001),
                ..Default::default()
            })
            .await,
        Err(StoreError::InvalidParameter(_))
    ));
}

async fn bad_input_is_refused(store: &Arc<dyn Store>) {
    let name = unique("bad");
    let run = new_run(store).await;
    assert!(matches!(
        store.create_registered_model("bad/name", &[], None).await,
        Err(StoreError::InvalidParameter(_))
    ));
    assert!(matches!(
        store.get_registered_model(&name).await,
        Err(StoreError::NotFound(_))
    ));
    let request = CreateModelVersion {
        name: name.clone(),
        source: format!("runs:/{run}/model"),
        ..Default::default()
    };
    assert!(matches!(
        store.create_model_version(&request).await,
        Err(StoreError::NotFound(_))
    ));
    store
        .create_registered_model(&name, &[], None)
        .await
        .unwrap();
    assert!(matches!(
        store.create_model_version(&request).await,
        Err(StoreError::InvalidParameter(_))
    ));
    let dotted = CreateModelVersion {
        name: name.clone(),
        source: format!("runs:/{run}/../x"),
        run_id: Some(run.0.clone()),
        ..Default::default()
    };
    assert!(matches!(
        store.create_model_version(&dotted).await,
        Err(StoreError::InvalidParameter(_))
    ));
    let ok = CreateModelVersion {
        run_id: Some(run.0.clone()),
        ..request
    };
    assert_eq!(store.create_model_version(&ok).await.unwrap().version, 1);
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
        store.get_model_version_by_alias(&unique("nope"), "a").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(Stage::parse("Prod").is_err());
}

async fn concurrent_promotions_leave_one_production(store: &Arc<dyn Store>) {
    let name = unique("race");
    let run = new_run(store).await;
    let count = 8;
    for _ in 0..count {
        register_version(&**store, &name, &run, "model", &[], None)
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for version in 1..=count {
        let store = store.clone();
        let name = name.clone();
        tasks.push(tokio::spawn(async move {
            promote(&*store, &promotion(&name, version, Stage::Production, true))
                .await
                .unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let versions = store
        .search_model_versions(&SearchRegistry {
            filter: format!("name = '{name}'"),
            ..Default::default()
        })
        .await
        .unwrap();
    let production: Vec<i64> = versions
        .items
        .iter()
        .filter(|v| v.current_stage == Stage::Production)
        .map(|v| v.version)
        .collect();
    assert_eq!(
        production.len(),
        1,
        "exactly one Production version, got {production:?}"
    );
    assert_eq!(
        versions
            .items
            .iter()
            .filter(|v| v.current_stage == Stage::Archived)
            .count(),
        count as usize - 1
    );
}

pub(crate) async fn model_uris_resolve(store: &Arc<dyn Store>) {
    let name = unique("uri");
    let run = new_run(store).await;
    register_version(&**store, &name, &run, "model", &[], None)
        .await
        .unwrap();
    register_version(&**store, &name, &run, "model", &[], None)
        .await
        .unwrap();
    promote(&**store, &promotion(&name, 1, Stage::Staging, false))
        .await
        .unwrap();
    store
        .set_registered_model_alias(&name, "champion", 2)
        .await
        .unwrap();
    let by_version = resolve_model_uri(&**store, &format!("models:/{name}/2"))
        .await
        .unwrap();
    assert_eq!(
        (by_version.version, by_version.run_id.as_deref()),
        (Some(2), Some(run.0.as_str()))
    );
    assert!(
        by_version.artifact_uri.ends_with("/artifacts/model"),
        "{}",
        by_version.artifact_uri
    );
    let by_stage = resolve_model_uri(&**store, &format!("models:/{name}/staging"))
        .await
        .unwrap();
    assert_eq!(
        (by_stage.version, by_stage.stage),
        (Some(1), Some(Stage::Staging))
    );
    assert_eq!(
        resolve_model_uri(&**store, &format!("models:/{name}@champion"))
            .await
            .unwrap()
            .version,
        Some(2)
    );
    assert_eq!(
        resolve_model_uri(&**store, &format!("models:/{name}/latest"))
            .await
            .unwrap()
            .version,
        Some(2)
    );
    assert!(matches!(
        resolve_model_uri(&**store, &format!("models:/{name}/Production")).await,
        Err(StoreError::NotFound(_))
    ));
    let by_run = resolve_model_uri(&**store, &format!("runs:/{run}/model"))
        .await
        .unwrap();
    assert_eq!(by_run.artifact_uri, by_version.artifact_uri);
    let plain = resolve_model_uri(&**store, "/tmp/some/package")
        .await
        .unwrap();
    assert_eq!(
        plain.local_path.as_deref(),
        Some(std::path::Path::new("/tmp/some/package"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_registry_honours_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = modelops_tracking::open(&format!("sqlite://{}/mlflow.db", dir.path().display()))
        .await
        .unwrap();
    run_registry_contract(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_sqlite_stores_promoting_concurrently_leave_one_production() {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite://{}/shared.db", dir.path().display());
    let a = modelops_tracking::open(&uri).await.unwrap();
    let b = modelops_tracking::open(&uri).await.unwrap();
    let run = new_run(&a).await;
    for _ in 0..6 {
        register_version(&*a, "shared", &run, "model", &[], None)
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for version in 1..=6i64 {
        let store = if version % 2 == 0 {
            a.clone()
        } else {
            b.clone()
        };
        tasks.push(tokio::spawn(async move {
            promote(
                &*store,
                &promotion("shared", version, Stage::Production, true),
            )
            .await
            .unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        a.get_latest_versions("shared", &[Stage::Production])
            .await
            .unwrap()
            .len(),
        1
    );
    let request = SearchRegistry {
        filter: "name = 'shared'".into(),
        ..Default::default()
    };
    let production = a
        .search_model_versions(&request)
        .await
        .unwrap()
        .items
        .iter()
        .filter(|v| v.current_stage == Stage::Production)
        .count();
    assert_eq!(production, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_registry_honours_the_contract() {
    let Ok(url) = std::env::var("MODELOPS_TEST_POSTGRES_URL") else {
        if std::env::var("MODELOPS_REQUIRE_EXTERNAL").as_deref() == Ok("1") {
            panic!(
                "MODELOPS_TEST_POSTGRES_URL is unset but MODELOPS_REQUIRE_EXTERNAL=1; run scripts/start-postgres.sh"
            );
        }
        eprintln!("skipping the PostgreSQL registry contract: set MODELOPS_TEST_POSTGRES_URL");
        return;
    };
    let store = modelops_tracking::open(&url).await.unwrap();
    run_registry_contract(store).await;
}
