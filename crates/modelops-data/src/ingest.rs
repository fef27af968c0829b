//! Ingest: the Kaggle `train.csv` and `store.csv` (plain or gzip) → typed, merged, sorted and filled tables,
//! written as `data/processed/train_clean.parquet` and `data/processed/store_clean.parquet` and recorded in the
//! manifest. The cleaned layout is documented at the crate root and is a contract for other crates.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use polars::prelude::*;

use crate::error::{DataError, Result};
use crate::manifest::{Fingerprint, Manifest, Shape};
use crate::schema::{NO_COMPETITION_DISTANCE, RAW_STORE, RAW_TRAIN, RawSchema};
use crate::table::{RawTable, locate_raw, read_raw_table};

/// File name of the cleaned, merged training table under `data/processed/`.
pub const TRAIN_CLEAN_FILE: &str = "train_clean.parquet";
/// File name of the cleaned store table under `data/processed/`.
pub const STORE_CLEAN_FILE: &str = "store_clean.parquet";
/// File name of the feature table (written by `modelops features build`) under `data/processed/`.
pub const TRAIN_FEATURES_FILE: &str = "train_features.parquet";

/// Where the processed outputs of a data directory live.
pub fn processed_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("processed")
}

/// Reads a raw file that must have exactly the schema's columns, every cell parseable; columns come back in the
/// schema's order.
fn read_strict(path: &Path, schema: &RawSchema) -> Result<RawTable> {
    let mut table = read_raw_table(path, schema)?;
    table.require_columns(schema)?;
    table.require_parsed()?;
    if table.height() == 0 {
        return Err(DataError::Invalid {
            path: path.into(),
            message: "has a header but no data rows".into(),
        });
    }
    table.frame = table
        .frame
        .select(schema.names())
        .map_err(|e| DataError::polars(format!("reordering columns of {}", path.display()), e))?;
    Ok(table)
}

/// Fails when a key column has nulls, naming the first line.
fn require_not_null(table: &RawTable, columns: &[&str]) -> Result<()> {
    for &name in columns {
        let col = table
            .frame
            .column(name)
            .map_err(|e| DataError::polars(table.path.display().to_string(), e))?;
        if col.null_count() > 0 {
            let mask = col.is_null();
            let row = mask.iter().position(|v| v == Some(true)).unwrap_or(0);
            return Err(DataError::Invalid {
                path: table.path.clone(),
                message: format!(
                    "line {}, column {name}: empty, but {name} is required ({} empty cell(s) in total)",
                    table.lines.line_of(row),
                    col.null_count()
                ),
            });
        }
    }
    Ok(())
}

fn i32_values(frame: &DataFrame, name: &str, path: &Path) -> Result<Vec<Option<i32>>> {
    let col = frame
        .column(name)
        .map_err(|e| DataError::polars(path.display().to_string(), e))?;
    let physical = col.to_physical_repr();
    let ca = physical
        .i32()
        .map_err(|e| DataError::polars(format!("{}: column {name}", path.display()), e))?;
    Ok(ca.iter().collect())
}

/// Finds rows whose key (one or two integer-like columns, e.g. Store and Date) repeats an earlier row; returns up to
/// `limit` (first row, duplicate row) pairs and the total number of duplicate rows.
pub(crate) fn duplicate_keys(
    frame: &DataFrame,
    columns: &[&str],
    path: &Path,
    limit: usize,
) -> Result<(Vec<(usize, usize)>, usize)> {
    let mut keys: Vec<Vec<Option<i64>>> = Vec::with_capacity(2);
    for &name in columns.iter().take(2) {
        let col = frame
            .column(name)
            .map_err(|e| DataError::polars(path.display().to_string(), e))?;
        let physical = col.to_physical_repr();
        let as_i64 = physical
            .cast(&DataType::Int64)
            .map_err(|e| DataError::polars(format!("{}: column {name}", path.display()), e))?;
        let ca = as_i64
            .i64()
            .map_err(|e| DataError::polars(format!("{}: column {name}", path.display()), e))?;
        keys.push(ca.iter().collect());
    }
    let mut seen: HashMap<(Option<i64>, Option<i64>), usize> =
        HashMap::with_capacity(frame.height());
    let mut examples = Vec::new();
    let mut total = 0;
    for row in 0..frame.height() {
        let key = (
            keys.first().and_then(|k| k[row]),
            keys.get(1).and_then(|k| k[row]),
        );
        match seen.get(&key) {
            Some(&first) => {
                total += 1;
                if examples.len() < limit {
                    examples.push((first, row));
                }
            }
            None => {
                seen.insert(key, row);
            }
        }
    }
    Ok((examples, total))
}

