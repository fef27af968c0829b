//! Batch prediction: a model package plus a file of rows in the Kaggle test schema (`Store, DayOfWeek, Date, Open,
//! Promo, StateHoliday, SchoolHoliday`, optional `Id`, any extra columns) → the same file with `Predicted_Sales`
//! appended, rows and columns in input order, and `<stem>_metadata.json` beside it.
//!
//! CSV is read as text, so the output repeats every input cell exactly as it was written. Every bad cell is
//! reported — file, line, column, value and what is allowed — before anything is predicted.

use std::path::{Path, PathBuf};
use std::time::Instant;

use modelops_features::calendar::{format_day, parse_day, weekday};
use modelops_features::{InputRow, StateHoliday};
use modelops_models::ModelPackage;
use polars::prelude::*;
use serde::Serialize;

use crate::serving::{ServingSpec, predict_sales};
use crate::{PipelineError, Progress};

/// The columns every input must have.
pub const INPUT_COLUMNS: [&str; 7] = [
    "Store",
    "DayOfWeek",
    "Date",
    "Open",
    "Promo",
    "StateHoliday",
    "SchoolHoliday",
];
/// The column appended to the output.
pub const PREDICTION_COLUMN: &str = "Predicted_Sales";
/// At most this many bad cells are listed in one error.
const MAX_LISTED_ERRORS: usize = 20;

/// The bad cells of an input table, collected row by row so that one error lists them all (the first
/// [`MAX_LISTED_ERRORS`] by CSV line or parquet row, and column) instead of stopping at the first. Shared by every
/// reader of user tables (batch inputs here, actual sales in `modelops-serve`).
#[derive(Debug)]
pub struct CellErrors {
    path: PathBuf,
    is_csv: bool,
    listed: Vec<String>,
    total: usize,
}

impl CellErrors {
    /// No errors yet, for the table read from `path`.
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            is_csv: extension(path) == "csv",
            listed: Vec::new(),
            total: 0,
        }
    }

    /// Records that `value` in `column` of data row `row` (0-based) is not `allowed`.
    pub fn bad(&mut self, row: usize, column: &str, value: &str, allowed: &str) {
        self.total += 1;
        if self.listed.len() < MAX_LISTED_ERRORS {
            // CSV line numbers count the header as line 1; parquet rows are 1-based.
            let place = if self.is_csv {
                format!("line {}", row + 2)
            } else {
                format!("row {}", row + 1)
            };
            self.listed.push(format!(
                "{place}, column {column}: {value:?} is not {allowed}"
            ));
        }
    }

    /// `Ok` when no cell was bad, else the message listing them.
    ///
    /// # Errors
    /// The message: file, count, the listed cells and how many more.
    pub fn finish(self) -> Result<(), String> {
        if self.total == 0 {
            return Ok(());
        }
        let more = self.total.saturating_sub(self.listed.len());
        let tail = if more > 0 {
            format!("\n  … and {more} more")
        } else {
            String::new()
        };
        Err(format!(
            "{}: {} bad value(s); fix them and run again:\n  {}{tail}",
            self.path.display(),
            self.total,
            self.listed.join("\n  ")
        ))
    }
}

/// A store id: a whole number ≥ 1.
pub fn parse_store(text: &str) -> Option<u32> {
    text.parse::<u32>().ok().filter(|s| *s >= 1)
}

/// What [`CellErrors::bad`] says a store id must be.
pub const STORE_RULE: &str = "a store id (a whole number ≥ 1)";

/// Which registered model a package is, for the metadata file (all optional for a plain package path).
#[derive(Clone, Debug, Default, Serialize)]
pub struct ModelLabel {
    /// Registered model name.
    pub model_name: Option<String>,
    /// Version.
    pub model_version: Option<String>,
    /// Stage the version was resolved from.
    pub model_stage: Option<String>,
    /// The URI or path the model was loaded from.
    pub model_uri: String,
}

/// What a batch prediction produced.
#[derive(Clone, Debug, Serialize)]
pub struct PredictReport {
    /// The model.
    #[serde(flatten)]
    pub model: ModelLabel,
    /// Input file.
    pub input_path: PathBuf,
    /// Output file.
    pub output_path: PathBuf,
    /// Rows predicted.
    pub n_predictions: usize,
    /// First and last date of the input.
    pub date_range: DateSpan,
    /// Rows with Open = 0 (predicted 0).
    pub closed_rows: usize,
    /// Mean prediction over open rows.
    pub mean_prediction_open: Option<f64>,
    /// UTC creation time, ISO 8601.
    pub created: String,
    /// Wall time, seconds.
    pub seconds: f64,
}

