//! Expectation suites and their evaluation (the role Great Expectations plays for the reference system).
//!
//! Suites are data, not code: JSON files in `config/suites/` in Great Expectations' own suite layout
//! (`expectation_suite_name`, `expectations: [{expectation_type, kwargs}]`) plus a `dataset` field naming what they
//! check (`raw_train`, `raw_store`, `processed`, `features`). The same files are embedded in the crate and used when
//! a project has no `config/suites/`. Supported expectation types (GX names where GX has one):
//!
//! | `expectation_type` | kwargs |
//! |---|---|
//! | `expect_table_row_count_to_be_between` | `min_value`, `max_value` |
//! | `expect_table_columns_to_match_ordered_list` | `column_list` |
//! | `expect_column_to_exist` | `column` |
//! | `expect_column_values_to_be_of_type` | `column`, `type_`: `integer`, `number`, `date`, `string` (raw: every cell parses), or an exact Polars dtype `Int32`, `Float32`, `Date`, `String`, `Int16`, `Int8`, `Float64`, `Int64` |
//! | `expect_column_values_to_not_be_null` | `column`, `mostly` |
//! | `expect_column_values_to_be_between` | `column`, `min_value`, `max_value` (numbers, or `YYYY-MM-DD` dates), `mostly` |
//! | `expect_column_values_to_be_in_set` | `column`, `value_set` (strings and numbers compare by text: `0` matches `"0"`), `mostly` |
//! | `expect_column_values_to_be_unique` | `column` |
//! | `expect_compound_columns_to_be_unique` | `column_list` |
//! | `expect_day_of_week_to_match_date` | `column` (1 = Monday … 7 = Sunday), `date_column` |
//! | `expect_column_values_to_be_in_other_dataset` | `column`, `dataset`, `other_column` |
//!
//! As in GX, `mostly` is the fraction of non-null values that must pass and range and set checks ignore nulls.
//! Failing examples name the file line (CSV, header = line 1) or the 1-based row (parquet).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{DataError, Result};
use crate::ingest::{TRAIN_CLEAN_FILE, TRAIN_FEATURES_FILE, processed_dir, read_parquet};
use crate::manifest::Fingerprint;
use crate::schema::{RAW_STORE, RAW_TRAIN};
use crate::table::{
    BadCells, LineMap, date_from_days, locate_raw, parse_date_days, read_raw_table,
};

/// The suites shipped with modelops, as (file name, JSON text); identical to `config/suites/`.
pub const EMBEDDED_SUITES: [(&str, &str); 4] = [
    (
        "raw_train_suite.json",
        include_str!("../../../config/suites/raw_train_suite.json"),
    ),
    (
        "raw_store_suite.json",
        include_str!("../../../config/suites/raw_store_suite.json"),
    ),
    (
        "processed_data_suite.json",
        include_str!("../../../config/suites/processed_data_suite.json"),
    ),
    (
        "features_suite.json",
        include_str!("../../../config/suites/features_suite.json"),
    ),
];

/// How many failing examples an expectation keeps.
const EXAMPLES: usize = 10;

/// What a suite checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum DatasetId {
    /// `data/raw/train.csv[.gz]`.
    RawTrain,
    /// `data/raw/store.csv[.gz]`.
    RawStore,
    /// `data/processed/train_clean.parquet`.
    Processed,
    /// `data/processed/train_features.parquet`.
    Features,
}

impl DatasetId {
    /// The stage the dataset belongs to.
    pub fn stage(self) -> Stage {
        match self {
            Self::RawTrain | Self::RawStore => Stage::Raw,
            Self::Processed => Stage::Processed,
            Self::Features => Stage::Features,
        }
    }

    /// `raw_train`, …
    pub fn name(self) -> &'static str {
        match self {
            Self::RawTrain => "raw_train",
            Self::RawStore => "raw_store",
            Self::Processed => "processed",
            Self::Features => "features",
        }
    }
}

/// A validation stage, as on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Both raw files.
    Raw,
    /// `train_clean.parquet`.
    Processed,
    /// `train_features.parquet`.
    Features,
    /// Everything.
    All,
}

impl Stage {
    /// Whether the suite of `dataset` runs in this stage.
    pub fn includes(self, dataset: DatasetId) -> bool {
        self == Stage::All || dataset.stage() == self
    }
}

/// One expectation as written in a suite file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ExpectationConfig {
    /// GX expectation type, e.g. `expect_column_values_to_be_between`.
    pub expectation_type: String,
    /// Arguments.
    #[serde(default)]
    pub kwargs: Map<String, Value>,
    /// Free-form notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
}

/// A suite file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Suite {
    /// Name (`raw_train_suite`).
    pub expectation_suite_name: String,
    /// The dataset it checks.
    pub dataset: DatasetId,
    /// The expectations, in order.
    pub expectations: Vec<ExpectationConfig>,
    /// Free-form notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
    /// Where the suite came from (file path or `embedded:<name>`); set on load.
    #[serde(skip)]
    pub source: String,
}

/// A bound of a range check: a number or a date.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Bound {
    Number(f64),
    Date(i32),
}

/// A parsed expectation.
#[derive(Clone, Debug, PartialEq)]
enum Check {
    RowCount {
        min: Option<f64>,
        max: Option<f64>,
    },
    OrderedColumns(Vec<String>),
    ColumnExists(String),
    OfType {
        column: String,
        type_: String,
    },
    NotNull {
        column: String,
        mostly: f64,
    },
    Between {
        column: String,
        min: Option<Bound>,
        max: Option<Bound>,
        mostly: f64,
    },
    InSet {
        column: String,
        values: HashSet<String>,
        mostly: f64,
    },
    Unique(Vec<String>),
    DayOfWeek {
        column: String,
        date_column: String,
    },
    InOther {
        column: String,
        dataset: DatasetId,
        other_column: String,
    },
}

