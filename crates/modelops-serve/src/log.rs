//! The prediction log: one row per prediction (served or batch) and the actual sales recorded later, in two
//! tables of the tracking store's own database (SQLite or PostgreSQL), so live RMSPE per model version and drift
//! can be computed from one place.
//!
//! The tables belong to this crate, not to the tracking store's migrations: they are created idempotently
//! (`CREATE TABLE IF NOT EXISTS`) on the same URI through sqlx, so a database works whether or not the service
//! ever ran, and the tracking schema stays the tracking crate's alone.
//!
//! | Table | Key | Columns |
//! |---|---|---|
//! | `prediction_log` | `id` | batch id, UTC time (`logged_at` ISO text and `logged_at_ms`), source (`serve`/`batch`), model name, version, stage; every input field; derived features the monitor compares (month, year, store type, assortment, competition distance after the 100000 fill, Promo2, Promo2 active); prediction; response time |
//! | `actual_sales` | `(store_id, date)` | actual sales and when they were recorded (upserted) |
//!
//! Served predictions reach the database through [`LogWriter`]: a request hands its input rows and predictions,
//! as they are, to a bounded channel (never waiting; when the queue is full the rows are dropped and counted), and
//! one writer turns them into log rows off the request path, in transactions of up to [`MAX_ROWS_PER_WRITE`] rows;
//! [`LogWriter::shutdown`] drains the queue. Batch predictions go through [`BatchLogger`], which writes each
//! predicted chunk on its own thread while the next one is predicted. Both write an SQLite file through rusqlite
//! rather than sqlx (`sqlite_rows` says why) and PostgreSQL (or an in-memory SQLite) through sqlx.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use modelops_features::calendar::{CalendarParts, calendar_parts, format_day, parse_day};
use modelops_features::table::{NO_COMPETITOR_SENTINEL, StoreTable};
use modelops_features::{FeatureSpec, InputRow};
use modelops_models::FeatureMatrix;
use serde::Serialize;
use sqlx::any::{AnyArguments, AnyPoolOptions};
use sqlx::{AnyPool, Arguments, Executor, Row};
use tokio::sync::{mpsc, oneshot};

use crate::error::ServeError;

mod sqlite_rows;

use sqlite_rows::SqliteRowWriter;

/// Most rows written in one transaction.
pub const MAX_ROWS_PER_WRITE: usize = 2000;
/// Rows per multi-row INSERT (23 binds each; under both databases' bind limits).
const ROWS_PER_INSERT: usize = 200;
/// Requests' row batches the writer queue holds before new ones are dropped.
const QUEUE_BATCHES: usize = 4096;
/// Rows the served log's queue holds (and the writer is writing) at most before a request's rows are dropped: about
/// 30 bytes each while queued, and a second of the writer's work. Bounds the queue's memory by rows, since one request
/// may carry 60,000 of them.
pub const MAX_QUEUED_ROWS: u64 = 250_000;
/// The `prediction_log` columns every insert writes, in the order their values are bound.
const INSERT_COLUMNS: [&str; 23] = [
    "batch_id",
    "logged_at",
    "logged_at_ms",
    "source",
    "model_name",
    "model_version",
    "model_stage",
    "store_id",
    "date",
    "day_of_week",
    "open",
    "promo",
    "state_holiday",
    "school_holiday",
    "month",
    "year",
    "store_type",
    "assortment",
    "competition_distance",
    "promo2",
    "is_promo2_active",
    "prediction",
    "response_time_ms",
];

/// `INSERT INTO prediction_log (…) VALUES ` followed by `values` (the placeholders).
fn insert_statement(values: &str) -> String {
    format!(
        "INSERT INTO prediction_log ({}) VALUES {values}",
        INSERT_COLUMNS.join(", ")
    )
}

/// A prediction time as the log stores it: ISO 8601 text with microseconds (`logged_at`) and Unix milliseconds
/// (`logged_at_ms`).
fn stored_time(at: DateTime<Utc>) -> (String, i64) {
    (
        at.to_rfc3339_opts(SecondsFormat::Micros, true),
        at.timestamp_millis(),
    )
}

/// The columns a log row derives from its store and day: the store's metadata from the package's feature spec (the
/// same the model's features come from), and the calendar.
struct Derived<'s> {
    month: u8,
    year: i32,
    store_type: &'s str,
    assortment: &'s str,
    /// After the reference's 100000 fill.
    competition_distance: f64,
    promo2: bool,
}

impl<'s> Derived<'s> {
    fn of(stores: &'s StoreTable, store: u32, day: Option<CalendarParts>) -> Self {
        let meta = stores.get(store);
        Self {
            month: day.map_or(0, |p| p.month),
            year: day.map_or(0, |p| p.year),
            store_type: meta.map_or("", |m| m.store_type.as_str()),
            assortment: meta.map_or("", |m| m.assortment.as_str()),
            competition_distance: f64::from(
                meta.and_then(|m| m.competition_distance)
                    .unwrap_or(NO_COMPETITOR_SENTINEL),
            ),
            promo2: meta.is_some_and(|m| m.promo2),
        }
    }
}