/// An inclusive date span.
#[derive(Clone, Debug, Serialize)]
pub struct DateSpan {
    /// First day.
    pub start: String,
    /// Last day.
    pub end: String,
}

fn frame_error(path: &Path) -> impl FnOnce(PolarsError) -> PipelineError + '_ {
    move |e| PipelineError::Frame {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Reads an input table: CSV as text (every column a string), parquet as stored.
///
/// # Errors
/// A missing or unreadable file, or one that is neither `.csv` nor `.parquet`.
pub fn read_input(path: &Path) -> Result<DataFrame, PipelineError> {
    if !path.exists() {
        return Err(PipelineError::Invalid(format!(
            "{}: input file not found",
            path.display()
        )));
    }
    match extension(path).as_str() {
        "csv" => CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .try_into_reader_with_file_path(Some(path.to_path_buf()))
            .map_err(frame_error(path))?
            .finish()
            .map_err(frame_error(path)),
        "parquet" => {
            let file = std::fs::File::open(path).map_err(PipelineError::io(path))?;
            ParquetReader::new(file).finish().map_err(frame_error(path))
        }
        other => Err(PipelineError::Invalid(format!(
            "{}: unsupported input format '{other}'; use a .csv or .parquet file",
            path.display()
        ))),
    }
}

fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Turns the input table into checked rows, listing every bad cell (up to 20) with its line and column.
///
/// # Errors
/// [`PipelineError::Invalid`] naming missing columns or bad cells.
pub fn parse_input_rows(frame: &DataFrame, path: &Path) -> Result<Vec<InputRow>, PipelineError> {
    let missing: Vec<&str> = INPUT_COLUMNS
        .iter()
        .copied()
        .filter(|c| frame.column(c).is_err())
        .collect();
    if !missing.is_empty() {
        return Err(PipelineError::Invalid(format!(
            "{}: missing column(s) {}; an input needs {} (the Kaggle test schema; Id and other columns are kept as \
             they are)",
            path.display(),
            missing.join(", "),
            INPUT_COLUMNS.join(", ")
        )));
    }
    let mut text_columns = Vec::with_capacity(INPUT_COLUMNS.len());
    for name in INPUT_COLUMNS {
        let column = frame
            .column(name)
            .and_then(|c| c.cast(&DataType::String))
            .map_err(frame_error(path))?;
        text_columns.push(column);
    }
    let mut strings = Vec::with_capacity(text_columns.len());
    for column in &text_columns {
        strings.push(column.str().map_err(frame_error(path))?);
    }
    let mut errors = CellErrors::new(path);
    let mut rows = Vec::with_capacity(frame.height());
    for i in 0..frame.height() {
        let cell = |c: usize| strings[c].get(i).map(str::trim).unwrap_or("");
        let store = parse_store(cell(0));
        if store.is_none() {
            errors.bad(i, "Store", cell(0), STORE_RULE);
        }
        let day_of_week = cell(1).parse::<u8>().ok().filter(|d| (1..=7).contains(d));
        if day_of_week.is_none() {
            errors.bad(
                i,
                "DayOfWeek",
                cell(1),
                "a weekday number 1..7 (1 = Monday)",
            );
        }
        let date = parse_day(cell(2));
        if date.is_none() {
            errors.bad(i, "Date", cell(2), "a date as YYYY-MM-DD");
        }
        let flag = |c: usize| match cell(c) {
            "0" | "0.0" => Some(false),
            "1" | "1.0" => Some(true),
            _ => None,
        };
        let open = flag(3);
        if open.is_none() {
            errors.bad(i, "Open", cell(3), "0 or 1");
        }
        let promo = flag(4);
        if promo.is_none() {
            errors.bad(i, "Promo", cell(4), "0 or 1");
        }
        let state_holiday = StateHoliday::parse(cell(5));
        if state_holiday.is_none() {
            errors.bad(i, "StateHoliday", cell(5), "one of 0, a, b, c");
        }
        let school_holiday = flag(6);
        if school_holiday.is_none() {
            errors.bad(i, "SchoolHoliday", cell(6), "0 or 1");
        }
        if let (Some(dow), Some(day)) = (day_of_week, date)
            && weekday(day) != dow
        {
            errors.bad(
                i,
                "DayOfWeek",
                cell(1),
                &format!(
                    "the weekday of {} (which is {})",
                    format_day(day),
                    weekday(day)
                ),
            );
        }
        if let (
            Some(store),
            Some(day_of_week),
            Some(date),
            Some(open),
            Some(promo),
            Some(state_holiday),
            Some(school),
        ) = (
            store,
            day_of_week,
            date,
            open,
            promo,
            state_holiday,
            school_holiday,
        ) {
            rows.push(InputRow {
                store,
                date,
                day_of_week,
                open,
                promo,
                state_holiday,
                school_holiday: school,
            });
        }
    }
    errors.finish().map_err(PipelineError::Invalid)?;
    if rows.is_empty() {
        return Err(PipelineError::Invalid(format!(
            "{}: the input has no rows to predict",
            path.display()
        )));
    }
    Ok(rows)
}

/// Refuses an output file that is neither `.csv` nor `.parquet`.
fn check_output_format(path: &Path) -> Result<(), PipelineError> {
    let ext = extension(path);
    if ext != "csv" && ext != "parquet" {
        return Err(PipelineError::Invalid(format!(
            "{}: unsupported output format '{ext}'; use a .csv or .parquet file",
            path.display()
        )));
    }
    Ok(())
}

/// Writes `frame` as CSV or parquet, by the output's extension, atomically (temporary file, then rename).
///
/// # Errors
/// I/O or format errors naming the file.
pub fn write_table(frame: &mut DataFrame, path: &Path) -> Result<(), PipelineError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(PipelineError::io(parent))?;
    }
    check_output_format(path)?;
    let ext = extension(path);
    let tmp = path.with_extension(format!("{ext}.partial"));
    {
        let file = std::fs::File::create(&tmp).map_err(PipelineError::io(&tmp))?;
        if ext == "csv" {
            CsvWriter::new(file)
                .include_header(true)
                .finish(frame)
                .map_err(frame_error(path))?;
        } else {
            ParquetWriter::new(file)
                .finish(frame)
                .map_err(frame_error(path))?;
        }
    }
    std::fs::rename(&tmp, path).map_err(PipelineError::io(path))
}

