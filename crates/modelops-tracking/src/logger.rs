//! [`RunLogger`]: a small blocking API for commands (which are synchronous) to record one run — start it, log
//! params, metrics and tags, upload an artifact folder, end it. Works with every tracking URI: artifacts go to
//! the local artifact root for SQL backends and through the server's artifact proxy for `http(s)://`.

use crate::artifacts::{ArtifactStore, proxied_path};
use crate::entities::{CreateRun, Metric, Param, RunId, RunStatus, Tag, UpdateRun};
use crate::error::StoreError;
use crate::remote::RemoteStore;
use crate::store::Store;
use crate::validation::{MAX_BATCH_METRICS, MAX_BATCH_PARAMS, MAX_BATCH_TAGS};
use std::path::Path;
use std::sync::Arc;

enum ArtifactTarget {
    /// A local folder or bucket, and the run's path below it.
    Store(ArtifactStore, String),
    /// A tracking server's proxy, and the run's path below the proxy root.
    Proxy(RemoteStore, String),
}

/// Records one run from synchronous code. Owns a small Tokio runtime, so do not use it inside async code.
pub struct RunLogger {
    runtime: tokio::runtime::Runtime,
    store: Arc<dyn Store>,
    artifacts: ArtifactTarget,
    run_id: RunId,
    experiment_id: String,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl RunLogger {
    /// Opens the store at `tracking_uri`, finds or creates experiment `experiment`, and starts a run in it.
    /// `artifact_root` is the folder (or `s3://…`) that `mlflow-artifacts:/` locations resolve to for SQL
    /// backends; it is ignored for `http(s)://` URIs.
    ///
    /// # Errors
    /// Whatever opening the store or creating the experiment or run reports.
    pub fn start(
        tracking_uri: &str,
        artifact_root: &str,
        experiment: &str,
        run_name: Option<&str>,
        tags: &[(&str, &str)],
    ) -> Result<Self, StoreError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::backend("starting the tracking runtime", e))?;
        let (store, run) = runtime.block_on(async {
            let store = crate::open(tracking_uri).await?;
            let experiment_id = match store.get_experiment_by_name(experiment).await {
                Ok(found) if found.lifecycle_stage == crate::LifecycleStage::Deleted => {
                    return Err(StoreError::invalid(format!(
                        "experiment '{experiment}' is deleted; restore it or choose another experiment name"
                    )));
                }
                Ok(found) => found.experiment_id,
                Err(StoreError::NotFound(_)) => match store.create_experiment(experiment, None, &[]).await {
                    Ok(id) => id,
                    // Another process created it between our lookup and create.
                    Err(StoreError::AlreadyExists(_)) => store.get_experiment_by_name(experiment).await?.experiment_id,
                    Err(e) => return Err(e),
                },
                Err(e) => return Err(e),
            };
            let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_default();
            let mut all_tags: Vec<Tag> =
                tags.iter().map(|(k, v)| Tag { key: (*k).to_string(), value: (*v).to_string() }).collect();
            for (key, value) in [("mlflow.user", user.as_str()), ("mlflow.source.name", "modelops"), ("mlflow.source.type", "LOCAL")] {
                if !all_tags.iter().any(|t| t.key == key) {
                    all_tags.push(Tag { key: key.into(), value: value.into() });
                }
            }
            let run = store
                .create_run(&CreateRun {
                    experiment_id: Some(experiment_id),
                    user_id: Some(user),
                    start_time: None,
                    run_name: run_name.map(str::to_string),
                    tags: all_tags,
                })
                .await?;
            Ok((store, run))
        })?;
        let artifact_uri = run.info.artifact_uri.clone();
        let artifacts = if tracking_uri.starts_with("http://")
            || tracking_uri.starts_with("https://")
        {
            let remote = RemoteStore::new(tracking_uri)?;
            let path = proxied_path(&artifact_uri).ok_or_else(|| {
                StoreError::invalid(format!(
                    "run artifact URI '{artifact_uri}' is not served by the tracking server's artifact proxy"
                ))
            })?;
            ArtifactTarget::Proxy(remote, path.to_string())
        } else if let Some(path) = proxied_path(&artifact_uri) {
            ArtifactTarget::Store(ArtifactStore::open(artifact_root)?, path.to_string())
        } else {
            ArtifactTarget::Store(ArtifactStore::open(&artifact_uri)?, String::new())
        };
        Ok(Self {
            runtime,
            store,
            artifacts,
            run_id: run.info.run_id,
            experiment_id: run.info.experiment_id.0,
        })
    }

    /// The run's id.
    pub fn run_id(&self) -> &RunId {
        &self.run_id
    }

    /// The id of the run's experiment.
    pub fn experiment_id(&self) -> &str {
        &self.experiment_id
    }

    /// The store the run is recorded in.
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// Logs params (split into batches of at most 100).
    ///
    /// # Errors
    /// [`StoreError::InvalidParameter`] for bad keys or a changed value.
    pub fn log_params<K: AsRef<str>, V: ToString>(
        &self,
        params: &[(K, V)],
    ) -> Result<(), StoreError> {
        let params: Vec<Param> = params
            .iter()
            .map(|(k, v)| Param {
                key: k.as_ref().to_string(),
                value: v.to_string(),
            })
            .collect();
        for chunk in params.chunks(MAX_BATCH_PARAMS) {
            self.runtime
                .block_on(self.store.log_batch(&self.run_id, &[], chunk, &[]))?;
        }
        Ok(())
    }

    /// Logs metric values at `step` (split into batches of at most 1000).
    ///
    /// # Errors
    /// [`StoreError::InvalidParameter`] for bad keys.
    pub fn log_metrics<K: AsRef<str>>(
        &self,
        metrics: &[(K, f64)],
        step: i64,
    ) -> Result<(), StoreError> {
        let timestamp = now_ms();
        let metrics: Vec<Metric> = metrics
            .iter()
            .map(|(k, v)| Metric {
                key: k.as_ref().to_string(),
                value: *v,
                timestamp,
                step,
            })
            .collect();
        for chunk in metrics.chunks(MAX_BATCH_METRICS) {
            self.runtime
                .block_on(self.store.log_batch(&self.run_id, chunk, &[], &[]))?;
        }
        Ok(())
    }

    /// Sets run tags.
    ///
    /// # Errors
    /// [`StoreError::InvalidParameter`] for bad keys.
    pub fn set_tags<K: AsRef<str>, V: ToString>(&self, tags: &[(K, V)]) -> Result<(), StoreError> {
        let tags: Vec<Tag> = tags
            .iter()
            .map(|(k, v)| Tag {
                key: k.as_ref().to_string(),
                value: v.to_string(),
            })
            .collect();
        for chunk in tags.chunks(MAX_BATCH_TAGS) {
            self.runtime
                .block_on(self.store.log_batch(&self.run_id, &[], &[], chunk))?;
        }
        Ok(())
    }

    /// Uploads every file below `dir` to the run's artifacts under `artifact_path` (`""` for the top level).
    /// Returns the number of files.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when a file cannot be read or stored; `Invalid path` for an unsafe
    /// `artifact_path`.
    pub fn log_artifact_dir(&self, dir: &Path, artifact_path: &str) -> Result<u64, StoreError> {
        crate::artifacts::artifact_path(artifact_path)?;
        let join = |base: &str| {
            [base, artifact_path]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join("/")
        };
        match &self.artifacts {
            ArtifactTarget::Store(store, base) => {
                self.runtime.block_on(store.upload_dir(dir, &join(base)))
            }
            ArtifactTarget::Proxy(remote, base) => {
                let dest = join(base);
                let mut files = 0;
                let mut stack = vec![dir.to_path_buf()];
                while let Some(current) = stack.pop() {
                    let entries = std::fs::read_dir(&current).map_err(|e| {
                        StoreError::backend(format!("reading folder {}", current.display()), e)
                    })?;
                    for entry in entries {
                        let path = entry
                            .map_err(|e| {
                                StoreError::backend(
                                    format!("reading folder {}", current.display()),
                                    e,
                                )
                            })?
                            .path();
                        if path.is_dir() {
                            stack.push(path);
                            continue;
                        }
                        let relative = path.strip_prefix(dir).unwrap_or(&path);
                        let relative: Vec<String> = relative
                            .components()
                            .map(|c| c.as_os_str().to_string_lossy().into_owned())
                            .collect();
                        let bytes = std::fs::read(&path).map_err(|e| {
                            StoreError::backend(format!("reading {}", path.display()), e)
                        })?;
                        let target = format!("{dest}/{}", relative.join("/"));
                        self.runtime
                            .block_on(remote.upload_artifact(&target, bytes.into()))?;
                        files += 1;
                    }
                }
                Ok(files)
            }
        }
    }

    /// Ends the run with `status` (normally [`RunStatus::Finished`] or [`RunStatus::Failed`]).
    ///
    /// # Errors
    /// Whatever the store reports.
    pub fn end(self, status: RunStatus) -> Result<(), StoreError> {
        let update = UpdateRun {
            status: Some(status),
            end_time: Some(now_ms()),
            run_name: None,
        };
        self.runtime
            .block_on(self.store.update_run(&self.run_id, &update))
            .map(drop)
    }
}