/// The SQL dialect behind a log URI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dialect {
    Sqlite,
    Postgres,
}

/// Which model made a batch of predictions, as recorded in the log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LogLabel {
    /// `serve` (the HTTP service) or `batch` (`modelops predict`).
    pub source: String,
    /// Registered model name (empty for a plain package folder).
    pub model_name: String,
    /// Version (empty when not from the registry).
    pub model_version: String,
    /// Stage the model was loaded for (empty when not loaded by stage).
    pub model_stage: String,
}

/// One logged prediction: the row's inputs, the derived features the monitor compares, the prediction.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PredictionRecord {
    /// Shared by all rows of one request or batch file (UUID4).
    pub batch_id: String,
    /// When the prediction was made (UTC).
    pub logged_at: DateTime<Utc>,
    /// Which model.
    pub label: LogLabel,
    /// Store id.
    pub store_id: u32,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// 1 = Monday … 7 = Sunday.
    pub day_of_week: u8,
    /// 0/1.
    pub open: bool,
    /// 0/1.
    pub promo: bool,
    /// `0`, `a`, `b`, `c`.
    pub state_holiday: String,
    /// 0/1.
    pub school_holiday: bool,
    /// Month 1..12 of `date`.
    pub month: u8,
    /// Year of `date`.
    pub year: i32,
    /// Store type `a`..`d` (store metadata).
    pub store_type: String,
    /// Assortment `a`..`c`.
    pub assortment: String,
    /// Metres to the nearest competitor, 100000 when there is none (the reference's fill).
    pub competition_distance: f64,
    /// Whether the store takes part in Promo2.
    pub promo2: bool,
    /// Whether Promo2 is running on `date` (the model's `Promo2Active` feature).
    pub is_promo2_active: bool,
    /// Predicted sales.
    pub prediction: f64,
    /// Time of the whole request (or batch), milliseconds.
    pub response_time_ms: f64,
}

/// Each row's `Promo2Active` feature (all `false` without the matrix or the column).
fn promo2_active(features: Option<&FeatureMatrix>, rows: usize) -> Vec<bool> {
    let column = features.and_then(|f| {
        f.names()
            .iter()
            .position(|n| n == "Promo2Active")
            .map(|c| (f, c))
    });
    (0..rows)
        .map(|i| column.is_some_and(|(f, c)| f.row(i).get(c).is_some_and(|v| *v == 1.0)))
        .collect()
}

/// What every log row of one batch shares.
#[derive(Clone, Debug)]
struct BatchHeader {
    batch_id: String,
    logged_at: DateTime<Utc>,
    label: LogLabel,
}

impl BatchHeader {
    fn new(label: LogLabel) -> Self {
        Self {
            batch_id: uuid::Uuid::new_v4().to_string(),
            logged_at: Utc::now(),
            label,
        }
    }

    /// The log rows of `chunk`, whose derived columns come from `stores`.
    fn records<'a>(
        &'a self,
        stores: &'a StoreTable,
        chunk: &'a BatchChunk,
    ) -> impl Iterator<Item = PredictionRecord> + 'a {
        chunk
            .rows
            .iter()
            .zip(&chunk.predictions)
            .zip(&chunk.promo2_active)
            .map(move |((row, prediction), &is_promo2_active)| {
                let derived = Derived::of(stores, row.store, calendar_parts(row.date));
                PredictionRecord {
                    batch_id: self.batch_id.clone(),
                    logged_at: self.logged_at,
                    label: self.label.clone(),
                    store_id: row.store,
                    date: format_day(row.date),
                    day_of_week: row.day_of_week,
                    open: row.open,
                    promo: row.promo,
                    state_holiday: row.state_holiday.as_str().to_string(),
                    school_holiday: row.school_holiday,
                    month: derived.month,
                    year: derived.year,
                    store_type: derived.store_type.to_string(),
                    assortment: derived.assortment.to_string(),
                    competition_distance: derived.competition_distance,
                    promo2: derived.promo2,
                    is_promo2_active,
                    prediction: *prediction,
                    response_time_ms: chunk.response_time_ms,
                }
            })
    }
}

/// Rows of one batch (a request, or a chunk of a batch file) on their way to the database, with what they share.
struct LoggedRows<'a> {
    header: &'a BatchHeader,
    /// The store metadata the derived columns come from.
    stores: &'a StoreTable,
    chunk: &'a BatchChunk,
}

/// A connection pool to the prediction log's database, with the tables in place.
#[derive(Clone, Debug)]
pub struct PredictionLog {
    pool: AnyPool,
    dialect: Dialect,
    /// The database file, for an SQLite log kept in one (not `:memory:`).
    sqlite_file: Option<String>,
}

