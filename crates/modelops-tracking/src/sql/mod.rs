//! The SQL backends: one implementation of [`Store`] over sqlx's `Any` driver, speaking SQLite (embedded, the
//! default) or PostgreSQL (shared, for several server replicas). The two differ only in placeholders, migrations
//! and how a write transaction takes its lock; see [`query::Dialect`].
//!
//! Concurrency: every write is one transaction. On SQLite (WAL, 30 s busy timeout) a write transaction's first
//! statement updates the one-row `write_lock` table, so writers from any process queue for the lock instead of
//! failing with "database is locked". On PostgreSQL the run or experiment row is locked with `FOR UPDATE`, which
//! serialises writers of one run (param immutability, latest-metric upkeep) without serialising everything.

pub mod query;

use crate::entities::{
    CreateRun, DEFAULT_EXPERIMENT_ID, Experiment, ExperimentId, LifecycleStage, Metric, Page,
    Param, Run, RunData, RunId, RunInfo, RunStatus, SearchExperiments, SearchRuns, Tag, UpdateRun,
};
use crate::error::StoreError;
use crate::filter::{self, Entity};
use crate::store::Store;
use crate::validation::{self, DEFAULT_SEARCH_RESULTS, MAX_HISTORY_RESULTS, MAX_SEARCH_RESULTS};
use query::{Arg, Dialect, Sql};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};
use std::collections::HashMap;
use std::time::Duration;

/// The tag that holds a run's name.
pub const RUN_NAME_TAG: &str = "mlflow.runName";
/// How long an SQLite writer waits for the lock before giving up.
const SQLITE_BUSY_TIMEOUT_MS: u64 = 30_000;
/// Rows per multi-row INSERT / IN list (well under both databases' bind limits).
const CHUNK: usize = 400;

/// A [`Store`] over SQLite or PostgreSQL.
pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn db(context: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |err| StoreError::backend(context.to_string(), err)
}

/// Turns `sqlite:///abs/path.db`, `sqlite:////abs/path.db` or `sqlite://:memory:` into a filesystem path
/// (or `:memory:`). Relative paths are taken relative to the current directory.
pub fn sqlite_path(uri: &str) -> Result<String, StoreError> {
    let rest = uri
        .strip_prefix("sqlite://")
        .ok_or_else(|| StoreError::invalid(format!("'{uri}' is not a sqlite:// URI")))?;
    let rest = rest.split('?').next().unwrap_or_default();
    if rest.trim_start_matches('/') == ":memory:" || rest.is_empty() {
        return Ok(":memory:".to_string());
    }
    if rest.starts_with('/') {
        Ok(format!("/{}", rest.trim_start_matches('/')))
    } else {
        Err(StoreError::invalid(format!(
            "the SQLite URI '{uri}' names no absolute path; use sqlite:////absolute/path.db or sqlite:///path.db"
        )))
    }
}