/// Predicts every row of `input` with the package at `package_dir` and writes `output` plus its metadata file.
///
/// # Errors
/// Bad input (all bad cells listed), an unreadable package, or write errors.
pub fn predict_file(
    package_dir: &Path,
    label: ModelLabel,
    input: &Path,
    output: &Path,
    progress: &dyn Progress,
) -> Result<PredictReport, PipelineError> {
    predict_file_with(package_dir, label, input, output, progress, &mut |_| {})
}

/// Rows predicted at a time by [`predict_file_with`] (a chunk ends at the end of a store's rows, so it may hold a
/// few more): enough blocks to keep every core busy, few enough that progress moves and a consumer of the chunks
/// (the prediction log) works alongside the next chunk.
pub const PREDICT_CHUNK_ROWS: usize = 65_536;

/// One chunk of a batch, just predicted: what the prediction log records.
#[derive(Clone, Copy, Debug)]
pub struct PredictedChunk<'a> {
    /// The package's feature spec (store metadata for the log's derived columns).
    pub spec: &'a modelops_features::FeatureSpec,
    /// The chunk's input rows: whole stores, each store's rows in input order.
    pub rows: &'a [InputRow],
    /// The features the model saw for them.
    pub features: &'a modelops_models::FeatureMatrix,
    /// The ensemble's predicted sales, one per row.
    pub predictions: &'a [f64],
}

/// The order rows are predicted in: grouped by store, each store's rows in input order. A store's days share most
/// feature values (its attributes and history), which the compiled forests exploit when a store's rows arrive
/// together ([`modelops_models::FeatureMatrix::set_row_groups`]): a batch in date order (every store's day, then the
/// next day) is predicted about 40 % faster this way, with the same predictions.
fn store_order(rows: &[InputRow]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&i| rows[i].store); // stable: input order within a store
    order
}

