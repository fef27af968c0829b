//! Handlers for the MLflow tracking RPCs: fields in, one store call, JSON out. Route table in [`crate::router`].

use crate::AppState;
use crate::error::ApiError;
use crate::request::Fields;
use axum::Json;
use axum::extract::State;
use modelops_tracking::validation::MAX_HISTORY_RESULTS;
use modelops_tracking::wire::{experiment_json, metric_json, run_info_json, run_json};
use modelops_tracking::{
    CreateRun, ExperimentId, Metric, Param, RunId, RunStatus, SearchExperiments, SearchRuns, Tag,
    UpdateRun, ViewType,
};
use serde_json::{Map, Value, json};

/// Handler result: a JSON reply or an MLflow error.
pub type ApiResult = Result<Json<Value>, ApiError>;

/// Largest accepted log-batch body, as MLflow.
const MAX_BATCH_BODY_BYTES: usize = 1_000_000;

fn empty() -> ApiResult {
    Ok(Json(json!({})))
}

fn view_type(fields: &Fields, name: &str) -> Result<ViewType, ApiError> {
    match fields.opt_str(name)? {
        None => Ok(ViewType::ActiveOnly),
        Some(s) => ViewType::parse(&s).ok_or_else(|| {
            ApiError::bad_value(
                name,
                &Value::String(s),
                "Value must be one of ACTIVE_ONLY, DELETED_ONLY, ALL",
            )
        }),
    }
}

fn page(key: &str, items: Vec<Value>, token: Option<String>) -> Value {
    let mut out = Map::new();
    if !items.is_empty() {
        out.insert(key.into(), Value::Array(items));
    }
    if let Some(token) = token {
        out.insert("next_page_token".into(), Value::String(token));
    }
    Value::Object(out)
}

/// `POST experiments/create`.
pub async fn create_experiment(State(app): State<AppState>, f: Fields) -> ApiResult {
    let name = f.req_str("name")?;
    let location = f.opt_str("artifact_location")?;
    let tags = f.tags("tags")?;
    let id = app
        .store
        .create_experiment(&name, location.as_deref(), &tags)
        .await?;
    Ok(Json(json!({ "experiment_id": id.0 })))
}

/// `GET experiments/get`.
pub async fn get_experiment(State(app): State<AppState>, f: Fields) -> ApiResult {
    let id = ExperimentId(f.req_str("experiment_id")?);
    let experiment = app.store.get_experiment(&id).await?;
    Ok(Json(json!({ "experiment": experiment_json(&experiment) })))
}

/// `GET experiments/get-by-name`.
pub async fn get_experiment_by_name(State(app): State<AppState>, f: Fields) -> ApiResult {
    let name = f.req_str("experiment_name")?;
    let experiment = app.store.get_experiment_by_name(&name).await?;
    Ok(Json(json!({ "experiment": experiment_json(&experiment) })))
}

/// `POST|GET experiments/search`.
pub async fn search_experiments(State(app): State<AppState>, f: Fields) -> ApiResult {
    let request = SearchExperiments {
        filter: f.opt_str("filter")?.unwrap_or_default(),
        view_type: view_type(&f, "view_type")?,
        max_results: f.opt_i64("max_results")?,
        order_by: f.str_list("order_by")?,
        page_token: f.opt_str("page_token")?,
    };
    let result = app.store.search_experiments(&request).await?;
    let items = result.items.iter().map(experiment_json).collect();
    Ok(Json(page("experiments", items, result.next_page_token)))
}

/// `POST experiments/update` (rename).
pub async fn update_experiment(State(app): State<AppState>, f: Fields) -> ApiResult {
    let id = ExperimentId(f.req_str("experiment_id")?);
    if let Some(new_name) = f.opt_str("new_name")? {
        app.store.rename_experiment(&id, &new_name).await?;
    } else {
        app.store.get_experiment(&id).await?;
    }
    empty()
}