/// Reads `train.csv[.gz]` in the Kaggle layout into a typed frame with train's 9 columns in order
/// (`Store, DayOfWeek` int32; `Date` date; `Sales, Customers` float32; `Open, Promo, SchoolHoliday` int32;
/// `StateHoliday` string — `"0"` and `0` both read as `"0"`). Rows keep the file's order.
///
/// # Errors
/// Every unreadable file, missing or extra column, unparseable cell, empty key (Store, Date) and duplicate
/// (Store, Date) row gives a [`DataError`] naming the file, line and column.
pub fn read_raw_train(path: &Path) -> Result<DataFrame> {
    Ok(read_train_table(path)?.frame)
}

fn read_train_table(path: &Path) -> Result<RawTable> {
    let table = read_strict(path, &RAW_TRAIN)?;
    require_not_null(&table, &["Store", "Date"])?;
    let (dups, total) = duplicate_keys(&table.frame, &["Store", "Date"], path, 3)?;
    if let Some(&(first, dup)) = dups.first() {
        return Err(DataError::Invalid {
            path: path.into(),
            message: format!(
                "line {}: duplicate (Store, Date) row, same as line {}{}; each store has one row per day",
                table.lines.line_of(dup),
                table.lines.line_of(first),
                if total > 1 {
                    format!(" ({} duplicate rows in total)", total)
                } else {
                    String::new()
                }
            ),
        });
    }
    Ok(table)
}

/// Reads `store.csv[.gz]` in the Kaggle layout into a typed frame with store's 10 columns in order, missing values
/// still null (see [`clean_store`] for the fill rules).
///
/// # Errors
/// As [`read_raw_train`]; also a duplicate or empty `Store` id.
pub fn read_raw_store(path: &Path) -> Result<DataFrame> {
    Ok(read_store_table(path)?.frame)
}

fn read_store_table(path: &Path) -> Result<RawTable> {
    let table = read_strict(path, &RAW_STORE)?;
    require_not_null(&table, &["Store"])?;
    let (dups, _) = duplicate_keys(&table.frame, &["Store"], path, 1)?;
    if let Some(&(first, dup)) = dups.first() {
        return Err(DataError::Invalid {
            path: path.into(),
            message: format!(
                "line {}, column Store: store id repeats line {}; store.csv has one row per store",
                table.lines.line_of(dup),
                table.lines.line_of(first)
            ),
        });
    }
    Ok(table)
}

fn fill_i32(frame: &mut DataFrame, name: &str, value: i32) -> Result<usize> {
    let col = frame
        .column(name)
        .map_err(|e| DataError::polars(format!("filling {name}"), e))?;
    let missing = col.null_count();
    let filled: Int32Chunked = col
        .i32()
        .map_err(|e| DataError::polars(format!("filling {name}"), e))?
        .iter()
        .map(|v| Some(v.unwrap_or(value)))
        .collect();
    frame
        .replace(
            name,
            filled.with_name(name.into()).into_series().into_column(),
        )
        .map_err(|e| DataError::polars(format!("filling {name}"), e))?;
    Ok(missing)
}

