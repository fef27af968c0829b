//! The batch log's SQLite path: a `modelops predict` batch's rows inserted through rusqlite on the batch logger's
//! own thread.
//!
//! Why not sqlx here, as everywhere else in the log: sqlx copies every value twice on its way to SQLite (into
//! `Any` arguments, then into its SQLite driver's, handed to the driver's worker thread): a 1M-row batch's log took
//! 3.2 CPU-seconds that way and takes 2.3 this way, on the same two cores the prediction runs on.
//! Here one prepared single-row `INSERT` is stepped per row: the columns every row of a chunk shares (batch id,
//! timestamp, model, response time) are bound once per chunk, since SQLite keeps a statement's bindings across
//! resets, and the others straight from the input rows and the store metadata, with no [`PredictionRecord`]
//! built per row. The table, the database file and the stored values and types are the sqlx path's
//! ([`PredictionLog::write`]); `PredictionLog::open` creates the table before this writer opens the file.
//!
//! [`PredictionRecord`]: super::PredictionRecord
//! [`PredictionLog::write`]: super::PredictionLog::write

use std::time::Duration;

use chrono::SecondsFormat;
use modelops_features::calendar::{calendar_parts, format_day};
use modelops_features::table::{NO_COMPETITOR_SENTINEL, StoreTable};
use rusqlite::{Connection, TransactionBehavior};

use super::{BatchChunk, BatchHeader};
use crate::error::ServeError;

/// The single-row insert, columns in the order the binding indexes below follow.
const INSERT_ONE: &str = "INSERT INTO prediction_log (batch_id, logged_at, logged_at_ms, source, model_name, \
     model_version, model_stage, store_id, date, day_of_week, open, promo, state_holiday, school_holiday, month, \
     year, store_type, assortment, competition_distance, promo2, is_promo2_active, prediction, response_time_ms) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, \
     ?23)";

/// A connection to the log's SQLite file, for one batch.
pub(super) struct SqliteBatchWriter {
    conn: Connection,
    /// The batch's timestamp as stored: ISO text and milliseconds.
    stamp: (String, i64),
}

impl SqliteBatchWriter {
    /// Opens the database file at `path`, whose `prediction_log` table exists already.
    pub(super) fn open(path: &str, header: &BatchHeader) -> Result<Self, ServeError> {
        let opening = || ServeError::log(format!("opening the database {path}"));
        let conn = Connection::open(path).map_err(opening())?;
        // Journal mode WAL is a property of the file, set when the tables were created; these two are per connection.
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(opening())?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(opening())?;
        let stamp = (
            header
                .logged_at
                .to_rfc3339_opts(SecondsFormat::Micros, true),
            header.logged_at.timestamp_millis(),
        );
        Ok(Self { conn, stamp })
    }

    /// Writes one chunk in one transaction; returns its rows.
    pub(super) fn write(
        &mut self,
        header: &BatchHeader,
        stores: &StoreTable,
        chunk: &BatchChunk,
    ) -> Result<usize, ServeError> {
        let writing = || ServeError::log("writing predictions");
        // IMMEDIATE: the write lock is taken (waiting out a served request's write) before any row is inserted.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(ServeError::log("starting a write"))?;
        {
            let mut insert = tx.prepare_cached(INSERT_ONE).map_err(writing())?;
            let label = &header.label;
            let shared: [(usize, &dyn rusqlite::ToSql); 8] = [
                (1, &header.batch_id),
                (2, &self.stamp.0),
                (3, &self.stamp.1),
                (4, &label.source),
                (5, &label.model_name),
                (6, &label.model_version),
                (7, &label.model_stage),
                (23, &chunk.response_time_ms),
            ];
            for (index, value) in shared {
                insert.raw_bind_parameter(index, value).map_err(writing())?;
            }
            // Rows come in runs of one day (a date-ordered file) or one store: a day is formatted once per run.
            let mut day = None;
            let (mut date, mut parts) = (String::new(), None);
            for ((row, prediction), &active) in chunk
                .rows
                .iter()
                .zip(&chunk.predictions)
                .zip(&chunk.promo2_active)
            {
                if day != Some(row.date) {
                    day = Some(row.date);
                    date = format_day(row.date);
                    parts = calendar_parts(row.date);
                }
                let meta = stores.get(row.store);
                let values: [(usize, &dyn rusqlite::ToSql); 14] = [
                    (8, &row.store),
                    (9, &date),
                    (10, &row.day_of_week),
                    (11, &row.open),
                    (12, &row.promo),
                    (13, &row.state_holiday.as_str()),
                    (14, &row.school_holiday),
                    (15, &parts.map_or(0, |p| p.month)),
                    (16, &parts.map_or(0, |p| p.year)),
                    (17, &meta.map_or("", |m| m.store_type.as_str())),
                    (18, &meta.map_or("", |m| m.assortment.as_str())),
                    (
                        19,
                        &f64::from(
                            meta.and_then(|m| m.competition_distance)
                                .unwrap_or(NO_COMPETITOR_SENTINEL),
                        ),
                    ),
                    (20, &meta.is_some_and(|m| m.promo2)),
                    (21, &active),
                ];
                for (index, value) in values {
                    insert.raw_bind_parameter(index, value).map_err(writing())?;
                }
                insert
                    .raw_bind_parameter(22, prediction)
                    .map_err(writing())?;
                insert.raw_execute().map_err(writing())?;
            }
        }
        tx.commit()
            .map_err(ServeError::log("committing predictions"))?;
        Ok(chunk.rows.len())
    }
}
