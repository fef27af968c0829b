//! The `mlflow-artifacts` proxy (upload, download, list, delete) and the run-scoped `artifacts/list`. Bodies
//! stream in both directions, so large artifacts never sit in memory. Path safety lives in
//! [`modelops_tracking::artifacts::artifact_path`].

use crate::AppState;
use crate::error::ApiError;
use crate::request::Fields;
use crate::tracking::ApiResult;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use modelops_tracking::artifacts::proxied_path;
use modelops_tracking::wire::file_info_json;
use modelops_tracking::{RunId, StoreError};
use serde_json::{Value, json};

/// `PUT …/artifacts/<path>`: stores the raw body.
pub async fn upload(
    State(app): State<AppState>,
    Path(path): Path<String>,
    body: Body,
) -> ApiResult {
    app.artifacts
        .put_stream(&path, body.into_data_stream())
        .await?;
    Ok(Json(json!({})))
}

/// `GET …/artifacts/<path>`: streams the file.
pub async fn download(
    State(app): State<AppState>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    let (size, stream) = app.artifacts.get(&path).await?;
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    Ok(response)
}

/// `DELETE …/artifacts/<path>`.
pub async fn delete(State(app): State<AppState>, Path(path): Path<String>) -> ApiResult {
    app.artifacts.delete(&path).await?;
    Ok(Json(json!({})))
}

fn files_reply(files: Vec<Value>) -> Value {
    if files.is_empty() {
        json!({})
    } else {
        json!({ "files": files })
    }
}

/// `GET …/artifacts?path=<dir>`: immediate children as bare names; a file or missing folder lists as `{}`.
pub async fn list(State(app): State<AppState>, f: Fields) -> ApiResult {
    let path = f.opt_str("path")?.unwrap_or_default();
    let files = app.artifacts.list(&path).await?;
    Ok(Json(files_reply(
        files.iter().map(file_info_json).collect(),
    )))
}

/// `GET A/artifacts/list?run_id=&path=`: a run's artifacts, paths relative to the run's artifact root.
pub async fn list_run_artifacts(State(app): State<AppState>, f: Fields) -> ApiResult {
    let run = app.store.get_run(&RunId(f.run_id()?)).await?;
    let sub = f.opt_str("path")?.unwrap_or_default();
    modelops_tracking::artifacts::artifact_path(&sub)?;
    let root_uri = run.info.artifact_uri.clone();
    let Some(base) = proxied_path(&root_uri) else {
        return Err(StoreError::invalid(format!(
            "The run's artifacts live at '{root_uri}', outside this server's artifact proxy; read them there"
        ))
        .into());
    };
    let dir = if sub.is_empty() {
        base.to_string()
    } else {
        format!("{base}/{}", sub.trim_matches('/'))
    };
    let files = app.artifacts.list(&dir).await?;
    let files: Vec<Value> = files
        .into_iter()
        .map(|mut file| {
            if !sub.is_empty() {
                file.path = format!("{}/{}", sub.trim_matches('/'), file.path);
            }
            file_info_json(&file)
        })
        .collect();
    let mut reply = files_reply(files);
    reply["root_uri"] = json!(root_uri);
    Ok(Json(reply))
}
