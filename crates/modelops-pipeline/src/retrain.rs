//! The parts of `modelops retrain` that are not wiring: the lock that keeps two retraining runs from overlapping,
//! and the run summary (steps, durations, fingerprints, version, metrics) written under `outputs/retrain/`.
//!
//! The lock is an advisory OS lock (`flock`) on `outputs/retrain/retrain.lock`, not a "file exists" marker: the
//! kernel drops it when the holding process exits for any reason (crash, `kill -9`, power loss on a local disk),
//! so a failed run can never leave a stale lock that blocks the next cron tick. The file's text names the holder
//! (pid, host, start time) for the error message of the run that is refused.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::PipelineError;
use crate::track::{PARENT_RUN_TAG, TrackingTarget};

/// File name of the lock inside the retrain output folder.
pub const LOCK_FILE: &str = "retrain.lock";
/// File name of a run's summary inside its own folder.
pub const SUMMARY_FILE: &str = "summary.json";
/// File name of the newest summary inside the retrain output folder.
pub const LATEST_SUMMARY_FILE: &str = "latest.json";

/// Held while a retraining run is in progress; released on drop or when the process ends.
#[derive(Debug)]
pub struct RetrainLock {
    file: File,
    path: PathBuf,
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error(
        "another `modelops retrain` is running ({holder}); lock file {path}. Wait for it to finish — the lock is \
         released automatically when that process exits"
    )]
    Held {
        /// The lock file.
        path: PathBuf,
        /// What the holder wrote into the file (pid, host, start time), or "unknown holder".
        holder: String,
    },
    /// The lock file could not be created or locked.
    #[error("cannot use the lock file {path}: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl RetrainLock {
    /// Takes the lock in `dir` (created if needed) without waiting.
    ///
    /// # Errors
    /// [`LockError::Held`] when another process holds it, [`LockError::Io`] when the file is unusable.
    pub fn acquire(dir: &Path) -> Result<Self, LockError> {
        let path = dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(LockError::Held {
                    path,
                    holder: if holder.is_empty() {
                        "unknown holder".into()
                    } else {
                        holder.to_string()
                    },
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "unknown host".into());
        let text = format!(
            "pid {} on {host}, started {}",
            std::process::id(),
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(text.as_bytes()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(Self { file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RetrainLock {
    fn drop(&mut self) {
        // Clearing the holder text is cosmetic; the kernel releases the lock with the file handle anyway.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// How a step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// It ran and succeeded.
    Succeeded,
    /// It was not needed (e.g. outputs fresh) or switched off by a flag.
    Skipped,
    /// It ran and failed; the run stopped here.
    Failed,
    /// An earlier step failed, so it never started.
    NotRun,
}

/// One step of a retraining run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StepRecord {
    /// Step name (`validate_data`, `features`, `train`, `register`, `gate`, `test_inference`).
    pub name: String,
    /// How it ended.
    pub status: StepStatus,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// One line about the result or the failure.
    pub detail: String,
    /// The step's tracking run, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}

/// The summary of one retraining run, written as JSON for people and schedulers.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RetrainSummary {
    /// UTC start, RFC 3339.
    pub started: String,
    /// UTC end, RFC 3339.
    pub finished: String,
    /// Total wall-clock seconds.
    pub seconds: f64,
    /// The process exit code this run ends with (0 = success).
    pub exit_code: u8,
    /// `succeeded`, or `failed at <step>`.
    pub outcome: String,
    /// Steps in order, including those that never ran.
    pub steps: Vec<StepRecord>,
    /// SHA-256 of the datasets used (path relative to the data dir → hash).
    pub fingerprints: BTreeMap<String, String>,
    /// Registered model name.
    pub model_name: String,
    /// The version this run registered, if it got that far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_version: Option<i64>,
    /// The version's stage at the end (`None`, `Staging`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Holdout and gate metrics (`holdout_rmspe`, `gate_rmspe`, …).
    pub metrics: BTreeMap<String, f64>,
    /// The parent tracking run of the whole pipeline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_run_id: Option<String>,
    /// The model package written by the training step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package_dir: Option<PathBuf>,
    /// What a person does next (the promote command, where to review).
    pub next: Vec<String>,
}

impl RetrainSummary {
    /// Writes the summary as `run_dir/summary.json` and as `latest.json` beside `run_dir` (each atomically: a
    /// temporary file renamed into place) and returns the first path.
    ///
    /// # Errors
    /// [`PipelineError::Io`] naming the file.
    pub fn write(&self, run_dir: &Path) -> Result<PathBuf, PipelineError> {
        std::fs::create_dir_all(run_dir).map_err(PipelineError::io(run_dir))?;
        let path = run_dir.join(SUMMARY_FILE);
        let latest = run_dir
            .parent()
            .unwrap_or(run_dir)
            .join(LATEST_SUMMARY_FILE);
        let text = serde_json::to_string_pretty(self).map_err(|e| {
            PipelineError::Invalid(format!("cannot serialise the run summary: {e}"))
        })? + "\n";
        for target in [path.clone(), latest] {
            let tmp = target.with_extension("json.tmp");
            std::fs::write(&tmp, &text).map_err(PipelineError::io(&tmp))?;
            std::fs::rename(&tmp, &target).map_err(PipelineError::io(&target))?;
        }
        Ok(path)
    }

    /// Reads a summary written by [`RetrainSummary::write`].
    ///
    /// # Errors
    /// [`PipelineError::Io`] or [`PipelineError::Invalid`] naming the file.
    pub fn read(path: &Path) -> Result<Self, PipelineError> {
        let text = std::fs::read_to_string(path).map_err(PipelineError::io(path))?;
        serde_json::from_str(&text).map_err(|e| {
            PipelineError::Invalid(format!("{} is not a retrain summary: {e}", path.display()))
        })
    }
}

/// Tag value of `modelops.job` on a retraining run's parent run.
pub const RETRAIN_JOB: &str = "retrain";

/// Marks retraining runs left RUNNING by a process that died (and their RUNNING child runs) as FAILED, with a tag
/// saying why, and returns their ids. Call it while holding the [`RetrainLock`]: then no other retraining run can
/// be alive, so every RUNNING one is abandoned.
///
/// # Errors
/// Store errors.
pub fn close_abandoned_runs(target: &TrackingTarget) -> Result<Vec<String>, PipelineError> {
    use modelops_tracking::{RunStatus, SearchRuns, StoreError, Tag, UpdateRun, ViewType};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| PipelineError::Invalid(format!("cannot start the async runtime: {e}")))?;
    let closed = runtime.block_on(async {
        let store = modelops_tracking::open(&target.tracking_uri).await?;
        let experiment = match store.get_experiment_by_name(&target.experiment).await {
            Ok(found) => found.experiment_id,
            Err(StoreError::NotFound(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut running = Vec::new();
        let mut page_token = None;
        loop {
            let page = store
                .search_runs(&SearchRuns {
                    experiment_ids: vec![experiment.clone()],
                    filter: "attributes.status = 'RUNNING'".into(),
                    run_view_type: ViewType::ActiveOnly,
                    max_results: Some(1000),
                    order_by: Vec::new(),
                    page_token,
                })
                .await?;
            running.extend(page.items);
            match page.next_page_token {
                Some(token) if !token.is_empty() => page_token = Some(token),
                _ => break,
            }
        }
        let tag = |run: &modelops_tracking::Run, key: &str| {
            run.data
                .tags
                .iter()
                .find(|t| t.key == key)
                .map(|t| t.value.clone())
        };
        let parents: Vec<String> = running
            .iter()
            .filter(|r| tag(r, "modelops.job").as_deref() == Some(RETRAIN_JOB))
            .map(|r| r.info.run_id.0.clone())
            .collect();
        let mut closed = Vec::new();
        for run in &running {
            let id = &run.info.run_id;
            let orphan = parents.contains(&id.0)
                || tag(run, PARENT_RUN_TAG).is_some_and(|p| parents.contains(&p));
            if !orphan {
                continue;
            }
            store
                .set_tag(
                    id,
                    &Tag {
                        key: "modelops.abandoned".into(),
                        value: "the process ended without finishing this run; closed by the next `modelops retrain`"
                            .into(),
                    },
                )
                .await?;
            store
                .update_run(
                    id,
                    &UpdateRun {
                        status: Some(RunStatus::Failed),
                        end_time: Some(chrono::Utc::now().timestamp_millis()),
                        run_name: None,
                    },
                )
                .await?;
            closed.push(id.0.clone());
        }
        Ok::<_, StoreError>(closed)
    })?;
    Ok(closed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_and_told_who_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let first = RetrainLock::acquire(dir.path()).unwrap();
        match RetrainLock::acquire(dir.path()) {
            Err(LockError::Held { holder, path }) => {
                assert!(
                    holder.contains(&format!("pid {}", std::process::id())),
                    "{holder}"
                );
                assert_eq!(path, first.path());
            }
            other => panic!("expected Held, got {other:?}"),
        }
        drop(first);
        let again = RetrainLock::acquire(dir.path()).unwrap();
        drop(again);
    }

    #[test]
    fn summary_round_trips_and_latest_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let summary = RetrainSummary {
            started: "2026-11-27T01:02:03Z".into(),
            exit_code: 4,
            outcome: "failed at gate".into(),
            steps: vec![StepRecord {
                name: "gate".into(),
                status: StepStatus::Failed,
                seconds: 1.5,
                detail: "RMSPE 0.2 > 0.1".into(),
                run_id: None,
            }],
            model_version: Some(3),
            ..RetrainSummary::default()
        };
        let path = summary.write(&dir.path().join("20261127T010203Z")).unwrap();
        assert!(path.ends_with("20261127T010203Z/summary.json"));
        let back = RetrainSummary::read(&dir.path().join(LATEST_SUMMARY_FILE)).unwrap();
        assert_eq!(back.exit_code, 4);
        assert_eq!(back.steps[0].status, StepStatus::Failed);
        assert_eq!(back.model_version, Some(3));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"status\": \"failed\""), "{text}");
    }
}