impl Check {
    fn parse(e: &ExpectationConfig, suite: &str) -> Result<Self> {
        let err = |m: String| DataError::Suite {
            name: suite.into(),
            message: format!("{}: {m}", e.expectation_type),
        };
        let str_arg = |k: &str| -> Result<String> {
            e.kwargs
                .get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| err(format!("needs a string `{k}`")))
        };
        let list_arg = |k: &str| -> Result<Vec<String>> {
            e.kwargs
                .get(k)
                .and_then(Value::as_array)
                .and_then(|a| {
                    a.iter()
                        .map(|v| v.as_str().map(str::to_string))
                        .collect::<Option<Vec<_>>>()
                })
                .ok_or_else(|| err(format!("needs a list of strings `{k}`")))
        };
        let mostly = || -> Result<f64> {
            match e.kwargs.get("mostly") {
                None | Some(Value::Null) => Ok(1.0),
                Some(v) => v
                    .as_f64()
                    .filter(|m| (0.0..=1.0).contains(m))
                    .ok_or_else(|| err("`mostly` must be a number in 0..1".into())),
            }
        };
        let bound = |k: &str| -> Result<Option<Bound>> {
            match e.kwargs.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => Ok(n.as_f64().map(Bound::Number)),
                Some(Value::String(s)) => parse_date_days(s)
                    .map(|d| Some(Bound::Date(d)))
                    .ok_or_else(|| {
                        err(format!(
                            "`{k}` {s:?} is neither a number nor a date YYYY-MM-DD"
                        ))
                    }),
                Some(_) => Err(err(format!("`{k}` must be a number or a date"))),
            }
        };
        Ok(match e.expectation_type.as_str() {
            "expect_table_row_count_to_be_between" => {
                let num = |k: &str| -> Result<Option<f64>> {
                    match bound(k)? {
                        Some(Bound::Number(n)) => Ok(Some(n)),
                        None => Ok(None),
                        Some(Bound::Date(_)) => Err(err(format!("`{k}` must be a number"))),
                    }
                };
                Check::RowCount {
                    min: num("min_value")?,
                    max: num("max_value")?,
                }
            }
            "expect_table_columns_to_match_ordered_list" => {
                Check::OrderedColumns(list_arg("column_list")?)
            }
            "expect_column_to_exist" => Check::ColumnExists(str_arg("column")?),
            "expect_column_values_to_be_of_type" => Check::OfType {
                column: str_arg("column")?,
                type_: str_arg("type_")?,
            },
            "expect_column_values_to_not_be_null" => Check::NotNull {
                column: str_arg("column")?,
                mostly: mostly()?,
            },
            "expect_column_values_to_be_between" => {
                let (min, max) = (bound("min_value")?, bound("max_value")?);
                if min.is_none() && max.is_none() {
                    return Err(err("needs `min_value` or `max_value`".into()));
                }
                Check::Between {
                    column: str_arg("column")?,
                    min,
                    max,
                    mostly: mostly()?,
                }
            }
            "expect_column_values_to_be_in_set" => {
                let values = e
                    .kwargs
                    .get("value_set")
                    .and_then(Value::as_array)
                    .ok_or_else(|| err("needs a list `value_set`".into()))?
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => Ok(s.clone()),
                        Value::Number(n) => Ok(canonical_number(n.as_f64().unwrap_or(f64::NAN))),
                        other => Err(err(format!(
                            "value_set entry {other} is neither a string nor a number"
                        ))),
                    })
                    .collect::<Result<HashSet<_>>>()?;
                Check::InSet {
                    column: str_arg("column")?,
                    values,
                    mostly: mostly()?,
                }
            }
            "expect_column_values_to_be_unique" => Check::Unique(vec![str_arg("column")?]),
            "expect_compound_columns_to_be_unique" => Check::Unique(list_arg("column_list")?),
            "expect_day_of_week_to_match_date" => Check::DayOfWeek {
                column: str_arg("column")?,
                date_column: str_arg("date_column")?,
            },
            "expect_column_values_to_be_in_other_dataset" => {
                let dataset: DatasetId = serde_json::from_value(Value::String(str_arg("dataset")?))
                    .map_err(|_| {
                        err("`dataset` must be raw_train, raw_store, processed or features".into())
                    })?;
                Check::InOther {
                    column: str_arg("column")?,
                    dataset,
                    other_column: str_arg("other_column")?,
                }
            }
            other => {
                return Err(err(format!(
                    "unknown expectation type {other:?}; see docs/data.md for the supported ones"
                )));
            }
        })
    }

    fn columns(&self) -> Vec<&str> {
        match self {
            Check::RowCount { .. } | Check::OrderedColumns(_) | Check::ColumnExists(_) => vec![],
            Check::OfType { column, .. }
            | Check::NotNull { column, .. }
            | Check::Between { column, .. }
            | Check::InSet { column, .. }
            | Check::InOther { column, .. } => vec![column.as_str()],
            Check::Unique(cols) => cols.iter().map(String::as_str).collect(),
            Check::DayOfWeek {
                column,
                date_column,
            } => vec![column.as_str(), date_column.as_str()],
        }
    }
}

