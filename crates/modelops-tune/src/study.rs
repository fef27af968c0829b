//! Studies persisted in SQL (SQLite or PostgreSQL, the same SQL text for both through sqlx's `Any` driver), so a
//! study survives a crash or Ctrl-C and several workers — threads, processes, machines — share it.
//!
//! # Tables
//! `tune_studies` (one row per study: direction, search space, sampler, pruner, seed, heartbeat timeout),
//! `tune_trials` (one row per trial, keyed by `(study_name, number)`), `tune_intermediate_values` and
//! `tune_study_attributes`. The `tune_` prefix lets them live in the tracking database (`mlflow.db` or the shared
//! PostgreSQL) beside MLflow's tables without clashing. They are created on open (`CREATE TABLE IF NOT EXISTS`).
//!
//! # Claiming trials without duplicates or losses
//! [`Study::claim_trial`] runs in one transaction whose first statement bumps the study row's `claim_generation`.
//! That write takes SQLite's database write lock (other writers wait, up to the 30 s busy timeout) and, in
//! PostgreSQL, the study row's lock, so claims on one study are serialised across threads, processes and machines.
//! Inside the transaction the claimer:
//! 1. re-queues stale trials: a `running` trial whose heartbeat is older than the study's heartbeat timeout goes back
//!    to `waiting` with the same number and parameters (its intermediate values are dropped), or to `failed` once
//!    it has been attempted `max_attempts` times (a trial that keeps killing its worker must not loop forever);
//! 2. takes the lowest-numbered `waiting` trial, if any;
//! 3. otherwise, while the study has fewer than `n_trials` trials, samples parameters from the history and inserts
//!    trial number `count` (numbers are gap-free) as `running`;
//! 4. otherwise answers [`Claim::Wait`] while other trials are still running (one may yet become stale and need
//!    re-running) or [`Claim::Done`].
//!
//! A worker sends heartbeats while its trial runs; every later write on the trial (report, finish) checks that the
//! trial is still `running` under the same worker, so a worker that was presumed dead cannot overwrite the re-run.
//! Heartbeats use each worker's clock: machines sharing a study need clocks within a fraction of the timeout (NTP).
//!
//! # Reproducibility
//! Trial `k`'s parameters come from the sampler with [`crate::sampler::trial_rng`]`(seed, k)` and the trials
//! before it, so one worker with one seed gives the same trial sequence on every run. With several workers the
//! history each sample sees depends on timing, as in any parallel TPE.

use crate::error::TuneError;
use crate::pruner::PrunerConfig;
use crate::sampler::{SamplerConfig, trial_rng};
use crate::space::{Params, SearchSpace};
use crate::trial::{Direction, Trial, TrialState};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// How long an SQLite writer waits for the lock before failing.
const SQLITE_BUSY_TIMEOUT_MS: u64 = 30_000;

const SCHEMA: [&str; 4] = [
    "CREATE TABLE IF NOT EXISTS tune_studies (
        name TEXT PRIMARY KEY,
        direction TEXT NOT NULL,
        search_space TEXT NOT NULL,
        sampler TEXT NOT NULL,
        pruner TEXT NOT NULL,
        seed BIGINT NOT NULL,
        heartbeat_timeout_ms BIGINT NOT NULL,
        max_attempts BIGINT NOT NULL,
        created_at_ms BIGINT NOT NULL,
        claim_generation BIGINT NOT NULL DEFAULT 0
    )",
    "CREATE TABLE IF NOT EXISTS tune_trials (
        study_name TEXT NOT NULL REFERENCES tune_studies (name),
        number BIGINT NOT NULL,
        state TEXT NOT NULL,
        params TEXT NOT NULL,
        value DOUBLE PRECISION,
        worker TEXT,
        attempts BIGINT NOT NULL,
        created_at_ms BIGINT NOT NULL,
        started_at_ms BIGINT,
        finished_at_ms BIGINT,
        heartbeat_at_ms BIGINT,
        error TEXT,
        PRIMARY KEY (study_name, number)
    )",
    "CREATE TABLE IF NOT EXISTS tune_intermediate_values (
        study_name TEXT NOT NULL,
        number BIGINT NOT NULL,
        step BIGINT NOT NULL,
        value DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (study_name, number, step)
    )",
    "CREATE TABLE IF NOT EXISTS tune_study_attributes (
        study_name TEXT NOT NULL,
        attr_key TEXT NOT NULL,
        attr_value TEXT NOT NULL,
        PRIMARY KEY (study_name, attr_key)
    )",
];

