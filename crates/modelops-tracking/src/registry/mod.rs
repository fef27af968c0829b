//! The model registry: registered models, versions, stages, aliases, tags and the audit log of stage changes.
//!
//! How the pieces fit:
//! - [`Registry`] is the registry half of the store: one async method per MLflow registry RPC, plus
//!   [`Registry::audit_trail`]. It is a supertrait of [`Store`](crate::Store), so every `Arc<dyn Store>` is a
//!   registry too; [`SqlStore`](crate::SqlStore) implements it in [`sql`], [`RemoteStore`](crate::RemoteStore) in
//!   [`remote`] (MLflow REST, with modelops' audit fields carried as extra request fields).
//! - [`lifecycle`] holds modelops' own rules ([`promote`], [`rollback`], [`register_version`]); the REST endpoint
//!   keeps MLflow's plain semantics.
//! - [`uri`] resolves `models:/…`, `runs:/…` and plain paths to a version and a local folder.
//! - [`wire`] is the JSON shape of the entities, shared by the HTTP server and the remote client.
//! - [`search`] parses the registry's filter and `order_by` grammar (narrower than the runs grammar, with its own
//!   attributes and the prompt-tag rule, hence its own small parser).

pub mod entities;
pub mod lifecycle;
pub mod remote;
pub mod search;
pub mod sql;
pub mod uri;
pub mod wire;

pub use entities::*;
pub use lifecycle::{PromoteRequest, promote, register_version, rollback};
pub use uri::{
    ArtifactAccess, ModelUri, ResolvedModel, download_model, parse_model_uri, resolve_model_uri,
};

use crate::entities::{Page, Tag};
use crate::error::StoreError;

/// Everything the model registry records, one method per MLflow registry RPC and named after it.
/// Versions are numbers here; the HTTP layer converts MLflow's strings.
#[async_trait::async_trait]
pub trait Registry: Send + Sync {
    /// Creates a registered model; [`StoreError::AlreadyExists`] if the name is taken.
    async fn create_registered_model(
        &self,
        name: &str,
        tags: &[Tag],
        description: Option<&str>,
    ) -> Result<RegisteredModel, StoreError>;
    /// A registered model with its tags, aliases and latest version per stage.
    async fn get_registered_model(&self, name: &str) -> Result<RegisteredModel, StoreError>;
    /// Renames a model; versions, tags and aliases move along.
    async fn rename_registered_model(
        &self,
        name: &str,
        new_name: &str,
    ) -> Result<RegisteredModel, StoreError>;
    /// Changes a model's description.
    async fn update_registered_model(
        &self,
        name: &str,
        description: &str,
    ) -> Result<RegisteredModel, StoreError>;
    /// Deletes a model with its versions, tags and aliases (a hard delete: the name can be registered again).
    async fn delete_registered_model(&self, name: &str) -> Result<(), StoreError>;
    /// Searches registered models (filter on `name` and tags; order by name or last update).
    async fn search_registered_models(
        &self,
        request: &SearchRegistry,
    ) -> Result<Page<RegisteredModel>, StoreError>;
    /// Per requested stage (all four when `stages` is empty), the live version with the highest number.
    async fn get_latest_versions(
        &self,
        name: &str,
        stages: &[Stage],
    ) -> Result<Vec<ModelVersion>, StoreError>;
    /// Sets (upserts) a registered-model tag.
    async fn set_registered_model_tag(&self, name: &str, tag: &Tag) -> Result<(), StoreError>;
    /// Deletes a registered-model tag (absent is fine).
    async fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<(), StoreError>;

    /// Registers a new version (status READY, stage None) under an existing model.
    async fn create_model_version(
        &self,
        request: &CreateModelVersion,
    ) -> Result<ModelVersion, StoreError>;
    /// A live version; [`StoreError::NotFound`] for unknown and deleted versions.
    async fn get_model_version(&self, name: &str, version: i64)
    -> Result<ModelVersion, StoreError>;
    /// Changes a version's description.
    async fn update_model_version(
        &self,
        name: &str,
        version: i64,
        description: &str,
    ) -> Result<ModelVersion, StoreError>;
    /// Soft-deletes a version and its aliases; its number is never handed out again.
    async fn delete_model_version(&self, name: &str, version: i64) -> Result<(), StoreError>;
    /// Searches live versions (filter on name, run_id, source_path, version_number, tags).
    async fn search_model_versions(
        &self,
        request: &SearchRegistry,
    ) -> Result<Page<ModelVersion>, StoreError>;
    /// Moves a version to a stage, atomically archiving other holders when asked, and audits every change.
    async fn transition_model_version_stage(
        &self,
        transition: &Transition,
    ) -> Result<ModelVersion, StoreError>;
    /// Sets (upserts) a version tag.
    async fn set_model_version_tag(
        &self,
        name: &str,
        version: i64,
        tag: &Tag,
    ) -> Result<(), StoreError>;
    /// Deletes a version tag (absent is fine).
    async fn delete_model_version_tag(
        &self,
        name: &str,
        version: i64,
        key: &str,
    ) -> Result<(), StoreError>;
    /// Points `alias` at `version` (moving it if it exists).
    async fn set_registered_model_alias(
        &self,
        name: &str,
        alias: &str,
        version: i64,
    ) -> Result<(), StoreError>;
    /// Removes an alias (unknown is fine).
    async fn delete_registered_model_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<(), StoreError>;
    /// The version an alias points at; `latest` (any case) is the highest live version.
    async fn get_model_version_by_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<ModelVersion, StoreError>;
    /// Where a version's files can be downloaded from.
    async fn get_model_version_download_uri(
        &self,
        name: &str,
        version: i64,
    ) -> Result<String, StoreError>;
    /// The model's audit trail, oldest first; only one version's when `version` is set.
    async fn audit_trail(
        &self,
        name: &str,
        version: Option<i64>,
    ) -> Result<Vec<AuditEntry>, StoreError>;
}

