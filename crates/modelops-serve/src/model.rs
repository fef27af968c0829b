//! The models a service holds: where they come from ([`ModelSource`]: a package folder or the registry), one loaded
//! package with its identity ([`ServedModel`]), and the set of loaded models keyed by stage or version
//! ([`ModelSet`]), which hot reload swaps atomically.
//!
//! Swapping is a `RwLock<HashMap<_, Arc<ServedModel>>>` (std, no extra crate): a request clones the `Arc` under a
//! read lock held for nanoseconds and then predicts without any lock, so a swap never waits for predictions and an
//! in-flight request finishes on the model it started with; the old model is freed when its last request ends.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use modelops_features::InputRow;
use modelops_features::table::StoreTable;
use modelops_models::{FeatureMatrix, LoadedPackage, ModelPackage};
use modelops_pipeline::PipelineError;
use modelops_pipeline::serving::{ServingSpec, predict_sales};
use modelops_tracking::Store;
use modelops_tracking::registry::{ArtifactAccess, Stage, download_model, resolve_model_uri};
use serde::Serialize;

use crate::error::ServeError;

/// Which registered model, version and stage a loaded package is (all `None` for a plain folder).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ModelIdentity {
    /// Registered model name.
    pub name: Option<String>,
    /// Registry version, as a decimal string (MLflow's spelling).
    pub version: Option<String>,
    /// The stage it was loaded for (`Production`, `Staging`), when loaded by stage.
    pub stage: Option<String>,
    /// The URI or folder it was loaded from.
    pub uri: String,
}

/// One loaded model package, ready to predict.
#[derive(Debug)]
pub struct ServedModel {
    /// The package (models, weights, manifest).
    pub package: LoadedPackage,
    /// The serving contract (feature spec, target transform).
    pub spec: ServingSpec,
    /// Which model this is.
    pub identity: ModelIdentity,
    /// When it was loaded (UTC).
    pub loaded_at: DateTime<Utc>,
    /// The local folder it was read from.
    pub package_dir: PathBuf,
}

/// Predictions for a batch plus the features they were made from (the prediction log reads derived values there).
#[derive(Debug)]
pub struct BatchPrediction {
    /// Predicted sales, in input order.
    pub sales: Vec<f64>,
    /// The model's input matrix, one row per input row.
    pub features: FeatureMatrix,
}

/// The store metadata of the model's feature spec, which the prediction log's derived columns come from.
impl AsRef<StoreTable> for ServedModel {
    fn as_ref(&self) -> &StoreTable {
        &self.spec.features.stores
    }
}

impl ServedModel {
    /// Reads a package folder (blocking: call from `spawn_blocking` in async code).
    ///
    /// # Errors
    /// [`ServeError::Package`] naming the folder when it is missing, corrupt or not a modelops serving package.
    pub fn load_dir(dir: &Path, identity: ModelIdentity) -> Result<Self, ServeError> {
        let failed = |source: Box<dyn std::error::Error + Send + Sync>| ServeError::Package {
            path: dir.display().to_string(),
            source,
        };
        let package = ModelPackage::load(dir).map_err(|e| failed(Box::new(e)))?;
        let spec = ServingSpec::from_package(&package).map_err(|e| failed(Box::new(e)))?;
        Ok(Self {
            package,
            spec,
            identity,
            loaded_at: Utc::now(),
            package_dir: dir.to_path_buf(),
        })
    }

    /// Predicts sales for checked rows, exactly as batch prediction does (`modelops_pipeline::serving`).
    ///
    /// # Errors
    /// Feature or model errors (rows should have passed [`crate::input::check_against_model`] first).
    pub fn predict(&self, rows: &[InputRow]) -> Result<BatchPrediction, PipelineError> {
        let features = self.spec.features.build(rows)?;
        let predicted = predict_sales(
            &self.package.ensemble,
            self.spec.target_transform,
            &features,
            rows,
        )?;
        Ok(BatchPrediction {
            sales: predicted.ensemble,
            features,
        })
    }
}

/// What a model is looked up by in the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModelKey {
    /// The folder given with `--model PATH` (the only model of a path-served service).
    Path,
    /// The highest version in a stage; hot reload follows it.
    Stage(Stage),
    /// A fixed version.
    Version(i64),
}

impl ModelKey {
    /// Parses `Production`, `Staging` (any case) or a version number.
    ///
    /// # Errors
    /// [`ServeError::Invalid`] for anything else.
    pub fn parse(text: &str) -> Result<Self, ServeError> {
        let text = text.trim();
        if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) {
            return modelops_tracking::registry::parse_version(text)
                .map(Self::Version)
                .map_err(|_| {
                    ServeError::Invalid(format!("model version '{text}' must be 1 or more"))
                });
        }
        match Stage::parse(text) {
            Ok(stage @ (Stage::Production | Stage::Staging)) => Ok(Self::Stage(stage)),
            _ => Err(ServeError::Invalid(format!(
                "model stage '{text}' is not Production, Staging or a version number"
            ))),
        }
    }

    fn uri(self, name: &str) -> Option<String> {
        match self {
            Self::Path => None,
            Self::Stage(stage) => Some(format!("models:/{name}/{}", stage.as_str())),
            Self::Version(version) => Some(format!("models:/{name}/{version}")),
        }
    }

    fn label(self) -> Option<String> {
        match self {
            Self::Stage(stage) => Some(stage.as_str().to_string()),
            _ => None,
        }
    }
}

