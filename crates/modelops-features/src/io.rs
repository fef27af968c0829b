//! The features file, `data/processed/train_features.parquet`: key columns (`Store`, `Date`, `Sales`, `Open`,
//! `Origin`, `IsHoldout`) followed by every feature column in spec order. Integer-valued features (calendar,
//! flags, category codes, day counts) are written as Int32, the rest as Float32 with null for missing.

use crate::FeatureError;
use crate::dataset::LabelledRows;
use polars::prelude::*;
use std::path::Path;

/// Writes labelled rows (training blocks and the holdout, in that order) to a parquet file; `holdout_origin`
/// marks rows on or after it as `IsHoldout = 1`.
///
/// # Errors
/// [`FeatureError::Io`] or [`FeatureError::Polars`] naming the file.
pub fn write_features_parquet(
    path: &Path,
    sets: &[&LabelledRows],
    holdout_origin: i32,
) -> Result<usize, FeatureError> {
    let polars_err = |context: &str| {
        let context = format!("{context} {}", path.display());
        move |source| FeatureError::Polars { context, source }
    };
    let rows: usize = sets.iter().map(|s| s.len()).sum();
    let Some(first) = sets.first() else {
        return Err(FeatureError::Empty("no feature rows to write".into()));
    };
    let names = first.features.names().to_vec();
    let width = names.len();
    let mut keys_store = Vec::with_capacity(rows);
    let mut keys_date = Vec::with_capacity(rows);
    let mut keys_sales = Vec::with_capacity(rows);
    let mut keys_open = Vec::with_capacity(rows);
    let mut keys_origin = Vec::with_capacity(rows);
    let mut keys_holdout = Vec::with_capacity(rows);
    let mut by_column: Vec<Vec<f32>> = vec![Vec::with_capacity(rows); width];
    for set in sets {
        for i in 0..set.len() {
            let r = &set.rows[i];
            keys_store.push(r.store as i32);
            keys_date.push(r.date);
            keys_sales.push(set.sales[i]);
            keys_open.push(i32::from(r.open));
            keys_origin.push(set.origins[i]);
            keys_holdout.push(i32::from(r.date >= holdout_origin));
            for (c, v) in set.features.row(i).iter().enumerate() {
                by_column[c].push(*v);
            }
        }
    }
    let date = |name: &str, v: Vec<i32>| {
        Series::new(name.into(), v)
            .cast(&DataType::Date)
            .map(Column::from)
    };
    let mut columns: Vec<Column> = vec![
        Series::new("Store".into(), keys_store).into(),
        date("Date", keys_date).map_err(polars_err("building Date for"))?,
        Series::new("Sales".into(), keys_sales).into(),
        Series::new("Open".into(), keys_open).into(),
        date("Origin", keys_origin).map_err(polars_err("building Origin for"))?,
        Series::new("IsHoldout".into(), keys_holdout).into(),
    ];
    for (name, values) in names.iter().zip(by_column) {
        let integral = values
            .iter()
            .all(|v| v.is_finite() && v.fract() == 0.0 && v.abs() < 1.0e9);
        let column: Column = if integral {
            Series::new(
                name.as_str().into(),
                values.iter().map(|v| *v as i32).collect::<Vec<i32>>(),
            )
            .into()
        } else {
            let opt: Vec<Option<f32>> =
                values.iter().map(|v| v.is_finite().then_some(*v)).collect();
            Series::new(name.as_str().into(), opt).into()
        };
        columns.push(column);
    }
    let mut df = DataFrame::new(rows, columns).map_err(polars_err("assembling"))?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| FeatureError::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let tmp = path.with_extension("parquet.tmp");
    let file = std::fs::File::create(&tmp).map_err(|source| FeatureError::Io {
        path: tmp.clone(),
        source,
    })?;
    ParquetWriter::new(file)
        .finish(&mut df)
        .map_err(polars_err("writing"))?;
    std::fs::rename(&tmp, path).map_err(|source| FeatureError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(rows)
}
