//! The column layouts this crate knows: the two Kaggle raw files (`train.csv`, `store.csv`), the prediction-input
//! batch file, and the cleaned tables ingest writes (`train_clean.parquet`, `store_clean.parquet`).
//!
//! The cleaned layout is a contract other crates code against; see the crate documentation for the table of columns,
//! types, meanings and fill rules. Names and types here must not change.

/// How a raw CSV column is parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnKind {
    /// Whole number that fits in an `i32` (`12`, also `12.0`).
    Integer,
    /// Decimal number, stored as `f32`.
    Number,
    /// Calendar date written `YYYY-MM-DD`.
    Date,
    /// Free text (quotes removed); an empty field is null.
    Text,
}

impl ColumnKind {
    /// How the kind is described in error messages ("an integer").
    pub fn describe(self) -> &'static str {
        match self {
            Self::Integer => "an integer",
            Self::Number => "a number",
            Self::Date => "a date YYYY-MM-DD",
            Self::Text => "text",
        }
    }
}

/// The expected layout of one raw CSV file: column names, in order, with their kinds.
#[derive(Clone, Copy, Debug)]
pub struct RawSchema {
    /// Short name used in messages and suites (`raw_train`).
    pub name: &'static str,
    /// File stem under `data/raw/` (`train` for `train.csv[.gz]`).
    pub file_stem: &'static str,
    /// Columns in file order.
    pub columns: &'static [(&'static str, ColumnKind)],
    /// What to do when the file is missing.
    pub missing_hint: &'static str,
}

impl RawSchema {
    /// The kind of column `name`, or `None` for a column the format does not have.
    pub fn kind_of(&self, name: &str) -> Option<ColumnKind> {
        self.columns
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, k)| *k)
    }

    /// Column names in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.columns.iter().map(|(n, _)| *n).collect()
    }
}

use ColumnKind::{Date, Integer, Number, Text};

/// Kaggle `train.csv`: daily sales per store.
pub const RAW_TRAIN: RawSchema = RawSchema {
    name: "raw_train",
    file_stem: "train",
    columns: &[
        ("Store", Integer),
        ("DayOfWeek", Integer),
        ("Date", Date),
        ("Sales", Number),
        ("Customers", Number),
        ("Open", Integer),
        ("Promo", Integer),
        ("StateHoliday", Text),
        ("SchoolHoliday", Integer),
    ],
    missing_hint: "put the Kaggle train.csv (or train.csv.gz) in data/raw/, or generate data with `modelops data synth`",
};

/// Kaggle `store.csv`: one row of metadata per store.
pub const RAW_STORE: RawSchema = RawSchema {
    name: "raw_store",
    file_stem: "store",
    columns: &[
        ("Store", Integer),
        ("StoreType", Text),
        ("Assortment", Text),
        ("CompetitionDistance", Number),
        ("CompetitionOpenSinceMonth", Integer),
        ("CompetitionOpenSinceYear", Integer),
        ("Promo2", Integer),
        ("Promo2SinceWeek", Integer),
        ("Promo2SinceYear", Integer),
        ("PromoInterval", Text),
    ],
    missing_hint: "put the Kaggle store.csv (or store.csv.gz) in data/raw/, or generate data with `modelops data synth`",
};

/// Prediction inputs (train.csv without Sales and Customers), e.g. `batch_aug_dec_2015.csv`.
pub const RAW_BATCH: RawSchema = RawSchema {
    name: "raw_batch",
    file_stem: "batch",
    columns: &[
        ("Store", Integer),
        ("DayOfWeek", Integer),
        ("Date", Date),
        ("Open", Integer),
        ("Promo", Integer),
        ("StateHoliday", Text),
        ("SchoolHoliday", Integer),
    ],
    missing_hint: "pass the path of a CSV with columns Store, DayOfWeek, Date, Open, Promo, StateHoliday, SchoolHoliday",
};

/// Polars dtype of a cleaned column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CleanType {
    /// `Int32`.
    Int32,
    /// `Float32`.
    Float32,
    /// `Date` (days since 1970-01-01).
    Date,
    /// `String` (categorical values kept as text).
    String,
}

/// The 18 columns of `train_clean.parquet`, in order: train's 9, then store's 9.
pub const CLEAN_TRAIN_COLUMNS: [(&str, CleanType); 18] = [
    ("Store", CleanType::Int32),
    ("DayOfWeek", CleanType::Int32),
    ("Date", CleanType::Date),
    ("Sales", CleanType::Float32),
    ("Customers", CleanType::Float32),
    ("Open", CleanType::Int32),
    ("Promo", CleanType::Int32),
    ("StateHoliday", CleanType::String),
    ("SchoolHoliday", CleanType::Int32),
    ("StoreType", CleanType::String),
    ("Assortment", CleanType::String),
    ("CompetitionDistance", CleanType::Float32),
    ("CompetitionOpenSinceMonth", CleanType::Int32),
    ("CompetitionOpenSinceYear", CleanType::Int32),
    ("Promo2", CleanType::Int32),
    ("Promo2SinceWeek", CleanType::Int32),
    ("Promo2SinceYear", CleanType::Int32),
    ("PromoInterval", CleanType::String),
];

/// The 10 columns of `store_clean.parquet`, in order (store.csv's columns, cleaned).
pub const CLEAN_STORE_COLUMNS: [(&str, CleanType); 10] = [
    ("Store", CleanType::Int32),
    ("StoreType", CleanType::String),
    ("Assortment", CleanType::String),
    ("CompetitionDistance", CleanType::Float32),
    ("CompetitionOpenSinceMonth", CleanType::Int32),
    ("CompetitionOpenSinceYear", CleanType::Int32),
    ("Promo2", CleanType::Int32),
    ("Promo2SinceWeek", CleanType::Int32),
    ("Promo2SinceYear", CleanType::Int32),
    ("PromoInterval", CleanType::String),
];

/// Fill value for a missing `CompetitionDistance`: the sentinel "no competitor nearby", in metres.
pub const NO_COMPETITION_DISTANCE: f32 = 100_000.0;
