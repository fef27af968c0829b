//! Model URIs, everywhere a model is loaded: `models:/name/N`, `models:/name/Staging|Production|Archived|None`,
//! `models:/name/latest`, `models:/name@alias`, `runs:/<run_id>/path`, and a plain folder path (or `file://`).
//! [`resolve_model_uri`] turns one into a [`ResolvedModel`] (which version, where its files are);
//! [`download_model`] brings the files to a local folder when they are not in one already.

use super::entities::{LATEST_ALIAS, Stage};
use crate::artifacts::{ArtifactStore, proxied_path};
use crate::entities::{FileInfo, RunId};
use crate::error::StoreError;
use crate::remote::RemoteStore;
use crate::store::Store;
use std::path::{Path, PathBuf};

/// A parsed model URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelUri {
    /// `models:/name/N`.
    Version {
        /// Registered model.
        name: String,
        /// Version number.
        version: i64,
    },
    /// `models:/name/<Stage>`: the highest live version in that stage.
    Stage {
        /// Registered model.
        name: String,
        /// The stage.
        stage: Stage,
    },
    /// `models:/name@alias` (and `models:/name/latest`, the highest live version).
    Alias {
        /// Registered model.
        name: String,
        /// The alias (`latest` for the highest live version).
        alias: String,
    },
    /// `runs:/<run_id>/path`.
    Run {
        /// The run.
        run_id: String,
        /// Path below the run's artifact root.
        path: String,
    },
    /// A local folder.
    Path(PathBuf),
}

/// What a model URI points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedModel {
    /// The registered model, for `models:/` URIs.
    pub name: Option<String>,
    /// The version, for `models:/` URIs.
    pub version: Option<i64>,
    /// The version's current stage, for `models:/` URIs.
    pub stage: Option<Stage>,
    /// The training run, when known.
    pub run_id: Option<String>,
    /// Where the files are: `mlflow-artifacts:/…`, `s3://…`, or a local path.
    pub artifact_uri: String,
    /// The local folder, when the files are already on this machine.
    pub local_path: Option<PathBuf>,
}

/// Parses a model URI.
///
/// # Errors
/// [`StoreError::InvalidParameter`] for malformed `models:/` and `runs:/` URIs and other schemes.
pub fn parse_model_uri(uri: &str) -> Result<ModelUri, StoreError> {
    let bad = |why: &str| {
        StoreError::invalid(format!(
            "invalid model URI '{uri}': {why}; use models:/name/N, models:/name/Production, models:/name@alias, \
             runs:/<run_id>/path or a folder path"
        ))
    };
    if let Some(rest) = uri.strip_prefix("models:/") {
        let rest = rest.trim_start_matches('/');
        if let Some((name, alias)) = rest.split_once('@') {
            if name.is_empty() || alias.is_empty() || alias.contains('/') {
                return Err(bad("expected models:/name@alias"));
            }
            return Ok(ModelUri::Alias {
                name: name.to_string(),
                alias: alias.to_string(),
            });
        }
        let (name, selector) = rest
            .split_once('/')
            .ok_or_else(|| bad("no version, stage or alias"))?;
        if name.is_empty() || selector.is_empty() || selector.contains('/') {
            return Err(bad("expected models:/name/<version|stage|latest>"));
        }
        if selector.eq_ignore_ascii_case(LATEST_ALIAS) {
            return Ok(ModelUri::Alias {
                name: name.to_string(),
                alias: LATEST_ALIAS.to_string(),
            });
        }
        if selector.chars().all(|c| c.is_ascii_digit()) {
            let version = super::parse_version(selector).map_err(|_| bad("versions start at 1"))?;
            return Ok(ModelUri::Version {
                name: name.to_string(),
                version,
            });
        }
        let stage = Stage::parse(selector)
            .map_err(|_| bad(&format!("'{selector}' is not a version or a stage")))?;
        return Ok(ModelUri::Stage {
            name: name.to_string(),
            stage,
        });
    }
    if let Some(rest) = uri.strip_prefix("runs:/") {
        let rest = rest.trim_start_matches('/');
        let (run_id, path) = rest.split_once('/').unwrap_or((rest, ""));
        if run_id.is_empty() {
            return Err(bad("no run id"));
        }
        crate::artifacts::artifact_path(path).map_err(|_| bad("unsafe path"))?;
        return Ok(ModelUri::Run {
            run_id: run_id.to_string(),
            path: path.trim_matches('/').to_string(),
        });
    }
    if let Some(path) = uri.strip_prefix("file://") {
        return Ok(ModelUri::Path(PathBuf::from(path)));
    }
    if uri.contains("://") || uri.starts_with("models:") || uri.starts_with("runs:") {
        return Err(bad("unsupported scheme"));
    }
    Ok(ModelUri::Path(PathBuf::from(uri)))
}

fn local_path_of(uri: &str) -> Option<PathBuf> {
    if let Some(path) = uri.strip_prefix("file://") {
        return Some(PathBuf::from(path));
    }
    (!uri.contains(':') || Path::new(uri).is_absolute()).then(|| PathBuf::from(uri))
}

