//! The prediction log: served rows written off the request path with their derived features, batch rows through
//! `BatchLogger` (chunk by chunk on its own thread), actual sales upserted idempotently by (Store, Date). SQLite always; PostgreSQL when
//! `MODELOPS_TEST_POSTGRES_URL` is set (required when `MODELOPS_REQUIRE_EXTERNAL=1`).

use axum::http::StatusCode;
use modelops_features::calendar::parse_day;
use modelops_models::ModelPackage;
use modelops_pipeline::serving::ServingSpec;
use modelops_serve::actuals::read_actuals;
use modelops_serve::{
    ActualSales, BatchLogger, LogLabel, LogWriter, ModelIdentity, ModelKey, ModelSource,
    PredictionLog, PredictionRecord, ServedModel,
};
use serde_json::json;

use crate::fixture::{call, fixture, mixed_rows};

async fn check_backend(uri: &str) {
    let log = PredictionLog::open(uri).await.unwrap();
    // Rows from here on: other tests write to a shared PostgreSQL database meanwhile, with older timestamps.
    let since = chrono::Utc::now();
    let package = &fixture().package_a;
    let model = ServedModel::load_dir(
        package,
        ModelIdentity {
            uri: "x".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let spec = model.spec.features.clone();
    let writer = LogWriter::spawn(log.clone()).unwrap();
    let state = modelops_serve::AppState::new(
        ModelSource::Path(package.clone()),
        ModelKey::Path,
        model,
        Some(writer.clone()),
        modelops_serve::DEFAULT_MAX_BODY_BYTES,
    );
    let app = modelops_serve::router(state);
    let rows = mixed_rows(fixture().origin);
    let (status, reply) = call(
        &app,
        "POST",
        "/predict",
        json!({"inputs": rows}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    writer.flush().await;
    assert_eq!(writer.written_rows(), rows.len() as u64);
    assert_eq!(writer.dropped_rows(), 0);

    let logged = log.predictions_since(Some(since)).await.unwrap();
    assert_eq!(logged.len(), rows.len());
    let predictions = reply["predictions"].as_array().unwrap();
    let features = spec
        .build(&modelops_serve::input::rows_from_records(&rows).unwrap())
        .unwrap();
    let active = features
        .names()
        .iter()
        .position(|n| n == "Promo2Active")
        .unwrap();
    for (i, (record, (sent, predicted))) in
        logged.iter().zip(rows.iter().zip(predictions)).enumerate()
    {
        assert_eq!(record.label.source, "serve");
        assert_eq!(i64::from(record.store_id), sent["Store"].as_i64().unwrap());
        assert_eq!(record.date, sent["Date"].as_str().unwrap());
        assert_eq!(i64::from(record.open), sent["Open"].as_i64().unwrap());
        assert_eq!(record.prediction, predicted.as_f64().unwrap());
        let meta = spec.stores.get(record.store_id).unwrap();
        assert_eq!(record.store_type, meta.store_type);
        assert_eq!(record.assortment, meta.assortment);
        assert_eq!(
            record.competition_distance,
            f64::from(meta.competition_distance.unwrap_or(100_000.0))
        );
        assert_eq!(record.promo2, meta.promo2);
        assert_eq!(record.is_promo2_active, features.row(i)[active] == 1.0);
        assert_eq!(
            record.month.to_string(),
            record.date[5..7].trim_start_matches('0')
        );
        assert!(record.response_time_ms > 0.0);
        assert_eq!(
            record.batch_id, logged[0].batch_id,
            "one batch id per request"
        );
    }

    // Batch predictions through BatchLogger, in two chunks: one batch id and timestamp for both, response times
    // measured from the batch's start.
    let package = ModelPackage::load(&fixture().package_a).unwrap();
    let serving = ServingSpec::from_package(&package).unwrap();
    let input = modelops_serve::input::rows_from_records(&rows).unwrap();
    let label = LogLabel {
        source: String::new(),
        model_name: "m".into(),
        model_version: "7".into(),
        model_stage: String::new(),
    };
    let values: Vec<f64> = predictions.iter().map(|v| v.as_f64().unwrap()).collect();
    let batch_features = serving.features.build(&input).unwrap();
    let started = std::time::Instant::now();
    let logger = BatchLogger::start(uri, &label, &serving.features, started).unwrap();
    let half = input.len() / 2;
    let first_half = batch_features.select_rows(&(0..half).collect::<Vec<_>>());
    let second_half = batch_features.select_rows(&(half..input.len()).collect::<Vec<_>>());
    logger.submit(&input[..half], Some(&first_half), &values[..half]);
    std::thread::sleep(std::time::Duration::from_millis(5));
    logger.submit(&input[half..], Some(&second_half), &values[half..]);
    assert_eq!(logger.finish().unwrap(), rows.len());
    // A chunk whose predictions do not match its rows is refused and reported, not truncated.
    let mismatched = BatchLogger::start(uri, &label, &serving.features, started).unwrap();
    mismatched.submit(&input, Some(&batch_features), &values[..1]);
    let err = mismatched.finish().unwrap_err().to_string();
    assert!(err.contains("came with 1 predictions"), "{err}");
    let batch: Vec<_> = log
        .predictions_since(None)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.label.model_version == "7")
        .collect();
    assert!(batch.len() >= rows.len());
    assert!(batch.iter().all(|r| r.label.source == "batch"));
    let batch_rows = &batch[batch.len() - rows.len()..];
    assert!(
        batch_rows
            .iter()
            .all(|r| r.batch_id == batch_rows[0].batch_id
                && r.logged_at == batch_rows[0].logged_at
                && r.label.model_name == "m")
    );
    assert_ne!(batch_rows[0].batch_id, logged[0].batch_id);
    assert!(batch_rows[half].response_time_ms >= batch_rows[0].response_time_ms + 5.0);
    assert_eq!(
        batch_rows.iter().map(|r| r.prediction).collect::<Vec<_>>(),
        values
    );
    // Every input and derived column of a batch row reads back as the served row of the same input has it (on
    // SQLite the batch rows take their own insert path).
    for (batch_row, served) in batch_rows.iter().zip(&logged) {
        let expected = PredictionRecord {
            batch_id: batch_row.batch_id.clone(),
            logged_at: batch_row.logged_at,
            label: LogLabel {
                source: "batch".into(),
                ..label.clone()
            },
            response_time_ms: batch_row.response_time_ms,
            ..served.clone()
        };
        assert_eq!(*batch_row, expected);
    }

    // Actuals: an upsert by (store, date) — recording twice keeps one row with the newest value.
    let day = parse_day("2015-05-04").unwrap();
    let first = [
        ActualSales {
            store: 1,
            date: day,
            sales: 100.0,
        },
        ActualSales {
            store: 2,
            date: day,
            sales: 200.0,
        },
    ];
    assert_eq!(log.record_actuals(&first).await.unwrap(), 2);
    let again = [ActualSales {
        store: 1,
        date: day,
        sales: 150.0,
    }];
    log.record_actuals(&again).await.unwrap();
    log.record_actuals(&again).await.unwrap();
    let actuals: Vec<_> = log
        .actuals()
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.date == day && a.store <= 2)
        .collect();
    assert_eq!(actuals, vec![again[0], first[1]]);
}

#[tokio::test]
async fn sqlite_log_records_served_and_batch_predictions_and_actuals() {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite://{}", dir.path().join("mlflow.db").display());
    // The tracking store and the log share the database file.
    let _store = modelops_tracking::open(&uri).await.unwrap();
    check_backend(&uri).await;
    // Opening again finds the tables in place.
    PredictionLog::open(&uri).await.unwrap();
}

#[tokio::test]
async fn postgres_log_records_served_and_batch_predictions_and_actuals() {
    if let Some(url) = postgres_url() {
        check_backend(&url).await;
    }
}

/// `MODELOPS_TEST_POSTGRES_URL`, or `None` (and a note that the PostgreSQL part is skipped) when it is not set —
/// a failure instead when `MODELOPS_REQUIRE_EXTERNAL=1`.
fn postgres_url() -> Option<String> {
    match std::env::var("MODELOPS_TEST_POSTGRES_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var("MODELOPS_REQUIRE_EXTERNAL").as_deref() == Ok("1") => {
            panic!("MODELOPS_TEST_POSTGRES_URL is not set but MODELOPS_REQUIRE_EXTERNAL=1")
        }
        Err(_) => {
            eprintln!("PostgreSQL part skipped: MODELOPS_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

#[test]
fn actuals_files_are_read_and_bad_cells_named() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("actuals.csv");
    std::fs::write(
        &good,
        "Store,DayOfWeek,Date,Sales,Customers\n1,1,2015-05-04,5263,555\n2,1,2015-05-04,0,0\n",
    )
    .unwrap();
    let actuals = read_actuals(&good).unwrap();
    assert_eq!(actuals.len(), 2);
    assert_eq!(actuals[0].sales, 5263.0);
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "Store,Date,Sales\n1,2015-05-04,x\n0,2015-13-01,5\n").unwrap();
    let err = read_actuals(&bad).unwrap_err().to_string();
    assert!(
        err.contains("line 2, column Sales")
            && err.contains("line 3, column Store")
            && err.contains("line 3, column Date"),
        "{err}"
    );
    let missing = dir.path().join("missing.csv");
    std::fs::write(&missing, "Store,Date\n1,2015-05-04\n").unwrap();
    assert!(
        read_actuals(&missing)
            .unwrap_err()
            .to_string()
            .contains("Sales")
    );
}

async fn log_indexes(conn: &mut sqlx::SqliteConnection) -> Vec<String> {
    use sqlx::Row;
    sqlx::query(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'prediction_log' ORDER BY name",
    )
    .fetch_all(conn)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<String, _>(0))
    .collect()
}

#[tokio::test]
async fn an_older_logs_unread_indexes_are_dropped() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let uri = format!("sqlite://{}", path.display());
    PredictionLog::open(&uri).await.unwrap();
    let mut conn = sqlx::SqliteConnection::connect(&uri).await.unwrap();
    // Turn it into a log as the earlier versions created it (each had one of the first two, all the third).
    for index in [
        "CREATE INDEX prediction_log_store_date ON prediction_log (store_id, date)",
        "CREATE INDEX prediction_log_date_store ON prediction_log (date, store_id)",
        "CREATE INDEX prediction_log_version ON prediction_log (model_name, model_version)",
    ] {
        sqlx::query(index).execute(&mut conn).await.unwrap();
    }
    assert_eq!(log_indexes(&mut conn).await.len(), 4);
    PredictionLog::open(&uri).await.unwrap();
    assert_eq!(log_indexes(&mut conn).await, ["prediction_log_time"]);
}

#[tokio::test]
async fn a_write_longer_than_one_insert_keeps_every_row_and_timestamp_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite://{}", dir.path().join("long.db").display());
    long_write(&uri).await;
    if let Some(url) = postgres_url() {
        long_write(&url).await;
    }
}

