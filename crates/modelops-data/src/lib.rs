//! Data layer: raw Kaggle-schema ingest, the synthetic Rossmann generator, expectation suites and dataset
//! fingerprints (the manifest that plays DVC's role).
//!
//! Does not own feature engineering (`modelops-features`) or anything about models.
//!
//! # Modules
//! - [`table`]: reads a raw CSV (plain or gzip) into typed columns, remembering each row's file line and every
//!   unparseable cell. [`ingest`] builds on it: `read_raw_train`, `read_raw_store`, `clean`, `ingest`.
//! - [`validate`]: expectation suites (JSON data files in `config/suites/`, embedded defaults) and their evaluation.
//! - [`manifest`]: content hashes and lineage in `data/manifest.json`; freshness of outputs.
//! - [`synth`]: a streaming generator of `train.csv`/`store.csv` in the exact Kaggle format.
//!
//! # Files
//! Raw inputs are looked up as `<data dir>/raw/{train,store}.csv[.gz]`, else `<data dir>/{train,store}.csv[.gz]`
//! (a plain Kaggle download). Outputs go to `<data dir>/processed/`.
//!
//! # The cleaned schema (a contract)
//! `processed/train_clean.parquet` has these 18 columns in this order — train.csv's 9, then store.csv's 9 — one row
//! per (Store, Date), sorted by Store then Date; closed days are kept (`Open == 0`, `Sales == 0`). Other crates rely
//! on these names and types; they do not change.
//!
//! | # | Column | Polars dtype | Meaning | Fill rule |
//! |---|---|---|---|---|
//! | 1 | `Store` | Int32 | store id (1..1115 in the Kaggle data) | never null |
//! | 2 | `DayOfWeek` | Int32 | 1 = Monday … 7 = Sunday, as given in train.csv | — |
//! | 3 | `Date` | Date | the day | never null |
//! | 4 | `Sales` | Float32 | turnover that day (the target) | — |
//! | 5 | `Customers` | Float32 | customers that day (never a feature: unknown when forecasting) | — |
//! | 6 | `Open` | Int32 | 1 open, 0 closed | — |
//! | 7 | `Promo` | Int32 | 1 when the store runs its short promotion that day | — |
//! | 8 | `StateHoliday` | String | `"0"` none, `a` public, `b` Easter, `c` Christmas (`0` and `"0"` both read as `"0"`) | — |
//! | 9 | `SchoolHoliday` | Int32 | 1 when public schools are closed | — |
//! | 10 | `StoreType` | String | `a`..`d` | null only if the store is missing from store.csv |
//! | 11 | `Assortment` | String | `a` basic, `b` extra, `c` extended | as StoreType |
//! | 12 | `CompetitionDistance` | Float32 | metres to the nearest competitor | missing → **100000** ("no competitor nearby") |
//! | 13 | `CompetitionOpenSinceMonth` | Int32 | month the competitor opened | missing → **0** |
//! | 14 | `CompetitionOpenSinceYear` | Int32 | year the competitor opened | missing → **0** |
//! | 15 | `Promo2` | Int32 | 1 when the store takes part in the continuing promotion | as StoreType |
//! | 16 | `Promo2SinceWeek` | Int32 | week Promo2 started (week 1 = the year's first Monday) | missing → **0** |
//! | 17 | `Promo2SinceYear` | Int32 | year Promo2 started | missing → **0** |
//! | 18 | `PromoInterval` | String | months Promo2 restarts, e.g. `Jan,Apr,Jul,Oct`, `Mar,Jun,Sept,Dec` (note "Sept") | missing → **""** |
//!
//! `processed/store_clean.parquet` holds columns 1 and 10–18 (store.csv's 10 columns in file order), one row per
//! store sorted by Store, with the same types and fill rules. Categorical codes, where a model needs them, follow
//! sorted string order (StateHoliday `"0"`→0, `a`→1, `b`→2, `c`→3; PromoInterval `""`→0,
//! `Feb,May,Aug,Nov`→1, `Jan,Apr,Jul,Oct`→2, `Mar,Jun,Sept,Dec`→3); this crate stores the strings.
//!
//! # Example
//! ```no_run
//! let summary = modelops_data::ingest(std::path::Path::new("data"))?;
//! println!("{} rows → {}", summary.train_rows, summary.train_clean_path.display());
//! # Ok::<(), modelops_data::DataError>(())
//! ```
#![deny(missing_docs)]

pub mod error;
pub mod ingest;
pub mod manifest;
pub mod schema;
pub mod synth;
pub mod table;
pub mod validate;

pub use error::{DataError, Result};
pub use ingest::{
    CleanReport, FillCounts, IngestSummary, STORE_CLEAN_FILE, TRAIN_CLEAN_FILE,
    TRAIN_FEATURES_FILE, clean, clean_store, clean_with_report, ingest, ingest_into, processed_dir,
    read_parquet, read_raw_store, read_raw_train, write_parquet,
};
pub use manifest::{Entry, Fingerprint, Freshness, Manifest, Shape, fingerprint};
pub use schema::{
    CLEAN_STORE_COLUMNS, CLEAN_TRAIN_COLUMNS, CleanType, ColumnKind, RAW_BATCH, RAW_STORE,
    RAW_TRAIN, RawSchema,
};
pub use table::{RawTable, locate_raw, read_raw_table};
