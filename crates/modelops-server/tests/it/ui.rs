//! The web UI over plain HTTP (router driven with `oneshot`, no socket): every page renders, user strings are
//! escaped, POSTs need a CSRF token, the optional auth token guards the UI and API writes, bad input is 4xx, and
//! the approval actions go through the registry lifecycle. Also the data fixture the browser tests share.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use bytes::Bytes;
use http_body_util::BodyExt;
use modelops_server::ui::monitoring::SourceFuture;
use modelops_server::ui::{AuthToken, LoggedActual, LoggedPrediction, PredictionSource, UiOptions};
use modelops_server::{AppState, router_with_ui};
use modelops_tracking::registry::{
    PromoteRequest, Stage, TransitionSource, promote, register_version,
};
use modelops_tracking::{CreateRun, Metric, Param, RunId, RunStatus, Tag, UpdateRun};
use std::sync::Arc;
use tower::ServiceExt;

/// The registered model the fixture creates.
pub const MODEL: &str = "rossmann-ensemble";
/// The run name that tries to inject a script.
pub const SCRIPT_NAME: &str = "<script>alert(1)</script>";

/// A populated server state.
pub struct Fixture {
    pub state: AppState,
    pub ui: UiOptions,
    pub _dir: tempfile::TempDir,
    pub experiment_id: String,
    /// Runs in creation order; `runs[0]` has a 2,000-point `train_loss` history and artifacts.
    pub runs: Vec<RunId>,
}

impl Fixture {
    /// The router over the fixture (no login).
    pub fn router(&self) -> axum::Router {
        router_with_ui(self.state.clone(), self.ui.clone())
    }
}

/// A prediction log held in memory (the real one lives in `modelops-serve`, which this crate cannot depend on).
struct FixedLog {
    predictions: Vec<LoggedPrediction>,
    actuals: Vec<LoggedActual>,
}