impl Suite {
    /// Parses a suite from JSON text and checks every expectation's arguments.
    ///
    /// # Errors
    /// [`DataError::Suite`] naming the suite and the bad expectation.
    pub fn from_json(text: &str, source: &str) -> Result<Self> {
        let mut suite: Suite = serde_json::from_str(text).map_err(|e| DataError::Suite {
            name: source.into(),
            message: format!("not a valid suite file: {e}"),
        })?;
        for e in &suite.expectations {
            Check::parse(e, source)?;
        }
        suite.source = source.to_string();
        Ok(suite)
    }
}

/// Loads every `*.json` suite in `config_dir/suites/`, or the embedded suites when that folder does not exist.
///
/// # Errors
/// [`DataError::Suite`] or [`DataError::Io`] for an unreadable or malformed suite file.
pub fn load_suites(config_dir: Option<&Path>) -> Result<Vec<Suite>> {
    let dir = config_dir.map(|c| c.join("suites"));
    match dir {
        Some(dir) if dir.is_dir() => {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map_err(|e| DataError::io(&dir, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            files.sort();
            files
                .iter()
                .map(|p| {
                    let text = std::fs::read_to_string(p).map_err(|e| DataError::io(p, e))?;
                    Suite::from_json(&text, &p.display().to_string())
                })
                .collect()
        }
        _ => embedded_suites(),
    }
}

/// The suites compiled into modelops.
///
/// # Errors
/// [`DataError::Suite`] only if a shipped suite is malformed (a build defect, caught by tests).
pub fn embedded_suites() -> Result<Vec<Suite>> {
    EMBEDDED_SUITES
        .iter()
        .map(|(name, text)| Suite::from_json(text, &format!("embedded:{name}")))
        .collect()
}

/// A dataset loaded for validation.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Which dataset.
    pub id: DatasetId,
    /// The file read.
    pub path: PathBuf,
    /// Column names in file order (all of them, even those not loaded).
    pub columns: Vec<String>,
    /// The loaded columns.
    pub frame: DataFrame,
    /// Row numbering: file lines (CSV) or `None` for 1-based rows (parquet).
    pub lines: Option<LineMap>,
    /// Cells that did not parse (raw CSV only).
    pub bad_cells: Vec<BadCells>,
    /// Hash of the file bytes (raw CSV only; parquet outputs are in the manifest).
    pub fingerprint: Option<Fingerprint>,
}

impl Dataset {
    fn locate(&self, row: usize) -> u64 {
        match &self.lines {
            Some(l) => l.line_of(row),
            None => row as u64 + 1,
        }
    }

    /// "line" for CSV files, "row" for parquet.
    pub fn row_word(&self) -> &'static str {
        if self.lines.is_some() { "line" } else { "row" }
    }
}

/// Where dataset `id` lives under `data_dir`.
///
/// # Errors
/// [`DataError::NotFound`] for a raw file in neither layout.
pub fn dataset_path(data_dir: &Path, id: DatasetId) -> Result<PathBuf> {
    match id {
        DatasetId::RawTrain => locate_raw(data_dir, &RAW_TRAIN),
        DatasetId::RawStore => locate_raw(data_dir, &RAW_STORE),
        DatasetId::Processed => Ok(processed_dir(data_dir).join(TRAIN_CLEAN_FILE)),
        DatasetId::Features => Ok(processed_dir(data_dir).join(TRAIN_FEATURES_FILE)),
    }
}

/// Loads dataset `id` of `data_dir`; for parquet only the columns `needed` (that exist) are read.
///
/// # Errors
/// Any [`DataError`] that makes the file unreadable (missing, empty, truncated gzip, wrong delimiter, ragged lines,
/// not parquet).
pub fn load_dataset(data_dir: &Path, id: DatasetId, needed: &[&str]) -> Result<Dataset> {
    let path = dataset_path(data_dir, id)?;
    match id {
        DatasetId::RawTrain | DatasetId::RawStore => {
            let schema = if id == DatasetId::RawTrain {
                &RAW_TRAIN
            } else {
                &RAW_STORE
            };
            let t = read_raw_table(&path, schema)?;
            Ok(Dataset {
                id,
                path: t.path,
                columns: t.header,
                frame: t.frame,
                lines: Some(t.lines),
                bad_cells: t.bad_cells,
                fingerprint: Some(t.fingerprint),
            })
        }
        DatasetId::Processed | DatasetId::Features => {
            let hint = if id == DatasetId::Processed {
                "missing file, run `modelops data ingest` first"
            } else {
                "missing file, run `modelops features build` first"
            };
            if !path.is_file() {
                return Err(DataError::NotFound {
                    path,
                    hint: hint.into(),
                });
            }
            let file = std::fs::File::open(&path).map_err(|e| DataError::io(&path, e))?;
            let schema = ParquetReader::new(file).schema().map_err(|e| {
                DataError::polars(
                    format!("reading {} (not a valid parquet file?)", path.display()),
                    e,
                )
            })?;
            let columns: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
            let wanted: Vec<String> = columns
                .iter()
                .filter(|c| needed.contains(&c.as_str()))
                .cloned()
                .collect();
            let frame = if wanted.is_empty() {
                let n = {
                    let file = std::fs::File::open(&path).map_err(|e| DataError::io(&path, e))?;
                    ParquetReader::new(file)
                        .num_rows()
                        .map_err(|e| DataError::polars(path.display().to_string(), e))?
                };
                DataFrame::new(n, vec![])
                    .map_err(|e| DataError::polars(path.display().to_string(), e))?
            } else {
                read_parquet(&path, Some(wanted), hint)?
            };
            Ok(Dataset {
                id,
                path,
                columns,
                frame,
                lines: None,
                bad_cells: vec![],
                fingerprint: None,
            })
        }
    }
}