/// What defines a study. Stored when the study is created; a later open compares against the stored copy.
#[derive(Clone, Debug, PartialEq)]
pub struct StudySettings {
    /// Minimise (RMSPE) or maximise.
    pub direction: Direction,
    /// The hyperparameters to tune.
    pub space: SearchSpace,
    /// How parameters are proposed.
    pub sampler: SamplerConfig,
    /// When trials are stopped early.
    pub pruner: PrunerConfig,
    /// Seed of every trial's random stream.
    pub seed: u64,
    /// A running trial without a heartbeat for this long is presumed abandoned (default 60 s; workers beat every
    /// quarter of it).
    pub heartbeat_timeout: Duration,
    /// Claims per trial before a repeatedly abandoned trial is marked failed (default 3).
    pub max_attempts: u32,
}

impl StudySettings {
    /// Settings with Optuna's defaults (TPE, median pruner), a 60 s heartbeat timeout and 3 attempts.
    pub fn new(space: SearchSpace, seed: u64) -> Self {
        Self {
            direction: Direction::Minimize,
            space,
            sampler: SamplerConfig::default(),
            pruner: PrunerConfig::default(),
            seed,
            heartbeat_timeout: Duration::from_secs(60),
            max_attempts: 3,
        }
    }

    /// How often a worker refreshes its heartbeat: a quarter of the timeout, at least 50 ms.
    pub fn heartbeat_interval(&self) -> Duration {
        (self.heartbeat_timeout / 4).max(Duration::from_millis(50))
    }
}

/// A trial handed to a worker by [`Study::claim_trial`].
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimedTrial {
    /// The trial number.
    pub number: u64,
    /// Its parameters (fixed at sampling; a re-queued trial keeps them).
    pub params: Params,
    /// 1 on the first claim, more after re-queues.
    pub attempt: u32,
}

/// The answer to [`Study::claim_trial`].
#[derive(Clone, Debug, PartialEq)]
pub enum Claim {
    /// Run this trial.
    Trial(ClaimedTrial),
    /// Nothing to run now, but other trials are running; ask again later.
    Wait,
    /// The study has its `n_trials` trials and none is running.
    Done,
}

/// What happened to a reported intermediate value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportOutcome {
    /// Recorded; carry on.
    Continue,
    /// Recorded; the pruner says stop.
    Prune,
    /// The trial is no longer this worker's (it was presumed dead and re-queued): stop, the result is discarded.
    Lost,
}

/// A handle on one study in a SQL database; cheap to clone and shareable between threads.
#[derive(Clone)]
pub struct Study {
    inner: Arc<StudyInner>,
}

struct StudyInner {
    pool: AnyPool,
    name: String,
    settings: StudySettings,
}

impl std::fmt::Debug for Study {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Study")
            .field("name", &self.inner.name)
            .finish_non_exhaustive()
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `sqlite:///abs/path.db`, `sqlite:////abs/path.db` → `/abs/path.db`; `sqlite://:memory:` → `:memory:`.
fn sqlite_path(uri: &str) -> Result<String, TuneError> {
    let rest = uri
        .strip_prefix("sqlite://")
        .ok_or_else(|| TuneError::UnsupportedStorage(uri.to_string()))?;
    let rest = rest.split('?').next().unwrap_or_default();
    if rest.trim_start_matches('/') == ":memory:" || rest.is_empty() {
        return Ok(":memory:".to_string());
    }
    if rest.starts_with('/') {
        Ok(format!("/{}", rest.trim_start_matches('/')))
    } else {
        Err(TuneError::InvalidSetting(format!(
            "the SQLite URI '{uri}' names no absolute path; use sqlite:////absolute/path.db"
        )))
    }
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***{}", &url[..scheme], &url[at..])
        }
        _ => url.to_string(),
    }
}