/// 450 rows: statements of 200, 200 and 50 rows; two batches (ids, timestamps, model versions) that meet inside the
/// second statement. Every column of every row reads back as written, in order.
async fn long_write(uri: &str) {
    use chrono::TimeZone;
    let log = PredictionLog::open(uri).await.unwrap();
    let first = chrono::Utc.with_ymd_and_hms(2015, 6, 20, 8, 0, 0).unwrap();
    let second = first + chrono::Duration::milliseconds(1500);
    // Batch ids of this run only (a PostgreSQL database is shared by the tests).
    let tag = uuid::Uuid::new_v4().to_string();
    let (a, b) = (format!("{tag}-a"), format!("{tag}-b"));
    let label = LogLabel {
        source: "batch".into(),
        model_name: "m".into(),
        model_version: "3".into(),
        model_stage: "Production".into(),
    };
    let records: Vec<modelops_serve::PredictionRecord> = (0..450u32)
        .map(|i| modelops_serve::PredictionRecord {
            batch_id: if i < 300 { a.clone() } else { b.clone() },
            logged_at: if i < 300 { first } else { second },
            label: if i < 300 {
                label.clone()
            } else {
                LogLabel {
                    model_version: "4".into(),
                    ..label.clone()
                }
            },
            store_id: i + 1,
            date: format!("2015-06-{:02}", 20 + i % 7),
            day_of_week: (6 + i % 7 - 1) as u8 % 7 + 1,
            open: i % 5 != 0,
            promo: i % 2 == 0,
            state_holiday: ["0", "a", "b", "c"][i as usize % 4].into(),
            school_holiday: i % 3 == 0,
            month: 6,
            year: 2015,
            store_type: ["a", "b", "c", "d"][i as usize % 4].into(),
            assortment: ["a", "b", "c"][i as usize % 3].into(),
            competition_distance: f64::from(i) * 10.0,
            promo2: i % 2 == 1,
            is_promo2_active: i % 4 == 1,
            prediction: f64::from(i) * 1.5,
            response_time_ms: 2.0 + f64::from(i % 3),
        })
        .collect();
    log.write(&records).await.unwrap();
    let logged: Vec<_> = log
        .predictions_since(None)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.batch_id.starts_with(&tag))
        .collect();
    assert_eq!(logged.len(), 450);
    for (got, want) in logged.iter().zip(&records) {
        assert_eq!(got, want);
    }
}