/// Where the service's models come from.
#[derive(Clone)]
pub enum ModelSource {
    /// One package folder (`--model PATH`).
    Path(PathBuf),
    /// A registered model in the tracking store's registry.
    Registry(Arc<RegistrySource>),
}

impl std::fmt::Debug for ModelSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Path(p) => f.debug_tuple("Path").field(p).finish(),
            Self::Registry(r) => f
                .debug_struct("Registry")
                .field("model", &r.model_name)
                .finish(),
        }
    }
}

/// The registry a service loads from: store, model name, artifact access and a download cache.
pub struct RegistrySource {
    /// The tracking store (its registry half is used).
    pub store: Arc<dyn Store>,
    /// The registered model (`rossmann-ensemble`).
    pub model_name: String,
    /// How `mlflow-artifacts:/` and `s3://` locations are reached.
    pub access: ArtifactAccess,
    /// Where downloaded packages are kept: `<cache>/<name>/<version>/`.
    pub cache_dir: PathBuf,
    /// The tracking URI, for `/model/info`.
    pub tracking_uri: String,
}

impl RegistrySource {
    /// The version the key currently points at (`None` for an empty stage).
    ///
    /// # Errors
    /// [`ServeError::Registry`] when the store cannot be asked.
    pub async fn current_version(&self, key: ModelKey) -> Result<Option<i64>, ServeError> {
        match key {
            ModelKey::Path => Ok(None),
            ModelKey::Version(v) => Ok(Some(v)),
            ModelKey::Stage(stage) => {
                let versions = self
                    .store
                    .get_latest_versions(&self.model_name, &[stage])
                    .await?;
                Ok(versions.into_iter().map(|v| v.version).max())
            }
        }
    }

    /// Resolves, downloads (when not local) and loads the model a key points at.
    ///
    /// # Errors
    /// [`ServeError::Registry`] for an unknown model, version or an empty stage (`NotFound`), or an unreachable
    /// store; [`ServeError::Package`] for an unreadable package.
    pub async fn load(&self, key: ModelKey) -> Result<ServedModel, ServeError> {
        let Some(uri) = key.uri(&self.model_name) else {
            return Err(ServeError::Invalid(
                "a registry-served service has no package path to load".into(),
            ));
        };
        let resolved = resolve_model_uri(&*self.store, &uri).await?;
        let version = resolved.version.unwrap_or_default();
        let dest = self
            .cache_dir
            .join(&self.model_name)
            .join(version.to_string());
        let dir = if resolved.local_path.is_none()
            && dest.join(modelops_models::package::MANIFEST_FILE).is_file()
        {
            dest
        } else {
            download_model(&resolved, &self.access, &dest).await?
        };
        let identity = ModelIdentity {
            name: Some(self.model_name.clone()),
            version: resolved.version.map(|v| v.to_string()),
            stage: key.label(),
            uri,
        };
        load_blocking(dir, identity).await
    }
}

/// Loads a package folder on the blocking pool.
///
/// # Errors
/// As [`ServedModel::load_dir`].
pub async fn load_blocking(
    dir: PathBuf,
    identity: ModelIdentity,
) -> Result<ServedModel, ServeError> {
    tokio::task::spawn_blocking(move || ServedModel::load_dir(&dir, identity))
        .await
        .map_err(|e| ServeError::Invalid(format!("loading the model was interrupted: {e}")))?
}

/// The loaded models, by key, and which one answers requests that name none.
#[derive(Debug)]
pub struct ModelSet {
    default_key: RwLock<ModelKey>,
    models: RwLock<HashMap<ModelKey, Arc<ServedModel>>>,
}

impl ModelSet {
    /// A set holding one model, which is also the default.
    pub fn new(key: ModelKey, model: ServedModel) -> Self {
        let mut models = HashMap::new();
        models.insert(key, Arc::new(model));
        Self {
            default_key: RwLock::new(key),
            models: RwLock::new(models),
        }
    }

    /// The key requests without `model_stage` use.
    pub fn default_key(&self) -> ModelKey {
        *self
            .default_key
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Makes `key` the default (after `/model/load`).
    pub fn set_default(&self, key: ModelKey) {
        *self
            .default_key
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = key;
    }

    /// The model loaded for `key`, if any: a clone of the `Arc`, so the caller keeps it for the whole request.
    pub fn get(&self, key: ModelKey) -> Option<Arc<ServedModel>> {
        self.models
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            .cloned()
    }

    /// The default model.
    pub fn current(&self) -> Option<Arc<ServedModel>> {
        self.get(self.default_key())
    }

    /// Installs (or replaces) the model for `key`; returns the one it replaced.
    pub fn swap(&self, key: ModelKey, model: Arc<ServedModel>) -> Option<Arc<ServedModel>> {
        self.models
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, model)
    }

    /// Every key with a loaded model.
    pub fn keys(&self) -> Vec<ModelKey> {
        self.models
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .keys()
            .copied()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_stages_and_versions() {
        assert_eq!(
            ModelKey::parse("production").unwrap(),
            ModelKey::Stage(Stage::Production)
        );
        assert_eq!(
            ModelKey::parse("Staging").unwrap(),
            ModelKey::Stage(Stage::Staging)
        );
        assert_eq!(ModelKey::parse("3").unwrap(), ModelKey::Version(3));
        assert!(ModelKey::parse("0").is_err());
        assert!(ModelKey::parse("Archived").is_err());
        assert!(ModelKey::parse("Prod").is_err());
    }
}
