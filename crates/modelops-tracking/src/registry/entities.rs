//! The registry's entities (registered models, model versions, aliases, stages, audit entries) and the request
//! shapes of the [`Registry`](super::Registry) calls. Field names follow MLflow's protos.

use crate::entities::Tag;
use crate::error::StoreError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A model version's stage. Stages are deprecated in MLflow since 2.9 but fully working; modelops' lifecycle
/// (validation gate, human approval, rollback) is built on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Stage {
    /// Registered, not yet validated (every new version starts here).
    None,
    /// Passed validation; waiting for approval.
    Staging,
    /// Serving.
    Production,
    /// Retired.
    Archived,
}

impl Stage {
    /// Every stage, in lifecycle order.
    pub const ALL: [Stage; 4] = [
        Stage::None,
        Stage::Staging,
        Stage::Production,
        Stage::Archived,
    ];

    /// The canonical spelling (`None`, `Staging`, `Production`, `Archived`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "None",
            Self::Staging => "Staging",
            Self::Production => "Production",
            Self::Archived => "Archived",
        }
    }

    /// Parses a stage name, case-insensitively.
    ///
    /// # Errors
    /// [`StoreError::InvalidParameter`] with MLflow's text for anything else.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        Self::ALL.into_iter().find(|stage| stage.as_str().eq_ignore_ascii_case(s.trim())).ok_or_else(|| {
            StoreError::invalid(format!(
                "Invalid Model Version stage: {s}. Value must be one of None, Staging, Production, Archived."
            ))
        })
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An alias pointing at a version (`champion` → 3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelAlias {
    /// The alias.
    pub alias: String,
    /// The version it points at.
    pub version: i64,
}

/// A registered model: a name that versions are registered under.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegisteredModel {
    /// Unique name.
    pub name: String,
    /// Creation time, ms since the epoch.
    pub creation_timestamp: i64,
    /// Last change (versions created or deleted, transitions, rename, description), ms since the epoch.
    pub last_updated_timestamp: i64,
    /// Free text (`""` when unset).
    pub description: String,
    /// Tags, sorted by key.
    pub tags: Vec<Tag>,
    /// Aliases, sorted by name.
    pub aliases: Vec<ModelAlias>,
    /// Per stage, the live version with the highest number.
    pub latest_versions: Vec<ModelVersion>,
}

/// One registered version of a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    /// The registered model's name.
    pub name: String,
    /// Version number (1, 2, …; never reused).
    pub version: i64,
    /// Creation time, ms since the epoch.
    pub creation_timestamp: i64,
    /// Last change (transition, description), ms since the epoch.
    pub last_updated_timestamp: i64,
    /// Who registered it (`""` when unknown).
    pub user_id: String,
    /// Current stage.
    pub current_stage: Stage,
    /// Free text (`""` when unset).
    pub description: String,
    /// Where the model files are (`mlflow-artifacts:/…`, `runs:/<run>/<path>`, `s3://…`, a folder).
    pub source: String,
    /// The training run, when known.
    pub run_id: Option<String>,
    /// A link to the run (`""` when unset).
    pub run_link: String,
    /// Always `READY`: registration completes synchronously.
    pub status: String,
    /// Where to download the files from (the source, or what a `models:/` source resolves to).
    pub storage_location: String,
    /// Tags, sorted by key.
    pub tags: Vec<Tag>,
    /// Aliases pointing at this version, sorted.
    pub aliases: Vec<String>,
}

/// What `create_model_version` needs.
#[derive(Clone, Debug, Default)]
pub struct CreateModelVersion {
    /// The registered model (must exist).
    pub name: String,
    /// Where the model files are.
    pub source: String,
    /// The run that produced them; required for `runs:/` and `mlflow-artifacts:/` sources.
    pub run_id: Option<String>,
    /// Initial tags.
    pub tags: Vec<Tag>,
    /// A link to the run.
    pub run_link: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Who registers it.
    pub user_id: Option<String>,
}

/// A registered-model or model-version search.
#[derive(Clone, Debug, Default)]
pub struct SearchRegistry {
    /// Filter in MLflow's registry grammar (`name LIKE 'r%' AND tags.t = '1'`); empty = all.
    pub filter: String,
    /// Page size; `None` = the endpoint's default.
    pub max_results: Option<i64>,
    /// `"<key> [ASC|DESC]"` clauses.
    pub order_by: Vec<String>,
    /// Token from a previous page.
    pub page_token: Option<String>,
}

/// Where a stage transition came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransitionSource {
    /// The MLflow REST API (`model-versions/transition-stage`).
    Api,
    /// A modelops command (`promote`, `rollback`, `validate`).
    Cli,
    /// The web UI.
    Ui,
}

impl TransitionSource {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Cli => "cli",
            Self::Ui => "ui",
        }
    }
    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "api" => Some(Self::Api),
            "cli" => Some(Self::Cli),
            "ui" => Some(Self::Ui),
            _ => None,
        }
    }
}

/// Who asked for a transition, why, and from where: recorded in the audit log with every stage change it causes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditContext {
    /// The approver or user (`""` when unknown, e.g. an anonymous REST call).
    pub actor: String,
    /// Why (`""` when not given).
    pub reason: String,
    /// Which path asked.
    pub source: TransitionSource,
    /// What kind of change: `transition` (REST), `promote`, `rollback`, `validate`, … (free text, stored as is).
    pub action: String,
}

impl AuditContext {
    /// The context of a plain MLflow REST transition.
    pub fn api(actor: impl Into<String>) -> Self {
        Self {
            actor: actor.into(),
            reason: String::new(),
            source: TransitionSource::Api,
            action: "transition".into(),
        }
    }
}

/// A stage transition request.
#[derive(Clone, Debug)]
pub struct Transition {
    /// The registered model.
    pub name: String,
    /// The version to move.
    pub version: i64,
    /// Where to.
    pub stage: Stage,
    /// Archive every other live version in the target stage (only valid for Staging and Production).
    pub archive_existing_versions: bool,
    /// When set, the move happens only if the version is currently in this stage (checked inside the same
    /// transaction, so a concurrent change cannot slip between check and move).
    pub require_current_stage: Option<Stage>,
    /// Recorded in the audit log.
    pub audit: AuditContext,
}

/// One audited stage change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Sequence number (increasing).
    pub id: i64,
    /// The model's name at the time.
    pub model_name: String,
    /// The version that moved.
    pub version: i64,
    /// Stage before.
    pub from_stage: Stage,
    /// Stage after.
    pub to_stage: Stage,
    /// What kind of change (`transition`, `promote`, `rollback`, `archive` for versions archived as a side effect).
    pub action: String,
    /// Who.
    pub actor: String,
    /// Why.
    pub reason: String,
    /// From where.
    pub source: TransitionSource,
    /// The version's validation metrics at the time: its tags under [`VALIDATION_TAG_PREFIX`], prefix removed.
    pub metrics: Vec<Tag>,
    /// When, ms since the epoch.
    pub timestamp: i64,
}

/// Version tags under this prefix (`validation.rmspe`, `validation.mae`, …) are copied into each audit entry.
pub const VALIDATION_TAG_PREFIX: &str = "validation.";

/// The alias name MLflow reserves for "highest live version".
pub const LATEST_ALIAS: &str = "latest";