/// The log URI that goes with a tracking URI: the same database for `sqlite:` and `postgresql:` stores; `None` for
/// a remote (`http://`) store, whose database this process cannot reach.
pub fn log_uri_for_tracking(tracking_uri: &str) -> Option<String> {
    let scheme = tracking_uri.split_once("://").map(|(s, _)| s)?;
    matches!(
        scheme,
        "sqlite" | "postgresql" | "postgres" | "postgresql+psycopg2"
    )
    .then(|| tracking_uri.to_string())
}

impl PredictionLog {
    /// Opens (creating if needed) the log tables in the database of `uri` (`sqlite:///abs.db`,
    /// `sqlite:///:memory:`, `postgresql://…`).
    ///
    /// # Errors
    /// [`ServeError::Invalid`] for other schemes; [`ServeError::Log`] when the database cannot be opened.
    pub async fn open(uri: &str) -> Result<Self, ServeError> {
        sqlx::any::install_default_drivers();
        let scheme = uri.split_once("://").map(|(s, _)| s).unwrap_or_default();
        let mut sqlite_file = None;
        let (url, dialect, in_memory) = match scheme {
            "sqlite" => {
                let path = modelops_tracking::sql::sqlite_path(uri)
                    .map_err(|e| ServeError::Invalid(e.to_string()))?;
                if path == ":memory:" {
                    ("sqlite::memory:".to_string(), Dialect::Sqlite, true)
                } else {
                    sqlite_file = Some(path.clone());
                    if let Some(parent) = Path::new(&path).parent() {
                        std::fs::create_dir_all(parent).map_err(|e| {
                            ServeError::Invalid(format!(
                                "cannot create the folder {}: {e}",
                                parent.display()
                            ))
                        })?;
                    }
                    (format!("sqlite://{path}?mode=rwc"), Dialect::Sqlite, false)
                }
            }
            "postgresql" | "postgres" | "postgresql+psycopg2" => (
                uri.replacen("postgresql+psycopg2://", "postgresql://", 1),
                Dialect::Postgres,
                false,
            ),
            _ => {
                return Err(ServeError::Invalid(format!(
                    "the prediction log needs a database URI (sqlite:///path.db or postgresql://…), got '{uri}'"
                )));
            }
        };
        let mut options = AnyPoolOptions::new()
            .max_connections(if in_memory { 1 } else { 4 })
            .acquire_timeout(Duration::from_secs(30));
        if in_memory {
            options = options
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        }
        if dialect == Dialect::Sqlite {
            options = options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute("PRAGMA busy_timeout = 30000").await?;
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    conn.execute("PRAGMA temp_store = MEMORY").await?;
                    Ok(())
                })
            });
        }
        let pool = options
            .connect(&url)
            .await
            .map_err(ServeError::log("opening the database"))?;
        let log = Self {
            pool,
            dialect,
            sqlite_file,
        };
        log.create_tables().await?;
        Ok(log)
    }

    async fn create_tables(&self) -> Result<(), ServeError> {
        let id = match self.dialect {
            Dialect::Sqlite => "id INTEGER PRIMARY KEY AUTOINCREMENT",
            Dialect::Postgres => "id BIGSERIAL PRIMARY KEY",
        };
        let statements = [
            format!(
                "CREATE TABLE IF NOT EXISTS prediction_log (
                    {id},
                    batch_id TEXT NOT NULL,
                    logged_at TEXT NOT NULL,
                    logged_at_ms BIGINT NOT NULL,
                    source TEXT NOT NULL,
                    model_name TEXT NOT NULL,
                    model_version TEXT NOT NULL,
                    model_stage TEXT NOT NULL,
                    store_id BIGINT NOT NULL,
                    date TEXT NOT NULL,
                    day_of_week BIGINT NOT NULL,
                    open BIGINT NOT NULL,
                    promo BIGINT NOT NULL,
                    state_holiday TEXT NOT NULL,
                    school_holiday BIGINT NOT NULL,
                    month BIGINT NOT NULL,
                    year BIGINT NOT NULL,
                    store_type TEXT NOT NULL,
                    assortment TEXT NOT NULL,
                    competition_distance DOUBLE PRECISION NOT NULL,
                    promo2 BIGINT NOT NULL,
                    is_promo2_active BIGINT NOT NULL,
                    prediction DOUBLE PRECISION NOT NULL,
                    response_time_ms DOUBLE PRECISION NOT NULL
                )"
            ),
            "CREATE INDEX IF NOT EXISTS prediction_log_time ON prediction_log (logged_at_ms)"
                .to_string(),
            // No index on (store_id, date) or (date, store_id), which earlier versions kept: the one reader of the
            // pair — the monitor's join with actual_sales — selects predictions by time and joins in memory, and
            // live traffic (the same stores and coming days, request after request) scattered every logged row into
            // a different page of such an index: one dirty 4 KB page per row, written to the WAL and checkpointed
            // again. Databases from before lose the index once.
            "DROP INDEX IF EXISTS prediction_log_store_date".to_string(),
            "DROP INDEX IF EXISTS prediction_log_date_store".to_string(),
            // Nor on (model_name, model_version), which earlier versions also kept and nothing reads (per-version
            // figures group the rows selected by time): every row of a batch has the same key, so each insert
            // compared both texts down the whole index, 1.5 CPU-seconds of a 1M-row batch. Dropped once too.
            "DROP INDEX IF EXISTS prediction_log_version".to_string(),
            format!(
                "CREATE TABLE IF NOT EXISTS actual_sales (
                    {id},
                    store_id BIGINT NOT NULL,
                    date TEXT NOT NULL,
                    actual_sales DOUBLE PRECISION NOT NULL,
                    updated_at TEXT NOT NULL,
                    UNIQUE (store_id, date)
                )"
            ),
        ];
        // Two processes may create the tables at once; IF NOT EXISTS makes the loser's statements no-ops, but on
        // PostgreSQL a concurrent CREATE can still fail on the catalog's unique index, so retry briefly.
        for statement in &statements {
            let mut attempt = 0;
            loop {
                match self.pool.execute(statement.as_str()).await {
                    Ok(_) => break,
                    Err(err) if attempt < 3 => {
                        attempt += 1;
                        tracing::debug!(error = %err, attempt, "creating the prediction log tables raced; retrying");
                        tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
                    }
                    Err(err) => {
                        return Err(ServeError::log("creating the prediction log tables")(err));
                    }
                }
            }
        }
        Ok(())
    }

    fn placeholders(&self, rows: usize, columns: usize) -> String {
        let mut out = String::with_capacity(rows * columns * 4);
        let mut n = 0;
        for r in 0..rows {
            if r > 0 {
                out.push(',');
            }
            out.push('(');
            for c in 0..columns {
                if c > 0 {
                    out.push(',');
                }
                n += 1;
                match self.dialect {
                    Dialect::Sqlite => out.push('?'),
                    Dialect::Postgres => {
                        out.push('$');
                        out.push_str(&n.to_string());
                    }
                }
            }
            out.push(')');
        }
        out
    }

    /// Writes records in one transaction.
    ///
    /// # Errors
    /// [`ServeError::Log`] when the database refuses them (nothing is written then).
    pub async fn write(&self, records: &[PredictionRecord]) -> Result<(), ServeError> {
        const COLUMNS: usize = INSERT_COLUMNS.len();
        if records.is_empty() {
            return Ok(());
        }
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(ServeError::log("starting a write"))?;
        let insert = |rows: usize| insert_statement(&self.placeholders(rows, COLUMNS));
        // Every chunk but the last has ROWS_PER_INSERT rows: its statement text is built once.
        let full_rows = ROWS_PER_INSERT.min(records.len());
        let full = insert(full_rows);
        for chunk in records.chunks(ROWS_PER_INSERT) {
            let short;
            let sql = if chunk.len() == full_rows {
                &full
            } else {
                short = insert(chunk.len());
                &short
            };
            // Rows of one batch share their timestamp: formatted once per run of equal timestamps.
            let runs: Vec<(&[PredictionRecord], String, i64)> = chunk
                .chunk_by(|a, b| a.logged_at == b.logged_at)
                .map(|run| {
                    let (stamp, stamp_ms) = stored_time(run[0].logged_at);
                    (run, stamp, stamp_ms)
                })
                .collect();
            // Arguments built in place (reserved once) rather than by `Query::bind`, which moves the query per value.
            let mut args = AnyArguments::default();
            args.reserve(chunk.len() * COLUMNS, 0);
            for (run, stamp, stamp_ms) in &runs {
                for r in *run {
                    // Text is bound by reference: no copy per row and column.
                    add_row(&mut args, r, stamp, *stamp_ms).map_err(|e| {
                        ServeError::log("encoding predictions")(sqlx::Error::Encode(e))
                    })?;
                }
            }
            let query = sqlx::query_with(sql, args);
            query
                .execute(&mut *tx)
                .await
                .map_err(ServeError::log("writing predictions"))?;
        }
        tx.commit()
            .await
            .map_err(ServeError::log("committing predictions"))
    }

    /// Writes batches of rows in one transaction, as [`PredictionLog::write`]; returns the rows written.
    async fn write_rows<'a>(
        &self,
        batches: impl IntoIterator<Item = LoggedRows<'a>>,
    ) -> Result<usize, ServeError> {
        let records: Vec<PredictionRecord> = batches
            .into_iter()
            .flat_map(|b| b.header.records(b.stores, b.chunk))
            .collect();
        self.write(&records).await?;
        Ok(records.len())
    }

    /// Logged predictions at or after `since` (all when `None`), oldest first.
    ///
    /// # Errors
    /// [`ServeError::Log`] when the query fails.
    pub async fn predictions_since(
        &self,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<PredictionRecord>, ServeError> {
        let since_ms = since.map_or(i64::MIN, |t| t.timestamp_millis());
        let placeholder = if self.dialect == Dialect::Sqlite {
            "?"
        } else {
            "$1"
        };
        let sql = format!(
            "SELECT batch_id, logged_at, source, model_name, model_version, model_stage, store_id, date, day_of_week, \
             open, promo, state_holiday, school_holiday, month, year, store_type, assortment, competition_distance, \
             promo2, is_promo2_active, prediction, response_time_ms FROM prediction_log WHERE logged_at_ms >= \
             {placeholder} ORDER BY id"
        );
        let rows = sqlx::query(&sql)
            .bind(since_ms)
            .fetch_all(&self.pool)
            .await
            .map_err(ServeError::log("reading predictions"))?;
        rows.iter()
            .map(record_from_row)
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(ServeError::log("reading predictions"))
    }

    /// Records actual sales, replacing earlier values for the same (store, date); returns rows written.
    ///
    /// # Errors
    /// [`ServeError::Log`] when the database refuses them (nothing is written then).
    pub async fn record_actuals(&self, actuals: &[ActualSales]) -> Result<usize, ServeError> {
        let now = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(ServeError::log("starting a write"))?;
        for chunk in actuals.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO actual_sales (store_id, date, actual_sales, updated_at) VALUES {} \
                 ON CONFLICT (store_id, date) DO UPDATE SET actual_sales = excluded.actual_sales, \
                 updated_at = excluded.updated_at",
                self.placeholders(chunk.len(), 4)
            );
            let mut query = sqlx::query(&sql);
            for a in chunk {
                query = query
                    .bind(i64::from(a.store))
                    .bind(format_day(a.date))
                    .bind(a.sales)
                    .bind(now.clone());
            }
            query
                .execute(&mut *tx)
                .await
                .map_err(ServeError::log("writing actual sales"))?;
        }
        tx.commit()
            .await
            .map_err(ServeError::log("committing actual sales"))?;
        Ok(actuals.len())
    }

    /// Every recorded actual, by store then date.
    ///
    /// # Errors
    /// [`ServeError::Log`] when the query fails.
    pub async fn actuals(&self) -> Result<Vec<ActualSales>, ServeError> {
        let rows = sqlx::query(
            "SELECT store_id, date, actual_sales FROM actual_sales ORDER BY store_id, date",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(ServeError::log("reading actual sales"))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let store: i64 = row
                .try_get(0)
                .map_err(ServeError::log("reading actual sales"))?;
            let date: String = row
                .try_get(1)
                .map_err(ServeError::log("reading actual sales"))?;
            let sales: f64 = row
                .try_get(2)
                .map_err(ServeError::log("reading actual sales"))?;
            out.push(ActualSales {
                store: store as u32,
                date: parse_day(&date).unwrap_or_default(),
                sales,
            });
        }
        Ok(out)
    }
}