/// One failing value.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Example {
    /// 1-based file line (CSV) or row (parquet).
    pub row: u64,
    /// The value (or values) found.
    pub value: String,
}

/// The outcome of one expectation.
#[derive(Clone, Debug, Serialize)]
pub struct ExpectationResult {
    /// GX expectation type.
    pub expectation_type: String,
    /// The column(s) concerned, comma-separated; empty for table-level checks.
    pub column: String,
    /// The arguments from the suite.
    pub kwargs: Map<String, Value>,
    /// Passed?
    pub success: bool,
    /// What was observed, in words.
    pub observed: String,
    /// Values checked.
    pub element_count: u64,
    /// Values that failed.
    pub unexpected_count: u64,
    /// Failing share of the checked values, in percent.
    pub unexpected_percent: f64,
    /// The first failing values.
    pub examples: Vec<Example>,
}

/// The outcome of one suite on one dataset.
#[derive(Clone, Debug, Serialize)]
pub struct SuiteResult {
    /// Suite name.
    pub suite: String,
    /// Where the suite came from.
    pub suite_source: String,
    /// Dataset checked.
    pub dataset: DatasetId,
    /// File checked (empty when it could not be located).
    pub path: String,
    /// SHA-256 of a raw file.
    pub sha256: Option<String>,
    /// Did every expectation pass (and the file read)?
    pub success: bool,
    /// Why the file could not be read, if it could not.
    pub read_error: Option<String>,
    /// Data rows.
    pub rows: Option<u64>,
    /// "line" (CSV) or "row" (parquet): what example numbers count.
    pub row_numbering: String,
    /// Expectations evaluated / passed / failed.
    pub evaluated: usize,
    /// Passed.
    pub successful: usize,
    /// Failed.
    pub unsuccessful: usize,
    /// Per expectation.
    pub results: Vec<ExpectationResult>,
}

/// The outcome of a validation run.
#[derive(Clone, Debug, Serialize)]
pub struct ValidationReport {
    /// Stage requested.
    pub stage: Stage,
    /// Data directory.
    pub data_dir: String,
    /// When (RFC 3339, UTC).
    pub created: String,
    /// All suites passed and all files read.
    pub success: bool,
    /// Per suite.
    pub suites: Vec<SuiteResult>,
}

