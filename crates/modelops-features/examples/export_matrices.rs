//! Builds the rolling-origin training set and the holdout forecast set from a cleaned train table and writes them
//! as raw little-endian `f32` matrices, so any GBDT (e.g. Python LightGBM) can measure the features without the
//! Rust engines.
//!
//! ```text
//! cargo run -p modelops-features --example export_matrices -- <train_clean.parquet|raw-dir> <out-dir> [holdout-days]
//! ```
//! Given a folder holding the raw Kaggle `train.csv` (uncompressed) and `store.csv` instead, it reads them with a
//! minimal parser of that exact layout (quoted fields, empty = missing), applying the cleaning fills, so the
//! example runs without the ingest crate.
//! Writes `train_x.f32`, `train_y.f32`, `train_keys.i32` (store, date, origin per row), the same for `holdout_`,
//! and `meta.json` (column names, categorical column indices, row counts, origin).

use modelops_features::calendar::format_day;
use modelops_features::{
    FeatureBuilder, FeatureSettings, LabelledRows, RollingOrigins, RowFilter, SalesData,
};
use polars::prelude::SerReader;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn write_f32(path: &Path, values: impl Iterator<Item = f32>) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for v in values {
        out.write_all(&v.to_le_bytes())?;
    }
    out.flush()
}

fn write_set(dir: &Path, prefix: &str, set: &LabelledRows) -> std::io::Result<()> {
    write_f32(
        &dir.join(format!("{prefix}_x.f32")),
        set.features.values().iter().copied(),
    )?;
    write_f32(
        &dir.join(format!("{prefix}_y.f32")),
        set.sales.iter().copied(),
    )?;
    let mut keys = std::io::BufWriter::new(std::fs::File::create(
        dir.join(format!("{prefix}_keys.i32")),
    )?);
    for (row, origin) in set.rows.iter().zip(&set.origins) {
        for v in [row.store as i32, row.date, *origin] {
            keys.write_all(&v.to_le_bytes())?;
        }
    }
    keys.flush()
}

fn fields(line: &str) -> Vec<String> {
    line.split(',')
        .map(|f| f.trim().trim_matches('"').to_string())
        .collect()
}

fn read_raw(dir: &Path) -> Result<SalesData, Box<dyn std::error::Error>> {
    use modelops_features::{InputRow, Observation, StateHoliday, StoreMeta, StoreTable};
    let store_text = std::fs::read_to_string(dir.join("store.csv"))?;
    let mut stores = Vec::new();
    for line in store_text.lines().skip(1) {
        // PromoInterval contains commas: the first 9 fields are simple, the rest is the interval.
        let f = fields(line);
        let int = |s: &str| s.parse::<i32>().unwrap_or(0);
        stores.push(StoreMeta {
            store: f[0].parse()?,
            store_type: f[1].clone(),
            assortment: f[2].clone(),
            competition_distance: f[3].parse::<f32>().ok(),
            competition_open_since_month: int(&f[4]),
            competition_open_since_year: int(&f[5]),
            promo2: f[6] == "1",
            promo2_since_week: int(&f[7]),
            promo2_since_year: int(&f[8]),
            promo_interval: f[9..].join(","),
        });
    }
    let train_text = std::fs::read_to_string(dir.join("train.csv"))?;
    let mut observations = Vec::new();
    for line in train_text.lines().skip(1) {
        let f = fields(line);
        let date = modelops_features::calendar::parse_day(&f[2]).ok_or("bad date")?;
        observations.push(Observation {
            input: InputRow {
                store: f[0].parse()?,
                date,
                day_of_week: f[1].parse()?,
                open: f[5] == "1",
                promo: f[6] == "1",
                state_holiday: StateHoliday::parse(&f[7]).ok_or("bad StateHoliday")?,
                school_holiday: f[8] == "1",
            },
            sales: f[3].parse()?,
            customers: f[4].parse()?,
        });
    }
    Ok(SalesData::new(observations, StoreTable::new(stores)?)?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let input = PathBuf::from(
        args.next()
            .ok_or("usage: export_matrices <train_clean.parquet> <out-dir> [holdout-days]")?,
    );
    let out_dir = PathBuf::from(args.next().ok_or("missing <out-dir>")?);
    let holdout_days: i32 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(42);
    let min_history: i32 = std::env::var("MIN_HISTORY_DAYS")
        .ok()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(0);
    std::fs::create_dir_all(&out_dir)?;
    let t = Instant::now();
    let data = if input.is_dir() {
        read_raw(&input)?
    } else {
        let file = std::fs::File::open(&input)?;
        let df = polars::prelude::ParquetReader::new(file).finish()?;
        SalesData::from_clean_frame(&df)?
    };
    eprintln!(
        "read {} observations in {:.1}s",
        data.observations().len(),
        t.elapsed().as_secs_f64()
    );
    let (_, last) = data.day_range();
    let origin = last - holdout_days + 1;
    let builder = FeatureBuilder::new(data.stores(), FeatureSettings::default());
    let t = Instant::now();
    let plan = RollingOrigins {
        min_history_days: min_history,
        ..RollingOrigins::default()
    };
    let train = data.training_set(&builder, origin, &plan, RowFilter::ModelRows)?;
    eprintln!(
        "training set: {} rows in {:.1}s",
        train.len(),
        t.elapsed().as_secs_f64()
    );
    let holdout = data.forecast_set(&builder, origin, last + 1, RowFilter::ModelRows)?;
    eprintln!(
        "holdout {}..{}: {} rows",
        format_day(origin),
        format_day(last),
        holdout.len()
    );
    write_set(&out_dir, "train", &train)?;
    write_set(&out_dir, "holdout", &holdout)?;
    let categorical: Vec<usize> = train.features.categorical_columns();
    let meta = serde_json::json!({
        "names": train.features.names(),
        "categorical": categorical,
        "n_train": train.len(),
        "n_holdout": holdout.len(),
        "origin": format_day(origin),
    });
    std::fs::write(out_dir.join("meta.json"), serde_json::to_vec_pretty(&meta)?)?;
    Ok(())
}