fn fill_f32(frame: &mut DataFrame, name: &str, value: f32) -> Result<usize> {
    let col = frame
        .column(name)
        .map_err(|e| DataError::polars(format!("filling {name}"), e))?;
    let missing = col.null_count();
    let filled: Float32Chunked = col
        .f32()
        .map_err(|e| DataError::polars(format!("filling {name}"), e))?
        .iter()
        .map(|v| Some(v.unwrap_or(value)))
        .collect();
    frame
        .replace(
            name,
            filled.with_name(name.into()).into_series().into_column(),
        )
        .map_err(|e| DataError::polars(format!("filling {name}"), e))?;
    Ok(missing)
}

fn fill_str(frame: &mut DataFrame, name: &str, value: &str) -> Result<usize> {
    let col = frame
        .column(name)
        .map_err(|e| DataError::polars(format!("filling {name}"), e))?;
    let missing = col.null_count();
    let filled: StringChunked = col
        .str()
        .map_err(|e| DataError::polars(format!("filling {name}"), e))?
        .iter()
        .map(|v| Some(v.unwrap_or(value)))
        .collect();
    frame
        .replace(
            name,
            filled.with_name(name.into()).into_series().into_column(),
        )
        .map_err(|e| DataError::polars(format!("filling {name}"), e))?;
    Ok(missing)
}

/// How many cells each fill rule filled.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FillCounts {
    /// `CompetitionDistance` → 100000.
    pub competition_distance: usize,
    /// `CompetitionOpenSinceMonth` and `…Year` → 0 (counted once per row, on the month).
    pub competition_open_since: usize,
    /// `Promo2SinceWeek` and `…Year` → 0 (counted on the week).
    pub promo2_since: usize,
    /// `PromoInterval` → "".
    pub promo_interval: usize,
}

fn apply_fills(frame: &mut DataFrame) -> Result<FillCounts> {
    let competition_distance = fill_f32(frame, "CompetitionDistance", NO_COMPETITION_DISTANCE)?;
    let competition_open_since = fill_i32(frame, "CompetitionOpenSinceMonth", 0)?;
    fill_i32(frame, "CompetitionOpenSinceYear", 0)?;
    let promo2_since = fill_i32(frame, "Promo2SinceWeek", 0)?;
    fill_i32(frame, "Promo2SinceYear", 0)?;
    let promo_interval = fill_str(frame, "PromoInterval", "")?;
    Ok(FillCounts {
        competition_distance,
        competition_open_since,
        promo2_since,
        promo_interval,
    })
}

/// Applies the store fill rules (CompetitionDistance → 100000, CompetitionOpenSince* → 0, Promo2Since* → 0,
/// PromoInterval → "") to a frame from [`read_raw_store`]; rows sorted by Store.
///
/// # Errors
/// [`DataError::Polars`] if the frame lacks a store column or has the wrong types.
pub fn clean_store(store: &DataFrame) -> Result<DataFrame> {
    let mut out = store
        .sort(["Store"], SortMultipleOptions::default())
        .map_err(|e| DataError::polars("sorting store", e))?;
    apply_fills(&mut out)?;
    Ok(out)
}

/// What [`clean_with_report`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CleanReport {
    /// Train rows whose Store is not in store.csv (their store columns stay null except the filled ones).
    pub rows_without_store: usize,
    /// Fills applied to the merged table.
    pub fills: FillCounts,
}

/// Merges train with store (left join on Store), sorts by (Store, Date) and fills missing store fields, giving the
/// 18-column table of the crate-level contract.
///
/// # Errors
/// [`DataError::Polars`] when the inputs do not have the raw layouts of [`read_raw_train`]/[`read_raw_store`].
pub fn clean(train: &DataFrame, store: &DataFrame) -> Result<DataFrame> {
    clean_with_report(train, store).map(|(df, _)| df)
}

