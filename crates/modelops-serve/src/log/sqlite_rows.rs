//! The log's SQLite path: rows inserted through rusqlite on a writer thread of their own — a served request's rows
//! ([`LogWriter`]'s thread) and a `modelops predict` batch's chunks ([`BatchLogger`]'s thread) alike.
//!
//! Why not sqlx here, as for PostgreSQL: sqlx copies every value twice on its way to SQLite (into `Any` arguments,
//! then into its SQLite driver's, handed to the driver's worker thread), after a [`PredictionRecord`] of nine
//! strings was built per row. A 1M-row batch's log took 3.2 CPU-seconds that way and takes 2.3 this way; a served
//! 1,000-row request's log took about 8 ms of CPU, on the same two cores the next request predicts on.
//! Here one prepared single-row `INSERT` is stepped per row: the columns every row of a request or chunk shares
//! (batch id, timestamp, model, response time) are bound once for it, since SQLite keeps a statement's bindings
//! across resets, and the others straight from the input rows and the store metadata. The table, the database
//! file and the stored values and types are the sqlx path's ([`PredictionLog::write`]); `PredictionLog::open`
//! creates the table before this writer opens the file.
//!
//! [`LogWriter`]: super::LogWriter
//! [`BatchLogger`]: super::BatchLogger
//! [`PredictionRecord`]: super::PredictionRecord
//! [`PredictionLog::write`]: super::PredictionLog::write

use std::time::Duration;

use modelops_features::calendar::{calendar_parts, format_day};
use rusqlite::{Connection, TransactionBehavior};

use super::{Derived, INSERT_COLUMNS, LoggedRows, insert_statement, stored_time};
use crate::error::ServeError;

/// A connection to the log's SQLite file.
pub(super) struct SqliteRowWriter {
    conn: Connection,
    /// The single-row insert, `?1` … `?23` in [`INSERT_COLUMNS`] order (the binding indexes below follow it).
    insert: String,
}

impl SqliteRowWriter {
    /// Opens the database file at `path`, whose `prediction_log` table exists already.
    pub(super) fn open(path: &str) -> Result<Self, ServeError> {
        let opening = || ServeError::log(format!("opening the database {path}"));
        let conn = Connection::open(path).map_err(opening())?;
        // Journal mode WAL is a property of the file, set when the tables were created; these two are per connection.
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(opening())?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(opening())?;
        let placeholders: Vec<String> = (1..=INSERT_COLUMNS.len())
            .map(|i| format!("?{i}"))
            .collect();
        Ok(Self {
            conn,
            insert: insert_statement(&format!("({})", placeholders.join(", "))),
        })
    }

    /// Writes every batch of `batches` in one transaction (all or nothing); returns the rows written.
    pub(super) fn write<'a>(
        &mut self,
        batches: impl IntoIterator<Item = LoggedRows<'a>>,
    ) -> Result<usize, ServeError> {
        let writing = || ServeError::log("writing predictions");
        // IMMEDIATE: the write lock is taken (waiting out another writer) before any row is inserted.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(ServeError::log("starting a write"))?;
        let mut written = 0;
        {
            let mut insert = tx.prepare_cached(&self.insert).map_err(writing())?;
            for LoggedRows {
                header,
                stores,
                chunk,
            } in batches
            {
                let label = &header.label;
                let (stamp, stamp_ms) = stored_time(header.logged_at);
                let shared: [(usize, &dyn rusqlite::ToSql); 8] = [
                    (1, &header.batch_id),
                    (2, &stamp),
                    (3, &stamp_ms),
                    (4, &label.source),
                    (5, &label.model_name),
                    (6, &label.model_version),
                    (7, &label.model_stage),
                    (23, &chunk.response_time_ms),
                ];
                for (index, value) in shared {
                    insert.raw_bind_parameter(index, value).map_err(writing())?;
                }
                // Rows come in runs of one day (a date-ordered file, a request for one day) or one store: a day is
                // formatted once per run.
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
                    let derived = Derived::of(stores, row.store, parts);
                    let values: [(usize, &dyn rusqlite::ToSql); 14] = [
                        (8, &row.store),
                        (9, &date),
                        (10, &row.day_of_week),
                        (11, &row.open),
                        (12, &row.promo),
                        (13, &row.state_holiday.as_str()),
                        (14, &row.school_holiday),
                        (15, &derived.month),
                        (16, &derived.year),
                        (17, &derived.store_type),
                        (18, &derived.assortment),
                        (19, &derived.competition_distance),
                        (20, &derived.promo2),
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
                written += chunk.rows.len();
            }
        }
        tx.commit()
            .map_err(ServeError::log("committing predictions"))?;
        Ok(written)
    }
}