/// Opens a connection pool for `uri` and makes sure the tables exist.
async fn open_pool(uri: &str) -> Result<AnyPool, TuneError> {
    sqlx::any::install_default_drivers();
    let pool = if uri.starts_with("sqlite:") {
        let path = sqlite_path(uri)?;
        let in_memory = path == ":memory:";
        if !in_memory && let Some(parent) = std::path::Path::new(&path).parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                TuneError::InvalidSetting(format!(
                    "cannot create the folder {} for the study database: {e}",
                    parent.display()
                ))
            })?;
        }
        let url = if in_memory {
            "sqlite::memory:".to_string()
        } else {
            format!("sqlite://{path}?mode=rwc")
        };
        AnyPoolOptions::new()
            .max_connections(if in_memory { 1 } else { 8 })
            .min_connections(if in_memory { 1 } else { 0 })
            .idle_timeout(if in_memory {
                None
            } else {
                Some(Duration::from_secs(600))
            })
            .max_lifetime(if in_memory {
                None
            } else {
                Some(Duration::from_secs(3600))
            })
            .acquire_timeout(Duration::from_secs(60))
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute(
                        format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}").as_str(),
                    )
                    .await?;
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(TuneError::storage(format!(
                "opening the SQLite database {path}"
            )))?
    } else if uri.starts_with("postgresql://") || uri.starts_with("postgres://") {
        AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect(uri)
            .await
            .map_err(TuneError::storage(format!(
                "connecting to PostgreSQL at {}",
                redact(uri)
            )))?
    } else {
        return Err(TuneError::UnsupportedStorage(uri.to_string()));
    };
    // Several processes may create the tables at once; PostgreSQL can report a duplicate type to the loser, which
    // then finds the tables there on the next attempt.
    let mut attempt = 0u64;
    loop {
        let mut result = Ok(());
        for statement in SCHEMA {
            if let Err(err) = sqlx::query(statement).execute(&pool).await {
                result = Err(err);
                break;
            }
        }
        match result {
            Ok(()) => return Ok(pool),
            Err(err) if attempt < 5 => {
                attempt += 1;
                tracing::debug!(error = %err, attempt, "creating study tables raced; retrying");
                tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
            }
            Err(err) => {
                return Err(TuneError::Storage {
                    context: "creating the study tables".into(),
                    source: err,
                });
            }
        }
    }
}

fn get_i64(row: &AnyRow, column: &str) -> Result<i64, sqlx::Error> {
    row.try_get::<i64, _>(column)
}