/// [`clean`], also saying how many rows lacked store metadata and how many cells each rule filled.
///
/// # Errors
/// As [`clean`].
pub fn clean_with_report(train: &DataFrame, store: &DataFrame) -> Result<(DataFrame, CleanReport)> {
    let no_path = Path::new("<train>");
    let train_sorted = train
        .sort(["Store", "Date"], SortMultipleOptions::default())
        .map_err(|e| DataError::polars("sorting train by (Store, Date)", e))?;
    // Left join on a 1,115-row table: map each Store id to its row in store and take (null where absent).
    let store_ids = i32_values(store, "Store", Path::new("<store>"))?;
    let position: HashMap<i32, IdxSize> = store_ids
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.map(|s| (s, i as IdxSize)))
        .collect();
    let train_ids = i32_values(&train_sorted, "Store", no_path)?;
    let mut rows_without_store = 0;
    let idx: IdxCa = train_ids
        .iter()
        .map(|s| {
            let p = s.and_then(|s| position.get(&s).copied());
            if p.is_none() {
                rows_without_store += 1;
            }
            p
        })
        .collect();
    let store_rest: Vec<&str> = RAW_STORE.names().into_iter().skip(1).collect();
    let store_part = store
        .select(store_rest)
        .map_err(|e| DataError::polars("selecting store columns", e))?;
    // SAFETY-free: `take` checks bounds; positions come from `store` itself.
    let joined_store = store_part
        .take(&idx)
        .map_err(|e| DataError::polars("joining store onto train", e))?;
    let mut merged = train_sorted
        .select(RAW_TRAIN.names())
        .map_err(|e| DataError::polars("selecting train columns", e))?
        .hstack(joined_store.columns())
        .map_err(|e| DataError::polars("joining store onto train", e))?;
    if rows_without_store > 0 {
        tracing::warn!(
            rows_without_store,
            "train rows have a Store missing from store.csv; their store fields are filled or null"
        );
    }
    let fills = apply_fills(&mut merged)?;
    Ok((
        merged,
        CleanReport {
            rows_without_store,
            fills,
        },
    ))
}

/// Writes `frame` as parquet (zstd) through a temporary file, so readers never see a half-written file.
///
/// # Errors
/// [`DataError::Io`] or [`DataError::Polars`].
pub fn write_parquet(frame: &mut DataFrame, path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    }
    let tmp = path.with_extension(format!("parquet.{}.tmp", std::process::id()));
    let file = std::fs::File::create(&tmp).map_err(|e| DataError::io(&tmp, e))?;
    ParquetWriter::new(file)
        .with_compression(ParquetCompression::Zstd(None))
        .finish(frame)
        .map_err(|e| DataError::polars(format!("writing {}", path.display()), e))?;
    std::fs::rename(&tmp, path).map_err(|e| DataError::io(path, e))
}

/// Reads a parquet file written by modelops (e.g. `train_clean.parquet`); `columns` limits what is read.
///
/// # Errors
/// [`DataError::NotFound`] (with `hint`), [`DataError::Io`] or [`DataError::Polars`].
pub fn read_parquet(path: &Path, columns: Option<Vec<String>>, hint: &str) -> Result<DataFrame> {
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => DataError::NotFound {
            path: path.into(),
            hint: hint.into(),
        },
        _ => DataError::io(path, e),
    })?;
    ParquetReader::new(file)
        .with_columns(columns)
        .finish()
        .map_err(|e| {
            DataError::polars(
                format!("reading {} (not a valid parquet file?)", path.display()),
                e,
            )
        })
}

/// What [`ingest`] read and wrote.
#[derive(Clone, Debug, serde::Serialize)]
pub struct IngestSummary {
    /// The raw train file read.
    pub train_path: PathBuf,
    /// The raw store file read.
    pub store_path: PathBuf,
    /// Rows of train.csv (= rows of train_clean.parquet).
    pub train_rows: usize,
    /// Rows of store.csv.
    pub stores: usize,
    /// Distinct dates, first and last date.
    pub first_date: String,
    /// Last date.
    pub last_date: String,
    /// Merge and fill statistics.
    pub clean: CleanReport,
    /// `data/processed/train_clean.parquet`.
    pub train_clean_path: PathBuf,
    /// `data/processed/store_clean.parquet`.
    pub store_clean_path: PathBuf,
    /// Hash of train_clean.parquet.
    pub train_clean_fingerprint: Fingerprint,
    /// Wall time of the whole ingest, seconds.
    pub seconds: f64,
}

