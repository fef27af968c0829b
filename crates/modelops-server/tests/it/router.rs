//! Bad input never yields a 5xx: the router driven with `tower::ServiceExt::oneshot`, no socket.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use modelops_server::router;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    content_type: Option<&str>,
    body: &str,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, value)
}

async fn post(app: &axum::Router, path: &str, body: Value) -> (StatusCode, Value) {
    call(
        app,
        "POST",
        &format!("/api/2.0/mlflow/{path}"),
        Some("application/json"),
        &body.to_string(),
    )
    .await
}

#[tokio::test]
async fn creating_an_experiment_twice_is_resource_already_exists() {
    let (state, _dir) = super::temp_state().await;
    let app = router(state);
    let (status, _) = post(&app, "experiments/create", json!({"name": "rossmann"})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = post(&app, "experiments/create", json!({"name": "rossmann"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_code"], "RESOURCE_ALREADY_EXISTS");
}

#[tokio::test]
async fn malformed_requests_are_mlflow_style_400s() {
    let (state, _dir) = super::temp_state().await;
    let app = router(state);
    let run = post(&app, "runs/create", json!({"experiment_id": "0"}))
        .await
        .1;
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
    let cases: Vec<(&str, &str, Option<&str>, String)> = vec![
        ("POST", "experiments/create", Some("text/plain"), "name=x".into()),
        ("POST", "experiments/create", Some("application/json"), "{not json".into()),
        ("POST", "experiments/create", Some("application/json"), "[1,2]".into()),
        ("POST", "experiments/create", Some("application/json"), "{}".into()),
        ("POST", "experiments/create", Some("application/json"), json!({"name": 5.5e300, "tags": "x"}).to_string()),
        ("POST", "runs/log-metric", Some("application/json"), json!({"run_id": run_id, "key": "m", "value": "abc", "timestamp": 1}).to_string()),
        ("POST", "runs/log-metric", Some("application/json"), json!({"run_id": run_id, "key": "m", "value": 1, "timestamp": "x"}).to_string()),
        ("POST", "runs/log-metric", Some("application/json"), json!({"run_id": run_id, "key": "m", "value": 1}).to_string()),
        ("POST", "runs/log-metric", Some("application/json"), json!({"run_id": run_id, "key": "bad*name", "value": 1, "timestamp": 1}).to_string()),
        ("POST", "runs/log-metric", Some("application/json"), json!({"run_id": run_id, "key": "m", "value": 1, "timestamp": -5}).to_string()),
        ("POST", "runs/log-parameter", Some("application/json"), json!({"run_id": run_id, "key": "../x", "value": "1"}).to_string()),
        ("POST", "runs/log-batch", Some("application/json"), json!({"run_id": run_id, "metrics": [{"key": "m"}]}).to_string()),
        ("POST", "runs/log-batch", Some("application/json"), json!({"run_id": run_id, "metrics": "nope"}).to_string()),
        ("POST", "runs/log-batch", Some("application/json"), json!({"run_id": run_id, "params": [{"key": "p", "value": "v"}], "x": "y".repeat(1_000_001)}).to_string()),
        ("POST", "runs/search", Some("application/json"), json!({"experiment_ids": ["0"], "filter": "metrics.a >>> 1"}).to_string()),
        ("POST", "runs/search", Some("application/json"), json!({"experiment_ids": ["0"], "max_results": 0}).to_string()),
        ("POST", "runs/search", Some("application/json"), json!({"experiment_ids": ["0"], "max_results": 50001}).to_string()),
        ("POST", "runs/search", Some("application/json"), json!({"experiment_ids": ["0"], "page_token": "garbage"}).to_string()),
        ("POST", "runs/search", Some("application/json"), json!({"experiment_ids": ["0"], "order_by": ["start_time", "start_time DESC"]}).to_string()),
        ("POST", "runs/search", Some("application/json"), json!({"experiment_ids": ["0"], "run_view_type": "SOMETIMES"}).to_string()),
        ("POST", "runs/update", Some("application/json"), json!({"run_id": run_id, "status": "BORED"}).to_string()),
        ("POST", "experiments/search", Some("application/json"), json!({"filter": "name >>> 'x'"}).to_string()),
    ];
    for (method, path, ct, body) in cases {
        let (status, reply) =
            call(&app, method, &format!("/api/2.0/mlflow/{path}"), ct, &body).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{path} {}: {reply}",
            &body[..body.len().min(120)]
        );
        assert_eq!(
            reply["error_code"], "INVALID_PARAMETER_VALUE",
            "{path}: {reply}"
        );
    }
}

#[tokio::test]
async fn unknown_ids_are_404_and_unknown_routes_json() {
    let (state, _dir) = super::temp_state().await;
    let app = router(state);
    for uri in [
        "/api/2.0/mlflow/runs/get?run_id=ffffffffffffffffffffffffffffffff",
        "/api/2.0/mlflow/experiments/get?experiment_id=999",
        "/api/2.0/mlflow/experiments/get?experiment_id=not-a-number",
        "/api/2.0/mlflow/experiments/get-by-name?experiment_name=nope",
        "/api/2.0/mlflow/metrics/get-history?run_id=nope&metric_key=m",
    ] {
        let (status, body) = call(&app, "GET", uri, None, "").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}: {body}");
        assert_eq!(body["error_code"], "RESOURCE_DOES_NOT_EXIST", "{uri}");
    }
    let (status, body) = call(&app, "GET", "/api/2.0/mlflow/nope", None, "").await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (StatusCode::NOT_FOUND, Some("ENDPOINT_NOT_FOUND"))
    );
    let (status, _) = call(&app, "GET", "/api/2.0/mlflow/runs/create", None, "").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let (status, _) = call(&app, "GET", "/api/2.0/mlflow/runs/search", None, "").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let (status, body) = call(&app, "GET", "/health", None, "").await;
    assert_eq!((status, body), (StatusCode::OK, Value::String("OK".into())));
}

#[tokio::test]
async fn nan_and_infinity_round_trip_as_json() {
    let (state, _dir) = super::temp_state().await;
    let app = router(state);
    let run = post(&app, "runs/create", json!({"experiment_id": "0"}))
        .await
        .1;
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
    for (key, value) in [
        ("nan", json!("NaN")),
        ("pinf", json!("Infinity")),
        ("ninf", json!("-Infinity")),
    ] {
        let (status, body) = post(
            &app,
            "runs/log-metric",
            json!({"run_id": run_id, "key": key, "value": value, "timestamp": 1}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = call(
        &app,
        "GET",
        &format!("/api/2.0/mlflow/runs/get?run_id={run_id}"),
        None,
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let metrics = body["run"]["data"]["metrics"].as_array().unwrap();
    let value = |k: &str| metrics.iter().find(|m| m["key"] == k).unwrap()["value"].clone();
    assert_eq!(value("nan"), json!("NaN"));
    assert_eq!(value("pinf"), json!(f64::MAX));
    assert_eq!(value("ninf"), json!(f64::MIN));
}

#[tokio::test]
async fn artifact_paths_cannot_escape_the_root() {
    let (state, dir) = super::temp_state().await;
    let app = router(state);
    for uri in [
        "/api/2.0/mlflow-artifacts/artifacts/%2E%2E/escape.txt",
        "/api/2.0/mlflow-artifacts/artifacts/a/%2E%2E/%2E%2E/escape.txt",
        "/api/2.0/mlflow-artifacts/artifacts/%2Fetc%2Fpasswd",
        "/api/2.0/mlflow-artifacts/artifacts/a%5Cb",
    ] {
        let (status, body) = call(&app, "PUT", uri, Some("application/octet-stream"), "x").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
    }
    assert!(!dir.path().join("escape.txt").exists());
    let (status, _) = call(
        &app,
        "GET",
        "/api/2.0/mlflow-artifacts/artifacts?path=/etc",
        None,
        "",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(
        &app,
        "PUT",
        "/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts/f.txt",
        Some("text/plain"),
        "hi",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(
        &app,
        "GET",
        "/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts/f.txt",
        None,
        "",
    )
    .await;
    assert_eq!((status, body), (StatusCode::OK, Value::String("hi".into())));
    let (_, listing) = call(
        &app,
        "GET",
        "/api/2.0/mlflow-artifacts/artifacts?path=0/r/artifacts",
        None,
        "",
    )
    .await;
    assert_eq!(
        listing,
        json!({"files": [{"path": "f.txt", "is_dir": false, "file_size": 2}]})
    );
}