/// Checks a registered-model name the way MLflow does.
///
/// # Errors
/// [`StoreError::InvalidParameter`] for empty names, `/` or `:` and names that are not path-stable.
pub fn validate_model_name(name: &str) -> Result<(), StoreError> {
    if name.is_empty() {
        return Err(StoreError::invalid(
            "Missing value for required parameter 'name'. See the API docs for more information about request \
             parameters.",
        ));
    }
    if name.contains('/') || name.contains(':') {
        return Err(StoreError::invalid(format!(
            "Invalid model name '{name}'. Names cannot contain '/' or ':'."
        )));
    }
    if crate::validation::posix_normpath(name) != name || name == "." || name == ".." {
        return Err(StoreError::invalid(format!(
            "Invalid model name '{name}'. Names must be path-stable."
        )));
    }
    Ok(())
}

/// Checks an alias name the way MLflow does (`^[\w\-]+$`, ≤ 255 characters, not `latest`, not `v<digits>`).
///
/// # Errors
/// [`StoreError::InvalidParameter`] naming the rule broken.
pub fn validate_alias(alias: &str) -> Result<(), StoreError> {
    if alias.is_empty()
        || alias.chars().count() > 255
        || !alias
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    {
        return Err(StoreError::invalid(format!(
            "Invalid alias name: '{alias}'. Names may only contain alphanumerics, underscores (_), and dashes (-), \
             and be at most 255 characters long."
        )));
    }
    if alias.eq_ignore_ascii_case(LATEST_ALIAS) {
        return Err(StoreError::invalid(
            "'latest' alias name (case insensitive) is reserved.",
        ));
    }
    let mut chars = alias.chars();
    if matches!(chars.next(), Some('v' | 'V'))
        && alias.len() > 1
        && chars.all(|c| c.is_ascii_digit())
    {
        return Err(StoreError::invalid(format!(
            "Version alias name '{alias}' is reserved."
        )));
    }
    Ok(())
}

/// Parses a version number as MLflow sends it (a decimal string).
///
/// # Errors
/// [`StoreError::InvalidParameter`] for anything but a positive integer.
pub fn parse_version(version: &str) -> Result<i64, StoreError> {
    version
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| {
            StoreError::invalid(format!("Model version must be an integer, got '{version}'"))
        })
}

/// Checks a registry tag (model or version): MLflow's key rules, values up to 100000 characters.
///
/// # Errors
/// [`StoreError::InvalidParameter`] naming the problem.
pub fn validate_registry_tag(tag: &Tag) -> Result<(), StoreError> {
    crate::validation::validate_key(&tag.key, "Tag key", "key")?;
    if tag.value.chars().count() > 100_000 {
        return Err(StoreError::invalid(format!(
            "'{}' tag value exceeds the maximum length of 100000 characters",
            tag.key
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_parse_case_insensitively_and_refuse_others() {
        assert_eq!(Stage::parse("staging").unwrap(), Stage::Staging);
        assert_eq!(Stage::parse("PRODUCTION").unwrap(), Stage::Production);
        let err = Stage::parse("Prod").unwrap_err().to_string();
        assert!(err.contains("Invalid Model Version stage: Prod"), "{err}");
    }

    #[test]
    fn alias_rules_follow_mlflow() {
        assert!(validate_alias("champion").is_ok());
        assert!(validate_alias("latest").is_err());
        assert!(validate_alias("LATEST").is_err());
        assert!(validate_alias("v1").is_err());
        assert!(validate_alias("bad alias").is_err());
        assert!(validate_alias("v1a").is_ok());
    }

    #[test]
    fn model_names_refuse_slashes_and_colons() {
        assert!(validate_model_name("rossmann-ensemble").is_ok());
        assert!(validate_model_name("bad/name").is_err());
        assert!(validate_model_name("a:b").is_err());
        assert!(validate_model_name("").is_err());
    }

    #[test]
    fn versions_are_positive_integers() {
        assert_eq!(parse_version("3").unwrap(), 3);
        assert!(parse_version("0").is_err());
        assert!(parse_version("x").is_err());
    }
}
