//! Hot reload under load: a real socket on 127.0.0.1, concurrent clients, a new Production version promoted in the
//! registry mid-run. Zero failed requests; responses and /health switch to the new version; every row is logged.

use std::path::Path;
use std::time::Duration;

use modelops_serve::{ModelChoice, ModelKey, PredictionLog, ServeConfig};
use modelops_tracking::Store;
use modelops_tracking::registry::{
    CreateModelVersion, PromoteRequest, Stage, TransitionSource, promote,
};
use serde_json::{Value, json};

use crate::fixture::{fixture, row};

const MODEL: &str = "rossmann-ensemble";
const CLIENTS: usize = 4;
/// Upper bound of requests per client, so the test always ends.
const MAX_REQUESTS_PER_CLIENT: usize = 5000;
/// Requests each client must see answered by the new version before it stops.
const REQUESTS_ON_NEW_VERSION: usize = 25;

async fn register_in_production(store: &dyn Store, package: &Path) -> i64 {
    let version = store
        .create_model_version(&CreateModelVersion {
            name: MODEL.into(),
            source: package.display().to_string(),
            run_id: None,
            tags: vec![],
            run_link: None,
            description: None,
            user_id: None,
        })
        .await
        .unwrap();
    promote(
        store,
        &PromoteRequest {
            name: MODEL.into(),
            version: version.version,
            stage: Stage::Production,
            approver: "test".into(),
            reason: "hot reload test".into(),
            force: true,
            source: TransitionSource::Cli,
        },
    )
    .await
    .unwrap();
    version.version
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_swaps_under_load_without_failed_requests() {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite://{}", dir.path().join("mlflow.db").display());
    let store = modelops_tracking::open(&uri).await.unwrap();
    store
        .create_registered_model(MODEL, &[], None)
        .await
        .unwrap();
    assert_eq!(
        register_in_production(&*store, &fixture().package_a).await,
        1
    );

    let config = ServeConfig {
        model: ModelChoice::Registry {
            tracking_uri: uri.clone(),
            model_name: MODEL.into(),
            key: ModelKey::Stage(Stage::Production),
            artifact_root: dir.path().join("mlartifacts").display().to_string(),
            cache_dir: dir.path().join("cache"),
        },
        log_uri: Some(uri.clone()),
        ..ServeConfig::default()
    };
    let state = modelops_serve::start(&config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(modelops_serve::serve_on(
        listener,
        state.clone(),
        Duration::from_millis(100),
        async {
            let _ = stopped.await;
        },
    ));

    let origin = fixture().origin;
    let body = json!({"inputs": [row(1, origin, 1, 1), row(2, origin + 1, 1, 0), row(3, origin + 2, 1, 0)],
                      "model_stage": "Production"});
    let client = reqwest::Client::new();
    let url = format!("http://{address}/predict");
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        clients.push(tokio::spawn(async move {
            let mut seen: Vec<(u16, String, Vec<f64>)> = Vec::new();
            let mut on_new = 0;
            while seen.len() < MAX_REQUESTS_PER_CLIENT && on_new < REQUESTS_ON_NEW_VERSION {
                let response = client.post(&url).json(&body).send().await.unwrap();
                let status = response.status().as_u16();
                let reply: Value = response.json().await.unwrap();
                let version = reply["model_version"].as_str().unwrap_or("?").to_string();
                if version == "2" {
                    on_new += 1;
                }
                let predictions = reply["predictions"]
                    .as_array()
                    .map_or(vec![], |p| p.iter().map(|v| v.as_f64().unwrap()).collect());
                seen.push((status, version, predictions));
            }
            seen
        }));
    }
    // Let traffic run on version 1, then promote version 2 while it continues.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        register_in_production(&*store, &fixture().package_b).await,
        2
    );

    let mut all = Vec::new();
    for c in clients {
        all.extend(c.await.unwrap());
    }
    let failed: Vec<_> = all.iter().filter(|(status, _, _)| *status != 200).collect();
    assert!(
        failed.is_empty(),
        "{} of {} requests failed: {:?}",
        failed.len(),
        all.len(),
        &failed[..failed.len().min(3)]
    );
    let on_v1: Vec<_> = all.iter().filter(|(_, v, _)| v == "1").collect();
    let on_v2: Vec<_> = all.iter().filter(|(_, v, _)| v == "2").collect();
    assert!(
        !on_v1.is_empty() && on_v2.len() >= CLIENTS * REQUESTS_ON_NEW_VERSION,
        "v1 {} v2 {}",
        on_v1.len(),
        on_v2.len()
    );
    assert_eq!(
        on_v1.len() + on_v2.len(),
        all.len(),
        "only versions 1 and 2 answer"
    );
    // Each version answers with its own model, always the same numbers.
    assert!(on_v1.iter().all(|(_, _, p)| *p == on_v1[0].2));
    assert!(on_v2.iter().all(|(_, _, p)| *p == on_v2[0].2));
    assert_ne!(
        on_v1[0].2, on_v2[0].2,
        "the two packages predict differently"
    );

    let health: Value = client
        .get(format!("http://{address}/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["model_version"], "2", "{health}");
    let info: Value = client
        .get(format!("http://{address}/model/info"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["production_version"], "2", "{info}");
    assert!(info["staging_version"].is_null(), "{info}");

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    // Shutdown drained the log: one row per predicted row, labelled with the version that made it.
    let logged = PredictionLog::open(&uri)
        .await
        .unwrap()
        .predictions_since(None)
        .await
        .unwrap();
    assert_eq!(logged.len(), all.len() * 3);
    assert_eq!(
        logged
            .iter()
            .filter(|r| r.label.model_version == "2")
            .count(),
        on_v2.len() * 3
    );
    assert!(
        logged
            .iter()
            .all(|r| r.label.source == "serve" && r.label.model_stage == "Production")
    );
}

#[tokio::test]
async fn an_empty_stage_is_a_clear_start_up_error() {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite://{}", dir.path().join("mlflow.db").display());
    let store = modelops_tracking::open(&uri).await.unwrap();
    store
        .create_registered_model(MODEL, &[], None)
        .await
        .unwrap();
    let config = ServeConfig {
        model: ModelChoice::Registry {
            tracking_uri: uri,
            model_name: MODEL.into(),
            key: ModelKey::Stage(Stage::Production),
            artifact_root: dir.path().display().to_string(),
            cache_dir: dir.path().join("cache"),
        },
        ..ServeConfig::default()
    };
    let err = modelops_serve::start(&config)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no version in stage Production"), "{err}");
    let missing = ServeConfig {
        model: ModelChoice::Path(dir.path().join("nope")),
        ..ServeConfig::default()
    };
    let err = modelops_serve::start(&missing)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("nope"), "{err}");
}