/// Reads both raw files of `data_dir` (`raw/` or directly in it), cleans them and writes
/// `processed/train_clean.parquet` and `processed/store_clean.parquet`, recording all four in the manifest.
///
/// # Errors
/// Any [`DataError`] from reading (naming file, line, column), cleaning or writing.
pub fn ingest(data_dir: &Path) -> Result<IngestSummary> {
    ingest_into(data_dir, data_dir)
}

/// [`ingest`] reading the raw files from `raw_dir` (`raw/` below it or directly in it) and writing
/// `out_data_dir/processed/*.parquet` and `out_data_dir/manifest.json`; nothing is written to `raw_dir`, so a
/// read-only folder of Kaggle files can be ingested into a project.
///
/// # Errors
/// As [`ingest`].
pub fn ingest_into(raw_dir: &Path, out_data_dir: &Path) -> Result<IngestSummary> {
    let started = Instant::now();
    let out_dir = processed_dir(out_data_dir);
    let train_path = locate_raw(raw_dir, &RAW_TRAIN)?;
    let store_path = locate_raw(raw_dir, &RAW_STORE)?;
    let (train, store) = std::thread::scope(|s| {
        let store = s.spawn(|| read_store_table(&store_path));
        let train = read_train_table(&train_path);
        let store = store.join().unwrap_or_else(|_| {
            Err(DataError::Invalid {
                path: store_path.clone(),
                message: "reader thread failed".into(),
            })
        });
        (train, store)
    });
    let (train, store) = (train?, store?);
    tracing::info!(rows = train.height(), file = %train_path.display(), "read raw train");
    let (mut merged, clean) = clean_with_report(&train.frame, &store.frame)?;
    let mut store_clean = clean_store(&store.frame)?;
    let train_clean_path = out_dir.join(TRAIN_CLEAN_FILE);
    let store_clean_path = out_dir.join(STORE_CLEAN_FILE);
    write_parquet(&mut merged, &train_clean_path)?;
    write_parquet(&mut store_clean, &store_clean_path)?;

    let dates = merged
        .column("Date")
        .map_err(|e| DataError::polars("Date", e))?
        .to_physical_repr();
    let dates = dates.i32().map_err(|e| DataError::polars("Date", e))?;
    let fmt = |d: Option<i32>| {
        d.and_then(crate::table::date_from_days)
            .map(|d| d.to_string())
            .unwrap_or_default()
    };
    let (first_date, last_date) = (fmt(dates.min()), fmt(dates.max()));

    let mut manifest = Manifest::load(out_data_dir)?;
    let names = |df: &DataFrame| {
        df.get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
    };
    manifest.record_source(
        &train_path,
        &train.fingerprint,
        Shape::new(train.height(), train.header.clone()),
    )?;
    manifest.record_source(
        &store_path,
        &store.fingerprint,
        Shape::new(store.height(), store.header.clone()),
    )?;
    let inputs = [
        (train_path.as_path(), train.fingerprint.clone()),
        (store_path.as_path(), store.fingerprint.clone()),
    ];
    let train_clean_fingerprint = crate::manifest::fingerprint(&train_clean_path)?;
    manifest.record_known(
        &train_clean_path,
        &train_clean_fingerprint,
        Shape::new(merged.height(), names(&merged)),
        "modelops data ingest",
        &inputs,
    )?;
    let store_fp = crate::manifest::fingerprint(&store_clean_path)?;
    manifest.record_known(
        &store_clean_path,
        &store_fp,
        Shape::new(store_clean.height(), names(&store_clean)),
        "modelops data ingest",
        &inputs[1..],
    )?;
    Ok(IngestSummary {
        train_path,
        store_path,
        train_rows: merged.height(),
        stores: store_clean.height(),
        first_date,
        last_date,
        clean,
        train_clean_path,
        store_clean_path,
        train_clean_fingerprint,
        seconds: started.elapsed().as_secs_f64(),
    })
}