/// 40 requests of 60 rows queued at once through `LogWriter` (more than one transaction's worth), then one whose
/// predictions do not match its rows: every request's rows are written whole, in the order submitted, each under
/// its own batch id and timestamp; the mismatched one is dropped and counted, not truncated.
async fn queued_requests(uri: &str) {
    let log = PredictionLog::open(uri).await.unwrap();
    let model = std::sync::Arc::new(
        ServedModel::load_dir(&fixture().package_a, ModelIdentity::default()).unwrap(),
    );
    let rows = modelops_serve::input::rows_from_records(&mixed_rows(fixture().origin)).unwrap();
    let rows: Vec<_> = rows.iter().chain(&rows).cloned().collect();
    // This run's rows only (a PostgreSQL database is shared by the tests).
    let tag = uuid::Uuid::new_v4().to_string();
    let label = LogLabel {
        source: "serve".into(),
        model_name: tag.clone(),
        model_version: "2".into(),
        model_stage: "Staging".into(),
    };
    let writer = LogWriter::spawn(log.clone()).unwrap();
    const REQUESTS: usize = 40;
    assert!(REQUESTS * rows.len() > modelops_serve::log::MAX_ROWS_PER_WRITE);
    for request in 0..REQUESTS {
        let predictions = (0..rows.len())
            .map(|i| (request * 1000 + i) as f64)
            .collect();
        writer.submit(
            label.clone(),
            model.clone(),
            rows.clone(),
            None,
            predictions,
            request as f64,
        );
    }
    writer.submit(
        label.clone(),
        model.clone(),
        rows.clone(),
        None,
        vec![1.0],
        0.5,
    );
    writer.flush().await;
    assert_eq!(writer.written_rows(), (REQUESTS * rows.len()) as u64);
    assert_eq!(writer.dropped_rows(), rows.len() as u64);
    let logged: Vec<_> = log
        .predictions_since(None)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.label.model_name == tag)
        .collect();
    assert_eq!(logged.len(), REQUESTS * rows.len());
    for (request, written) in logged.chunks(rows.len()).enumerate() {
        assert!(
            written.iter().all(|r| r.batch_id == written[0].batch_id
                && r.logged_at == written[0].logged_at
                && r.response_time_ms == request as f64
                && r.label == label),
            "request {request}"
        );
        for (i, (r, row)) in written.iter().zip(&rows).enumerate() {
            assert_eq!(r.prediction, (request * 1000 + i) as f64);
            assert_eq!((r.store_id, r.open), (row.store, row.open));
            assert!(
                !r.is_promo2_active,
                "no features given: Promo2Active is logged as 0"
            );
        }
    }
    let ids: std::collections::HashSet<_> = logged.iter().map(|r| &r.batch_id).collect();
    assert_eq!(ids.len(), REQUESTS);
}

