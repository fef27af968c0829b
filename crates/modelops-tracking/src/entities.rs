//! The tracked entities (experiments, runs, params, metrics, tags) and the request/response shapes of the
//! [`Store`](crate::Store) calls. Field names follow MLflow's protos so the HTTP layer maps them one to one.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An experiment identifier: a decimal integer in the SQL backends, any MLflow id string on a remote server.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExperimentId(pub String);

/// A run identifier: 32 lowercase hex characters when minted here.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(pub String);

impl fmt::Display for ExperimentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl From<&str> for ExperimentId {
    fn from(s: &str) -> Self {
        Self(s.to_string())
    }
}
impl From<&str> for RunId {
    fn from(s: &str) -> Self {
        Self(s.to_string())
    }
}

/// The id of the experiment every fresh store holds.
pub const DEFAULT_EXPERIMENT_ID: &str = "0";
/// The name of the experiment every fresh store holds.
pub const DEFAULT_EXPERIMENT_NAME: &str = "Default";

/// Whether an entity is live or soft-deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LifecycleStage {
    /// Live.
    Active,
    /// Soft-deleted; can be restored.
    Deleted,
}

impl LifecycleStage {
    /// The stored and wire spelling (`active`, `deleted`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Deleted => "deleted",
        }
    }
    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "deleted" => Some(Self::Deleted),
            _ => None,
        }
    }
}

/// Which lifecycle stages a search returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ViewType {
    /// Only active entities (the default).
    #[default]
    ActiveOnly,
    /// Only deleted entities.
    DeletedOnly,
    /// Both.
    All,
}

impl ViewType {
    /// Parses a proto enum name (`ACTIVE_ONLY`) or number (1, 2, 3).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "ACTIVE_ONLY" | "1" => Some(Self::ActiveOnly),
            "DELETED_ONLY" | "2" => Some(Self::DeletedOnly),
            "ALL" | "3" => Some(Self::All),
            _ => None,
        }
    }
    /// The proto enum name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ActiveOnly => "ACTIVE_ONLY",
            Self::DeletedOnly => "DELETED_ONLY",
            Self::All => "ALL",
        }
    }
    /// The lifecycle stages this view admits.
    pub fn stages(self) -> &'static [&'static str] {
        match self {
            Self::ActiveOnly => &["active"],
            Self::DeletedOnly => &["deleted"],
            Self::All => &["active", "deleted"],
        }
    }
}

/// A run's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RunStatus {
    /// Running.
    Running,
    /// Scheduled but not started.
    Scheduled,
    /// Ended normally.
    Finished,
    /// Ended with an error.
    Failed,
    /// Stopped by the user.
    Killed,
}

impl RunStatus {
    /// The proto enum name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::Scheduled => "SCHEDULED",
            Self::Finished => "FINISHED",
            Self::Failed => "FAILED",
            Self::Killed => "KILLED",
        }
    }
    /// Parses a proto enum name or number (RUNNING=1 … KILLED=5).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "RUNNING" | "1" => Some(Self::Running),
            "SCHEDULED" | "2" => Some(Self::Scheduled),
            "FINISHED" | "3" => Some(Self::Finished),
            "FAILED" | "4" => Some(Self::Failed),
            "KILLED" | "5" => Some(Self::Killed),
            _ => None,
        }
    }
}

/// A key/value tag on an experiment or a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// Tag key.
    pub key: String,
    /// Tag value.
    pub value: String,
}

/// A run parameter: immutable once logged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Param {
    /// Parameter key.
    pub key: String,
    /// Parameter value (always a string).
    pub value: String,
}

/// One point of a metric series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Metric key.
    pub key: String,
    /// The value; NaN is allowed, infinities are stored as ±`f64::MAX` (as MLflow does).
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// Training step (0 when not given).
    pub step: i64,
}