/// `POST experiments/delete`.
pub async fn delete_experiment(State(app): State<AppState>, f: Fields) -> ApiResult {
    app.store
        .delete_experiment(&ExperimentId(f.req_str("experiment_id")?))
        .await?;
    empty()
}

/// `POST experiments/restore`.
pub async fn restore_experiment(State(app): State<AppState>, f: Fields) -> ApiResult {
    app.store
        .restore_experiment(&ExperimentId(f.req_str("experiment_id")?))
        .await?;
    empty()
}

/// `POST experiments/set-experiment-tag`.
pub async fn set_experiment_tag(State(app): State<AppState>, f: Fields) -> ApiResult {
    let id = ExperimentId(f.req_str("experiment_id")?);
    let tag = Tag {
        key: f.req_str("key")?,
        value: f.opt_str_allow_empty("value")?.unwrap_or_default(),
    };
    app.store.set_experiment_tag(&id, &tag).await?;
    empty()
}

/// `POST runs/create`.
pub async fn create_run(State(app): State<AppState>, f: Fields) -> ApiResult {
    let request = CreateRun {
        experiment_id: f.opt_str("experiment_id")?.map(ExperimentId),
        user_id: f.opt_str("user_id")?,
        start_time: f.opt_i64("start_time")?,
        run_name: f.opt_str("run_name")?,
        tags: f.tags("tags")?,
    };
    let run = app.store.create_run(&request).await?;
    Ok(Json(json!({ "run": run_json(&run) })))
}

/// `GET runs/get`.
pub async fn get_run(State(app): State<AppState>, f: Fields) -> ApiResult {
    let run = app.store.get_run(&RunId(f.run_id()?)).await?;
    Ok(Json(json!({ "run": run_json(&run) })))
}

/// `POST runs/update`.
pub async fn update_run(State(app): State<AppState>, f: Fields) -> ApiResult {
    let id = RunId(f.run_id()?);
    let status = match f.opt_str("status")? {
        None => None,
        Some(s) => Some(RunStatus::parse(&s).ok_or_else(|| {
            ApiError::bad_value(
                "status",
                &Value::String(s),
                "Value must be one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED",
            )
        })?),
    };
    let update = UpdateRun {
        status,
        end_time: f.opt_i64("end_time")?,
        run_name: f.opt_str("run_name")?,
    };
    let info = app.store.update_run(&id, &update).await?;
    Ok(Json(json!({ "run_info": run_info_json(&info) })))
}

/// `POST runs/delete`.
pub async fn delete_run(State(app): State<AppState>, f: Fields) -> ApiResult {
    app.store.delete_run(&RunId(f.run_id()?)).await?;
    empty()
}

/// `POST runs/restore`.
pub async fn restore_run(State(app): State<AppState>, f: Fields) -> ApiResult {
    app.store.restore_run(&RunId(f.run_id()?)).await?;
    empty()
}

/// `POST runs/search`.
pub async fn search_runs(State(app): State<AppState>, f: Fields) -> ApiResult {
    let request = SearchRuns {
        experiment_ids: f
            .str_list("experiment_ids")?
            .into_iter()
            .map(ExperimentId)
            .collect(),
        filter: f.opt_str("filter")?.unwrap_or_default(),
        run_view_type: view_type(&f, "run_view_type")?,
        max_results: f.opt_i64("max_results")?,
        order_by: f.str_list("order_by")?,
        page_token: f.opt_str("page_token")?,
    };
    let result = app.store.search_runs(&request).await?;
    let items = result.items.iter().map(run_json).collect();
    Ok(Json(page("runs", items, result.next_page_token)))
}

/// `POST runs/log-parameter`.
pub async fn log_param(State(app): State<AppState>, f: Fields) -> ApiResult {
    let id = RunId(f.run_id()?);
    let param = Param {
        key: f.req_str("key")?,
        value: f.opt_str_allow_empty("value")?.unwrap_or_default(),
    };
    if f.opt_str_allow_empty("value")?.is_none() {
        return Err(ApiError::missing("value"));
    }
    app.store.log_param(&id, &param).await?;
    empty()
}

