//! Reading actual sales for `modelops monitor actuals --input FILE`: a CSV or parquet file with at least `Store`,
//! `Date` and `Sales` (train.csv's layout works as is; other columns are ignored). Every bad cell is reported with
//! its line and column before anything is recorded.

use std::path::Path;

use modelops_features::calendar::parse_day;
use modelops_pipeline::predict::{CellErrors, STORE_RULE, parse_store, read_input};
use polars::prelude::{DataFrame, DataType};

use crate::error::ServeError;
use crate::log::ActualSales;

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
    let mut errors = CellErrors::new(path);
    let mut out = Vec::with_capacity(columns[0].len());
    #[allow(clippy::needless_range_loop)] // each row reads cells of three columns by index
    for i in 0..columns[0].len() {
        let cell = |c: usize| columns[c][i].as_deref().map(str::trim).unwrap_or("");
        let store = parse_store(cell(0));
        if store.is_none() {
            errors.bad(i, "Store", cell(0), STORE_RULE);
        }
        let date = parse_day(cell(1));
        if date.is_none() {
            errors.bad(i, "Date", cell(1), "a date as YYYY-MM-DD");
        }
        let sales = cell(2)
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0);
        if sales.is_none() {
            errors.bad(i, "Sales", cell(2), "a sales figure ≥ 0");
        }
        if let (Some(store), Some(date), Some(sales)) = (store, date, sales) {
            out.push(ActualSales { store, date, sales });
        }
    }
    errors.finish().map_err(ServeError::Invalid)?;
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
