//! The inference smoke test of `modelops retrain --test-inference` and `modelops demo`: a small batch of future
//! inputs in the Kaggle test schema, and the checks a batch prediction must pass (one prediction per input row,
//! in input order, finite and non-negative, zero on closed days).
//!
//! The inputs come from the synthetic generator (its calendar, promotions and holidays) for stores `1..=stores`,
//! without Sales and Customers: plausible rows for any model whose store table holds those ids, which is every
//! Rossmann-shaped model (ids 1..1115), real or synthetic.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use modelops_data::synth::{SynthConfig, generate};
use polars::prelude::*;

use crate::PipelineError;
use crate::predict::{INPUT_COLUMNS, PREDICTION_COLUMN, read_input, write_table};

/// Writes `dir/batch.csv`: `days` days from `first_day` for stores `1..=stores`, in the Kaggle test schema.
///
/// # Errors
/// Generator or write failures, naming the file.
pub fn future_inputs(
    dir: &Path,
    first_day: NaiveDate,
    days: u32,
    stores: u32,
    seed: u64,
) -> Result<PathBuf, PipelineError> {
    let days = days.max(1);
    let end = first_day + chrono::Days::new(u64::from(days) - 1);
    let scratch = dir.join("generated");
    let config = SynthConfig {
        stores: stores.max(1),
        start: first_day,
        end,
        seed,
    };
    config.check()?;
    generate(&config, &scratch, &|_, _| {})?;
    let generated = scratch.join("train.csv");
    let mut batch =
        read_input(&generated)?
            .select(INPUT_COLUMNS)
            .map_err(|e| PipelineError::Frame {
                path: generated.clone(),
                message: e.to_string(),
            })?;
    let path = dir.join("batch.csv");
    write_table(&mut batch, &path)?;
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(path)
}

/// What the smoke test checked.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SmokeCheck {
    /// Input rows, equal to output rows.
    pub rows: usize,
    /// Rows with Open = 0 (all predicted 0).
    pub closed_rows: usize,
    /// Mean prediction over open rows.
    pub mean_open_prediction: f64,
}

/// Checks a batch prediction `output` against its `input`: same row count, Store and Date in the same order, a
/// finite non-negative prediction on every row and exactly 0 where Open = 0.
///
/// # Errors
/// [`PipelineError::Invalid`] saying which check failed at which row.
pub fn check_predictions(input: &Path, output: &Path) -> Result<SmokeCheck, PipelineError> {
    let inputs = read_input(input)?;
    let outputs = read_input(output)?;
    if inputs.height() != outputs.height() {
        return Err(PipelineError::Invalid(format!(
            "{}: {} rows for {} input rows in {}",
            output.display(),
            outputs.height(),
            inputs.height(),
            input.display()
        )));
    }
    let text = |frame: &DataFrame, path: &Path, name: &str| -> Result<Vec<String>, PipelineError> {
        let column = frame
            .column(name)
            .and_then(|c| c.cast(&DataType::String))
            .map_err(|e| PipelineError::Frame {
                path: path.to_path_buf(),
                message: format!("column {name}: {e}"),
            })?;
        let strings = column.str().map_err(|e| PipelineError::Frame {
            path: path.to_path_buf(),
            message: format!("column {name}: {e}"),
        })?;
        Ok((0..strings.len())
            .map(|i| strings.get(i).unwrap_or_default().to_string())
            .collect())
    };
    for name in ["Store", "Date"] {
        let a = text(&inputs, input, name)?;
        let b = text(&outputs, output, name)?;
        if let Some(row) = a.iter().zip(&b).position(|(x, y)| x != y) {
            return Err(PipelineError::Invalid(format!(
                "{}: row {} has {name} {:?} where the input has {:?}: predictions are out of input order",
                output.display(),
                row + 1,
                b[row],
                a[row]
            )));
        }
    }
    let open = text(&inputs, input, "Open")?;
    let predictions = text(&outputs, output, PREDICTION_COLUMN)?;
    let mut closed_rows = 0;
    let mut open_sum = 0.0;
    let mut open_rows = 0usize;
    for (row, (open, value)) in open.iter().zip(&predictions).enumerate() {
        let value: f64 = value.trim().parse().map_err(|_| {
            PipelineError::Invalid(format!(
                "{}: row {}: {PREDICTION_COLUMN} {value:?} is not a number",
                output.display(),
                row + 1
            ))
        })?;
        if !value.is_finite() || value < 0.0 {
            return Err(PipelineError::Invalid(format!(
                "{}: row {}: {PREDICTION_COLUMN} {value} is not a finite non-negative sales figure",
                output.display(),
                row + 1
            )));
        }
        if open.trim() == "0" {
            closed_rows += 1;
            if value != 0.0 {
                return Err(PipelineError::Invalid(format!(
                    "{}: row {}: the store is closed (Open = 0) but {PREDICTION_COLUMN} is {value}",
                    output.display(),
                    row + 1
                )));
            }
        } else {
            open_sum += value;
            open_rows += 1;
        }
    }
    Ok(SmokeCheck {
        rows: inputs.height(),
        closed_rows,
        mean_open_prediction: if open_rows == 0 {
            0.0
        } else {
            open_sum / open_rows as f64
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn future_inputs_cover_every_store_day_in_the_test_schema() {
        let dir = tempfile::tempdir().unwrap();
        let first = NaiveDate::from_ymd_opt(2015, 8, 1).unwrap();
        let path = future_inputs(dir.path(), first, 10, 3, 7).unwrap();
        let frame = read_input(&path).unwrap();
        assert_eq!(frame.height(), 30);
        let names: Vec<String> = frame
            .get_column_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(names, INPUT_COLUMNS);
        assert!(!dir.path().join("generated").exists());
    }

    #[test]
    fn checks_count_order_values_and_closed_days() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.csv");
        write(
            &input,
            "Store,DayOfWeek,Date,Open,Promo,StateHoliday,SchoolHoliday\n\
             1,6,2015-08-01,1,0,0,0\n2,7,2015-08-02,0,0,0,0\n",
        );
        let good = dir.path().join("good.csv");
        write(
            &good,
            "Store,DayOfWeek,Date,Open,Promo,StateHoliday,SchoolHoliday,Predicted_Sales\n\
             1,6,2015-08-01,1,0,0,0,5000.5\n2,7,2015-08-02,0,0,0,0,0\n",
        );
        let check = check_predictions(&input, &good).unwrap();
        assert_eq!((check.rows, check.closed_rows), (2, 1));
        assert!((check.mean_open_prediction - 5000.5).abs() < 1e-9);

        let cases = [
            ("1,6,2015-08-01,1,0,0,0,5000\n", "1 rows for 2 input rows"),
            (
                "2,7,2015-08-02,0,0,0,0,0\n1,6,2015-08-01,1,0,0,0,5000\n",
                "out of input order",
            ),
            (
                "1,6,2015-08-01,1,0,0,0,NaN\n2,7,2015-08-02,0,0,0,0,0\n",
                "not a finite",
            ),
            (
                "1,6,2015-08-01,1,0,0,0,10\n2,7,2015-08-02,0,0,0,0,3\n",
                "closed",
            ),
        ];
        for (rows, expected) in cases {
            let bad = dir.path().join("bad.csv");
            write(
                &bad,
                &format!(
                    "Store,DayOfWeek,Date,Open,Promo,StateHoliday,SchoolHoliday,Predicted_Sales\n{rows}"
                ),
            );
            let err = check_predictions(&input, &bad).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
    }
}