impl ValidationReport {
    /// True when some file could not be read at all.
    pub fn has_unreadable(&self) -> bool {
        self.suites.iter().any(|s| s.read_error.is_some())
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

fn canonical_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Each value of a column as comparable text: integers without decimals, dates `YYYY-MM-DD`.
fn text_values(col: &Column) -> Result<Vec<Option<String>>> {
    let ctx = |e| DataError::polars(format!("column {}", col.name()), e);
    Ok(match col.dtype() {
        DataType::String => col
            .str()
            .map_err(ctx)?
            .iter()
            .map(|v| v.map(str::to_string))
            .collect(),
        DataType::Date => {
            let phys = col.to_physical_repr();
            phys.i32()
                .map_err(ctx)?
                .iter()
                .map(|v| v.and_then(date_from_days).map(|d| d.to_string()))
                .collect()
        }
        dt if dt.is_primitive_numeric() => {
            let f = col.cast(&DataType::Float64).map_err(ctx)?;
            f.f64()
                .map_err(ctx)?
                .iter()
                .map(|v| v.map(canonical_number))
                .collect()
        }
        DataType::Boolean => col
            .bool()
            .map_err(ctx)?
            .iter()
            .map(|v| v.map(|b| (b as u8).to_string()))
            .collect(),
        _ => {
            let s = col.cast(&DataType::String).map_err(ctx)?;
            s.str()
                .map_err(ctx)?
                .iter()
                .map(|v| v.map(str::to_string))
                .collect()
        }
    })
}

/// Calls `visit(row, text)` for each non-null value of `col` as comparable text (as [`text_values`]), without
/// allocating a string per value for text and integer columns (the hot cases on a million rows).
fn for_each_text(col: &Column, mut visit: impl FnMut(usize, &str)) -> Result<()> {
    use std::fmt::Write as _;
    let ctx = |e| DataError::polars(format!("column {}", col.name()), e);
    match col.dtype() {
        DataType::String => {
            for (i, v) in col.str().map_err(ctx)?.iter().enumerate() {
                if let Some(s) = v {
                    visit(i, s);
                }
            }
        }
        dt if dt.is_integer() => {
            let ints = col.cast(&DataType::Int64).map_err(ctx)?;
            let mut buf = String::with_capacity(24);
            for (i, v) in ints.i64().map_err(ctx)?.iter().enumerate() {
                if let Some(x) = v {
                    buf.clear();
                    let _ = write!(buf, "{x}");
                    visit(i, &buf);
                }
            }
        }
        _ => {
            for (i, v) in text_values(col)?.into_iter().enumerate() {
                if let Some(s) = v {
                    visit(i, &s);
                }
            }
        }
    }
    Ok(())
}

/// Numeric view for range checks: numbers as they are, dates as days since 1970-01-01, text parsed (`Err` = text
/// that is neither a number nor a date).
fn numeric_values(
    col: &Column,
    want_date: bool,
) -> Result<Vec<Option<std::result::Result<f64, String>>>> {
    let ctx = |e| DataError::polars(format!("column {}", col.name()), e);
    Ok(match col.dtype() {
        DataType::String => col
            .str()
            .map_err(ctx)?
            .iter()
            .map(|v| {
                v.map(|s| {
                    let parsed = if want_date {
                        parse_date_days(s).map(f64::from)
                    } else {
                        s.trim().parse::<f64>().ok()
                    };
                    parsed.ok_or_else(|| s.to_string())
                })
            })
            .collect(),
        _ => {
            let f = col
                .to_physical_repr()
                .cast(&DataType::Float64)
                .map_err(ctx)?;
            f.f64().map_err(ctx)?.iter().map(|v| v.map(Ok)).collect()
        }
    })
}

fn i64_keys(col: &Column) -> Result<Vec<Option<i64>>> {
    let ctx = |e| DataError::polars(format!("column {}", col.name()), e);
    let phys = col.to_physical_repr();
    if phys.dtype().is_integer() {
        let c = phys.cast(&DataType::Int64).map_err(ctx)?;
        return Ok(c.i64().map_err(ctx)?.iter().collect());
    }
    // Other types: hash their text.
    use std::hash::{Hash, Hasher};
    Ok(text_values(col)?
        .into_iter()
        .map(|v| {
            v.map(|s| {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                s.hash(&mut h);
                h.finish() as i64
            })
        })
        .collect())
}

struct Outcome {
    success: bool,
    observed: String,
    element_count: u64,
    unexpected_count: u64,
    examples: Vec<Example>,
}

impl Outcome {
    fn table(success: bool, observed: String) -> Self {
        Self {
            success,
            observed,
            element_count: 0,
            unexpected_count: 0,
            examples: vec![],
        }
    }
}

fn pct(n: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        100.0 * n as f64 / of as f64
    }
}

fn passes_mostly(unexpected: u64, nonnull: u64, mostly: f64) -> bool {
    if nonnull == 0 {
        return true;
    }
    (nonnull - unexpected) as f64 / nonnull as f64 >= mostly - 1e-12
}

fn show(bound: &Option<Bound>) -> String {
    match bound {
        None => "-∞".into(),
        Some(Bound::Number(n)) => canonical_number(*n),
        Some(Bound::Date(d)) => date_from_days(*d)
            .map(|d| d.to_string())
            .unwrap_or_default(),
    }
}

fn evaluate(check: &Check, ds: &Dataset, others: &HashMap<DatasetId, Dataset>) -> Result<Outcome> {
    let rows = ds.frame.height() as u64;
    let missing = |c: &str| Outcome::table(false, format!("column {c:?} does not exist"));
    let col = |c: &str| ds.frame.column(c).ok();
    Ok(match check {
        Check::RowCount { min, max } => {
            let ok = min.is_none_or(|m| rows as f64 >= m) && max.is_none_or(|m| rows as f64 <= m);
            Outcome::table(ok, format!("{rows} rows"))
        }
        Check::OrderedColumns(expected) => {
            if &ds.columns == expected {
                Outcome::table(true, format!("{} columns in order", expected.len()))
            } else {
                let absent: Vec<&String> = expected
                    .iter()
                    .filter(|c| !ds.columns.contains(c))
                    .collect();
                let extra: Vec<&String> = ds
                    .columns
                    .iter()
                    .filter(|c| !expected.contains(c))
                    .collect();
                let mut parts = Vec::new();
                if !absent.is_empty() {
                    parts.push(format!("missing {absent:?}"));
                }
                if !extra.is_empty() {
                    parts.push(format!("unexpected {extra:?}"));
                }
                if parts.is_empty() {
                    parts.push(format!("wrong order: {:?}", ds.columns));
                }
                Outcome::table(false, parts.join("; "))
            }
        }
        Check::ColumnExists(c) => {
            if ds.columns.contains(c) {
                Outcome::table(true, "exists".into())
            } else {
                missing(c)
            }
        }
        Check::OfType { column, type_ } => {
            let Some(c) = col(column) else {
                return Ok(missing(column));
            };
            let semantic = ["integer", "number", "date", "string"].contains(&type_.as_str());
            if let Some(bad) = ds.bad_cells.iter().find(|b| &b.column == column) {
                Outcome {
                    success: false,
                    observed: format!("{} cell(s) are not {}", bad.count, bad.expected.describe()),
                    element_count: rows,
                    unexpected_count: bad.count as u64,
                    examples: bad
                        .examples
                        .iter()
                        .map(|(l, v)| Example {
                            row: *l,
                            value: v.clone(),
                        })
                        .collect(),
                }
            } else {
                let dt = c.dtype();
                let ok = if semantic {
                    match type_.as_str() {
                        "integer" => dt.is_integer(),
                        "number" => dt.is_primitive_numeric(),
                        "date" => matches!(dt, DataType::Date),
                        _ => matches!(dt, DataType::String),
                    }
                } else {
                    format!("{dt:?}") == *type_ || dt.to_string().eq_ignore_ascii_case(type_)
                };
                Outcome {
                    success: ok,
                    observed: format!("dtype {dt:?}"),
                    element_count: rows,
                    unexpected_count: 0,
                    examples: vec![],
                }
            }
        }
        Check::NotNull { column, mostly } => {
            let Some(c) = col(column) else {
                return Ok(missing(column));
            };
            let unparsed: HashSet<usize> = ds
                .bad_cells
                .iter()
                .filter(|b| &b.column == column)
                .flat_map(|b| b.rows.iter().copied())
                .collect();
            let mut n = 0u64;
            let mut examples = Vec::new();
            for (i, v) in c.is_null().iter().enumerate() {
                if v == Some(true) && !unparsed.contains(&i) {
                    n += 1;
                    if examples.len() < EXAMPLES {
                        examples.push(Example {
                            row: ds.locate(i),
                            value: "(empty)".into(),
                        });
                    }
                }
            }
            Outcome {
                success: passes_mostly(n, rows, *mostly),
                observed: format!("{n} null ({:.3}%)", pct(n, rows)),
                element_count: rows,
                unexpected_count: n,
                examples,
            }
        }
        Check::Between {
            column,
            min,
            max,
            mostly,
        } => {
            let Some(c) = col(column) else {
                return Ok(missing(column));
            };
            let want_date =
                matches!(min, Some(Bound::Date(_))) || matches!(max, Some(Bound::Date(_)));
            let is_date_col = matches!(c.dtype(), DataType::Date);
            let lo = min.map(|b| match b {
                Bound::Number(n) => n,
                Bound::Date(d) => f64::from(d),
            });
            let hi = max.map(|b| match b {
                Bound::Number(n) => n,
                Bound::Date(d) => f64::from(d),
            });
            let unparsed: HashSet<usize> = ds
                .bad_cells
                .iter()
                .filter(|b| &b.column == column)
                .flat_map(|b| b.rows.iter().copied())
                .collect();
            let (mut nonnull, mut bad, mut examples) = (0u64, 0u64, Vec::new());
            let (mut seen_min, mut seen_max) = (f64::INFINITY, f64::NEG_INFINITY);
            for (i, v) in numeric_values(c, want_date)?.into_iter().enumerate() {
                let Some(v) = v else { continue };
                if unparsed.contains(&i) {
                    continue;
                }
                nonnull += 1;
                let fails = match &v {
                    Ok(x) => {
                        seen_min = seen_min.min(*x);
                        seen_max = seen_max.max(*x);
                        lo.is_some_and(|lo| *x < lo) || hi.is_some_and(|hi| *x > hi) || x.is_nan()
                    }
                    Err(_) => true,
                };
                if fails {
                    bad += 1;
                    if examples.len() < EXAMPLES {
                        let value = match v {
                            Ok(x) if want_date || is_date_col => date_from_days(x as i32)
                                .map(|d| d.to_string())
                                .unwrap_or_default(),
                            Ok(x) => canonical_number(x),
                            Err(s) => s,
                        };
                        examples.push(Example {
                            row: ds.locate(i),
                            value,
                        });
                    }
                }
            }
            let fmt = |x: f64| {
                if want_date || is_date_col {
                    date_from_days(x as i32)
                        .map(|d| d.to_string())
                        .unwrap_or_default()
                } else {
                    canonical_number(x)
                }
            };
            let observed = if seen_min <= seen_max {
                format!(
                    "min {}, max {}; {bad} outside [{}, {}]",
                    fmt(seen_min),
                    fmt(seen_max),
                    show(min),
                    show(max)
                )
            } else {
                format!("no values; {bad} outside [{}, {}]", show(min), show(max))
            };
            Outcome {
                success: passes_mostly(bad, nonnull, *mostly),
                observed,
                element_count: nonnull,
                unexpected_count: bad,
                examples,
            }
        }
        Check::InSet {
            column,
            values,
            mostly,
        } => {
            let Some(c) = col(column) else {
                return Ok(missing(column));
            };
            let (mut nonnull, mut bad, mut examples) = (0u64, 0u64, Vec::new());
            let mut other: Vec<String> = Vec::new();
            for_each_text(c, |i, v| {
                nonnull += 1;
                if !values.contains(v) {
                    bad += 1;
                    if other.len() < 5 && !other.iter().any(|o| o == v) {
                        other.push(v.to_string());
                    }
                    if examples.len() < EXAMPLES {
                        examples.push(Example {
                            row: ds.locate(i),
                            value: v.to_string(),
                        });
                    }
                }
            })?;
            let observed = if bad == 0 {
                "all values in set".to_string()
            } else {
                format!("{bad} value(s) not in set, e.g. {other:?}")
            };
            Outcome {
                success: passes_mostly(bad, nonnull, *mostly),
                observed,
                element_count: nonnull,
                unexpected_count: bad,
                examples,
            }
        }
        Check::Unique(cols) => {
            let mut keys = Vec::with_capacity(cols.len());
            for c in cols {
                let Some(column) = col(c) else {
                    return Ok(missing(c));
                };
                keys.push((column, i64_keys(column)?));
            }
            let (mut dup, mut examples) = (0u64, Vec::new());
            let describe = |i: usize, first: usize| {
                let vals: Vec<String> = keys
                    .iter()
                    .map(|(c, _)| {
                        let v = c.get(i).map(|v| v.to_string()).unwrap_or_default();
                        format!("{}={}", c.name(), v.trim_matches('"'))
                    })
                    .collect();
                Example {
                    row: ds.locate(i),
                    value: format!(
                        "{} (same as {} {})",
                        vals.join(", "),
                        ds.row_word(),
                        ds.locate(first)
                    ),
                }
            };
            if keys.len() <= 2 {
                let mut seen: HashMap<(Option<i64>, Option<i64>), usize> =
                    HashMap::with_capacity(rows as usize);
                for i in 0..rows as usize {
                    let k = (keys[0].1[i], keys.get(1).map_or(Some(0), |k| k.1[i]));
                    match seen.get(&k) {
                        Some(&first) => {
                            dup += 1;
                            if examples.len() < EXAMPLES {
                                examples.push(describe(i, first));
                            }
                        }
                        None => {
                            seen.insert(k, i);
                        }
                    }
                }
            } else {
                let mut seen: HashMap<Vec<Option<i64>>, usize> =
                    HashMap::with_capacity(rows as usize);
                for i in 0..rows as usize {
                    let k: Vec<Option<i64>> = keys.iter().map(|k| k.1[i]).collect();
                    match seen.get(&k) {
                        Some(&first) => {
                            dup += 1;
                            if examples.len() < EXAMPLES {
                                examples.push(describe(i, first));
                            }
                        }
                        None => {
                            seen.insert(k, i);
                        }
                    }
                }
            }
            Outcome {
                success: dup == 0,
                observed: if dup == 0 {
                    "all unique".into()
                } else {
                    format!("{dup} duplicate row(s)")
                },
                element_count: rows,
                unexpected_count: dup,
                examples,
            }
        }
        Check::DayOfWeek {
            column,
            date_column,
        } => {
            let Some(dow) = col(column) else {
                return Ok(missing(column));
            };
            let Some(date) = col(date_column) else {
                return Ok(missing(date_column));
            };
            let dows = numeric_values(dow, false)?;
            let dates = numeric_values(date, true)?;
            let (mut n, mut bad, mut examples) = (0u64, 0u64, Vec::new());
            for (i, (d, t)) in dows.into_iter().zip(dates).enumerate() {
                let (Some(Ok(d)), Some(Ok(t))) = (d, t) else {
                    continue;
                };
                n += 1;
                let expected = (t as i64 + 3).rem_euclid(7) + 1;
                if d as i64 != expected {
                    bad += 1;
                    if examples.len() < EXAMPLES {
                        let day = date_from_days(t as i32)
                            .map(|x| x.to_string())
                            .unwrap_or_default();
                        examples.push(Example {
                            row: ds.locate(i),
                            value: format!("{column}={d} but {day} is day {expected}"),
                        });
                    }
                }
            }
            Outcome {
                success: bad == 0,
                observed: if bad == 0 {
                    "consistent".into()
                } else {
                    format!("{bad} row(s) disagree")
                },
                element_count: n,
                unexpected_count: bad,
                examples,
            }
        }
        Check::InOther {
            column,
            dataset,
            other_column,
        } => {
            let Some(c) = col(column) else {
                return Ok(missing(column));
            };
            let Some(other) = others.get(dataset) else {
                return Ok(Outcome::table(
                    false,
                    format!(
                        "dataset {} could not be read, so this cannot be checked",
                        dataset.name()
                    ),
                ));
            };
            let Ok(oc) = other.frame.column(other_column) else {
                return Ok(Outcome::table(
                    false,
                    format!("{} has no column {other_column:?}", dataset.name()),
                ));
            };
            let mut known: HashSet<String> = HashSet::new();
            for_each_text(oc, |_, v| {
                known.insert(v.to_string());
            })?;
            let (mut nonnull, mut bad, mut examples, mut absent) =
                (0u64, 0u64, Vec::new(), Vec::<String>::new());
            for_each_text(c, |i, v| {
                nonnull += 1;
                if !known.contains(v) {
                    bad += 1;
                    if absent.len() < 5 && !absent.iter().any(|a| a == v) {
                        absent.push(v.to_string());
                    }
                    if examples.len() < EXAMPLES {
                        examples.push(Example {
                            row: ds.locate(i),
                            value: v.to_string(),
                        });
                    }
                }
            })?;
            Outcome {
                success: bad == 0,
                observed: if bad == 0 {
                    format!("all in {}", dataset.name())
                } else {
                    format!(
                        "{bad} row(s) with values absent from {}, e.g. {absent:?}",
                        dataset.name()
                    )
                },
                element_count: nonnull,
                unexpected_count: bad,
                examples,
            }
        }
    })
}

/// Runs `suite` on `dataset`; `others` supplies datasets that cross-dataset expectations refer to.
///
/// # Errors
/// [`DataError::Suite`] for a malformed expectation; [`DataError::Polars`] for an internal conversion failure.
pub fn run_suite(
    suite: &Suite,
    dataset: &Dataset,
    others: &HashMap<DatasetId, Dataset>,
) -> Result<SuiteResult> {
    let mut results = Vec::with_capacity(suite.expectations.len());
    for e in &suite.expectations {
        let check = Check::parse(e, &suite.source)?;
        let o = evaluate(&check, dataset, others)?;
        results.push(ExpectationResult {
            expectation_type: e.expectation_type.clone(),
            column: check.columns().join(", "),
            kwargs: e.kwargs.clone(),
            success: o.success,
            observed: o.observed,
            element_count: o.element_count,
            unexpected_count: o.unexpected_count,
            unexpected_percent: pct(o.unexpected_count, o.element_count),
            examples: o.examples,
        });
    }
    let successful = results.iter().filter(|r| r.success).count();
    Ok(SuiteResult {
        suite: suite.expectation_suite_name.clone(),
        suite_source: suite.source.clone(),
        dataset: suite.dataset,
        path: dataset.path.display().to_string(),
        sha256: dataset.fingerprint.as_ref().map(|f| f.sha256.clone()),
        success: successful == results.len(),
        read_error: None,
        rows: Some(dataset.frame.height() as u64),
        row_numbering: dataset.row_word().into(),
        evaluated: results.len(),
        successful,
        unsuccessful: results.len() - successful,
        results,
    })
}

/// Validates the datasets of `stage` under `data_dir` with `suites` (those whose dataset is in the stage).
/// A file that cannot be read gives a failed suite result with `read_error` set; it is not an `Err`.
///
/// # Errors
/// [`DataError::Suite`] for a malformed suite.
pub fn validate(data_dir: &Path, stage: Stage, suites: &[Suite]) -> Result<ValidationReport> {
    let selected: Vec<&Suite> = suites
        .iter()
        .filter(|s| stage.includes(s.dataset))
        .collect();
    let mut needed: HashMap<DatasetId, Vec<String>> = HashMap::new();
    for s in &selected {
        for e in &s.expectations {
            let check = Check::parse(e, &s.source)?;
            let entry = needed.entry(s.dataset).or_default();
            entry.extend(check.columns().iter().map(|c| c.to_string()));
            if let Check::InOther {
                dataset,
                other_column,
                ..
            } = &check
            {
                needed
                    .entry(*dataset)
                    .or_default()
                    .push(other_column.clone());
            }
        }
    }
    // Load each dataset once, raw files in parallel (the two CSVs are the slow part).
    let ids: Vec<DatasetId> = {
        let mut v: Vec<DatasetId> = needed.keys().copied().collect();
        v.sort();
        v
    };
    let loaded: Vec<(DatasetId, Result<Dataset>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = ids
            .iter()
            .map(|&id| {
                let cols = needed.get(&id).cloned().unwrap_or_default();
                scope.spawn(move || {
                    let refs: Vec<&str> = cols.iter().map(String::as_str).collect();
                    load_dataset(data_dir, id, &refs)
                })
            })
            .collect();
        ids.iter()
            .zip(handles)
            .map(|(&id, h)| {
                let r = h.join().unwrap_or_else(|_| {
                    Err(DataError::Invalid {
                        path: data_dir.into(),
                        message: format!("reading {} failed", id.name()),
                    })
                });
                (id, r)
            })
            .collect()
    });
    let mut datasets: HashMap<DatasetId, Dataset> = HashMap::new();
    let mut errors: HashMap<DatasetId, DataError> = HashMap::new();
    for (id, r) in loaded {
        match r {
            Ok(d) => {
                datasets.insert(id, d);
            }
            Err(e) => {
                errors.insert(id, e);
            }
        }
    }
    let mut results = Vec::new();
    for s in selected {
        match datasets.get(&s.dataset) {
            Some(ds) => results.push(run_suite(s, ds, &datasets)?),
            None => {
                let err = errors
                    .get(&s.dataset)
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "not loaded".into());
                let path = dataset_path(data_dir, s.dataset)
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                results.push(SuiteResult {
                    suite: s.expectation_suite_name.clone(),
                    suite_source: s.source.clone(),
                    dataset: s.dataset,
                    path,
                    sha256: None,
                    success: false,
                    read_error: Some(err),
                    rows: None,
                    row_numbering: String::new(),
                    evaluated: 0,
                    successful: 0,
                    unsuccessful: 0,
                    results: vec![],
                });
            }
        }
    }
    Ok(ValidationReport {
        stage,
        data_dir: data_dir.display().to_string(),
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        success: results.iter().all(|r| r.success),
        suites: results,
    })
}

fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// The report as a readable text table: one block per suite, one line per expectation, failing examples with
/// their line (CSV) or row (parquet) numbers.
pub fn render_table(report: &ValidationReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for s in &report.suites {
        let status = if s.success {
            "✓ PASSED"
        } else {
            "✗ FAILED"
        };
        let _ = writeln!(out, "{} ({}): {status}", s.suite, s.path);
        if let Some(err) = &s.read_error {
            let _ = writeln!(out, "  cannot read: {err}\n");
            continue;
        }
        let _ = writeln!(
            out,
            "  {} rows; {}/{} expectations passed",
            s.rows.unwrap_or(0),
            s.successful,
            s.evaluated
        );
        let _ = writeln!(
            out,
            "  {:<6} {:<46} {:<26} {:<44} failing examples ({}: value)",
            "result", "expectation", "column", "observed", s.row_numbering
        );
        for r in &s.results {
            let examples = r
                .examples
                .iter()
                .take(3)
                .map(|e| format!("{} {}: {}", s.row_numbering, e.row, clip(&e.value, 40)))
                .collect::<Vec<_>>()
                .join("; ");
            let _ = writeln!(
                out,
                "  {:<6} {:<46} {:<26} {:<44} {}",
                if r.success { "pass" } else { "FAIL" },
                clip(r.expectation_type.trim_start_matches("expect_"), 46),
                clip(&r.column, 26),
                clip(&r.observed, 44),
                examples
            );
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "{}: {}",
        if report.success { "PASSED" } else { "FAILED" },
        {
            let failed: Vec<&str> = report
                .suites
                .iter()
                .filter(|s| !s.success)
                .map(|s| s.suite.as_str())
                .collect();
            if failed.is_empty() {
                format!("{} suite(s)", report.suites.len())
            } else {
                format!("failed: {}", failed.join(", "))
            }
        }
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_suites_parse_and_cover_every_stage() {
        let suites = embedded_suites().unwrap();
        for id in [
            DatasetId::RawTrain,
            DatasetId::RawStore,
            DatasetId::Processed,
            DatasetId::Features,
        ] {
            assert!(suites.iter().any(|s| s.dataset == id), "{id:?}");
        }
    }

    #[test]
    fn unknown_expectation_types_are_rejected_with_their_name() {
        let text = r#"{"expectation_suite_name":"x","dataset":"raw_train","expectations":[{"expectation_type":"expect_magic","kwargs":{}}]}"#;
        let err = Suite::from_json(text, "x.json").unwrap_err().to_string();
        assert!(err.contains("expect_magic"), "{err}");
    }

    #[test]
    fn numbers_in_value_sets_match_their_text() {
        assert_eq!(canonical_number(0.0), "0");
        assert_eq!(canonical_number(1.5), "1.5");
    }
}
