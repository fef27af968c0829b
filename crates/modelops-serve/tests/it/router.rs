//! The router without a socket: every bad-input case answers 4xx JSON, served predictions equal batch predictions
//! exactly, in input order, and the OpenAPI document matches the routes.

use axum::http::StatusCode;
use modelops_features::calendar::{format_day, weekday};
use modelops_pipeline::predict::{ModelLabel, predict_file};
use modelops_serve::{ModelChoice, ServeConfig, router};
use polars::prelude::*;
use serde_json::{Value, json};

use crate::fixture::{call, fixture, mixed_rows, row, write_csv};

async fn app_with_limit(max_body_bytes: usize) -> axum::Router {
    let config = ServeConfig {
        model: ModelChoice::Path(fixture().package_a.clone()),
        max_body_bytes,
        ..ServeConfig::default()
    };
    router(modelops_serve::start(&config).await.unwrap())
}

async fn app() -> axum::Router {
    app_with_limit(modelops_serve::DEFAULT_MAX_BODY_BYTES).await
}

fn predict_body(rows: Vec<Value>) -> String {
    json!({"inputs": rows, "model_stage": "Production"}).to_string()
}

/// Asserts a 422 INVALID_INPUT whose errors are exactly `expected` (row, field) pairs.
async fn assert_invalid(app: &axum::Router, body: String, expected: &[(Option<usize>, &str)]) {
    let (status, reply) = call(app, "POST", "/predict", body.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {reply}");
    assert_eq!(reply["error_code"], "INVALID_INPUT", "{reply}");
    let got: Vec<(Option<usize>, String)> = reply["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().map(|r| r as usize),
                e["field"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(Option<usize>, String)> =
        expected.iter().map(|(r, f)| (*r, f.to_string())).collect();
    assert_eq!(got, expected, "{reply}");
    for e in reply["errors"].as_array().unwrap() {
        assert!(!e["message"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn bad_inputs_are_422_with_one_error_per_row_and_field() {
    let app = app().await;
    let origin = fixture().origin;
    let good = row(1, origin, 1, 0);
    let with = |field: &str, value: Value| {
        let mut r = good.clone();
        r[field] = value;
        r
    };
    // Wrong types and values, one field each.
    assert_invalid(
        &app,
        predict_body(vec![with("Store", json!("abc"))]),
        &[(Some(0), "Store")],
    )
    .await;
    assert_invalid(
        &app,
        predict_body(vec![with("Store", json!(0))]),
        &[(Some(0), "Store")],
    )
    .await;
    assert_invalid(
        &app,
        predict_body(vec![with("Date", json!("2015-02-30"))]),
        &[(Some(0), "Date")],
    )
    .await;
    assert_invalid(
        &app,
        predict_body(vec![with("Date", json!(20150801))]),
        &[(Some(0), "Date")],
    )
    .await;
    assert_invalid(
        &app,
        predict_body(vec![with("Open", json!(2))]),
        &[(Some(0), "Open")],
    )
    .await;
    assert_invalid(
        &app,
        predict_body(vec![with("Promo", json!("yes"))]),
        &[(Some(0), "Promo")],
    )
    .await;
    assert_invalid(
        &app,
        predict_body(vec![with("SchoolHoliday", json!([1]))]),
        &[(Some(0), "SchoolHoliday")],
    )
    .await;
    assert_invalid(
        &app,
        predict_body(vec![with("StateHoliday", json!("d"))]),
        &[(Some(0), "StateHoliday")],
    )
    .await;
    assert_invalid(
        &app,
        predict_body(vec![with("DayOfWeek", json!(8))]),
        &[(Some(0), "DayOfWeek")],
    )
    .await;
    let wrong_weekday = (weekday(origin) % 7) + 1;
    assert_invalid(
        &app,
        predict_body(vec![with("DayOfWeek", json!(wrong_weekday))]),
        &[(Some(0), "DayOfWeek")],
    )
    .await;
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("Open");
    assert_invalid(&app, predict_body(vec![missing]), &[(Some(0), "Open")]).await;
    // Checked against the model: unknown store, a day before the forecast origin.
    assert_invalid(
        &app,
        predict_body(vec![good.clone(), with("Store", json!(999))]),
        &[(Some(1), "Store")],
    )
    .await;
    let early = row(1, origin - 3, 1, 0);
    assert_invalid(&app, predict_body(vec![early]), &[(Some(0), "Date")]).await;
    // Several bad rows and fields at once: every one listed, in order.
    let many = vec![
        good.clone(),
        with("Date", json!("tomorrow")),
        with("Open", json!(-1)),
        with("StateHoliday", json!(1)),
    ];
    let mut two_bad = with("Store", json!(1.5));
    two_bad["Promo"] = json!(null);
    let mut all = many;
    all.push(two_bad);
    assert_invalid(
        &app,
        predict_body(all),
        &[
            (Some(1), "Date"),
            (Some(2), "Open"),
            (Some(3), "StateHoliday"),
            (Some(4), "Promo"),
            (Some(4), "Store"),
        ],
    )
    .await;
    // Request-level problems.
    assert_invalid(&app, json!({"inputs": []}).to_string(), &[(None, "inputs")]).await;
    assert_invalid(
        &app,
        json!({"inputs": {"Store": 1}}).to_string(),
        &[(None, "inputs")],
    )
    .await;
    assert_invalid(
        &app,
        json!({"rows": [good.clone()]}).to_string(),
        &[(None, "inputs")],
    )
    .await;
    assert_invalid(&app, json!([good.clone()]).to_string(), &[(None, "body")]).await;
    assert_invalid(
        &app,
        json!({"inputs": [1, "x"]}).to_string(),
        &[(Some(0), "row"), (Some(1), "row")],
    )
    .await;
    assert_invalid(
        &app,
        json!({"inputs": [good.clone()], "model_stage": "Prod"}).to_string(),
        &[(None, "model_stage")],
    )
    .await;
    assert_invalid(
        &app,
        json!({"inputs": [good.clone()], "model_stage": {"a": 1}}).to_string(),
        &[(None, "model_stage")],
    )
    .await;
}

#[tokio::test]
async fn malformed_bodies_routes_and_methods_are_json_4xx() {
    let app = app_with_limit(4096).await;
    let origin = fixture().origin;
    for body in ["{not json", "", "\u{0}", "{\"inputs\": [1,]"] {
        let (status, reply) = call(&app, "POST", "/predict", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:?}: {reply}");
        assert_eq!(reply["error_code"], "MALFORMED_REQUEST");
        let (status, _) = call(&app, "POST", "/invocations", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let big = predict_body((0..200).map(|_| row(1, origin, 1, 0)).collect());
    assert!(big.len() > 4096);
    let (status, reply) = call(&app, "POST", "/predict", big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{reply}");
    assert_eq!(reply["error_code"], "PAYLOAD_TOO_LARGE");
    let (status, reply) = call(&app, "GET", "/no/such/route", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(reply["error_code"], "ENDPOINT_NOT_FOUND");
    let (status, reply) = call(&app, "GET", "/predict", "").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply["error_code"], "METHOD_NOT_ALLOWED");
    let (status, reply) = call(
        &app,
        "POST",
        "/invocations",
        json!({"instances": [1]}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reply}");
    let (status, reply) = call(&app, "POST", "/model/load?stage=Nope", "").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reply}");
}

fn batch_predictions(rows: &[Value]) -> Vec<f64> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.csv");
    let output = dir.path().join("out.parquet");
    write_csv(&input, rows);
    let label = ModelLabel {
        model_uri: fixture().package_a.display().to_string(),
        ..Default::default()
    };
    predict_file(
        &fixture().package_a,
        label,
        &input,
        &output,
        &modelops_pipeline::Silent,
    )
    .unwrap();
    let frame = ParquetReader::new(std::fs::File::open(&output).unwrap())
        .finish()
        .unwrap();
    frame
        .column("Predicted_Sales")
        .unwrap()
        .f64()
        .unwrap()
        .into_no_null_iter()
        .collect()
}

fn floats(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

#[tokio::test]
async fn served_predictions_equal_batch_predictions_in_input_order() {
    let app = app().await;
    let rows = mixed_rows(fixture().origin);
    let batch = batch_predictions(&rows);

    let (status, reply) = call(&app, "POST", "/predict", predict_body(rows.clone())).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["count"], rows.len());
    assert!(
        reply["model_version"].is_null(),
        "a package folder has no registry version: {reply}"
    );
    assert!(reply["timestamp"].as_str().unwrap().ends_with('Z'));
    let served = floats(&reply["predictions"]);
    assert_eq!(
        served, batch,
        "served and batch predictions must agree exactly"
    );
    for (r, p) in rows.iter().zip(&served) {
        if r["Open"] == 0 {
            assert_eq!(*p, 0.0, "closed days predict 0");
        } else {
            assert!(*p > 0.0);
        }
    }
    // Only closed days: no row reaches the engines, every prediction is 0.
    let closed: Vec<_> = rows.iter().filter(|r| r["Open"] == 0).cloned().collect();
    assert!(!closed.is_empty());
    let (status, reply) = call(&app, "POST", "/predict", predict_body(closed.clone())).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(floats(&reply["predictions"]), vec![0.0; closed.len()]);

    // MLflow's scoring protocol, both orientations, same numbers.
    let columns = [
        "Store",
        "DayOfWeek",
        "Date",
        "Open",
        "Promo",
        "StateHoliday",
        "SchoolHoliday",
    ];
    let data: Vec<Value> = rows
        .iter()
        .map(|r| Value::Array(columns.iter().map(|c| r[*c].clone()).collect()))
        .collect();
    let split = json!({"dataframe_split": {"columns": columns, "data": data}});
    let (status, reply) = call(&app, "POST", "/invocations", split.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(floats(&reply["predictions"]), batch);
    let records = json!({"dataframe_records": rows});
    let (status, reply) = call(&app, "POST", "/invocations", records.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(floats(&reply["predictions"]), batch);

    // Input order, not (Store, Date) order: the reversed batch gives the reversed predictions.
    let reversed: Vec<Value> = rows.iter().rev().cloned().collect();
    let (_, reply) = call(&app, "POST", "/predict", predict_body(reversed)).await;
    let mut expected = batch.clone();
    expected.reverse();
    assert_eq!(floats(&reply["predictions"]), expected);
}

#[tokio::test]
async fn info_routes_report_the_model_and_null_versions() {
    let app = app().await;
    let (status, health) = call(&app, "GET", "/health", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "healthy");
    assert_eq!(health["model_loaded"], true);
    let (_, info) = call(&app, "GET", "/model/info", "").await;
    assert!(info["production_version"].is_null(), "{info}");
    assert!(info["staging_version"].is_null(), "{info}");
    assert_eq!(
        info["served_model"]["forecast_origin"],
        format_day(fixture().origin)
    );
    let (_, root) = call(&app, "GET", "/", "").await;
    assert_eq!(root["version"], "1.0.0");
    assert_eq!(root["endpoints"]["predict"], "/predict");
    let (status, loaded) = call(&app, "POST", "/model/load", "").await;
    assert_eq!(status, StatusCode::OK, "{loaded}");
    assert_eq!(loaded["status"], "loaded");
}

#[tokio::test]
async fn openapi_document_is_openapi_3_and_lists_exactly_the_routes() {
    let app = app().await;
    let (status, doc) = call(&app, "GET", "/openapi.json", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            assert!(
                op["responses"].is_object(),
                "{method} {path} has no responses"
            );
            documented.push((method.clone(), path.clone()));
        }
    }
    let mut routes: Vec<(String, String)> = modelops_serve::openapi::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    documented.sort();
    routes.sort();
    assert_eq!(documented, routes);
    // Every documented route exists (no 404/405) on the router.
    for (method, path) in &routes {
        let (status, _) = call(&app, &method.to_uppercase(), path, "{}").await;
        assert!(
            status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {status}"
        );
    }
    // Every $ref points at a defined schema.
    let text = doc.to_string();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for part in text.split("#/components/schemas/").skip(1) {
        let name: String = part.chars().take_while(|c| c.is_alphanumeric()).collect();
        assert!(schemas.contains_key(&name), "dangling $ref {name}");
    }
}