impl PredictionSource for FixedLog {
    fn predictions_since(&self, since_ms: i64) -> SourceFuture<'_, Vec<LoggedPrediction>> {
        let rows = self
            .predictions
            .iter()
            .filter(|p| p.logged_at_ms >= since_ms)
            .cloned()
            .collect();
        Box::pin(async move { Ok(rows) })
    }
    fn actuals(&self) -> SourceFuture<'_, Vec<LoggedActual>> {
        let rows = self.actuals.clone();
        Box::pin(async move { Ok(rows) })
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Experiments, runs with params/metrics/tags/artifacts, a registered model (v1 Production, v2 Staging, v3 None)
/// with validation tags, drift-check runs and a small prediction log — all through the Store API.
pub async fn fixture() -> Fixture {
    let (state, dir) = super::temp_state().await;
    let store = state.store.clone();
    let experiment_id = store
        .create_experiment("rossmann-forecasting", None, &[])
        .await
        .unwrap();
    let mut runs = Vec::new();
    let t0 = now_ms() - 3_600_000;
    for i in 0..6i64 {
        let name = if i == 5 {
            SCRIPT_NAME.to_string()
        } else {
            format!("train-{i}")
        };
        let run = store
            .create_run(&CreateRun {
                experiment_id: Some(experiment_id.clone()),
                run_name: Some(name),
                start_time: Some(t0 + i * 60_000),
                user_id: Some("analyst".into()),
                tags: vec![Tag {
                    key: "modelops.job".into(),
                    value: "train".into(),
                }],
            })
            .await
            .unwrap();
        let id = run.info.run_id.clone();
        let rmspe = 0.10 + 0.01 * i as f64;
        let metrics = vec![
            Metric {
                key: "ensemble_holdout_rmspe".into(),
                value: rmspe,
                timestamp: t0,
                step: 0,
            },
            Metric {
                key: "lgb_holdout_rmspe".into(),
                value: rmspe + 0.005,
                timestamp: t0,
                step: 0,
            },
            Metric {
                key: "lgb_train_time_seconds".into(),
                value: 10.0 + i as f64,
                timestamp: t0,
                step: 0,
            },
        ];
        let params = vec![
            Param {
                key: "lgb_num_leaves".into(),
                value: (31 + 8 * i).to_string(),
            },
            Param {
                key: "lgb_learning_rate".into(),
                value: "0.05".into(),
            },
            Param {
                key: "xgb_max_depth".into(),
                value: "8".into(),
            },
            Param {
                key: "weight_lightgbm".into(),
                value: "0.5".into(),
            },
            Param {
                key: "git_commit_hash".into(),
                value: "0123456789abcdef".into(),
            },
            Param {
                key: "data_hash.train.csv".into(),
                value: format!("sha256:{i}abc"),
            },
            Param {
                key: "note".into(),
                value: if i == 5 {
                    "<img src=x onerror=alert(2)>".into()
                } else {
                    "plain".into()
                },
            },
        ];
        store.log_batch(&id, &metrics, &params, &[]).await.unwrap();
        // A training curve: steps vary, so the chart's x axis is the step.
        let points = if i == 0 { 2_000 } else { 50 };
        let history: Vec<Metric> = (0..points)
            .map(|s| Metric {
                key: "train_loss".into(),
                value: 1.0 / (1.0 + s as f64 / 50.0)
                    + 0.01 * ((s as f64) / 7.0).sin()
                    + 0.01 * i as f64,
                timestamp: t0 + s,
                step: s,
            })
            .collect();
        for chunk in history.chunks(1000) {
            store.log_batch(&id, chunk, &[], &[]).await.unwrap();
        }
        store
            .update_run(
                &id,
                &UpdateRun {
                    status: Some(RunStatus::Finished),
                    end_time: Some(t0 + i * 60_000 + 42_000),
                    run_name: None,
                },
            )
            .await
            .unwrap();
        runs.push(id);
    }
    // Artifacts of the first run.
    let first = store.get_run(&runs[0]).await.unwrap();
    let base = first
        .info
        .artifact_uri
        .strip_prefix("mlflow-artifacts:")
        .unwrap()
        .trim_start_matches('/')
        .to_string();
    let put = |path: &str, bytes: &'static [u8]| {
        let artifacts = state.artifacts.clone();
        let path = format!("{base}/{path}");
        async move {
            artifacts
                .put(&path, Bytes::from_static(bytes))
                .await
                .unwrap()
        }
    };
    put("metrics.json", br#"{"rmspe": 0.1, "note": "<b>bold</b>"}"#).await;
    put(
        "predictions.csv",
        b"Store,Date,Sales\n1,2015-08-01,5263\n2,2015-08-01,\"6,064\"\n",
    )
    .await;
    put(
        "ensemble_model/MLmodel",
        b"artifact_path: ensemble_model\nflavors:\n  modelops: {}\n",
    )
    .await;
    put(
        "ensemble_model/lineage.json",
        br#"{"git_commit": "0123456789abcdef", "data_fingerprints": {"train.csv": "sha256:0abc"}}"#,
    )
    .await;
    put("plot.svg", br##"<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="40" height="20" fill="#2563eb"/></svg>"##).await;

    // Registry: v1 Production (via Staging), v2 Staging, v3 None.
    for (i, run) in runs.iter().take(3).enumerate() {
        let tags = vec![Tag {
            key: "validation.rmspe".into(),
            value: format!("{:.4}", 0.10 + 0.01 * i as f64),
        }];
        register_version(&*store, MODEL, run, "ensemble_model", &tags, None)
            .await
            .unwrap();
    }
    let move_to = |version: i64, stage: Stage| {
        let store = store.clone();
        async move {
            promote(
                &*store,
                &PromoteRequest {
                    name: MODEL.into(),
                    version,
                    stage,
                    approver: "fixture".into(),
                    reason: "fixture".into(),
                    force: false,
                    source: TransitionSource::Cli,
                },
            )
            .await
            .unwrap();
        }
    };
    move_to(1, Stage::Staging).await;
    move_to(1, Stage::Production).await;
    move_to(2, Stage::Staging).await;
    store
        .set_registered_model_alias(MODEL, "champion", 1)
        .await
        .unwrap();

    // Drift checks, as `modelops monitor drift` records them.
    let monitoring = store
        .create_experiment("rossmann-monitoring", None, &[])
        .await
        .unwrap();
    for day in 0..4i64 {
        let run = store
            .create_run(&CreateRun {
                experiment_id: Some(monitoring.clone()),
                run_name: Some(format!("drift-{day}")),
                start_time: Some(now_ms() - (4 - day) * 86_400_000),
                tags: vec![Tag {
                    key: "modelops.kind".into(),
                    value: "drift".into(),
                }],
                ..Default::default()
            })
            .await
            .unwrap();
        let share = 0.1 * day as f64;
        let metrics = vec![
            Metric {
                key: "drift_share".into(),
                value: share,
                timestamp: 0,
                step: 0,
            },
            Metric {
                key: "n_drifted_features".into(),
                value: day as f64,
                timestamp: 0,
                step: 0,
            },
            Metric {
                key: "dataset_drift".into(),
                value: if share >= 0.3 { 1.0 } else { 0.0 },
                timestamp: 0,
                step: 0,
            },
        ];
        store
            .log_batch(&run.info.run_id, &metrics, &[], &[])
            .await
            .unwrap();
        let base = run
            .info
            .artifact_uri
            .strip_prefix("mlflow-artifacts:")
            .unwrap()
            .trim_start_matches('/')
            .to_string();
        state
            .artifacts
            .put(
                &format!("{base}/drift_report.html"),
                Bytes::from_static(b"<html><body><h1>Drift report</h1></body></html>"),
            )
            .await
            .unwrap();
    }

    // A prediction log: two days of traffic for versions 1 and 2, with actuals for some rows.
    let mut predictions = Vec::new();
    for day in 0..2i64 {
        for store_id in 1..=20u32 {
            let version = if store_id % 3 == 0 || (day == 1 && store_id % 2 == 0) {
                "1"
            } else {
                "2"
            };
            predictions.push(LoggedPrediction {
                batch_id: format!("batch-{day}-{}", store_id / 5),
                logged_at_ms: now_ms() - (2 - day) * 86_400_000,
                model_version: version.into(),
                store: store_id,
                date: format!("2015-08-0{}", day + 1),
                prediction: 5000.0 + store_id as f64,
                response_time_ms: 3.0 + store_id as f64 / 10.0,
            });
        }
    }
    let actuals = (1..=20u32)
        .map(|s| LoggedActual {
            store: s,
            date: "2015-08-01".into(),
            sales: 5100.0,
        })
        .collect();
    let ui = UiOptions {
        auth: None,
        predictions: Some(Arc::new(FixedLog {
            predictions,
            actuals,
        })),
    };
    Fixture {
        state,
        ui,
        _dir: dir,
        experiment_id: experiment_id.0,
        runs,
    }
}

/// A GET or POST through the router: status, headers and body text.
pub async fn send(
    app: &axum::Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut request = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, String) {
    let (status, _, body) = send(app, "GET", uri, &[], "").await;
    (status, body)
}

/// The CSRF cookie a first page view sets, as (cookie header, token).
async fn csrf_session(app: &axum::Router) -> (String, String) {
    let (_, headers, _) = send(app, "GET", "/models", &[], "").await;
    let set_cookie = headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    let pair = set_cookie.split(';').next().unwrap().to_string();
    let token = pair.split_once('=').unwrap().1.to_string();
    (pair, token)
}

#[tokio::test]
async fn every_page_renders() {
    let f = fixture().await;
    let app = f.router();
    let run = &f.runs[0].0;
    for (uri, expect) in [
        ("/".to_string(), "rossmann-forecasting"),
        ("/experiments".to_string(), "rossmann-monitoring"),
        (format!("/experiments/{}", f.experiment_id), "train-3"),
        (format!("/runs/{run}"), "lgb_num_leaves"),
        (format!("/runs/{run}/metrics/train_loss"), "2000 points"),
        (format!("/runs/{run}/artifacts"), "predictions.csv"),
        (
            format!("/runs/{run}/artifacts?path=predictions.csv"),
            "6,064",
        ),
        (
            format!("/runs/{run}/artifacts?path=metrics.json"),
            "&lt;b&gt;bold&lt;/b&gt;",
        ),
        (
            format!("/runs/{run}/artifacts?path=ensemble_model/MLmodel"),
            "artifact_path: ensemble_model",
        ),
        (format!("/runs/{run}/artifacts?path=plot.svg"), "<img"),
        (
            format!("/compare?runs={}&runs={}", f.runs[0].0, f.runs[1].0),
            "class=\"num lowest\"",
        ),
        ("/models".to_string(), MODEL),
        (format!("/models/{MODEL}"), "Audit trail"),
        (
            format!("/models/{MODEL}/versions/2"),
            "Approve to Production",
        ),
        (
            format!("/models/{MODEL}/versions/1"),
            "No earlier Production version",
        ),
        ("/monitoring".to_string(), "Predictions per day"),
        ("/ui/assets/ui.css".to_string(), "--accent"),
        ("/ui/assets/ui.js".to_string(), "__modelopsErrors"),
    ] {
        let (status, body) = get(&app, &uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        assert!(body.contains(expect), "{uri} lacks {expect:?}");
    }
}

#[tokio::test]
async fn the_version_page_shows_lineage_and_validation() {
    let f = fixture().await;
    let app = f.router();
    let (status, body) = get(&app, &format!("/models/{MODEL}/versions/1")).await;
    assert_eq!(status, StatusCode::OK);
    for expect in [
        "0123456789abcdef",
        "data_hash.train.csv",
        "lgb_num_leaves",
        "weight_lightgbm",
        "0.1000",
        "@champion",
        "lineage.json",
    ] {
        assert!(body.contains(expect), "version page lacks {expect:?}");
    }
}

#[tokio::test]
async fn monitoring_shows_traffic_accuracy_and_drift() {
    let f = fixture().await;
    let app = f.router();
    let (_, body) = get(&app, "/monitoring").await;
    assert!(body.contains("traffic-table"));
    assert!(
        body.contains("performance-table"),
        "live RMSPE table missing"
    );
    assert!(body.contains("drift-latest"));
    assert!(body.contains("drift_report.html"));
    // Without the log and the drift runs the page says what is missing.
    let (state, _dir) = super::temp_state().await;
    let (status, body) = get(&modelops_server::router(state), "/monitoring").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("modelops monitor drift"));
    assert!(body.contains("prediction log is not connected"));
}

#[tokio::test]
async fn user_strings_render_as_text() {
    let f = fixture().await;
    let app = f.router();
    let script_run = &f.runs[5].0;
    for uri in [
        format!("/experiments/{}?cols=params.note", f.experiment_id),
        format!("/runs/{script_run}"),
        format!("/compare?runs={}&runs={script_run}", f.runs[0].0),
    ] {
        let (status, body) = get(&app, &uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert!(
            body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{uri}: name not shown escaped"
        );
        assert!(!body.contains("<script>alert(1)"), "{uri}: raw script tag");
        assert!(!body.contains("<img src=x"), "{uri}: raw img tag");
    }
}

#[tokio::test]
async fn runs_filter_sort_and_columns_work_and_bad_filters_are_inline_errors() {
    let f = fixture().await;
    let app = f.router();
    let base = format!("/experiments/{}", f.experiment_id);
    let (status, body) = get(
        &app,
        &format!("{base}?filter=metrics.ensemble_holdout_rmspe+%3C+0.115"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("train-0") && body.contains("train-1"));
    assert!(!body.contains("train-2"));
    let (_, body) = get(
        &app,
        &format!("{base}?order=metrics.ensemble_holdout_rmspe+DESC"),
    )
    .await;
    let (a, b) = (
        body.find(">train-4<").unwrap(),
        body.find(">train-0<").unwrap(),
    );
    assert!(a < b, "DESC order not applied");
    let (status, body) = get(&app, &format!("{base}?filter=metrics.rmspe+%3C%3C+oops")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("Cannot search"));
    assert!(body.contains("filter-error"));
    let (status, body) = get(&app, &format!("{base}?cols=params.xgb_max_depth&size=2")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("xgb_max_depth"));
    assert!(body.contains("Next"));
    let (status, _) = get(&app, &format!("{base}?order=nonsense+sideways")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn unknown_things_are_404_pages_and_bad_params_are_4xx() {
    let f = fixture().await;
    let app = f.router();
    let run = &f.runs[0].0;
    for uri in [
        "/experiments/999".to_string(),
        "/experiments/not-a-number".to_string(),
        "/runs/ffffffffffffffffffffffffffffffff".to_string(),
        format!("/runs/{run}/metrics/no_such_metric"),
        format!("/runs/{run}/artifacts?path=missing.txt"),
        "/models/no-such-model".to_string(),
        format!("/models/{MODEL}/versions/99"),
        format!("/models/{MODEL}/versions/abc"),
    ] {
        let (status, body) = get(&app, &uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert!(body.contains("<html"), "{uri}: not an HTML page");
    }
    for uri in [
        format!("/experiments/{}?page=0", f.experiment_id),
        format!("/experiments/{}?size=100000", f.experiment_id),
        format!("/experiments/{}?page=x", f.experiment_id),
        "/experiments?page=-1".to_string(),
        format!("/runs/{run}/artifacts?path=../../etc/passwd"),
        format!("/runs/{run}/artifact"),
        format!("/compare?runs={run}"),
        "/compare".to_string(),
        "/models?page=abc".to_string(),
    ] {
        let (status, _) = get(&app, &uri).await;
        assert!(status.is_client_error(), "{uri}: {status}");
    }
}

#[tokio::test]
async fn downloads_are_attachments_and_html_is_sandboxed() {
    let f = fixture().await;
    let app = f.router();
    let run = &f.runs[0].0;
    let (status, headers, body) = send(
        &app,
        "GET",
        &format!("/runs/{run}/artifact?path=predictions.csv"),
        &[],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.starts_with("Store,Date,Sales"));
    assert!(
        headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );
}

#[tokio::test]
async fn posts_without_the_csrf_token_are_forbidden() {
    let f = fixture().await;
    let app = f.router();
    let approve = format!("/models/{MODEL}/versions/2/approve");
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let (status, _, _) = send(&app, "POST", &approve, &form, "approver=eve&reason=x").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (cookie, _) = csrf_session(&app).await;
    let with_cookie = [form[0], ("cookie", cookie.as_str())];
    let (status, _, _) = send(
        &app,
        "POST",
        &approve,
        &with_cookie,
        "approver=eve&reason=x&csrf_token=00000000000000000000000000000000",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let v2 = f.state.store.get_model_version(MODEL, 2).await.unwrap();
    assert_eq!(
        v2.current_stage,
        Stage::Staging,
        "a forged POST changed the registry"
    );
}

#[tokio::test]
async fn approve_reject_and_rollback_go_through_the_lifecycle() {
    let f = fixture().await;
    let app = f.router();
    let store = f.state.store.clone();
    let (cookie, token) = csrf_session(&app).await;
    let headers = [
        ("content-type", "application/x-www-form-urlencoded"),
        ("cookie", cookie.as_str()),
    ];
    let approve = format!("/models/{MODEL}/versions/2/approve");
    // Approver and reason are required.
    let (status, _, body) = send(
        &app,
        "POST",
        &approve,
        &headers,
        &format!("csrf_token={token}&approver=&reason=ok"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("Name the approver"));
    let (status, _, _) = send(
        &app,
        "POST",
        &approve,
        &headers,
        &format!("csrf_token={token}&approver=Ada&reason="),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        store
            .get_model_version(MODEL, 2)
            .await
            .unwrap()
            .current_stage,
        Stage::Staging
    );
    // Approve: v2 Production, v1 Archived, audited from the UI.
    let (status, headers_out, _) = send(
        &app,
        "POST",
        &approve,
        &headers,
        &format!("csrf_token={token}&approver=Ada&reason=better+RMSPE"),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        headers_out[header::LOCATION]
            .to_str()
            .unwrap()
            .contains("done=approved")
    );
    assert_eq!(
        store
            .get_model_version(MODEL, 2)
            .await
            .unwrap()
            .current_stage,
        Stage::Production
    );
    assert_eq!(
        store
            .get_model_version(MODEL, 1)
            .await
            .unwrap()
            .current_stage,
        Stage::Archived
    );
    let trail = store.audit_trail(MODEL, Some(2)).await.unwrap();
    let last = trail.last().unwrap();
    assert_eq!(
        (
            last.action.as_str(),
            last.actor.as_str(),
            last.reason.as_str()
        ),
        ("promote", "Ada", "better RMSPE")
    );
    assert_eq!(last.source, TransitionSource::Ui);
    // Approving again is refused by the lifecycle (not Staging any more) and shown inline.
    let (status, _, body) = send(
        &app,
        "POST",
        &approve,
        &headers,
        &format!("csrf_token={token}&approver=Ada&reason=again"),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body.contains("action-error"));
    // Roll back: v1 serves again.
    let (status, _, _) = send(
        &app,
        "POST",
        &format!("/models/{MODEL}/rollback"),
        &headers,
        &format!("csrf_token={token}&approver=Bob&reason=regression"),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        store
            .get_model_version(MODEL, 1)
            .await
            .unwrap()
            .current_stage,
        Stage::Production
    );
    let rollback = store
        .audit_trail(MODEL, Some(1))
        .await
        .unwrap()
        .last()
        .cloned()
        .unwrap();
    assert_eq!(
        (rollback.action.as_str(), rollback.source),
        ("rollback", TransitionSource::Ui)
    );
    // Reject: only from Staging.
    promote(
        &*store,
        &PromoteRequest {
            name: MODEL.into(),
            version: 3,
            stage: Stage::Staging,
            approver: "x".into(),
            reason: String::new(),
            force: false,
            source: TransitionSource::Cli,
        },
    )
    .await
    .unwrap();
    let (status, _, _) = send(
        &app,
        "POST",
        &format!("/models/{MODEL}/versions/3/reject"),
        &headers,
        &format!("csrf_token={token}&approver=Cy&reason=too+slow"),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let v3 = store.get_model_version(MODEL, 3).await.unwrap();
    assert_eq!(v3.current_stage, Stage::Archived);
    let entry = store
        .audit_trail(MODEL, Some(3))
        .await
        .unwrap()
        .last()
        .cloned()
        .unwrap();
    assert_eq!(entry.reason, "Rejected: too slow");
    let (status, _, _) = send(
        &app,
        "POST",
        &format!("/models/{MODEL}/versions/1/reject"),
        &headers,
        &format!("csrf_token={token}&approver=Cy&reason=no"),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn the_auth_token_guards_the_ui_and_api_writes() {
    let f = fixture().await;
    let ui = UiOptions {
        auth: Some(AuthToken::new("s3cret-token").unwrap()),
        ..f.ui.clone()
    };
    let app = router_with_ui(f.state.clone(), ui);
    // UI pages: 401 with the login form.
    let (status, body) = get(&app, "/experiments").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("Access token"));
    // Assets and the login page stay reachable.
    assert_eq!(get(&app, "/ui/assets/ui.css").await.0, StatusCode::OK);
    assert_eq!(get(&app, "/login").await.0, StatusCode::OK);
    // API: reads are open, writes need the token.
    assert_eq!(
        get(&app, "/api/2.0/mlflow/experiments/get?experiment_id=0")
            .await
            .0,
        StatusCode::OK
    );
    let create = |auth: Option<&'static str>| {
        let app = app.clone();
        async move {
            let mut headers = vec![("content-type", "application/json")];
            if let Some(a) = auth {
                headers.push(("authorization", a));
            }
            send(
                &app,
                "POST",
                "/api/2.0/mlflow/experiments/create",
                &headers,
                r#"{"name":"guarded"}"#,
            )
            .await
            .0
        }
    };
    assert_eq!(create(None).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        create(Some("Bearer wrong-token")).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(create(Some("Bearer s3cret-token")).await, StatusCode::OK);
    // Basic auth with the token as password ("user:s3cret-token").
    let (status, _, _) = send(
        &app,
        "POST",
        "/api/2.0/mlflow/experiments/create",
        &[
            ("content-type", "application/json"),
            ("authorization", "Basic dXNlcjpzM2NyZXQtdG9rZW4="),
        ],
        r#"{"name":"guarded-2"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Login: a wrong token is 401, the right one sets a session cookie that opens the UI.
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let (status, _, _) = send(
        &app,
        "POST",
        "/login",
        &form,
        "token=nope-nope&next=/models",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, headers, _) = send(
        &app,
        "POST",
        "/login",
        &form,
        "token=s3cret-token&next=/models",
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/models");
    let session = headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert!(
        !session.contains("s3cret-token"),
        "the cookie must not hold the token itself"
    );
    let (status, _, body) = send(&app, "GET", "/models", &[("cookie", session.as_str())], "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Log out"));
}