/// An experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    /// Id.
    pub experiment_id: ExperimentId,
    /// Unique name.
    pub name: String,
    /// Where runs of this experiment put artifacts (`mlflow-artifacts:/<id>` by default).
    pub artifact_location: String,
    /// Active or deleted.
    pub lifecycle_stage: LifecycleStage,
    /// Creation time, ms since the epoch.
    pub creation_time: i64,
    /// Last update time, ms since the epoch.
    pub last_update_time: i64,
    /// Experiment tags.
    pub tags: Vec<Tag>,
}

/// A run's metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Id.
    pub run_id: RunId,
    /// Human-readable name (also the `mlflow.runName` tag).
    pub run_name: String,
    /// The experiment it belongs to.
    pub experiment_id: ExperimentId,
    /// Who started it.
    pub user_id: String,
    /// Status.
    pub status: RunStatus,
    /// Start, ms since the epoch.
    pub start_time: i64,
    /// End, ms since the epoch, once ended.
    pub end_time: Option<i64>,
    /// `<experiment artifact_location>/<run_id>/artifacts`.
    pub artifact_uri: String,
    /// Active or deleted.
    pub lifecycle_stage: LifecycleStage,
}

/// A run's logged data: the latest point per metric key, params and tags.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunData {
    /// Per key, the point with the greatest (step, timestamp, value).
    pub metrics: Vec<Metric>,
    /// Parameters.
    pub params: Vec<Param>,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// A run with its data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Metadata.
    pub info: RunInfo,
    /// Logged data.
    pub data: RunData,
}

/// What `create_run` needs.
#[derive(Clone, Debug, Default)]
pub struct CreateRun {
    /// Experiment to create the run in; `None` means the Default experiment `"0"`.
    pub experiment_id: Option<ExperimentId>,
    /// Who starts it.
    pub user_id: Option<String>,
    /// Start time in ms; now when `None`.
    pub start_time: Option<i64>,
    /// Run name; else the `mlflow.runName` tag; else generated.
    pub run_name: Option<String>,
    /// Initial tags.
    pub tags: Vec<Tag>,
}

/// What `update_run` changes; `None` fields stay as they are.
#[derive(Clone, Debug, Default)]
pub struct UpdateRun {
    /// New status.
    pub status: Option<RunStatus>,
    /// End time in ms.
    pub end_time: Option<i64>,
    /// New run name (rewrites the `mlflow.runName` tag).
    pub run_name: Option<String>,
}

/// A `search_runs` request.
#[derive(Clone, Debug, Default)]
pub struct SearchRuns {
    /// Experiments to search; empty gives an empty page.
    pub experiment_ids: Vec<ExperimentId>,
    /// Filter in MLflow's grammar (`metrics.loss < 0.9 and params.lr = '0.1'`); empty = all.
    pub filter: String,
    /// Which lifecycle stages.
    pub run_view_type: ViewType,
    /// Page size, 1..=50000; `None` = 1000.
    pub max_results: Option<i64>,
    /// `"<key> [ASC|DESC]"` clauses.
    pub order_by: Vec<String>,
    /// Token from a previous page.
    pub page_token: Option<String>,
}

/// A `search_experiments` request.
#[derive(Clone, Debug, Default)]
pub struct SearchExperiments {
    /// Filter (`name LIKE 'e%'`, `tags.k = 'v'` …); empty = all.
    pub filter: String,
    /// Which lifecycle stages.
    pub view_type: ViewType,
    /// Page size, 1..=50000; `None` = 1000.
    pub max_results: Option<i64>,
    /// `"<key> [ASC|DESC]"` clauses.
    pub order_by: Vec<String>,
    /// Token from a previous page.
    pub page_token: Option<String>,
}

/// One page of results and the token for the next one (absent on the last page).
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Present only when more results exist.
    pub next_page_token: Option<String>,
}

/// Metadata of one artifact listing entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// Path relative to the listed directory's root (a bare name for a proxy listing).
    pub path: String,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Size in bytes, for files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_size: Option<i64>,
}