fn record_from_row(row: &sqlx::any::AnyRow) -> Result<PredictionRecord, sqlx::Error> {
    let flag = |i: usize| row.try_get::<i64, _>(i).map(|v| v != 0);
    let logged_at: String = row.try_get(1)?;
    Ok(PredictionRecord {
        batch_id: row.try_get(0)?,
        logged_at: DateTime::parse_from_rfc3339(&logged_at)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default(),
        label: LogLabel {
            source: row.try_get(2)?,
            model_name: row.try_get(3)?,
            model_version: row.try_get(4)?,
            model_stage: row.try_get(5)?,
        },
        store_id: row.try_get::<i64, _>(6)? as u32,
        date: row.try_get(7)?,
        day_of_week: row.try_get::<i64, _>(8)? as u8,
        open: flag(9)?,
        promo: flag(10)?,
        state_holiday: row.try_get(11)?,
        school_holiday: flag(12)?,
        month: row.try_get::<i64, _>(13)? as u8,
        year: row.try_get::<i64, _>(14)? as i32,
        store_type: row.try_get(15)?,
        assortment: row.try_get(16)?,
        competition_distance: row.try_get(17)?,
        promo2: flag(18)?,
        is_promo2_active: flag(19)?,
        prediction: row.try_get(20)?,
        response_time_ms: row.try_get(21)?,
    })
}