impl Study {
    /// Opens the study `name` at `uri` (`sqlite:////abs/path.db`, `sqlite://:memory:`, `postgresql://…`), creating
    /// it with `settings` if it does not exist. An existing study keeps its stored sampler, pruner, seed, heartbeat
    /// timeout and attempts (a differing request is logged and ignored, so resuming with another `--seed` still
    /// continues the original sequence); its search space and direction must match.
    ///
    /// # Errors
    /// [`TuneError::UnsupportedStorage`] for other URIs, [`TuneError::StudyMismatch`] for a different space or
    /// direction, [`TuneError::Storage`] when the database fails.
    pub async fn create_or_load(
        uri: &str,
        name: &str,
        settings: StudySettings,
    ) -> Result<Self, TuneError> {
        if name.trim().is_empty() {
            return Err(TuneError::InvalidSetting(
                "the study name is empty; pass a name such as lightgbm_tuning".into(),
            ));
        }
        if settings.max_attempts == 0 {
            return Err(TuneError::InvalidSetting(
                "max_attempts must be at least 1".into(),
            ));
        }
        settings.space.validate(name)?;
        let pool = open_pool(uri).await?;
        let json = |v: serde_json::Result<String>| {
            v.map_err(|e| TuneError::InvalidSetting(format!("cannot encode study settings: {e}")))
        };
        sqlx::query(
            "INSERT INTO tune_studies (name, direction, search_space, sampler, pruner, seed, heartbeat_timeout_ms, max_attempts, created_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(settings.direction.as_str())
        .bind(json(serde_json::to_string(&settings.space))?)
        .bind(json(serde_json::to_string(&settings.sampler))?)
        .bind(json(serde_json::to_string(&settings.pruner))?)
        .bind(settings.seed as i64)
        .bind(i64::try_from(settings.heartbeat_timeout.as_millis()).unwrap_or(i64::MAX))
        .bind(i64::from(settings.max_attempts))
        .bind(now_ms())
        .execute(&pool)
        .await
        .map_err(TuneError::storage(format!("creating study '{name}'")))?;
        let stored = load_settings(&pool, name).await?;
        if stored.space != settings.space {
            return Err(TuneError::StudyMismatch {
                study: name.into(),
                what: "search space".into(),
            });
        }
        if stored.direction != settings.direction {
            return Err(TuneError::StudyMismatch {
                study: name.into(),
                what: "direction".into(),
            });
        }
        if stored != settings {
            tracing::warn!(
                study = name,
                seed = stored.seed,
                "resuming a study with its stored sampler, pruner and seed"
            );
        }
        Ok(Self {
            inner: Arc::new(StudyInner {
                pool,
                name: name.to_string(),
                settings: stored,
            }),
        })
    }

    /// Opens an existing study.
    ///
    /// # Errors
    /// [`TuneError::StudyNotFound`] when there is none by that name; storage errors as [`Study::create_or_load`].
    pub async fn load(uri: &str, name: &str) -> Result<Self, TuneError> {
        let pool = open_pool(uri).await?;
        let settings = load_settings(&pool, name).await?;
        Ok(Self {
            inner: Arc::new(StudyInner {
                pool,
                name: name.to_string(),
                settings,
            }),
        })
    }

    /// Names of every study in the database at `uri`, sorted.
    ///
    /// # Errors
    /// Storage errors as [`Study::create_or_load`].
    pub async fn list(uri: &str) -> Result<Vec<String>, TuneError> {
        let pool = open_pool(uri).await?;
        let rows = sqlx::query("SELECT name FROM tune_studies ORDER BY name")
            .fetch_all(&pool)
            .await
            .map_err(TuneError::storage("listing studies"))?;
        rows.iter()
            .map(|r| {
                r.try_get::<String, _>("name")
                    .map_err(TuneError::storage("listing studies"))
            })
            .collect()
    }

    /// The study's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The settings in force (the stored ones).
    pub fn settings(&self) -> &StudySettings {
        &self.inner.settings
    }

    /// Every trial, in number order, with its intermediate values.
    ///
    /// # Errors
    /// [`TuneError::Storage`] or [`TuneError::CorruptStudy`].
    pub async fn trials(&self) -> Result<Vec<Trial>, TuneError> {
        let mut conn = self
            .inner
            .pool
            .acquire()
            .await
            .map_err(TuneError::storage("connecting to the study database"))?;
        load_trials(&mut conn, &self.inner.name).await
    }

    /// One trial by number.
    ///
    /// # Errors
    /// As [`Study::trials`].
    pub async fn trial(&self, number: u64) -> Result<Option<Trial>, TuneError> {
        Ok(self
            .trials()
            .await?
            .into_iter()
            .find(|t| t.number == number))
    }

    /// The complete trial with the best value (ties: the lowest number), if any.
    ///
    /// # Errors
    /// As [`Study::trials`].
    pub async fn best_trial(&self) -> Result<Option<Trial>, TuneError> {
        let direction = self.inner.settings.direction;
        Ok(self
            .trials()
            .await?
            .into_iter()
            .filter(|t| t.state == TrialState::Complete && t.value.is_some())
            .min_by(|a, b| {
                let (va, vb) = (
                    direction.normalize(a.value.unwrap_or(f64::NAN)),
                    direction.normalize(b.value.unwrap_or(f64::NAN)),
                );
                va.total_cmp(&vb).then(a.number.cmp(&b.number))
            }))
    }

    /// Stores a study-level attribute (for example the tracking parent run id, so a resumed study logs into the
    /// same run).
    ///
    /// # Errors
    /// [`TuneError::Storage`].
    pub async fn set_attribute(
        &self,
        key: &str,
        value: &serde_json::Value,
    ) -> Result<(), TuneError> {
        sqlx::query(
            "INSERT INTO tune_study_attributes (study_name, attr_key, attr_value) VALUES ($1, $2, $3)
             ON CONFLICT (study_name, attr_key) DO UPDATE SET attr_value = excluded.attr_value",
        )
        .bind(&self.inner.name)
        .bind(key)
        .bind(value.to_string())
        .execute(&self.inner.pool)
        .await
        .map_err(TuneError::storage(format!("setting attribute '{key}' of study '{}'", self.inner.name)))?;
        Ok(())
    }

    /// All study-level attributes.
    ///
    /// # Errors
    /// [`TuneError::Storage`] or [`TuneError::CorruptStudy`].
    pub async fn attributes(&self) -> Result<BTreeMap<String, serde_json::Value>, TuneError> {
        let rows = sqlx::query(
            "SELECT attr_key, attr_value FROM tune_study_attributes WHERE study_name = $1",
        )
        .bind(&self.inner.name)
        .fetch_all(&self.inner.pool)
        .await
        .map_err(TuneError::storage("reading study attributes"))?;
        let mut out = BTreeMap::new();
        for row in rows {
            let key: String = row
                .try_get("attr_key")
                .map_err(TuneError::storage("reading study attributes"))?;
            let text: String = row
                .try_get("attr_value")
                .map_err(TuneError::storage("reading study attributes"))?;
            let value = serde_json::from_str(&text)
                .map_err(|e| self.corrupt(format!("tune_study_attributes '{key}'"), e))?;
            out.insert(key, value);
        }
        Ok(out)
    }

    fn corrupt(&self, field: String, err: impl std::fmt::Display) -> TuneError {
        TuneError::CorruptStudy {
            study: self.inner.name.clone(),
            field,
            message: err.to_string(),
        }
    }

    /// Claims the next trial for `worker` while the study should hold `n_trials` trials in all (see the module
    /// docs for the protocol).
    ///
    /// # Errors
    /// [`TuneError::Storage`] (including an SQLite lock held longer than 30 s) or [`TuneError::CorruptStudy`].
    pub async fn claim_trial(&self, worker: &str, n_trials: u64) -> Result<Claim, TuneError> {
        let name = &self.inner.name;
        let settings = &self.inner.settings;
        let ctx = |what: &str| format!("{what} (study '{name}')");
        let mut tx = self
            .inner
            .pool
            .begin()
            .await
            .map_err(TuneError::storage(ctx("starting a claim transaction")))?;
        // First statement: take the claim lock (see module docs).
        let locked = sqlx::query(
            "UPDATE tune_studies SET claim_generation = claim_generation + 1 WHERE name = $1",
        )
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(TuneError::storage(ctx("locking the study")))?;
        if locked.rows_affected() == 0 {
            return Err(TuneError::StudyNotFound(name.clone()));
        }
        let now = now_ms();
        let timeout_ms = i64::try_from(settings.heartbeat_timeout.as_millis()).unwrap_or(i64::MAX);
        let stale = sqlx::query(
            "SELECT number, attempts, worker FROM tune_trials WHERE study_name = $1 AND state = 'running' AND heartbeat_at_ms < $2",
        )
        .bind(name)
        .bind(now.saturating_sub(timeout_ms))
        .fetch_all(&mut *tx)
        .await
        .map_err(TuneError::storage(ctx("looking for abandoned trials")))?;
        for row in stale {
            let number = get_i64(&row, "number")
                .map_err(TuneError::storage(ctx("reading an abandoned trial")))?;
            let attempts = get_i64(&row, "attempts")
                .map_err(TuneError::storage(ctx("reading an abandoned trial")))?;
            let dead_worker: Option<String> = row.try_get("worker").ok().flatten();
            let dead_worker = dead_worker.unwrap_or_default();
            sqlx::query(
                "DELETE FROM tune_intermediate_values WHERE study_name = $1 AND number = $2",
            )
            .bind(name)
            .bind(number)
            .execute(&mut *tx)
            .await
            .map_err(TuneError::storage(ctx("clearing an abandoned trial")))?;
            if attempts >= i64::from(settings.max_attempts) {
                tracing::warn!(study = %name, trial = number, worker = %dead_worker, attempts, "abandoned trial failed too often; marking it failed");
                sqlx::query(
                    "UPDATE tune_trials SET state = 'failed', finished_at_ms = $1, error = $2 WHERE study_name = $3 AND number = $4",
                )
                .bind(now)
                .bind(format!("worker {dead_worker} stopped sending heartbeats ({attempts} attempts)"))
                .bind(name)
                .bind(number)
                .execute(&mut *tx)
                .await
                .map_err(TuneError::storage(ctx("failing an abandoned trial")))?;
            } else {
                tracing::warn!(study = %name, trial = number, worker = %dead_worker, "worker stopped sending heartbeats; re-queuing its trial");
                sqlx::query("UPDATE tune_trials SET state = 'waiting' WHERE study_name = $1 AND number = $2")
                    .bind(name)
                    .bind(number)
                    .execute(&mut *tx)
                    .await
                    .map_err(TuneError::storage(ctx("re-queuing an abandoned trial")))?;
            }
        }

        let waiting = sqlx::query(
            "SELECT number, params, attempts FROM tune_trials WHERE study_name = $1 AND state = 'waiting' ORDER BY number LIMIT 1",
        )
        .bind(name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(TuneError::storage(ctx("looking for waiting trials")))?;
        let claim = if let Some(row) = waiting {
            let number = get_i64(&row, "number")
                .map_err(TuneError::storage(ctx("reading a waiting trial")))?;
            let attempts = get_i64(&row, "attempts")
                .map_err(TuneError::storage(ctx("reading a waiting trial")))?;
            let text: String = row
                .try_get("params")
                .map_err(TuneError::storage(ctx("reading a waiting trial")))?;
            let params: Params = serde_json::from_str(&text)
                .map_err(|e| self.corrupt(format!("tune_trials.params of trial {number}"), e))?;
            sqlx::query(
                "UPDATE tune_trials SET state = 'running', worker = $1, attempts = $2, started_at_ms = $3, heartbeat_at_ms = $3
                 WHERE study_name = $4 AND number = $5",
            )
            .bind(worker)
            .bind(attempts + 1)
            .bind(now)
            .bind(name)
            .bind(number)
            .execute(&mut *tx)
            .await
            .map_err(TuneError::storage(ctx("claiming a waiting trial")))?;
            Claim::Trial(ClaimedTrial {
                number: number as u64,
                params,
                attempt: (attempts + 1) as u32,
            })
        } else {
            let count_row = sqlx::query(
                "SELECT COUNT(*) AS n, SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END) AS running FROM tune_trials WHERE study_name = $1",
            )
            .bind(name)
            .fetch_one(&mut *tx)
            .await
            .map_err(TuneError::storage(ctx("counting trials")))?;
            let count =
                get_i64(&count_row, "n").map_err(TuneError::storage(ctx("counting trials")))?;
            let running: i64 = count_row
                .try_get::<Option<i64>, _>("running")
                .ok()
                .flatten()
                .unwrap_or(0);
            if (count as u64) < n_trials {
                let history = load_trials(&mut tx, name).await?;
                let number = count as u64;
                let mut rng = trial_rng(settings.seed, number);
                let params = settings.sampler.build().sample(
                    &settings.space,
                    settings.direction,
                    &history,
                    &mut rng,
                );
                let params_text = serde_json::to_string(&params).map_err(|e| {
                    TuneError::InvalidSetting(format!("cannot encode parameters: {e}"))
                })?;
                sqlx::query(
                    "INSERT INTO tune_trials (study_name, number, state, params, worker, attempts, created_at_ms, started_at_ms, heartbeat_at_ms)
                     VALUES ($1, $2, 'running', $3, $4, 1, $5, $5, $5)",
                )
                .bind(name)
                .bind(count)
                .bind(params_text)
                .bind(worker)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(TuneError::storage(ctx("inserting a new trial")))?;
                Claim::Trial(ClaimedTrial {
                    number,
                    params,
                    attempt: 1,
                })
            } else if running > 0 {
                Claim::Wait
            } else {
                Claim::Done
            }
        };
        tx.commit()
            .await
            .map_err(TuneError::storage(ctx("committing a claim")))?;
        if let Claim::Trial(trial) = &claim {
            tracing::debug!(study = %name, trial = trial.number, attempt = trial.attempt, worker, "claimed trial");
        }
        Ok(claim)
    }

    /// Refreshes the heartbeat of `number`; false when the trial is no longer running under `worker`.
    ///
    /// # Errors
    /// [`TuneError::Storage`].
    pub async fn heartbeat(&self, number: u64, worker: &str) -> Result<bool, TuneError> {
        let done = sqlx::query(
            "UPDATE tune_trials SET heartbeat_at_ms = $1 WHERE study_name = $2 AND number = $3 AND state = 'running' AND worker = $4",
        )
        .bind(now_ms())
        .bind(&self.inner.name)
        .bind(number as i64)
        .bind(worker)
        .execute(&self.inner.pool)
        .await
        .map_err(TuneError::storage(format!("sending a heartbeat for trial {number}")))?;
        Ok(done.rows_affected() == 1)
    }

    /// Records an intermediate value of a running trial (and refreshes its heartbeat), then asks the pruner.
    /// A NaN value is not stored and always prunes (as Optuna).
    ///
    /// # Errors
    /// [`TuneError::Storage`] or [`TuneError::CorruptStudy`].
    pub async fn report(
        &self,
        number: u64,
        worker: &str,
        step: u32,
        value: f64,
    ) -> Result<ReportOutcome, TuneError> {
        let name = &self.inner.name;
        let mut tx = self
            .inner
            .pool
            .begin()
            .await
            .map_err(TuneError::storage("starting a report transaction"))?;
        let owned = sqlx::query(
            "UPDATE tune_trials SET heartbeat_at_ms = $1 WHERE study_name = $2 AND number = $3 AND state = 'running' AND worker = $4",
        )
        .bind(now_ms())
        .bind(name)
        .bind(number as i64)
        .bind(worker)
        .execute(&mut *tx)
        .await
        .map_err(TuneError::storage(format!("reporting step {step} of trial {number}")))?;
        if owned.rows_affected() == 0 {
            tx.rollback()
                .await
                .map_err(TuneError::storage("rolling back a report"))?;
            return Ok(ReportOutcome::Lost);
        }
        if value.is_nan() {
            tx.commit()
                .await
                .map_err(TuneError::storage("committing a report"))?;
            return Ok(ReportOutcome::Prune);
        }
        sqlx::query(
            "INSERT INTO tune_intermediate_values (study_name, number, step, value) VALUES ($1, $2, $3, $4)
             ON CONFLICT (study_name, number, step) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(number as i64)
        .bind(i64::from(step))
        .bind(value)
        .execute(&mut *tx)
        .await
        .map_err(TuneError::storage(format!("reporting step {step} of trial {number}")))?;
        tx.commit()
            .await
            .map_err(TuneError::storage("committing a report"))?;
        if matches!(self.inner.settings.pruner, PrunerConfig::None) {
            return Ok(ReportOutcome::Continue);
        }
        let history = self.trials().await?;
        let Some(trial) = history.iter().find(|t| t.number == number) else {
            return Ok(ReportOutcome::Lost);
        };
        let settings = &self.inner.settings;
        Ok(
            if settings
                .pruner
                .pruner()
                .should_prune(settings.direction, trial, &history)
            {
                ReportOutcome::Prune
            } else {
                ReportOutcome::Continue
            },
        )
    }

    /// Finishes a running trial. `value` is the objective value (complete), the last intermediate value (pruned,
    /// filled in here when `None`), or `None` (failed). Returns false, changing nothing, when the trial is no longer
    /// running under `worker` (it was re-queued: its re-run owns the result).
    ///
    /// # Errors
    /// [`TuneError::Storage`], or [`TuneError::InvalidSetting`] for a non-finished `state`.
    pub async fn finish_trial(
        &self,
        number: u64,
        worker: &str,
        state: TrialState,
        value: Option<f64>,
        error: Option<&str>,
    ) -> Result<bool, TuneError> {
        if !state.is_finished() {
            return Err(TuneError::InvalidSetting(format!(
                "a trial cannot finish as '{state}'"
            )));
        }
        let name = &self.inner.name;
        let value = match (state, value) {
            (TrialState::Pruned, None) => self
                .trial(number)
                .await?
                .and_then(|t| t.last_step())
                .map(|(_, v)| v),
            (_, v) => v.filter(|v| !v.is_nan()),
        };
        let done = sqlx::query(
            "UPDATE tune_trials SET state = $1, value = $2, error = $3, finished_at_ms = $4
             WHERE study_name = $5 AND number = $6 AND state = 'running' AND worker = $7",
        )
        .bind(state.as_str())
        .bind(value)
        .bind(error)
        .bind(now_ms())
        .bind(name)
        .bind(number as i64)
        .bind(worker)
        .execute(&self.inner.pool)
        .await
        .map_err(TuneError::storage(format!(
            "finishing trial {number} of study '{name}'"
        )))?;
        Ok(done.rows_affected() == 1)
    }
}

async fn load_settings(pool: &AnyPool, name: &str) -> Result<StudySettings, TuneError> {
    let row = sqlx::query(
        "SELECT direction, search_space, sampler, pruner, seed, heartbeat_timeout_ms, max_attempts FROM tune_studies WHERE name = $1",
    )
    .bind(name)
    .fetch_optional(pool)
    .await
    .map_err(TuneError::storage(format!("reading study '{name}'")))?
    .ok_or_else(|| TuneError::StudyNotFound(name.to_string()))?;
    let corrupt = |field: &str, message: String| TuneError::CorruptStudy {
        study: name.into(),
        field: field.into(),
        message,
    };
    let text = |column: &str| -> Result<String, TuneError> {
        row.try_get::<String, _>(column)
            .map_err(|e| corrupt(&format!("tune_studies.{column}"), e.to_string()))
    };
    let int = |column: &str| -> Result<i64, TuneError> {
        row.try_get::<i64, _>(column)
            .map_err(|e| corrupt(&format!("tune_studies.{column}"), e.to_string()))
    };
    let direction_text = text("direction")?;
    let direction = Direction::parse(&direction_text).ok_or_else(|| {
        corrupt(
            "tune_studies.direction",
            format!("unknown '{direction_text}'"),
        )
    })?;
    Ok(StudySettings {
        direction,
        space: serde_json::from_str(&text("search_space")?)
            .map_err(|e| corrupt("tune_studies.search_space", e.to_string()))?,
        sampler: serde_json::from_str(&text("sampler")?)
            .map_err(|e| corrupt("tune_studies.sampler", e.to_string()))?,
        pruner: serde_json::from_str(&text("pruner")?)
            .map_err(|e| corrupt("tune_studies.pruner", e.to_string()))?,
        seed: int("seed")? as u64,
        heartbeat_timeout: Duration::from_millis(
            u64::try_from(int("heartbeat_timeout_ms")?).unwrap_or(0),
        ),
        max_attempts: u32::try_from(int("max_attempts")?).unwrap_or(1),
    })
}

/// Every trial of `study` with its intermediate values, in number order.
async fn load_trials(conn: &mut sqlx::AnyConnection, study: &str) -> Result<Vec<Trial>, TuneError> {
    let corrupt = |field: String, message: String| TuneError::CorruptStudy {
        study: study.into(),
        field,
        message,
    };
    let rows = sqlx::query(
        "SELECT number, state, params, value, worker, attempts, created_at_ms, started_at_ms, finished_at_ms, heartbeat_at_ms, error
         FROM tune_trials WHERE study_name = $1 ORDER BY number",
    )
    .bind(study)
    .fetch_all(&mut *conn)
    .await
    .map_err(TuneError::storage(format!("reading the trials of study '{study}'")))?;
    let value_rows = sqlx::query(
        "SELECT number, step, value FROM tune_intermediate_values WHERE study_name = $1",
    )
    .bind(study)
    .fetch_all(&mut *conn)
    .await
    .map_err(TuneError::storage(format!(
        "reading the intermediate values of study '{study}'"
    )))?;
    let mut intermediate: HashMap<i64, BTreeMap<u32, f64>> = HashMap::new();
    for row in value_rows {
        let read = || -> Result<(i64, i64, f64), sqlx::Error> {
            Ok((
                row.try_get("number")?,
                row.try_get("step")?,
                row.try_get("value")?,
            ))
        };
        let (number, step, value) =
            read().map_err(|e| corrupt("tune_intermediate_values".into(), e.to_string()))?;
        intermediate
            .entry(number)
            .or_default()
            .insert(u32::try_from(step).unwrap_or(u32::MAX), value);
    }
    let mut trials = Vec::with_capacity(rows.len());
    for row in rows {
        let number: i64 = row
            .try_get("number")
            .map_err(|e| corrupt("tune_trials.number".into(), e.to_string()))?;
        let field = |column: &str| format!("tune_trials.{column} of trial {number}");
        let state_text: String = row
            .try_get("state")
            .map_err(|e| corrupt(field("state"), e.to_string()))?;
        let state = TrialState::parse(&state_text)
            .ok_or_else(|| corrupt(field("state"), format!("unknown '{state_text}'")))?;
        let params_text: String = row
            .try_get("params")
            .map_err(|e| corrupt(field("params"), e.to_string()))?;
        let params: Params = serde_json::from_str(&params_text)
            .map_err(|e| corrupt(field("params"), e.to_string()))?;
        let opt_i64 = |column: &str| -> Result<Option<i64>, TuneError> {
            row.try_get::<Option<i64>, _>(column)
                .map_err(|e| corrupt(field(column), e.to_string()))
        };
        trials.push(Trial {
            number: number as u64,
            state,
            params,
            value: row
                .try_get::<Option<f64>, _>("value")
                .map_err(|e| corrupt(field("value"), e.to_string()))?,
            intermediate_values: intermediate.remove(&number).unwrap_or_default(),
            worker: row
                .try_get::<Option<String>, _>("worker")
                .map_err(|e| corrupt(field("worker"), e.to_string()))?,
            attempts: u32::try_from(opt_i64("attempts")?.unwrap_or(0)).unwrap_or(u32::MAX),
            created_at_ms: opt_i64("created_at_ms")?.unwrap_or(0),
            started_at_ms: opt_i64("started_at_ms")?,
            finished_at_ms: opt_i64("finished_at_ms")?,
            heartbeat_at_ms: opt_i64("heartbeat_at_ms")?,
            error: row
                .try_get::<Option<String>, _>("error")
                .map_err(|e| corrupt(field("error"), e.to_string()))?,
        });
    }
    Ok(trials)
}
