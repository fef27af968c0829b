//! Blocking access to the model registry for jobs: register a trained package, resolve a model URI to a local
//! package folder, tag and promote versions. A thin layer over `modelops_tracking::registry`; the lifecycle rules
//! (archive the previous holder, Production only from Staging, the audit log) live there.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use modelops_tracking::registry::lifecycle::{PromoteRequest, promote, register_version};
use modelops_tracking::registry::uri::{ArtifactAccess, download_model, resolve_model_uri};
use modelops_tracking::registry::{ModelVersion, Stage, TransitionSource};
use modelops_tracking::{RunId, Store, StoreError, Tag};

use crate::PipelineError;
use crate::predict::ModelLabel;
use crate::track::{PACKAGE_ARTIFACT_PATH, TrackingTarget};

/// A store plus the small runtime that drives it from synchronous code.
pub struct RegistryClient {
    runtime: tokio::runtime::Runtime,
    store: Arc<dyn Store>,
    target: TrackingTarget,
}

impl RegistryClient {
    /// Opens the store of `target`.
    ///
    /// # Errors
    /// Whatever opening the store reports.
    pub fn open(target: &TrackingTarget) -> Result<Self, PipelineError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| PipelineError::Invalid(format!("cannot start the async runtime: {e}")))?;
        let store = runtime.block_on(modelops_tracking::open(&target.tracking_uri))?;
        Ok(Self {
            runtime,
            store,
            target: target.clone(),
        })
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// Registers the package logged by run `run_id` as a new version of `name`.
    ///
    /// # Errors
    /// Store errors.
    pub fn register(
        &self,
        name: &str,
        run_id: &str,
        tags: &[(String, String)],
        description: &str,
    ) -> Result<ModelVersion, PipelineError> {
        let tags: Vec<Tag> = tags
            .iter()
            .map(|(k, v)| Tag {
                key: k.clone(),
                value: v.clone(),
            })
            .collect();
        Ok(self.runtime.block_on(register_version(
            &*self.store,
            name,
            &RunId(run_id.to_string()),
            PACKAGE_ARTIFACT_PATH,
            &tags,
            Some(description),
        ))?)
    }

    /// Sets tags on a version.
    ///
    /// # Errors
    /// Store errors.
    pub fn tag_version(
        &self,
        name: &str,
        version: i64,
        tags: &[(String, String)],
    ) -> Result<(), PipelineError> {
        self.runtime.block_on(async {
            for (key, value) in tags {
                self.store
                    .set_model_version_tag(
                        name,
                        version,
                        &Tag {
                            key: key.clone(),
                            value: value.clone(),
                        },
                    )
                    .await?;
            }
            Ok::<(), StoreError>(())
        })?;
        Ok(())
    }

    /// Promotes under modelops' lifecycle rules (recorded in the audit log).
    ///
    /// # Errors
    /// Store errors, e.g. Production without an approver or not from Staging.
    pub fn promote(
        &self,
        name: &str,
        version: i64,
        stage: Stage,
        approver: &str,
        reason: &str,
        force: bool,
    ) -> Result<ModelVersion, PipelineError> {
        let request = PromoteRequest {
            name: name.to_string(),
            version,
            stage,
            approver: approver.to_string(),
            reason: reason.to_string(),
            force,
            source: TransitionSource::Cli,
        };
        Ok(self.runtime.block_on(promote(&*self.store, &request))?)
    }

    /// One version.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when unknown.
    pub fn version(&self, name: &str, version: i64) -> Result<ModelVersion, PipelineError> {
        Ok(self
            .runtime
            .block_on(self.store.get_model_version(name, version))?)
    }

    /// The newest version currently in `stage`, if any.
    ///
    /// # Errors
    /// Store errors ([`StoreError::NotFound`] for an unknown model).
    pub fn latest_in_stage(
        &self,
        name: &str,
        stage: Stage,
    ) -> Result<Option<ModelVersion>, PipelineError> {
        let found = self
            .runtime
            .block_on(self.store.get_latest_versions(name, &[stage]))?;
        Ok(found.into_iter().max_by_key(|v| v.version))
    }

    /// Resolves a model URI (`models:/…`, `runs:/…` or a path) to a local package folder, downloading it below
    /// `cache_dir` when it is not already on this machine.
    ///
    /// # Errors
    /// Unknown models, versions, stages or runs; download failures.
    pub fn resolve_local(
        &self,
        uri: &str,
        cache_dir: &Path,
    ) -> Result<(PathBuf, ModelLabel), PipelineError> {
        let resolved = self
            .runtime
            .block_on(resolve_model_uri(&*self.store, uri))?;
        let access = ArtifactAccess::for_tracking_uri(
            &self.target.tracking_uri,
            &self.target.artifact_root,
        )?;
        let dest = cache_dir.join(match (&resolved.name, resolved.version) {
            (Some(name), Some(version)) => format!("{name}-v{version}"),
            _ => resolved.run_id.clone().unwrap_or_else(|| "model".into()),
        });
        let dir = self
            .runtime
            .block_on(download_model(&resolved, &access, &dest))?;
        let label = ModelLabel {
            model_name: resolved.name.clone(),
            model_version: resolved.version.map(|v| v.to_string()),
            model_stage: resolved.stage.map(|s| s.as_str().to_string()),
            model_uri: uri.to_string(),
        };
        Ok((dir, label))
    }
}