impl SqlStore {
    /// Opens (creating if needed) an SQLite database and brings its schema up to date.
    ///
    /// # Errors
    /// [`StoreError::InvalidParameter`] for a malformed URI, [`StoreError::Backend`] when the file cannot be
    /// opened or migrated.
    pub async fn open_sqlite(uri: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let path = sqlite_path(uri)?;
        let in_memory = path == ":memory:";
        if !in_memory && let Some(parent) = std::path::Path::new(&path).parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::backend(format!("creating the folder {}", parent.display()), e)
            })?;
        }
        let url = if in_memory {
            "sqlite::memory:".to_string()
        } else {
            format!("sqlite://{path}?mode=rwc")
        };
        let pool = AnyPoolOptions::new()
            // One in-memory database exists per connection, so ":memory:" gets exactly one.
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
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    // LIKE is case-sensitive in MLflow; ILIKE is spelled LOWER(x) LIKE LOWER(y).
                    conn.execute("PRAGMA case_sensitive_like = ON").await?;
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(|e| StoreError::backend(format!("opening SQLite database {path}"), e))?;
        let store = Self {
            pool,
            dialect: Dialect::Sqlite,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Connects to PostgreSQL and brings the schema up to date.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the server cannot be reached or migrated.
    pub async fn open_postgres(uri: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let url = uri.replacen("postgresql+psycopg2://", "postgresql://", 1);
        let pool = AnyPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            .connect(&url)
            .await
            .map_err(|e| {
                StoreError::backend(format!("connecting to PostgreSQL at {}", redact(&url)), e)
            })?;
        let store = Self {
            pool,
            dialect: Dialect::Postgres,
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = match self.dialect {
            Dialect::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Dialect::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        // Several processes may open a fresh database at once; the loser of that race sees a conflict on the
        // migrations table and succeeds on the next attempt, when the schema is already there.
        let mut attempt = 0;
        loop {
            match migrator.run(&self.pool).await {
                Ok(()) => return Ok(()),
                Err(err) if attempt < 5 => {
                    attempt += 1;
                    tracing::debug!(error = %err, attempt, "schema migration raced; retrying");
                    tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                }
                Err(err) => return Err(StoreError::backend("migrating the tracking schema", err)),
            }
        }
    }

    /// The pool and dialect, for the registry's SQL (`crate::registry::sql`).
    pub(crate) fn registry_parts(&self) -> (&AnyPool, Dialect) {
        (&self.pool, self.dialect)
    }

    fn sql(&self, text: &str) -> Sql {
        Sql::new(self.dialect, text)
    }

    /// Starts a write transaction that already holds the write lock (SQLite) — see the module docs.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(db("starting a transaction"))?;
        if self.dialect == Dialect::Sqlite {
            sqlx::query("UPDATE write_lock SET generation = generation + 1 WHERE id = 1")
                .execute(&mut *tx)
                .await
                .map_err(db("taking the write lock"))?;
        }
        Ok(tx)
    }

    fn for_update(&self) -> &'static str {
        match self.dialect {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
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

fn parse_experiment_id(id: &ExperimentId) -> Result<i64, StoreError> {
    id.0.trim()
        .parse::<i64>()
        .map_err(|_| StoreError::not_found(format!("No Experiment with id={id} exists")))
}

fn experiment_not_found(id: impl std::fmt::Display) -> StoreError {
    StoreError::not_found(format!("No Experiment with id={id} exists"))
}

fn run_not_found(id: &RunId) -> StoreError {
    StoreError::not_found(format!("Run with id={id} not found"))
}

fn get_i64(row: &AnyRow, column: &str) -> Result<i64, StoreError> {
    row.try_get::<i64, _>(column)
        .map_err(|e| StoreError::backend(format!("reading column {column}"), e))
}
fn get_opt_i64(row: &AnyRow, column: &str) -> Result<Option<i64>, StoreError> {
    row.try_get::<Option<i64>, _>(column)
        .map_err(|e| StoreError::backend(format!("reading column {column}"), e))
}
fn get_str(row: &AnyRow, column: &str) -> Result<String, StoreError> {
    row.try_get::<String, _>(column)
        .map_err(|e| StoreError::backend(format!("reading column {column}"), e))
}
fn get_f64(row: &AnyRow, column: &str) -> Result<f64, StoreError> {
    row.try_get::<f64, _>(column)
        .map_err(|e| StoreError::backend(format!("reading column {column}"), e))
}

fn stage(row: &AnyRow) -> Result<LifecycleStage, StoreError> {
    let s = get_str(row, "lifecycle_stage")?;
    LifecycleStage::parse(&s).ok_or_else(|| {
        StoreError::backend(
            "reading lifecycle_stage",
            format!("unknown lifecycle stage '{s}'"),
        )
    })
}

const EXPERIMENT_COLUMNS: &str = "e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage, e.creation_time, e.last_update_time";
const RUN_COLUMNS: &str = "r.run_uuid, r.name, r.experiment_id, r.user_id, r.status, r.start_time, r.end_time, \
                           r.artifact_uri, r.lifecycle_stage";

fn experiment_from_row(row: &AnyRow) -> Result<Experiment, StoreError> {
    Ok(Experiment {
        experiment_id: ExperimentId(get_i64(row, "experiment_id")?.to_string()),
        name: get_str(row, "name")?,
        artifact_location: get_str(row, "artifact_location")?,
        lifecycle_stage: stage(row)?,
        creation_time: get_i64(row, "creation_time")?,
        last_update_time: get_i64(row, "last_update_time")?,
        tags: Vec::new(),
    })
}

fn run_info_from_row(row: &AnyRow) -> Result<RunInfo, StoreError> {
    let status = get_str(row, "status")?;
    Ok(RunInfo {
        run_id: RunId(get_str(row, "run_uuid")?),
        run_name: get_str(row, "name")?,
        experiment_id: ExperimentId(get_i64(row, "experiment_id")?.to_string()),
        user_id: get_str(row, "user_id")?,
        status: RunStatus::parse(&status).ok_or_else(|| {
            StoreError::backend("reading run status", format!("unknown status '{status}'"))
        })?,
        start_time: get_i64(row, "start_time")?,
        end_time: get_opt_i64(row, "end_time")?,
        artifact_uri: get_str(row, "artifact_uri")?,
        lifecycle_stage: stage(row)?,
    })
}

fn metric_from_row(row: &AnyRow) -> Result<Metric, StoreError> {
    let is_nan = get_i64(row, "is_nan")? != 0;
    Ok(Metric {
        key: get_str(row, "key")?,
        value: if is_nan {
            f64::NAN
        } else {
            get_f64(row, "value")?
        },
        timestamp: get_i64(row, "timestamp")?,
        step: get_i64(row, "step")?,
    })
}

/// Orders metric points as MLflow's "latest": greatest (step, timestamp, value), NaN above numbers.
fn newer(a: &Metric, b: &Metric) -> bool {
    let value_order = match (a.value.is_nan(), b.value.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        (false, false) => a
            .value
            .partial_cmp(&b.value)
            .unwrap_or(std::cmp::Ordering::Equal),
    };
    (a.step, a.timestamp)
        .cmp(&(b.step, b.timestamp))
        .then(value_order)
        == std::cmp::Ordering::Greater
}

impl SqlStore {
    async fn experiment_tags(&self, ids: &[i64]) -> Result<HashMap<i64, Vec<Tag>>, StoreError> {
        let mut out: HashMap<i64, Vec<Tag>> = HashMap::new();
        for chunk in ids.chunks(CHUNK) {
            let mut sql = self.sql(
                "SELECT experiment_id, key, value FROM experiment_tags WHERE experiment_id IN (",
            );
            for (i, id) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.int(*id);
            }
            sql.push(") ORDER BY key");
            let rows = sql
                .query()
                .fetch_all(&self.pool)
                .await
                .map_err(db("reading experiment tags"))?;
            for row in rows {
                out.entry(get_i64(&row, "experiment_id")?)
                    .or_default()
                    .push(Tag {
                        key: get_str(&row, "key")?,
                        value: get_str(&row, "value")?,
                    });
            }
        }
        Ok(out)
    }

    async fn with_tags(
        &self,
        mut experiments: Vec<Experiment>,
    ) -> Result<Vec<Experiment>, StoreError> {
        let ids: Vec<i64> = experiments
            .iter()
            .filter_map(|e| e.experiment_id.0.parse().ok())
            .collect();
        let mut tags = self.experiment_tags(&ids).await?;
        for e in &mut experiments {
            if let Ok(id) = e.experiment_id.0.parse::<i64>() {
                e.tags = tags.remove(&id).unwrap_or_default();
            }
        }
        Ok(experiments)
    }

    /// Loads params, tags and latest metrics for runs.
    async fn run_data(&self, run_ids: &[String]) -> Result<HashMap<String, RunData>, StoreError> {
        let mut out: HashMap<String, RunData> = HashMap::new();
        for chunk in run_ids.chunks(CHUNK) {
            let ids: Vec<String> = chunk.to_vec();
            for table in ["params", "tags"] {
                let mut sql = self.sql("SELECT run_uuid, key, value FROM ");
                sql.push(table)
                    .push(" WHERE run_uuid IN ")
                    .text_list(&ids)
                    .push(" ORDER BY key");
                let rows = sql
                    .query()
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db("reading run data"))?;
                for row in rows {
                    let data = out.entry(get_str(&row, "run_uuid")?).or_default();
                    let (key, value) = (get_str(&row, "key")?, get_str(&row, "value")?);
                    if table == "params" {
                        data.params.push(Param { key, value });
                    } else {
                        data.tags.push(Tag { key, value });
                    }
                }
            }
            let mut sql = self
                .sql("SELECT run_uuid, key, value, is_nan, timestamp, step FROM latest_metrics");
            sql.push(" WHERE run_uuid IN ")
                .text_list(&ids)
                .push(" ORDER BY key");
            let rows = sql
                .query()
                .fetch_all(&self.pool)
                .await
                .map_err(db("reading latest metrics"))?;
            for row in rows {
                out.entry(get_str(&row, "run_uuid")?)
                    .or_default()
                    .metrics
                    .push(metric_from_row(&row)?);
            }
        }
        Ok(out)
    }

    /// Reads a run's lifecycle stage inside a write transaction (locking its row on PostgreSQL).
    async fn lock_active_run(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        id: &RunId,
    ) -> Result<(), StoreError> {
        let mut sql = self.sql("SELECT lifecycle_stage FROM runs WHERE run_uuid = ");
        sql.text(&id.0).push(self.for_update());
        let row = sql
            .query()
            .fetch_optional(&mut **tx)
            .await
            .map_err(db("reading a run"))?;
        let row = row.ok_or_else(|| run_not_found(id))?;
        match stage(&row)? {
            LifecycleStage::Active => Ok(()),
            LifecycleStage::Deleted => Err(StoreError::invalid(format!(
                "The run {id} must be in the 'active' state. Current state is deleted."
            ))),
        }
    }

    async fn upsert_run_tags(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        id: &RunId,
        tags: &[Tag],
    ) -> Result<(), StoreError> {
        for tag in tags {
            let mut sql = self.sql("INSERT INTO tags (run_uuid, key, value) VALUES (");
            sql.text(&id.0)
                .push(", ")
                .text(&tag.key)
                .push(", ")
                .text(&tag.value);
            sql.push(") ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value");
            sql.query()
                .execute(&mut **tx)
                .await
                .map_err(db("writing a run tag"))?;
            if tag.key == RUN_NAME_TAG {
                let mut sql = self.sql("UPDATE runs SET name = ");
                sql.text(&tag.value).push(" WHERE run_uuid = ").text(&id.0);
                sql.query()
                    .execute(&mut **tx)
                    .await
                    .map_err(db("renaming a run"))?;
            }
        }
        Ok(())
    }

    async fn fetch_experiment(&self, sql: Sql) -> Result<Option<Experiment>, StoreError> {
        let row = sql
            .query()
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading an experiment"))?;
        match row {
            None => Ok(None),
            Some(row) => Ok(self
                .with_tags(vec![experiment_from_row(&row)?])
                .await?
                .pop()),
        }
    }

    async fn set_experiment_stage(
        &self,
        id: &ExperimentId,
        from: LifecycleStage,
        to: LifecycleStage,
    ) -> Result<(), StoreError> {
        let numeric = parse_experiment_id(id)?;
        let mut tx = self.begin_write().await?;
        let mut sql = self.sql(
            "SELECT lifecycle_stage, last_update_time FROM experiments WHERE experiment_id = ",
        );
        sql.int(numeric).push(self.for_update());
        let row = sql
            .query()
            .fetch_optional(&mut *tx)
            .await
            .map_err(db("reading an experiment"))?;
        let row = row.ok_or_else(|| experiment_not_found(id))?;
        if stage(&row)? != from {
            return Err(experiment_not_found(id));
        }
        let deleted_at = get_i64(&row, "last_update_time")?;
        let now = now_ms().max(deleted_at);
        let mut sql = self.sql("UPDATE experiments SET lifecycle_stage = ");
        sql.text(to.as_str())
            .push(", last_update_time = ")
            .int(now)
            .push(" WHERE experiment_id = ")
            .int(numeric);
        sql.query()
            .execute(&mut *tx)
            .await
            .map_err(db("updating an experiment"))?;
        let mut sql = self.sql("UPDATE runs SET lifecycle_stage = ");
        match to {
            LifecycleStage::Deleted => {
                sql.text("deleted").push(", deleted_time = ").int(now);
                sql.push(" WHERE lifecycle_stage = 'active' AND experiment_id = ")
                    .int(numeric);
            }
            // Restore the runs deleted together with the experiment, not those deleted before it.
            LifecycleStage::Active => {
                sql.text("active").push(
                    ", deleted_time = NULL WHERE lifecycle_stage = 'deleted' AND deleted_time >= ",
                );
                sql.int(deleted_at)
                    .push(" AND experiment_id = ")
                    .int(numeric);
            }
        }
        sql.query()
            .execute(&mut *tx)
            .await
            .map_err(db("updating the experiment's runs"))?;
        tx.commit().await.map_err(db("committing"))
    }
}

#[async_trait::async_trait]
impl Store for SqlStore {
    async fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[Tag],
    ) -> Result<ExperimentId, StoreError> {
        validation::validate_experiment_name(name)?;
        for tag in tags {
            validation::validate_experiment_tag(tag)?;
        }
        let artifact_location = artifact_location.filter(|s| !s.is_empty());
        if let Some(location) = artifact_location
            && location.starts_with("runs:")
        {
            return Err(StoreError::invalid(format!(
                "Artifact location '{location}' cannot be a runs:/ URI"
            )));
        }
        let mut tx = self.begin_write().await?;
        let mut sql = self.sql("SELECT experiment_id FROM experiments WHERE name = ");
        sql.text(name);
        if sql
            .query()
            .fetch_optional(&mut *tx)
            .await
            .map_err(db("reading experiments"))?
            .is_some()
        {
            return Err(StoreError::AlreadyExists(format!(
                "Experiment(name={name}) already exists."
            )));
        }
        let now = now_ms();
        let mut sql = self.sql(
            "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time) \
             VALUES (",
        );
        sql.text(name)
            .push(", ")
            .text(artifact_location.unwrap_or(""))
            .push(", 'active', ")
            .int(now);
        sql.push(", ").int(now).push(") RETURNING experiment_id");
        let row = match sql.query().fetch_one(&mut *tx).await {
            Ok(row) => row,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(StoreError::AlreadyExists(format!(
                    "Experiment(name={name}) already exists."
                )));
            }
            Err(e) => return Err(StoreError::backend("creating an experiment", e)),
        };
        let id = get_i64(&row, "experiment_id")?;
        if artifact_location.is_none() {
            let mut sql = self.sql("UPDATE experiments SET artifact_location = ");
            sql.text(&format!("mlflow-artifacts:/{id}"))
                .push(" WHERE experiment_id = ")
                .int(id);
            sql.query()
                .execute(&mut *tx)
                .await
                .map_err(db("creating an experiment"))?;
        }
        for tag in tags {
            let mut sql =
                self.sql("INSERT INTO experiment_tags (experiment_id, key, value) VALUES (");
            sql.int(id)
                .push(", ")
                .text(&tag.key)
                .push(", ")
                .text(&tag.value);
            sql.push(") ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value");
            sql.query()
                .execute(&mut *tx)
                .await
                .map_err(db("writing an experiment tag"))?;
        }
        tx.commit().await.map_err(db("committing"))?;
        Ok(ExperimentId(id.to_string()))
    }

    async fn get_experiment(&self, id: &ExperimentId) -> Result<Experiment, StoreError> {
        let numeric = parse_experiment_id(id)?;
        let mut sql = self.sql("SELECT ");
        sql.push(EXPERIMENT_COLUMNS)
            .push(" FROM experiments e WHERE e.experiment_id = ")
            .int(numeric);
        self.fetch_experiment(sql)
            .await?
            .ok_or_else(|| experiment_not_found(id))
    }

    async fn get_experiment_by_name(&self, name: &str) -> Result<Experiment, StoreError> {
        let mut sql = self.sql("SELECT ");
        sql.push(EXPERIMENT_COLUMNS)
            .push(" FROM experiments e WHERE e.name = ")
            .text(name);
        self.fetch_experiment(sql).await?.ok_or_else(|| {
            StoreError::not_found(format!("Could not find experiment with name '{name}'"))
        })
    }

    async fn search_experiments(
        &self,
        request: &SearchExperiments,
    ) -> Result<Page<Experiment>, StoreError> {
        let size = validation::page_size(
            request.max_results,
            DEFAULT_SEARCH_RESULTS,
            MAX_SEARCH_RESULTS,
        )?;
        let offset = validation::decode_offset_token(request.page_token.as_deref())?;
        let clauses = filter::parse_filter(&filter::EXPERIMENTS, &request.filter)?;
        let order = filter::parse_order_by(&filter::EXPERIMENTS, &request.order_by)?;
        let mut sql = self.sql("SELECT ");
        sql.push(EXPERIMENT_COLUMNS)
            .push(" FROM experiments e WHERE e.lifecycle_stage IN ");
        let stages: Vec<String> = request
            .view_type
            .stages()
            .iter()
            .map(|s| s.to_string())
            .collect();
        sql.text_list(&stages);
        query::push_experiment_clauses(&mut sql, &clauses);
        query::push_experiment_order(&mut sql, &order);
        sql.push(" LIMIT ")
            .int(size + 1)
            .push(" OFFSET ")
            .int(offset);
        let rows = sql
            .query()
            .fetch_all(&self.pool)
            .await
            .map_err(db("searching experiments"))?;
        let mut items = rows
            .iter()
            .map(experiment_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let next_page_token = if items.len() as i64 > size {
            items.truncate(size as usize);
            Some(validation::encode_offset_token(offset + size))
        } else {
            None
        };
        Ok(Page {
            items: self.with_tags(items).await?,
            next_page_token,
        })
    }

    async fn rename_experiment(&self, id: &ExperimentId, new_name: &str) -> Result<(), StoreError> {
        validation::validate_experiment_name(new_name)?;
        let numeric = parse_experiment_id(id)?;
        let mut tx = self.begin_write().await?;
        let mut sql = self.sql("SELECT lifecycle_stage FROM experiments WHERE experiment_id = ");
        sql.int(numeric).push(self.for_update());
        let row = sql
            .query()
            .fetch_optional(&mut *tx)
            .await
            .map_err(db("reading an experiment"))?;
        let row = row.ok_or_else(|| experiment_not_found(id))?;
        if stage(&row)? == LifecycleStage::Deleted {
            return Err(StoreError::invalid(format!(
                "Cannot rename a non-active experiment {id}: it is deleted; restore it first"
            )));
        }
        let mut sql = self.sql("SELECT experiment_id FROM experiments WHERE name = ");
        sql.text(new_name)
            .push(" AND experiment_id != ")
            .int(numeric);
        if sql
            .query()
            .fetch_optional(&mut *tx)
            .await
            .map_err(db("reading experiments"))?
            .is_some()
        {
            return Err(StoreError::AlreadyExists(format!(
                "Experiment(name={new_name}) already exists."
            )));
        }
        let mut sql = self.sql("UPDATE experiments SET name = ");
        sql.text(new_name)
            .push(", last_update_time = ")
            .int(now_ms())
            .push(" WHERE experiment_id = ")
            .int(numeric);
        sql.query()
            .execute(&mut *tx)
            .await
            .map_err(db("renaming an experiment"))?;
        tx.commit().await.map_err(db("committing"))
    }

    async fn delete_experiment(&self, id: &ExperimentId) -> Result<(), StoreError> {
        self.set_experiment_stage(id, LifecycleStage::Active, LifecycleStage::Deleted)
            .await
    }

    async fn restore_experiment(&self, id: &ExperimentId) -> Result<(), StoreError> {
        self.set_experiment_stage(id, LifecycleStage::Deleted, LifecycleStage::Active)
            .await
    }

    async fn set_experiment_tag(&self, id: &ExperimentId, tag: &Tag) -> Result<(), StoreError> {
        validation::validate_experiment_tag(tag)?;
        let experiment = self.get_experiment(id).await?;
        if experiment.lifecycle_stage != LifecycleStage::Active {
            return Err(StoreError::invalid(format!(
                "The experiment {id} must be in the 'active' state. Current state is deleted."
            )));
        }
        let numeric = parse_experiment_id(id)?;
        let mut tx = self.begin_write().await?;
        let mut sql = self.sql("INSERT INTO experiment_tags (experiment_id, key, value) VALUES (");
        sql.int(numeric)
            .push(", ")
            .text(&tag.key)
            .push(", ")
            .text(&tag.value);
        sql.push(") ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value");
        sql.query()
            .execute(&mut *tx)
            .await
            .map_err(db("writing an experiment tag"))?;
        tx.commit().await.map_err(db("committing"))
    }

    async fn create_run(&self, request: &CreateRun) -> Result<Run, StoreError> {
        let experiment_id = request
            .experiment_id
            .clone()
            .unwrap_or_else(|| ExperimentId(DEFAULT_EXPERIMENT_ID.to_string()));
        let tags = validation::validate_batch(&[], &[], &request.tags)?.tags;
        let tag_name = tags
            .iter()
            .find(|t| t.key == RUN_NAME_TAG)
            .map(|t| t.value.clone());
        let given_name = request.run_name.clone().filter(|n| !n.is_empty());
        if let (Some(given), Some(tagged)) = (&given_name, &tag_name)
            && given != tagged
        {
            return Err(StoreError::invalid(format!(
                "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values \
                 (run_name='{given}', mlflow.runName='{tagged}')."
            )));
        }
        let run_name = given_name
            .or(tag_name)
            .unwrap_or_else(crate::names::generate_run_name);
        let numeric = parse_experiment_id(&experiment_id)?;
        let run_id = RunId(uuid::Uuid::new_v4().simple().to_string());
        let mut tx = self.begin_write().await?;
        let mut sql = self.sql(
            "SELECT lifecycle_stage, artifact_location FROM experiments WHERE experiment_id = ",
        );
        sql.int(numeric).push(self.for_update());
        let row = sql
            .query()
            .fetch_optional(&mut *tx)
            .await
            .map_err(db("reading an experiment"))?;
        let row = row.ok_or_else(|| experiment_not_found(&experiment_id))?;
        if stage(&row)? != LifecycleStage::Active {
            return Err(StoreError::invalid(format!(
                "The experiment {experiment_id} must be in the 'active' state. Current state is deleted."
            )));
        }
        let location = get_str(&row, "artifact_location")?;
        let artifact_uri = format!("{}/{}/artifacts", location.trim_end_matches('/'), run_id);
        let info = RunInfo {
            run_id: run_id.clone(),
            run_name: run_name.clone(),
            experiment_id: experiment_id.clone(),
            user_id: request.user_id.clone().unwrap_or_default(),
            status: RunStatus::Running,
            start_time: request.start_time.unwrap_or_else(now_ms),
            end_time: None,
            artifact_uri,
            lifecycle_stage: LifecycleStage::Active,
        };
        let mut sql = self.sql(
            "INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, artifact_uri, \
             lifecycle_stage) VALUES (",
        );
        sql.text(&run_id.0)
            .push(", ")
            .text(&run_name)
            .push(", ")
            .int(numeric)
            .push(", ")
            .text(&info.user_id);
        sql.push(", 'RUNNING', ")
            .int(info.start_time)
            .push(", ")
            .text(&info.artifact_uri)
            .push(", 'active')");
        sql.query()
            .execute(&mut *tx)
            .await
            .map_err(db("creating a run"))?;
        let mut all_tags: Vec<Tag> = tags.into_iter().filter(|t| t.key != RUN_NAME_TAG).collect();
        all_tags.push(Tag {
            key: RUN_NAME_TAG.to_string(),
            value: run_name,
        });
        self.upsert_run_tags(&mut tx, &run_id, &all_tags).await?;
        tx.commit().await.map_err(db("committing"))?;
        all_tags.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Run {
            info,
            data: RunData {
                metrics: Vec::new(),
                params: Vec::new(),
                tags: all_tags,
            },
        })
    }

    async fn get_run(&self, id: &RunId) -> Result<Run, StoreError> {
        let mut sql = self.sql("SELECT ");
        sql.push(RUN_COLUMNS)
            .push(" FROM runs r WHERE r.run_uuid = ")
            .text(&id.0);
        let row = sql
            .query()
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a run"))?;
        let info = run_info_from_row(&row.ok_or_else(|| run_not_found(id))?)?;
        let data = self
            .run_data(std::slice::from_ref(&id.0))
            .await?
            .remove(&id.0)
            .unwrap_or_default();
        Ok(Run { info, data })
    }

    async fn update_run(&self, id: &RunId, update: &UpdateRun) -> Result<RunInfo, StoreError> {
        let mut tx = self.begin_write().await?;
        self.lock_active_run(&mut tx, id).await?;
        let mut sql = self.sql("UPDATE runs SET run_uuid = run_uuid");
        if let Some(status) = update.status {
            sql.push(", status = ").text(status.as_str());
        }
        if let Some(end_time) = update.end_time {
            sql.push(", end_time = ").int(end_time);
        }
        sql.push(" WHERE run_uuid = ").text(&id.0);
        sql.query()
            .execute(&mut *tx)
            .await
            .map_err(db("updating a run"))?;
        if let Some(name) = update.run_name.as_deref().filter(|n| !n.is_empty()) {
            let tag = Tag {
                key: RUN_NAME_TAG.to_string(),
                value: validation::truncate_chars(name, 8000),
            };
            self.upsert_run_tags(&mut tx, id, &[tag]).await?;
        }
        tx.commit().await.map_err(db("committing"))?;
        Ok(self.get_run(id).await?.info)
    }

    async fn delete_run(&self, id: &RunId) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let mut sql = self.sql("UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ");
        sql.int(now_ms()).push(" WHERE run_uuid = ").text(&id.0);
        let done = sql
            .query()
            .execute(&mut *tx)
            .await
            .map_err(db("deleting a run"))?;
        if done.rows_affected() == 0 {
            return Err(run_not_found(id));
        }
        tx.commit().await.map_err(db("committing"))
    }

    async fn restore_run(&self, id: &RunId) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let mut sql = self.sql(
            "UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL WHERE run_uuid = ",
        );
        sql.text(&id.0);
        let done = sql
            .query()
            .execute(&mut *tx)
            .await
            .map_err(db("restoring a run"))?;
        if done.rows_affected() == 0 {
            return Err(run_not_found(id));
        }
        tx.commit().await.map_err(db("committing"))
    }

    async fn search_runs(&self, request: &SearchRuns) -> Result<Page<Run>, StoreError> {
        let size = validation::page_size(
            request.max_results,
            DEFAULT_SEARCH_RESULTS,
            MAX_SEARCH_RESULTS,
        )?;
        let offset = validation::decode_offset_token(request.page_token.as_deref())?;
        let clauses = filter::parse_filter(&filter::RUNS, &request.filter)?;
        let order = filter::parse_order_by(&filter::RUNS, &request.order_by)?;
        let experiment_ids: Vec<i64> = request
            .experiment_ids
            .iter()
            .filter_map(|id| id.0.trim().parse::<i64>().ok())
            .collect();
        if experiment_ids.is_empty() {
            return Ok(Page {
                items: Vec::new(),
                next_page_token: None,
            });
        }
        let mut sql = self.sql("SELECT ");
        sql.push(RUN_COLUMNS)
            .push(" FROM runs r WHERE r.experiment_id IN (");
        for (i, id) in experiment_ids.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.int(*id);
        }
        sql.push(") AND r.lifecycle_stage IN ");
        let stages: Vec<String> = request
            .run_view_type
            .stages()
            .iter()
            .map(|s| s.to_string())
            .collect();
        sql.text_list(&stages);
        query::push_run_clauses(&mut sql, &clauses);
        query::push_run_order(&mut sql, &order);
        sql.push(" LIMIT ")
            .int(size + 1)
            .push(" OFFSET ")
            .int(offset);
        let rows = sql
            .query()
            .fetch_all(&self.pool)
            .await
            .map_err(db("searching runs"))?;
        let mut infos = rows
            .iter()
            .map(run_info_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let next_page_token = if infos.len() as i64 > size {
            infos.truncate(size as usize);
            Some(validation::encode_offset_token(offset + size))
        } else {
            None
        };
        let ids: Vec<String> = infos.iter().map(|i| i.run_id.0.clone()).collect();
        let mut data = self.run_data(&ids).await?;
        let items = infos
            .into_iter()
            .map(|info| {
                let d = data.remove(&info.run_id.0).unwrap_or_default();
                Run { info, data: d }
            })
            .collect();
        Ok(Page {
            items,
            next_page_token,
        })
    }

    async fn log_batch(
        &self,
        id: &RunId,
        metrics: &[Metric],
        params: &[Param],
        tags: &[Tag],
    ) -> Result<(), StoreError> {
        let validation::ValidBatch {
            metrics,
            params,
            tags,
        } = validation::validate_batch(metrics, params, tags)?;
        let mut tx = self.begin_write().await?;
        self.lock_active_run(&mut tx, id).await?;
        if !params.is_empty() {
            let keys: Vec<String> = params.iter().map(|p| p.key.clone()).collect();
            let mut existing: HashMap<String, String> = HashMap::new();
            for chunk in keys.chunks(CHUNK) {
                let mut sql = self.sql("SELECT key, value FROM params WHERE run_uuid = ");
                sql.text(&id.0).push(" AND key IN ").text_list(chunk);
                for row in sql
                    .query()
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db("reading params"))?
                {
                    existing.insert(get_str(&row, "key")?, get_str(&row, "value")?);
                }
            }
            let mut new_params = Vec::new();
            for p in &params {
                match existing.get(&p.key) {
                    Some(old) if *old != p.value => {
                        return Err(StoreError::invalid(format!(
                            "Changing param values is not allowed. Param with key='{}' was already logged with \
                             value='{old}' for run ID='{id}'. Attempted logging new value '{}'.",
                            p.key, p.value
                        )));
                    }
                    Some(_) => {}
                    None => new_params.push(p),
                }
            }
            for chunk in new_params.chunks(CHUNK) {
                let mut sql = self.sql("INSERT INTO params (run_uuid, key, value) VALUES ");
                for (i, p) in chunk.iter().enumerate() {
                    sql.push(if i > 0 { ", (" } else { "(" });
                    sql.text(&id.0)
                        .push(", ")
                        .text(&p.key)
                        .push(", ")
                        .text(&p.value)
                        .push(")");
                }
                sql.push(" ON CONFLICT (run_uuid, key) DO NOTHING");
                sql.query()
                    .execute(&mut *tx)
                    .await
                    .map_err(db("writing params"))?;
            }
        }
        if !metrics.is_empty() {
            for chunk in metrics.chunks(CHUNK) {
                let mut sql = self.sql(
                    "INSERT INTO metrics (run_uuid, key, value, is_nan, timestamp, step) VALUES ",
                );
                for (i, m) in chunk.iter().enumerate() {
                    let is_nan = m.value.is_nan();
                    sql.push(if i > 0 { ", (" } else { "(" });
                    sql.text(&id.0).push(", ").text(&m.key).push(", ");
                    sql.bind(Arg::Float(if is_nan { 0.0 } else { m.value }));
                    sql.push(", ")
                        .int(i64::from(is_nan))
                        .push(", ")
                        .int(m.timestamp)
                        .push(", ")
                        .int(m.step);
                    sql.push(")");
                }
                sql.push(" ON CONFLICT DO NOTHING");
                sql.query()
                    .execute(&mut *tx)
                    .await
                    .map_err(db("writing metrics"))?;
            }
            let mut latest: HashMap<&str, &Metric> = HashMap::new();
            for m in &metrics {
                match latest.get(m.key.as_str()) {
                    Some(current) if !newer(m, current) => {}
                    _ => {
                        latest.insert(m.key.as_str(), m);
                    }
                }
            }
            let keys: Vec<String> = latest.keys().map(|k| k.to_string()).collect();
            let mut stored: HashMap<String, Metric> = HashMap::new();
            for chunk in keys.chunks(CHUNK) {
                let mut sql =
                    self.sql("SELECT key, value, is_nan, timestamp, step FROM latest_metrics");
                sql.push(" WHERE run_uuid = ")
                    .text(&id.0)
                    .push(" AND key IN ")
                    .text_list(chunk);
                for row in sql
                    .query()
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db("reading latest metrics"))?
                {
                    let m = metric_from_row(&row)?;
                    stored.insert(m.key.clone(), m);
                }
            }
            for (key, candidate) in latest {
                if stored.get(key).is_some_and(|s| !newer(candidate, s)) {
                    continue;
                }
                let is_nan = candidate.value.is_nan();
                let mut sql =
                    self.sql("INSERT INTO latest_metrics (run_uuid, key, value, is_nan, timestamp, step) VALUES (");
                sql.text(&id.0).push(", ").text(key).push(", ");
                sql.bind(Arg::Float(if is_nan { 0.0 } else { candidate.value }));
                sql.push(", ")
                    .int(i64::from(is_nan))
                    .push(", ")
                    .int(candidate.timestamp);
                sql.push(", ")
                    .int(candidate.step)
                    .push(") ON CONFLICT (run_uuid, key) DO UPDATE SET ");
                sql.push("value = excluded.value, is_nan = excluded.is_nan, timestamp = excluded.timestamp, ");
                sql.push("step = excluded.step");
                sql.query()
                    .execute(&mut *tx)
                    .await
                    .map_err(db("writing latest metrics"))?;
            }
        }
        self.upsert_run_tags(&mut tx, id, &tags).await?;
        tx.commit().await.map_err(db("committing"))
    }

    async fn delete_tag(&self, id: &RunId, key: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        self.lock_active_run(&mut tx, id).await?;
        let mut sql = self.sql("DELETE FROM tags WHERE run_uuid = ");
        sql.text(&id.0).push(" AND key = ").text(key);
        let done = sql
            .query()
            .execute(&mut *tx)
            .await
            .map_err(db("deleting a tag"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found(format!(
                "No tag with name: {key} in run with id {id}"
            )));
        }
        tx.commit().await.map_err(db("committing"))
    }

    async fn get_metric_history(
        &self,
        id: &RunId,
        key: &str,
        max_results: Option<i64>,
        page_token: Option<&str>,
    ) -> Result<Page<Metric>, StoreError> {
        let size = validation::page_size(max_results, MAX_HISTORY_RESULTS, i64::MAX)?;
        let offset = validation::decode_offset_token(page_token)?;
        let mut sql = self.sql("SELECT run_uuid FROM runs WHERE run_uuid = ");
        sql.text(&id.0);
        if sql
            .query()
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a run"))?
            .is_none()
        {
            return Err(run_not_found(id));
        }
        let mut sql =
            self.sql("SELECT key, value, is_nan, timestamp, step FROM metrics WHERE run_uuid = ");
        sql.text(&id.0).push(" AND key = ").text(key);
        // The primary key's column order, so the history is read from the index already sorted (no sort step).
        sql.push(" ORDER BY timestamp, step, value, is_nan LIMIT ")
            .int(size.saturating_add(1));
        sql.push(" OFFSET ").int(offset);
        let rows = sql
            .query()
            .fetch_all(&self.pool)
            .await
            .map_err(db("reading a metric history"))?;
        let mut items = rows
            .iter()
            .map(metric_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let next_page_token = if items.len() as i64 > size {
            items.truncate(size as usize);
            Some(validation::encode_offset_token(offset + size))
        } else {
            None
        };
        Ok(Page {
            items,
            next_page_token,
        })
    }
}

/// Names an entity kind for messages.
pub fn entity_kind(entity: &Entity) -> &'static str {
    match entity {
        Entity::Metric(_) => "metric",
        Entity::Param(_) => "param",
        Entity::Tag(_) => "tag",
        Entity::Attribute(_) => "attribute",
        Entity::Dataset(_) => "dataset",
    }
}