async fn run_location(store: &dyn Store, run_id: &str, path: &str) -> Result<String, StoreError> {
    let run = store.get_run(&RunId(run_id.to_string())).await?;
    let root = run.info.artifact_uri.trim_end_matches('/').to_string();
    Ok(if path.is_empty() {
        root
    } else {
        format!("{root}/{path}")
    })
}

/// Resolves a model URI against the store.
///
/// # Errors
/// [`StoreError::NotFound`] for unknown models, versions, runs, aliases (the alias error is MLflow's
/// [`StoreError::InvalidParameter`]) and empty stages; [`StoreError::InvalidParameter`] for malformed URIs.
pub async fn resolve_model_uri(store: &dyn Store, uri: &str) -> Result<ResolvedModel, StoreError> {
    let version = match parse_model_uri(uri)? {
        ModelUri::Path(path) => {
            return Ok(ResolvedModel {
                name: None,
                version: None,
                stage: None,
                run_id: None,
                artifact_uri: path.display().to_string(),
                local_path: Some(path),
            });
        }
        ModelUri::Run { run_id, path } => {
            let artifact_uri = run_location(store, &run_id, &path).await?;
            return Ok(ResolvedModel {
                name: None,
                version: None,
                stage: None,
                run_id: Some(run_id),
                local_path: local_path_of(&artifact_uri),
                artifact_uri,
            });
        }
        ModelUri::Version { name, version } => store.get_model_version(&name, version).await?,
        ModelUri::Alias { name, alias } => store.get_model_version_by_alias(&name, &alias).await?,
        ModelUri::Stage { name, stage } => store
            .get_latest_versions(&name, &[stage])
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| {
                StoreError::not_found(format!(
                    "registered model '{name}' has no version in stage {stage}"
                ))
            })?,
    };
    let mut artifact_uri = store
        .get_model_version_download_uri(&version.name, version.version)
        .await?;
    if let Some(rest) = artifact_uri.strip_prefix("runs:/") {
        let rest = rest.trim_start_matches('/').to_string();
        let (run_id, path) = rest.split_once('/').unwrap_or((rest.as_str(), ""));
        artifact_uri = run_location(store, run_id, path.trim_matches('/')).await?;
    }
    Ok(ResolvedModel {
        name: Some(version.name),
        version: Some(version.version),
        stage: Some(version.current_stage),
        run_id: version.run_id,
        local_path: local_path_of(&artifact_uri),
        artifact_uri,
    })
}

/// Where `mlflow-artifacts:/` locations live for the store in use.
#[derive(Clone, Debug)]
pub enum ArtifactAccess {
    /// The artifact root folder or bucket of an SQL-backed store (`Context::artifact_root`).
    Root(String),
    /// A tracking server's `mlflow-artifacts` proxy.
    Proxy(RemoteStore),
}

impl ArtifactAccess {
    /// The proxy for `http(s)://` tracking URIs, else the artifact root.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the HTTP client cannot be built.
    pub fn for_tracking_uri(tracking_uri: &str, artifact_root: &str) -> Result<Self, StoreError> {
        if tracking_uri.starts_with("http://") || tracking_uri.starts_with("https://") {
            Ok(Self::Proxy(RemoteStore::new(tracking_uri)?))
        } else {
            Ok(Self::Root(artifact_root.to_string()))
        }
    }
}

/// The model's local folder: `resolved.local_path` when it has one, else its files downloaded below `dest`
/// (which is created). Returns the folder holding the model.
///
/// # Errors
/// [`StoreError::NotFound`] when the location holds no files; [`StoreError::InvalidParameter`] for locations this
/// access cannot reach; [`StoreError::Backend`] on I/O failures.
pub async fn download_model(
    resolved: &ResolvedModel,
    access: &ArtifactAccess,
    dest: &Path,
) -> Result<PathBuf, StoreError> {
    if let Some(path) = &resolved.local_path {
        if !path.is_dir() {
            return Err(StoreError::not_found(format!(
                "model folder {} does not exist",
                path.display()
            )));
        }
        return Ok(path.clone());
    }
    let uri = resolved.artifact_uri.as_str();
    let count = match (proxied_path(uri), access) {
        (Some(path), ArtifactAccess::Proxy(remote)) => copy_from_proxy(remote, path, dest).await?,
        (Some(path), ArtifactAccess::Root(root)) => {
            copy_from_store(&ArtifactStore::open(root)?, path, dest).await?
        }
        (None, _) if uri.starts_with("s3://") => {
            copy_from_store(&ArtifactStore::open(uri)?, "", dest).await?
        }
        (None, _) => {
            return Err(StoreError::invalid(format!(
                "cannot download model files from '{uri}': use a local folder, mlflow-artifacts:/ or s3://"
            )));
        }
    };
    if count == 0 {
        return Err(StoreError::not_found(format!("no model files at {uri}")));
    }
    Ok(dest.to_path_buf())
}

