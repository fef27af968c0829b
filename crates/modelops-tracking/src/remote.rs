//! [`RemoteStore`]: the [`Store`] trait spoken as MLflow REST API 2.0 over HTTP(S) (reqwest + rustls), so modelops
//! commands log to any MLflow-compatible server — ours or a stock `mlflow server`. Error replies map back to
//! [`StoreError`] variants by their `error_code`, so a command behaves the same whichever backend it talks to.
//! Credentials come from `MLFLOW_TRACKING_TOKEN` (Bearer) or `MLFLOW_TRACKING_USERNAME`/`_PASSWORD` (Basic).

use crate::entities::{
    CreateRun, Experiment, ExperimentId, FileInfo, Metric, Page, Param, Run, RunId, RunInfo,
    SearchExperiments, SearchRuns, Tag, UpdateRun,
};
use crate::error::StoreError;
use crate::store::Store;
use crate::wire;
use serde_json::{Value, json};
use std::time::Duration;

/// A [`Store`] backed by a remote MLflow tracking server.
#[derive(Clone, Debug)]
pub struct RemoteStore {
    base: String,
    client: reqwest::Client,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl RemoteStore {
    /// A client for the server at `uri` (`http://host:5000`); no request is made yet.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the HTTP client cannot be built.
    pub fn new(uri: &str) -> Result<Self, StoreError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| StoreError::backend("building the HTTP client", e))?;
        Ok(Self {
            base: uri.trim_end_matches('/').to_string(),
            client,
        })
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The HTTP client (for the registry module's calls).
    pub(crate) fn http_client(&self) -> &reqwest::Client {
        &self.client
    }

    pub(crate) fn authorize(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if let Ok(token) = std::env::var("MLFLOW_TRACKING_TOKEN") {
            request.bearer_auth(token)
        } else if let Ok(user) = std::env::var("MLFLOW_TRACKING_USERNAME") {
            request.basic_auth(user, std::env::var("MLFLOW_TRACKING_PASSWORD").ok())
        } else {
            request
        }
    }

    pub(crate) async fn send(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<Value, StoreError> {
        let response = self
            .authorize(request)
            .send()
            .await
            .map_err(|e| StoreError::backend(format!("calling {} ({what})", self.base), e))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| StoreError::backend(format!("reading reply to {what}"), e))?;
        let body: Value = if text.trim().is_empty() {
            json!({})
        } else {
            match serde_json::from_str(&text) {
                Ok(body) => body,
                // A stock MLflow server answers routes it does not have with an HTML 404 page; callers that
                // probe for modelops extensions (the registry audit log) need to tell that apart.
                Err(_) if status == reqwest::StatusCode::NOT_FOUND => {
                    return Err(StoreError::Remote {
                        code: "ENDPOINT_NOT_FOUND".into(),
                        message: format!("{} has no endpoint for {what} (HTTP 404)", self.base),
                    });
                }
                Err(e) => {
                    return Err(StoreError::backend(
                        format!(
                            "{what}: HTTP {status}, not JSON: {}",
                            crate::validation::truncate_chars(&text, 200)
                        ),
                        e,
                    ));
                }
            }
        };
        if status.is_success() {
            return Ok(body);
        }
        Err(error_reply(status, &body, &text, what))
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, StoreError> {
        let url = format!("{}/api/2.0/mlflow/{path}", self.base);
        self.send(self.client.post(url).json(&body), path).await
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, StoreError> {
        let url = format!("{}/api/2.0/mlflow/{path}", self.base);
        self.send(self.client.get(url).query(query), path).await
    }
}

fn tags_json(tags: &[Tag]) -> Value {
    Value::Array(
        tags.iter()
            .map(|t| json!({"key": t.key, "value": t.value}))
            .collect(),
    )
}

/// The [`StoreError`] for a failed reply: MLflow's `error_code` picks the variant, so a command sees the same
/// error from a remote server as from an embedded store.
fn error_reply(status: reqwest::StatusCode, body: &Value, text: &str, what: &str) -> StoreError {
    let code = body
        .get("error_code")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let message = body.get("message").and_then(Value::as_str).map_or_else(
        || crate::validation::truncate_chars(text, 500),
        str::to_string,
    );
    match code.as_str() {
        "RESOURCE_DOES_NOT_EXIST" => StoreError::NotFound(message),
        "RESOURCE_ALREADY_EXISTS" => StoreError::AlreadyExists(message),
        "INVALID_PARAMETER_VALUE" | "BAD_REQUEST" => StoreError::InvalidParameter(message),
        "" if status == reqwest::StatusCode::NOT_FOUND => {
            StoreError::NotFound(format!("{what}: {message}"))
        }
        "" => StoreError::backend(what.to_string(), format!("HTTP {status}: {message}")),
        _ => StoreError::Remote { code, message },
    }
}

fn token(v: &Value) -> Option<String> {
    v.get("next_page_token")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

#[async_trait::async_trait]
impl Store for RemoteStore {
    async fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[Tag],
    ) -> Result<ExperimentId, StoreError> {
        let mut body = json!({"name": name, "tags": tags_json(tags)});
        if let Some(location) = artifact_location {
            body["artifact_location"] = json!(location);
        }
        let reply = self.post("experiments/create", body).await?;
        let id = reply
            .get("experiment_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        Ok(ExperimentId(id.to_string()))
    }

    async fn get_experiment(&self, id: &ExperimentId) -> Result<Experiment, StoreError> {
        let reply = self
            .get("experiments/get", &[("experiment_id", id.0.clone())])
            .await?;
        wire::parse_experiment(reply.get("experiment").unwrap_or(&Value::Null))
    }

    async fn get_experiment_by_name(&self, name: &str) -> Result<Experiment, StoreError> {
        let reply = self
            .get(
                "experiments/get-by-name",
                &[("experiment_name", name.to_string())],
            )
            .await?;
        wire::parse_experiment(reply.get("experiment").unwrap_or(&Value::Null))
    }

    async fn search_experiments(
        &self,
        request: &SearchExperiments,
    ) -> Result<Page<Experiment>, StoreError> {
        let body = json!({
            "filter": request.filter,
            "view_type": request.view_type.as_str(),
            "max_results": request.max_results.unwrap_or(crate::validation::DEFAULT_SEARCH_RESULTS),
            "order_by": request.order_by,
            "page_token": request.page_token,
        });
        let reply = self.post("experiments/search", body).await?;
        let items = reply
            .get("experiments")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .map(wire::parse_experiment)
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        Ok(Page {
            items,
            next_page_token: token(&reply),
        })
    }

    async fn rename_experiment(&self, id: &ExperimentId, new_name: &str) -> Result<(), StoreError> {
        self.post(
            "experiments/update",
            json!({"experiment_id": id.0, "new_name": new_name}),
        )
        .await
        .map(drop)
    }

    async fn delete_experiment(&self, id: &ExperimentId) -> Result<(), StoreError> {
        self.post("experiments/delete", json!({"experiment_id": id.0}))
            .await
            .map(drop)
    }

    async fn restore_experiment(&self, id: &ExperimentId) -> Result<(), StoreError> {
        self.post("experiments/restore", json!({"experiment_id": id.0}))
            .await
            .map(drop)
    }

    async fn set_experiment_tag(&self, id: &ExperimentId, tag: &Tag) -> Result<(), StoreError> {
        let body = json!({"experiment_id": id.0, "key": tag.key, "value": tag.value});
        self.post("experiments/set-experiment-tag", body)
            .await
            .map(drop)
    }

    async fn create_run(&self, request: &CreateRun) -> Result<Run, StoreError> {
        let mut body = json!({
            "experiment_id": request.experiment_id.as_ref().map(|e| e.0.clone()).unwrap_or_else(|| "0".into()),
            "user_id": request.user_id.clone().unwrap_or_default(),
            "start_time": request.start_time.unwrap_or_else(now_ms),
            "tags": tags_json(&request.tags),
        });
        if let Some(name) = &request.run_name {
            body["run_name"] = json!(name);
        }
        let reply = self.post("runs/create", body).await?;
        wire::parse_run(reply.get("run").unwrap_or(&Value::Null))
    }

    async fn get_run(&self, id: &RunId) -> Result<Run, StoreError> {
        let reply = self
            .get(
                "runs/get",
                &[("run_id", id.0.clone()), ("run_uuid", id.0.clone())],
            )
            .await?;
        wire::parse_run(reply.get("run").unwrap_or(&Value::Null))
    }

    async fn update_run(&self, id: &RunId, update: &UpdateRun) -> Result<RunInfo, StoreError> {
        let mut body = json!({"run_id": id.0, "run_uuid": id.0});
        if let Some(status) = update.status {
            body["status"] = json!(status.as_str());
        }
        if let Some(end) = update.end_time {
            body["end_time"] = json!(end);
        }
        if let Some(name) = &update.run_name {
            body["run_name"] = json!(name);
        }
        let reply = self.post("runs/update", body).await?;
        wire::parse_run_info(reply.get("run_info").unwrap_or(&Value::Null))
    }

    async fn delete_run(&self, id: &RunId) -> Result<(), StoreError> {
        self.post("runs/delete", json!({"run_id": id.0}))
            .await
            .map(drop)
    }

    async fn restore_run(&self, id: &RunId) -> Result<(), StoreError> {
        self.post("runs/restore", json!({"run_id": id.0}))
            .await
            .map(drop)
    }

    async fn search_runs(&self, request: &SearchRuns) -> Result<Page<Run>, StoreError> {
        let body = json!({
            "experiment_ids": request.experiment_ids.iter().map(|e| e.0.clone()).collect::<Vec<_>>(),
            "filter": request.filter,
            "run_view_type": request.run_view_type.as_str(),
            "max_results": request.max_results.unwrap_or(crate::validation::DEFAULT_SEARCH_RESULTS),
            "order_by": request.order_by,
            "page_token": request.page_token,
        });
        let reply = self.post("runs/search", body).await?;
        let items = reply
            .get("runs")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .map(wire::parse_run)
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        Ok(Page {
            items,
            next_page_token: token(&reply),
        })
    }

    async fn log_param(&self, id: &RunId, param: &Param) -> Result<(), StoreError> {
        let body =
            json!({"run_id": id.0, "run_uuid": id.0, "key": param.key, "value": param.value});
        self.post("runs/log-parameter", body).await.map(drop)
    }

    async fn log_metric(&self, id: &RunId, metric: &Metric) -> Result<(), StoreError> {
        let mut body = wire::metric_json(metric);
        body["run_id"] = json!(id.0);
        body["run_uuid"] = json!(id.0);
        self.post("runs/log-metric", body).await.map(drop)
    }

    async fn set_tag(&self, id: &RunId, tag: &Tag) -> Result<(), StoreError> {
        let body = json!({"run_id": id.0, "run_uuid": id.0, "key": tag.key, "value": tag.value});
        self.post("runs/set-tag", body).await.map(drop)
    }

    async fn log_batch(
        &self,
        id: &RunId,
        metrics: &[Metric],
        params: &[Param],
        tags: &[Tag],
    ) -> Result<(), StoreError> {
        let body = json!({
            "run_id": id.0,
            "metrics": metrics.iter().map(wire::metric_json).collect::<Vec<_>>(),
            "params": params.iter().map(|p| json!({"key": p.key, "value": p.value})).collect::<Vec<_>>(),
            "tags": tags_json(tags),
        });
        self.post("runs/log-batch", body).await.map(drop)
    }

    async fn delete_tag(&self, id: &RunId, key: &str) -> Result<(), StoreError> {
        self.post("runs/delete-tag", json!({"run_id": id.0, "key": key}))
            .await
            .map(drop)
    }

    async fn get_metric_history(
        &self,
        id: &RunId,
        key: &str,
        max_results: Option<i64>,
        page_token: Option<&str>,
    ) -> Result<Page<Metric>, StoreError> {
        let mut query = vec![
            ("run_id", id.0.clone()),
            ("run_uuid", id.0.clone()),
            ("metric_key", key.to_string()),
        ];
        if let Some(n) = max_results {
            query.push(("max_results", n.to_string()));
        }
        if let Some(t) = page_token {
            query.push(("page_token", t.to_string()));
        }
        let reply = self.get("metrics/get-history", &query).await?;
        let items = reply
            .get("metrics")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .map(wire::parse_metric)
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        Ok(Page {
            items,
            next_page_token: token(&reply),
        })
    }
}

/// The proxy URL of artifact `path` (relative to the proxy root), each segment percent-encoded.
///
/// # Errors
/// `Invalid path` for paths that could leave the root (see [`artifact_path`](crate::artifacts::artifact_path)):
/// they are refused here, before sending, because URL parsing would silently resolve `..` (even encoded as
/// `%2E%2E`) into a different path inside the root.
fn proxy_url(base: &str, path: &str) -> Result<String, StoreError> {
    let encoded: Vec<String> = crate::artifacts::artifact_path(path)?
        .iter()
        .map(|s| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        })
        .collect();
    Ok(format!(
        "{base}/api/2.0/mlflow-artifacts/artifacts/{}",
        encoded.join("/")
    ))
}

/// The MLflow artifact proxy (`/api/2.0/mlflow-artifacts/artifacts`), which `modelops server` and a stock
/// `mlflow server` (with `--serve-artifacts`, the default) both offer. Paths are relative to the proxy root:
/// a run's artifacts are below `<experiment>/<run>/artifacts` (see [`proxied_path`](crate::artifacts::proxied_path)).
impl RemoteStore {
    /// Uploads one artifact (`PUT …/artifacts/<path>`), replacing an existing one.
    ///
    /// # Errors
    /// `Invalid path` ([`StoreError::InvalidParameter`]) for an unsafe or empty path; [`StoreError::Backend`] on
    /// transport failures; the mapped error for a 4xx reply.
    pub async fn upload_artifact(&self, path: &str, bytes: bytes::Bytes) -> Result<(), StoreError> {
        if path.split('/').all(str::is_empty) {
            return Err(StoreError::invalid(
                "Invalid path: '' names the root, not a file",
            ));
        }
        let url = proxy_url(&self.base, path)?;
        self.send(self.client.put(url).body(bytes), "uploading an artifact")
            .await
            .map(drop)
    }

    /// Lists the immediate children of directory `path` as bare names (`GET …/artifacts?path=<path>`); a
    /// missing directory lists as empty.
    ///
    /// # Errors
    /// `Invalid path` for an unsafe path; [`StoreError::Backend`] on transport failures or a malformed reply; the
    /// mapped error for a 4xx reply.
    pub async fn list_artifacts(&self, path: &str) -> Result<Vec<FileInfo>, StoreError> {
        crate::artifacts::artifact_path(path)?;
        let url = format!("{}/api/2.0/mlflow-artifacts/artifacts", self.base);
        let mut request = self.client.get(url);
        if !path.is_empty() {
            request = request.query(&[("path", path)]);
        }
        let reply = self.send(request, "listing artifacts").await?;
        let Some(files) = reply.get("files").and_then(Value::as_array) else {
            return Ok(Vec::new());
        };
        files
            .iter()
            .map(|f| {
                let name = f.get("path").and_then(Value::as_str).ok_or_else(|| {
                    StoreError::backend(
                        "reading an artifact listing",
                        format!("an entry has no 'path': {f}"),
                    )
                })?;
                Ok(FileInfo {
                    // A stock server answers bare names; strip any directory part defensively.
                    path: name.rsplit('/').next().unwrap_or(name).to_string(),
                    is_dir: f.get("is_dir").and_then(Value::as_bool).unwrap_or(false),
                    file_size: f.get("file_size").and_then(wire::parse_int),
                })
            })
            .collect()
    }

    /// Downloads one artifact (`GET …/artifacts/<path>`) into memory.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for a missing artifact; `Invalid path` for an unsafe path;
    /// [`StoreError::Backend`] on transport failures.
    pub async fn download_artifact(&self, path: &str) -> Result<bytes::Bytes, StoreError> {
        let what = format!("downloading artifact {path}");
        let url = proxy_url(&self.base, path)?;
        let response = self
            .authorize(self.client.get(url))
            .send()
            .await
            .map_err(|e| StoreError::backend(format!("calling {} ({what})", self.base), e))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| StoreError::backend(format!("reading reply to {what}"), e))?;
        if status.is_success() {
            return Ok(bytes);
        }
        let text = String::from_utf8_lossy(&bytes);
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Err(error_reply(status, &body, &text, &what))
    }
}