/// Actual sales of one store-day.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ActualSales {
    /// Store id.
    pub store: u32,
    /// The day.
    pub date: modelops_features::Day,
    /// Sales that day.
    pub sales: f64,
}

/// Store metadata shared with the log's writer: whatever holds it (a served model: [`crate::ServedModel`]) stays
/// alive until the rows that need it are written.
pub type SharedStores = Arc<dyn AsRef<StoreTable> + Send + Sync>;

/// A request's rows as they wait in the writer's queue: its inputs and predictions as the request had them (the
/// log row is built by the writer, off the request path).
struct QueuedRows {
    header: BatchHeader,
    stores: SharedStores,
    chunk: BatchChunk,
}

impl QueuedRows {
    fn logged(&self) -> LoggedRows<'_> {
        LoggedRows {
            header: &self.header,
            stores: (*self.stores).as_ref(),
            chunk: &self.chunk,
        }
    }
}

enum LogMessage {
    Rows(Box<QueuedRows>),
    Drain(oneshot::Sender<()>),
}

/// The request side of the log: hands rows to the writer without waiting.
#[derive(Clone, Debug)]
pub struct LogWriter {
    sender: mpsc::Sender<LogMessage>,
    rows: Arc<RowCounts>,
    max_queued_rows: u64,
}