fn write_file(dest: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(|e| {
            StoreError::backend(format!("creating the folder {}", parent.display()), e)
        })?;
    }
    std::fs::write(dest, bytes)
        .map_err(|e| StoreError::backend(format!("writing {}", dest.display()), e))
}

fn join(base: &str, name: &str) -> String {
    if base.is_empty() {
        name.to_string()
    } else {
        format!("{}/{name}", base.trim_end_matches('/'))
    }
}

/// Copies every file below `path` of an artifact store into `dest`; returns how many.
async fn copy_from_store(
    store: &ArtifactStore,
    path: &str,
    dest: &Path,
) -> Result<u64, StoreError> {
    let mut count = 0;
    let mut stack: Vec<(String, PathBuf)> = vec![(path.to_string(), dest.to_path_buf())];
    while let Some((dir, local)) = stack.pop() {
        for FileInfo {
            path: name, is_dir, ..
        } in store.list(&dir).await?
        {
            if is_dir {
                stack.push((join(&dir, &name), local.join(&name)));
            } else {
                let bytes = store.read(&join(&dir, &name)).await?;
                write_file(&local.join(&name), &bytes)?;
                count += 1;
            }
        }
    }
    Ok(count)
}

/// Copies every file below `path` of a tracking server's artifact proxy into `dest`; returns how many.
async fn copy_from_proxy(remote: &RemoteStore, path: &str, dest: &Path) -> Result<u64, StoreError> {
    let mut count = 0;
    let mut stack: Vec<(String, PathBuf)> = vec![(path.to_string(), dest.to_path_buf())];
    while let Some((dir, local)) = stack.pop() {
        let url = format!("{}/api/2.0/mlflow-artifacts/artifacts", remote.base_url());
        let listing = remote
            .send(
                remote
                    .http_client()
                    .get(url)
                    .query(&[("path", dir.as_str())]),
                "listing artifacts",
            )
            .await?;
        let files = listing
            .get("files")
            .and_then(serde_json::Value::as_array)
            .cloned()
            .unwrap_or_default();
        for file in files {
            let Some(name) = file.get("path").and_then(serde_json::Value::as_str) else {
                continue;
            };
            if name.contains('/') || name == ".." || name == "." {
                return Err(StoreError::invalid(format!(
                    "the server listed an unsafe artifact name '{name}'"
                )));
            }
            if file
                .get("is_dir")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false)
            {
                stack.push((join(&dir, name), local.join(name)));
            } else {
                let bytes = remote.download_bytes(&join(&dir, name)).await?;
                write_file(&local.join(name), &bytes)?;
                count += 1;
            }
        }
    }
    Ok(count)
}

impl RemoteStore {
    /// Downloads one file through the server's `mlflow-artifacts` proxy (`path` relative to the proxy root).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for a missing file; [`StoreError::Backend`] on transport failures.
    pub async fn download_bytes(&self, path: &str) -> Result<bytes::Bytes, StoreError> {
        let encoded: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC)
                    .to_string()
            })
            .collect();
        let url = format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/{}",
            self.base_url(),
            encoded.join("/")
        );
        let response = self
            .authorize(self.http_client().get(url))
            .send()
            .await
            .map_err(|e| StoreError::backend(format!("downloading artifact {path}"), e))?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Err(StoreError::not_found(format!("No such artifact: '{path}'")));
        }
        if !response.status().is_success() {
            return Err(StoreError::backend(
                format!("downloading artifact {path}"),
                format!("HTTP {}", response.status()),
            ));
        }
        response
            .bytes()
            .await
            .map_err(|e| StoreError::backend(format!("downloading artifact {path}"), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_uri_form_parses() {
        assert_eq!(
            parse_model_uri("models:/m/3").unwrap(),
            ModelUri::Version {
                name: "m".into(),
                version: 3
            }
        );
        assert_eq!(
            parse_model_uri("models:/m/production").unwrap(),
            ModelUri::Stage {
                name: "m".into(),
                stage: Stage::Production
            }
        );
        assert_eq!(
            parse_model_uri("models:/m@champion").unwrap(),
            ModelUri::Alias {
                name: "m".into(),
                alias: "champion".into()
            }
        );
        assert_eq!(
            parse_model_uri("models:/m/latest").unwrap(),
            ModelUri::Alias {
                name: "m".into(),
                alias: "latest".into()
            }
        );
        assert_eq!(
            parse_model_uri("runs:/abc/model").unwrap(),
            ModelUri::Run {
                run_id: "abc".into(),
                path: "model".into()
            }
        );
        assert_eq!(
            parse_model_uri("/tmp/pkg").unwrap(),
            ModelUri::Path("/tmp/pkg".into())
        );
        assert!(parse_model_uri("models:/m/Prod").is_err());
        assert!(parse_model_uri("models:/m").is_err());
        assert!(parse_model_uri("runs:/abc/../x").is_err());
        assert!(parse_model_uri("ftp://x").is_err());
    }
}
