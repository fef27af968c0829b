//! What a study records about each trial: its state machine, sampled parameters, per-step intermediate values,
//! final value, timing and the worker that ran it. Samplers and pruners read these; storage writes them.

use crate::space::Params;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Whether lower or higher objective values are better.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Lower is better (RMSPE).
    #[default]
    Minimize,
    /// Higher is better.
    Maximize,
}

impl Direction {
    /// `value` mapped so that lower is always better.
    pub fn normalize(self, value: f64) -> f64 {
        match self {
            Direction::Minimize => value,
            Direction::Maximize => -value,
        }
    }

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Minimize => "minimize",
            Direction::Maximize => "maximize",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "minimize" => Some(Direction::Minimize),
            "maximize" => Some(Direction::Maximize),
            _ => None,
        }
    }
}

/// Where a trial is in its life.
///
/// `Waiting` → `Running` → one of `Complete`, `Pruned`, `Failed`. A `Running` trial whose worker stopped
/// heartbeating goes back to `Waiting` (same number, same parameters) until it has been attempted
/// [`crate::StudySettings::max_attempts`] times, then to `Failed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialState {
    /// Sampled, not yet claimed by a worker (only after a re-queue).
    Waiting,
    /// Claimed by a worker that is evaluating it.
    Running,
    /// Finished with a value.
    Complete,
    /// Stopped early by the pruner; its value is the last reported intermediate value.
    Pruned,
    /// The objective returned an error, panicked, gave a non-finite value, or its worker died too often.
    Failed,
}

impl TrialState {
    /// The stored spelling (`waiting`, `running`, `complete`, `pruned`, `failed`).
    pub fn as_str(self) -> &'static str {
        match self {
            TrialState::Waiting => "waiting",
            TrialState::Running => "running",
            TrialState::Complete => "complete",
            TrialState::Pruned => "pruned",
            TrialState::Failed => "failed",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "waiting" => TrialState::Waiting,
            "running" => TrialState::Running,
            "complete" => TrialState::Complete,
            "pruned" => TrialState::Pruned,
            "failed" => TrialState::Failed,
            _ => return None,
        })
    }

    /// True for `Complete`, `Pruned` and `Failed`: the trial will not run again.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            TrialState::Complete | TrialState::Pruned | TrialState::Failed
        )
    }
}

impl std::fmt::Display for TrialState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One trial as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// Position in the study, from 0; unique and gap-free.
    pub number: u64,
    /// Current state.
    pub state: TrialState,
    /// The sampled hyperparameters.
    pub params: Params,
    /// Final value (for pruned trials, the last intermediate value); `None` while running or when failed.
    pub value: Option<f64>,
    /// Values reported with [`crate::TrialReporter::report`], by step.
    pub intermediate_values: BTreeMap<u32, f64>,
    /// `host:pid:thread` of the worker that last claimed it.
    pub worker: Option<String>,
    /// How many times a worker has claimed it (more than 1 after a re-queue).
    pub attempts: u32,
    /// When the parameters were sampled, ms since the Unix epoch.
    pub created_at_ms: i64,
    /// When the current (last) attempt started.
    pub started_at_ms: Option<i64>,
    /// When it finished.
    pub finished_at_ms: Option<i64>,
    /// The running worker's last sign of life.
    pub heartbeat_at_ms: Option<i64>,
    /// Why it failed.
    pub error: Option<String>,
}

impl Trial {
    /// Wall time of the last attempt, once finished.
    pub fn duration(&self) -> Option<Duration> {
        let (start, end) = (self.started_at_ms?, self.finished_at_ms?);
        Some(Duration::from_millis(
            u64::try_from(end - start).unwrap_or(0),
        ))
    }

    /// The highest reported step and its value.
    pub fn last_step(&self) -> Option<(u32, f64)> {
        self.intermediate_values
            .iter()
            .next_back()
            .map(|(s, v)| (*s, *v))
    }
}