#[tokio::test]
async fn queued_requests_are_written_whole_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    // An SQLite file (the writer thread, rusqlite), an in-memory SQLite (the writer task, sqlx), PostgreSQL.
    queued_requests(&format!(
        "sqlite://{}",
        dir.path().join("queued.db").display()
    ))
    .await;
    queued_requests("sqlite:///:memory:").await;
    if let Some(url) = postgres_url() {
        queued_requests(&url).await;
    }
}

/// While the database is locked by another writer, the queue fills up to its row limit (the rows being written
/// count too) and the requests beyond it are dropped and counted, whole; once the lock goes, the rest is written.
#[tokio::test]
async fn a_full_queue_drops_whole_requests_by_rows_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.db");
    let log = PredictionLog::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let model = std::sync::Arc::new(
        ServedModel::load_dir(&fixture().package_a, ModelIdentity::default()).unwrap(),
    );
    let rows = modelops_serve::input::rows_from_records(&mixed_rows(fixture().origin)).unwrap();
    let writer = LogWriter::spawn_with_queue(log.clone(), 100).unwrap();
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let submit = |n: usize| {
        let predictions = vec![1.0; n];
        writer.submit(
            LogLabel::default(),
            model.clone(),
            rows[..n].to_vec(),
            None,
            predictions,
            1.0,
        );
    };
    submit(30); // 30 queued
    submit(30); // 60
    submit(30); // 90
    submit(20); // 110 > 100: dropped
    submit(10); // 100
    submit(1); // 101: dropped
    assert_eq!(writer.dropped_rows(), 21);
    blocker.execute_batch("COMMIT").unwrap();
    writer.flush().await;
    assert_eq!(writer.written_rows(), 100);
    assert_eq!(log.predictions_since(None).await.unwrap().len(), 100);
    // The queue is empty again.
    submit(30);
    writer.flush().await;
    assert_eq!((writer.written_rows(), writer.dropped_rows()), (130, 21));
}