/// [`predict_file`], handing every chunk of about [`PREDICT_CHUNK_ROWS`] rows to `on_chunk` as soon as it is
/// predicted (before the output file is written). Chunks follow the prediction order — whole stores, each store's
/// rows in input order — and the output file the input's.
///
/// Features are built for the whole batch at once (a row's features may depend on the batch's other rows, e.g.
/// the promotion calendar), then predicted chunk by chunk; each row's prediction does not depend on the chunking or
/// the order.
///
/// # Errors
/// As [`predict_file`].
pub fn predict_file_with(
    package_dir: &Path,
    label: ModelLabel,
    input: &Path,
    output: &Path,
    progress: &dyn Progress,
    on_chunk: &mut dyn FnMut(PredictedChunk<'_>),
) -> Result<PredictReport, PipelineError> {
    let started = Instant::now();
    // Before anything is predicted (and handed to `on_chunk`), not after.
    check_output_format(output)?;
    // The package loads (most of it parsing the engines' model files, one core) while the input is read and checked
    // and its features are built.
    progress.step("load model, read input, build features", 0);
    let (package, prepared) = std::thread::scope(|scope| {
        let loading = scope.spawn(|| ModelPackage::load(package_dir));
        let prepared = (|| {
            let spec = ServingSpec::from_json(&ModelPackage::read_feature_spec(package_dir)?)?;
            let frame = read_input(input)?;
            let rows = parse_input_rows(&frame, input)?;
            let features = spec.features.build(&rows)?;
            Ok::<_, PipelineError>((spec, frame, rows, features))
        })();
        let package = loading
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (package, prepared)
    });
    // A broken package is reported before a bad input, as when they were read one after the other.
    let package = package?;
    let (spec, mut frame, rows, features) = prepared?;
    progress.finish(&format!("{}; {} rows", package_dir.display(), rows.len()));

    progress.step("predict", rows.len() as u64);
    let order = store_order(&rows);
    let mut predictions = vec![0.0; rows.len()];
    let mut first = 0;
    while first < order.len() {
        // The chunk ends where a store's rows end.
        let mut end = (first + PREDICT_CHUNK_ROWS).min(order.len());
        while end < order.len() && rows[order[end]].store == rows[order[end - 1]].store {
            end += 1;
        }
        let indices = &order[first..end];
        let chunk_features = features.select_rows(indices);
        let chunk_rows: Vec<InputRow> = indices.iter().map(|&i| rows[i]).collect();
        let predicted = predict_sales(
            &package.ensemble,
            spec.target_transform,
            &chunk_features,
            &chunk_rows,
        )?;
        on_chunk(PredictedChunk {
            spec: &spec.features,
            rows: &chunk_rows,
            features: &chunk_features,
            predictions: &predicted.ensemble,
        });
        for (&i, &p) in indices.iter().zip(&predicted.ensemble) {
            predictions[i] = p;
        }
        progress.advance(end as u64);
        first = end;
    }
    progress.finish(&format!("{} predictions", predictions.len()));

    let closed_rows = rows.iter().filter(|r| !r.open).count();
    let open: Vec<f64> = rows
        .iter()
        .zip(&predictions)
        .filter(|(r, _)| r.open)
        .map(|(_, p)| *p)
        .collect();
    let mean_prediction_open =
        (!open.is_empty()).then(|| open.iter().sum::<f64>() / open.len() as f64);
    let first = rows.iter().map(|r| r.date).min().unwrap_or_default();
    let last = rows.iter().map(|r| r.date).max().unwrap_or_default();
    let column = Column::new(PREDICTION_COLUMN.into(), predictions);
    frame.with_column(column).map_err(frame_error(output))?;
    write_table(&mut frame, output)?;

    let report = PredictReport {
        model: label,
        input_path: input.to_path_buf(),
        output_path: output.to_path_buf(),
        n_predictions: rows.len(),
        date_range: DateSpan {
            start: format_day(first),
            end: format_day(last),
        },
        closed_rows,
        mean_prediction_open,
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        seconds: started.elapsed().as_secs_f64(),
    };
    let metadata_path = metadata_path(output);
    let text = serde_json::to_string_pretty(&report)
        .map_err(|e| PipelineError::Invalid(format!("cannot serialise the metadata: {e}")))?;
    std::fs::write(&metadata_path, text + "\n").map_err(PipelineError::io(&metadata_path))?;
    Ok(report)
}

/// `<dir>/<stem>_metadata.json` beside an output file.
pub fn metadata_path(output: &Path) -> PathBuf {
    let stem = output
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("predictions");
    output.with_file_name(format!("{stem}_metadata.json"))
}