fn metric_from(f: &Fields, prefix: &str) -> Result<Metric, ApiError> {
    let named = |name: &str| {
        if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        }
    };
    let key = f
        .req_str("key")
        .map_err(|_| ApiError::missing(&named("key")))?;
    let value = match f.req_f64("value") {
        Ok(v) => v,
        Err(e) if prefix.is_empty() => return Err(e),
        Err(_) => return Err(ApiError::missing(&named("value"))),
    };
    let timestamp = f
        .opt_i64("timestamp")?
        .ok_or_else(|| ApiError::missing(&named("timestamp")))?;
    Ok(Metric {
        key,
        value,
        timestamp,
        step: f.opt_i64("step")?.unwrap_or(0),
    })
}

/// `POST runs/log-metric`.
pub async fn log_metric(State(app): State<AppState>, f: Fields) -> ApiResult {
    let id = RunId(f.run_id()?);
    let metric = metric_from(&f, "")?;
    app.store.log_metric(&id, &metric).await?;
    empty()
}

/// `POST runs/log-batch`.
pub async fn log_batch(State(app): State<AppState>, f: Fields) -> ApiResult {
    if f.body_len > MAX_BATCH_BODY_BYTES {
        return Err(ApiError::invalid(format!(
            "Batched logging API requests must be at most {MAX_BATCH_BODY_BYTES} bytes, got a request of {} bytes.",
            f.body_len
        )));
    }
    let id = RunId(f.run_id()?);
    let metrics = f
        .objects("metrics")?
        .iter()
        .enumerate()
        .map(|(i, m)| metric_from(m, &format!("metrics[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let params = f
        .objects("params")?
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let key = p
                .req_str("key")
                .map_err(|_| ApiError::missing(&format!("params[{i}].key")))?;
            let value = p
                .opt_str_allow_empty("value")?
                .ok_or_else(|| ApiError::missing(&format!("params[{i}].value")))?;
            Ok(Param { key, value })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let tags = f.tags("tags")?;
    app.store.log_batch(&id, &metrics, &params, &tags).await?;
    empty()
}

/// `POST runs/set-tag`.
pub async fn set_tag(State(app): State<AppState>, f: Fields) -> ApiResult {
    let id = RunId(f.run_id()?);
    let tag = Tag {
        key: f.req_str("key")?,
        value: f.opt_str_allow_empty("value")?.unwrap_or_default(),
    };
    app.store.set_tag(&id, &tag).await?;
    empty()
}

/// `POST runs/delete-tag`.
pub async fn delete_tag(State(app): State<AppState>, f: Fields) -> ApiResult {
    let id = RunId(f.run_id()?);
    app.store.delete_tag(&id, &f.req_str("key")?).await?;
    empty()
}

/// `GET metrics/get-history`.
pub async fn get_metric_history(State(app): State<AppState>, f: Fields) -> ApiResult {
    let id = RunId(f.run_id()?);
    let key = f.req_str("metric_key")?;
    let max_results = f
        .opt_i64("max_results")?
        .map(|n| n.min(MAX_HISTORY_RESULTS));
    let page_token = f.opt_str("page_token")?;
    let result = app
        .store
        .get_metric_history(&id, &key, max_results, page_token.as_deref())
        .await?;
    let items = result.items.iter().map(metric_json).collect();
    Ok(Json(page("metrics", items, result.next_page_token)))
}

/// `POST logged-models/search`: no logged models are stored yet (MLflow 3 logged models are milestone M2), so
/// the honest answer is an empty result, which the client's run-scoped artifact calls expect.
pub async fn search_logged_models(State(_app): State<AppState>, f: Fields) -> ApiResult {
    f.str_list("experiment_ids")?;
    empty()
}