/// What the writer and the requests count together.
#[derive(Debug, Default)]
struct RowCounts {
    written: AtomicU64,
    dropped: AtomicU64,
    /// Queued or being written.
    queued: AtomicU64,
}

impl std::fmt::Debug for LogMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Rows(r) => write!(f, "Rows({})", r.chunk.rows.len()),
            Self::Drain(_) => f.write_str("Drain"),
        }
    }
}

impl LogWriter {
    /// Starts the writer: a thread of its own for a log in an SQLite file (rusqlite; the file is opened here), a
    /// task on the current runtime otherwise (sqlx).
    ///
    /// # Errors
    /// [`ServeError::Log`] when the SQLite file cannot be opened; [`ServeError::Invalid`] when the thread cannot
    /// be started.
    pub fn spawn(log: PredictionLog) -> Result<Self, ServeError> {
        Self::spawn_with_queue(log, MAX_QUEUED_ROWS)
    }

    /// [`LogWriter::spawn`] with a queue of at most `max_queued_rows` rows instead of [`MAX_QUEUED_ROWS`].
    ///
    /// # Errors
    /// As [`LogWriter::spawn`].
    pub fn spawn_with_queue(log: PredictionLog, max_queued_rows: u64) -> Result<Self, ServeError> {
        let (sender, receiver) = mpsc::channel(QUEUE_BATCHES);
        let rows = Arc::new(RowCounts::default());
        let counts = rows.clone();
        match &log.sqlite_file {
            Some(path) => {
                let writer = SqliteRowWriter::open(path)?;
                std::thread::Builder::new()
                    .name("prediction-log".into())
                    .spawn(move || sqlite_writer(writer, receiver, &counts))
                    .map_err(|e| {
                        ServeError::Invalid(format!("cannot start the log writer thread: {e}"))
                    })?;
            }
            None => {
                tokio::spawn(pool_writer(log, receiver, counts));
            }
        }
        Ok(Self {
            sender,
            rows,
            max_queued_rows,
        })
    }

    /// Queues one request's rows for the log: `label` names the model, `stores` is its store metadata (the derived
    /// columns come from it), `features` the matrix the model saw (for `Promo2Active`), `response_time_ms` the
    /// request's time so far. Never blocks. When the queue is full — [`MAX_QUEUED_ROWS`] rows or 4,096 requests —
    /// (or rows and predictions differ in length, a bug) the rows are dropped, counted and warned about.
    pub fn submit(
        &self,
        label: LogLabel,
        stores: SharedStores,
        rows: Vec<InputRow>,
        features: Option<&FeatureMatrix>,
        predictions: Vec<f64>,
        response_time_ms: f64,
    ) {
        let n = rows.len() as u64;
        let dropped = |reason: &dyn std::fmt::Display| {
            let total = self.rows.dropped.fetch_add(n, Ordering::Relaxed) + n;
            tracing::warn!(rows = n, total_dropped = total, reason = %reason, "prediction log rows dropped");
        };
        if rows.len() != predictions.len() {
            dropped(&format_args!(
                "{} rows came with {} predictions",
                rows.len(),
                predictions.len()
            ));
            return;
        }
        let queued_before = self.rows.queued.fetch_add(n, Ordering::Relaxed);
        if queued_before + n > self.max_queued_rows {
            self.rows.queued.fetch_sub(n, Ordering::Relaxed);
            dropped(&format_args!(
                "{queued_before} rows are waiting to be written already"
            ));
            return;
        }
        let queued = QueuedRows {
            header: BatchHeader::new(label),
            stores,
            chunk: BatchChunk {
                promo2_active: promo2_active(features, rows.len()),
                rows,
                predictions,
                response_time_ms,
            },
        };
        if let Err(err) = self.sender.try_send(LogMessage::Rows(Box::new(queued))) {
            self.rows.queued.fetch_sub(n, Ordering::Relaxed);
            dropped(&format_args!("the queue is full or closed ({err})"));
        }
    }

    /// Rows dropped because the queue was full.
    pub fn dropped_rows(&self) -> u64 {
        self.rows.dropped.load(Ordering::Relaxed)
    }

