//! Reading actual sales for `modelops monitor actuals --input FILE`: a CSV or parquet file with at least `Store`,
//! `Date` and `Sales` (train.csv's layout works as is; other columns are ignored). Every bad cell is reported with
//! its line and column before anything is recorded.

use std::path::Path;

use modelops_features::calendar::parse_day;
use modelops_pipeline::predict::read_input;
use polars::prelude::{DataFrame, DataType};

use crate::error::ServeError;
use crate::log::ActualSales;

/// At most this many bad cells are listed in one error.
const MAX_LISTED_ERRORS: usize = 20;

/// Reads the actual sales in `path`.
///
/// # Errors
/// [`ServeError::Invalid`] naming the file, missing columns, or every bad cell (up to 20) by line and column.
pub fn read_actuals(path: &Path) -> Result<Vec<ActualSales>, ServeError> {
    let frame = read_input(path).map_err(|e| ServeError::Invalid(e.to_string()))?;
    let columns = text_cells(&frame, &["Store", "Date", "Sales"]).map_err(|missing| {
        ServeError::Invalid(format!(
            "{}: missing column(s) {}; an actuals file needs Store, Date and Sales (train.csv's layout works)",
            path.display(),
            missing.join(", ")
        ))
    })?;
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let mut errors = Vec::new();
    let mut total = 0usize;
    let mut out = Vec::with_capacity(columns[0].len());
    #[allow(clippy::needless_range_loop)] // each row reads cells of three columns by index
    for i in 0..columns[0].len() {
        let place = if is_csv {
            format!("line {}", i + 2)
        } else {
            format!("row {}", i + 1)
        };
        let cell = |c: usize| columns[c][i].as_deref().map(str::trim).unwrap_or("");
        let mut bad = |column: &str, value: &str, allowed: &str| {
            total += 1;
            if errors.len() < MAX_LISTED_ERRORS {
                errors.push(format!(
                    "{place}, column {column}: {value:?} is not {allowed}"
                ));
            }
        };
        let store = cell(0).parse::<u32>().ok().filter(|s| *s >= 1);
        if store.is_none() {
            bad("Store", cell(0), "a store id (a whole number ≥ 1)");
        }
        let date = parse_day(cell(1));
        if date.is_none() {
            bad("Date", cell(1), "a date as YYYY-MM-DD");
        }
        let sales = cell(2)
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0);
        if sales.is_none() {
            bad("Sales", cell(2), "a sales figure ≥ 0");
        }
        if let (Some(store), Some(date), Some(sales)) = (store, date, sales) {
            out.push(ActualSales { store, date, sales });
        }
    }
    if total > 0 {
        let more = total.saturating_sub(errors.len());
        let tail = if more > 0 {
            format!("\n  … and {more} more")
        } else {
            String::new()
        };
        return Err(ServeError::Invalid(format!(
            "{}: {total} bad value(s); fix them and run again:\n  {}{tail}",
            path.display(),
            errors.join("\n  ")
        )));
    }
    Ok(out)
}

/// The named columns as text cells (every dtype cast to string); `Err` lists the missing names.
fn text_cells(frame: &DataFrame, names: &[&str]) -> Result<Vec<Vec<Option<String>>>, Vec<String>> {
    let missing: Vec<String> = names
        .iter()
        .filter(|n| frame.column(n).is_err())
        .map(|n| (*n).to_string())
        .collect();
    if !missing.is_empty() {
        return Err(missing);
    }
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let cast = frame
            .column(name)
            .and_then(|c| c.cast(&DataType::String))
            .map_err(|e| vec![format!("{name} ({e})")])?;
        let text = cast.str().map_err(|e| vec![format!("{name} ({e})")])?;
        out.push(
            (0..text.len())
                .map(|i| text.get(i).map(str::to_string))
                .collect(),
        );
    }
    Ok(out)
}
