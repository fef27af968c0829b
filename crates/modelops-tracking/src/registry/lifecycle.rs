//! modelops' own registry lifecycle, used by its commands (and later the UI), on top of [`Registry`]:
//! - [`promote`]: promoting to Staging or Production archives the previous holder of that stage in the same
//!   transaction; Production is reachable only from Staging unless forced, and needs a named approver.
//! - [`rollback`]: re-promotes the most recent Archived former Production version.
//! - [`register_version`]: registers a run's model folder as a new version, creating the model when missing.
//!
//! The REST endpoint keeps MLflow's plain semantics; these rules live here so that `modelops promote` behaves the
//! same against every backend.

use super::Registry;
use super::entities::{
    AuditContext, CreateModelVersion, ModelVersion, Stage, Transition, TransitionSource,
};
use crate::entities::{RunId, Tag};
use crate::error::StoreError;
use crate::store::Store;

/// What [`promote`] needs.
#[derive(Clone, Debug)]
pub struct PromoteRequest {
    /// The registered model.
    pub name: String,
    /// The version to promote.
    pub version: i64,
    /// Target stage.
    pub stage: Stage,
    /// Who approves (required for Production).
    pub approver: String,
    /// Why.
    pub reason: String,
    /// Allow Production from a stage other than Staging.
    pub force: bool,
    /// Which path asks (CLI or UI).
    pub source: TransitionSource,
}

/// Promotes a version under modelops' rules and records it in the audit log.
///
/// # Errors
/// [`StoreError::InvalidParameter`] without an approver for Production, for Production from a stage other than
/// Staging without `force`, or for the stage None; [`StoreError::NotFound`] for unknown or deleted versions.
pub async fn promote(
    registry: &dyn Registry,
    request: &PromoteRequest,
) -> Result<ModelVersion, StoreError> {
    if request.stage == Stage::None {
        return Err(StoreError::invalid(
            "a version cannot be promoted to stage None; choose Staging, Production or Archived",
        ));
    }
    if request.stage == Stage::Production && request.approver.trim().is_empty() {
        return Err(StoreError::invalid(format!(
            "promoting '{}' version {} to Production needs an approver (--approver NAME)",
            request.name, request.version
        )));
    }
    let require_current_stage =
        (request.stage == Stage::Production && !request.force).then_some(Stage::Staging);
    let transition = Transition {
        name: request.name.clone(),
        version: request.version,
        stage: request.stage,
        archive_existing_versions: matches!(request.stage, Stage::Staging | Stage::Production),
        require_current_stage,
        audit: AuditContext {
            actor: request.approver.trim().to_string(),
            reason: request.reason.clone(),
            source: request.source,
            action: "promote".into(),
        },
    };
    registry.transition_model_version_stage(&transition).await
}

/// Re-promotes the most recent Archived former Production version to Production (archiving the current one),
/// recorded in the audit log as a `rollback`.
///
/// # Errors
/// [`StoreError::InvalidParameter`] without an approver or when no archived former Production version exists;
/// [`StoreError::NotFound`] for an unknown model.
pub async fn rollback(
    registry: &dyn Registry,
    name: &str,
    approver: &str,
    reason: &str,
    source: TransitionSource,
) -> Result<ModelVersion, StoreError> {
    if approver.trim().is_empty() {
        return Err(StoreError::invalid(format!(
            "rolling back '{name}' needs an approver (--approver NAME)"
        )));
    }
    let trail = registry.audit_trail(name, None).await?;
    let mut candidates: Vec<i64> = Vec::new();
    for entry in trail.iter().rev() {
        if entry.from_stage == Stage::Production
            && entry.to_stage == Stage::Archived
            && !candidates.contains(&entry.version)
        {
            candidates.push(entry.version);
        }
    }
    for version in candidates {
        let current = match registry.get_model_version(name, version).await {
            Ok(v) => v,
            Err(StoreError::NotFound(_)) => continue, // deleted since it was archived
            Err(e) => return Err(e),
        };
        if current.current_stage != Stage::Archived {
            continue;
        }
        let transition = Transition {
            name: name.to_string(),
            version,
            stage: Stage::Production,
            archive_existing_versions: true,
            require_current_stage: Some(Stage::Archived),
            audit: AuditContext {
                actor: approver.trim().to_string(),
                reason: reason.to_string(),
                source,
                action: "rollback".into(),
            },
        };
        return registry.transition_model_version_stage(&transition).await;
    }
    Err(StoreError::invalid(format!(
        "'{name}' has no archived former Production version to roll back to"
    )))
}

/// Registers the model folder `artifact_subpath` of run `run_id` as a new version of `name` (creating the
/// registered model when missing). The source is `<run artifact_uri>/<artifact_subpath>`, as
/// `mlflow.register_model("runs:/<run>/<path>")` records it.
///
/// # Errors
/// [`StoreError::NotFound`] for an unknown run; whatever creating the model or version reports.
pub async fn register_version(
    store: &dyn Store,
    name: &str,
    run_id: &RunId,
    artifact_subpath: &str,
    tags: &[Tag],
    description: Option<&str>,
) -> Result<ModelVersion, StoreError> {
    let run = store.get_run(run_id).await?;
    match store.create_registered_model(name, &[], None).await {
        Ok(_) | Err(StoreError::AlreadyExists(_)) => {}
        Err(e) => return Err(e),
    }
    let subpath = artifact_subpath.trim_matches('/');
    let root = run.info.artifact_uri.trim_end_matches('/');
    let source = if subpath.is_empty() {
        root.to_string()
    } else {
        format!("{root}/{subpath}")
    };
    let user = run.info.user_id.clone();
    store
        .create_model_version(&CreateModelVersion {
            name: name.to_string(),
            source,
            run_id: Some(run_id.0.clone()),
            tags: tags.to_vec(),
            run_link: None,
            description: description.map(str::to_string),
            user_id: (!user.is_empty()).then_some(user),
        })
        .await
}