    /// Rows written so far.
    pub fn written_rows(&self) -> u64 {
        self.rows.written.load(Ordering::Relaxed)
    }

    /// Waits until everything queued before this call is written (or failed and was logged).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.sender.send(LogMessage::Drain(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Drains the queue before shutdown: [`LogWriter::flush`] under another name, for readability at call sites.
    pub async fn shutdown(&self) {
        self.flush().await;
    }
}

/// What the writer takes from the queue at once: `first` and whatever else is already queued, up to one
/// transaction's worth of rows; the drain requests among them are answered after the write.
#[derive(Default)]
struct Taken {
    rows: Vec<QueuedRows>,
    drains: Vec<oneshot::Sender<()>>,
}

impl Taken {
    fn from_queue(first: LogMessage, receiver: &mut mpsc::Receiver<LogMessage>) -> Self {
        let mut taken = Self::default();
        let mut n_rows = 0;
        let mut message = Some(first);
        while let Some(m) = message {
            match m {
                LogMessage::Rows(r) => {
                    n_rows += r.chunk.rows.len();
                    taken.rows.push(*r);
                }
                LogMessage::Drain(done) => taken.drains.push(done),
            }
            message = if n_rows < MAX_ROWS_PER_WRITE {
                receiver.try_recv().ok()
            } else {
                None
            };
        }
        taken
    }

    fn n_rows(&self) -> u64 {
        self.rows.iter().map(|r| r.chunk.rows.len() as u64).sum()
    }

    /// Counts the rows written (or logs why they were lost), no longer queued, and answers the drain requests.
    fn done(self, result: Result<(), ServeError>, counts: &RowCounts) {
        let n = self.n_rows();
        counts.queued.fetch_sub(n, Ordering::Relaxed);
        match result {
            Ok(()) => {
                counts.written.fetch_add(n, Ordering::Relaxed);
            }
            Err(err) => {
                tracing::error!(error = %err, rows = n, "writing the prediction log failed; rows lost")
            }
        }
        for done in self.drains {
            let _ = done.send(());
        }
    }
}

/// The writer thread of a log in an SQLite file.
fn sqlite_writer(
    mut writer: SqliteRowWriter,
    mut receiver: mpsc::Receiver<LogMessage>,
    counts: &RowCounts,
) {
    while let Some(first) = receiver.blocking_recv() {
        let taken = Taken::from_queue(first, &mut receiver);
        let result = if taken.rows.is_empty() {
            Ok(())
        } else {
            writer
                .write(taken.rows.iter().map(QueuedRows::logged))
                .map(drop)
        };
        taken.done(result, counts);
    }
}

/// The writer task of a log reached through sqlx (PostgreSQL, an in-memory SQLite).
async fn pool_writer(
    log: PredictionLog,
    mut receiver: mpsc::Receiver<LogMessage>,
    counts: Arc<RowCounts>,
) {
    while let Some(first) = receiver.recv().await {
        let taken = Taken::from_queue(first, &mut receiver);
        let result = log
            .write_rows(taken.rows.iter().map(QueuedRows::logged))
            .await
            .map(drop);
        taken.done(result, &counts);
    }
}

/// Logs one batch prediction (`modelops predict`, source `batch`) chunk by chunk on a thread of its own, so the
/// database writes overlap the prediction of the next chunk instead of following the whole batch.
///
/// Not [`LogWriter`]: that one never waits and drops rows when its queue is full (a request must not slow down for
/// the log), whereas a batch must lose nothing, so here a full queue makes the predicting side wait; and its
/// sqlx writer is a task on the service's async runtime, which a batch command does not run.
///
/// Every row of the batch shares one batch id and timestamp. A row's `response_time_ms` is the time from the
/// batch's start until its chunk was predicted (submitted). Chunks are written in the order
/// they are submitted, each in one transaction. If the database cannot be opened or written, later chunks are
/// dropped and [`BatchLogger::finish`] reports the error; submitting never fails or blocks for long (at most two
/// chunks wait).
#[derive(Debug)]
pub struct BatchLogger {
    sender: std::sync::mpsc::SyncSender<BatchChunk>,
    writer: std::thread::JoinHandle<Result<usize, ServeError>>,
    started: std::time::Instant,
    /// Chunks refused by `submit` (rows and predictions of different lengths), reported by `finish`.
    refused: std::sync::Mutex<Vec<String>>,
}

/// A chunk on its way to the writer thread.
struct BatchChunk {
    rows: Vec<InputRow>,
    promo2_active: Vec<bool>,
    predictions: Vec<f64>,
    response_time_ms: f64,
}

impl BatchLogger {
    /// Starts the writer for the database at `uri`; `label` names the model (its `source` becomes `batch`),
    /// `spec` is the package's feature spec (its store metadata fills the derived columns) and `batch_started`
    /// when the batch started (response times count from it).
    ///
    /// # Errors
    /// [`ServeError::Invalid`] when the writer thread cannot be started.
    pub fn start(
        uri: &str,
        label: &LogLabel,
        spec: &FeatureSpec,
        batch_started: std::time::Instant,
    ) -> Result<Self, ServeError> {
        let header = BatchHeader::new(LogLabel {
            source: "batch".into(),
            ..label.clone()
        });
        let stores = spec.stores.clone();
        let uri = uri.to_string();
        let (sender, receiver) = std::sync::mpsc::sync_channel::<BatchChunk>(2);
        let writer = std::thread::Builder::new()
            .name("prediction-log".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| {
                        ServeError::Invalid(format!("cannot start the log writer: {e}"))
                    })?;
                let log = runtime.block_on(PredictionLog::open(&uri))?;
                // A log in an SQLite file takes the batch's rows through rusqlite (see `sqlite_rows`); sqlx
                // created the tables and steps aside.
                let mut sqlite = match &log.sqlite_file {
                    Some(path) => {
                        runtime.block_on(log.pool.close());
                        Some(SqliteRowWriter::open(path)?)
                    }
                    None => None,
                };
                let mut written = 0;
                for chunk in receiver {
                    let rows = [LoggedRows {
                        header: &header,
                        stores: &stores,
                        chunk: &chunk,
                    }];
                    written += match &mut sqlite {
                        Some(writer) => writer.write(rows)?,
                        None => runtime.block_on(log.write_rows(rows))?,
                    };
                }
                Ok(written)
            })
            .map_err(|e| ServeError::Invalid(format!("cannot start the log writer thread: {e}")))?;
        Ok(Self {
            sender,
            writer,
            started: batch_started,
            refused: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// Queues one predicted chunk: its input rows, the features the model saw (for `Promo2Active`) and the
    /// predictions. Waits only while two earlier chunks are still queued. A chunk whose rows and predictions
    /// differ in length is not logged and makes [`BatchLogger::finish`] fail.
    pub fn submit(&self, rows: &[InputRow], features: Option<&FeatureMatrix>, predictions: &[f64]) {
        if rows.len() != predictions.len() {
            if let Ok(mut refused) = self.refused.lock() {
                refused.push(format!(
                    "a chunk of {} rows came with {} predictions and was not logged",
                    rows.len(),
                    predictions.len()
                ));
            }
            return;
        }
        let chunk = BatchChunk {
            rows: rows.to_vec(),
            promo2_active: promo2_active(features, rows.len()),
            predictions: predictions.to_vec(),
            response_time_ms: self.started.elapsed().as_secs_f64() * 1000.0,
        };
        // A send fails only when the writer has stopped on an error, which `finish` reports.
        let _ = self.sender.send(chunk);
    }

    /// Waits for every queued chunk to be written; returns the rows written.
    ///
    /// # Errors
    /// [`ServeError`] when the database could not be opened or written (rows of the failed chunk and later ones
    /// are not in the log; earlier chunks are), or when `submit` refused a chunk.
    pub fn finish(self) -> Result<usize, ServeError> {
        drop(self.sender);
        let written = self.writer.join().map_err(|_| {
            ServeError::Invalid("the prediction log writer stopped unexpectedly".into())
        })??;
        let refused = self.refused.into_inner().unwrap_or_default();
        if refused.is_empty() {
            Ok(written)
        } else {
            Err(ServeError::Invalid(format!(
                "{written} rows were logged, but {}",
                refused.join("; ")
            )))
        }
    }
}

/// Appends one log row's 23 values, in the INSERT's column order.
fn add_row<'q>(
    args: &mut AnyArguments<'q>,
    r: &'q PredictionRecord,
    stamp: &'q str,
    stamp_ms: i64,
) -> Result<(), sqlx::error::BoxDynError> {
    args.add(r.batch_id.as_str())?;
    args.add(stamp)?;
    args.add(stamp_ms)?;
    args.add(r.label.source.as_str())?;
    args.add(r.label.model_name.as_str())?;
    args.add(r.label.model_version.as_str())?;
    args.add(r.label.model_stage.as_str())?;
    args.add(i64::from(r.store_id))?;
    args.add(r.date.as_str())?;
    args.add(i64::from(r.day_of_week))?;
    args.add(i64::from(r.open))?;
    args.add(i64::from(r.promo))?;
    args.add(r.state_holiday.as_str())?;
    args.add(i64::from(r.school_holiday))?;
    args.add(i64::from(r.month))?;
    args.add(i64::from(r.year))?;
    args.add(r.store_type.as_str())?;
    args.add(r.assortment.as_str())?;
    args.add(r.competition_distance)?;
    args.add(i64::from(r.promo2))?;
    args.add(i64::from(r.is_promo2_active))?;
    args.add(r.prediction)?;
    args.add(r.response_time_ms)
}
