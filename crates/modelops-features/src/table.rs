//! The typed inputs features are built from: prediction rows in the Kaggle test schema ([`InputRow`]), observed
//! days with their sales ([`Observation`]) and store metadata ([`StoreTable`]), plus their conversion from the
//! Polars frames `modelops-data` writes (`train_clean.parquet`, `store_clean.parquet`).
//!
//! Rows are plain structs rather than frames because the builder walks them per store in date order and the
//! service receives a handful of rows at a time; converting once at the edge keeps Polars out of the hot path.

use crate::FeatureError;
use crate::calendar::{Day, weekday};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

/// The `StateHoliday` values: `"0"` none, `a` public holiday, `b` Easter, `c` Christmas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StateHoliday {
    /// `"0"`: an ordinary day.
    #[serde(rename = "0")]
    None,
    /// `a`: public holiday.
    #[serde(rename = "a")]
    Public,
    /// `b`: Easter holiday.
    #[serde(rename = "b")]
    Easter,
    /// `c`: Christmas.
    #[serde(rename = "c")]
    Christmas,
}

impl StateHoliday {
    /// All values, in the order of their fixed categorical codes 0..=3 (the reference's sorted string order).
    pub const ALL: [StateHoliday; 4] = [
        StateHoliday::None,
        StateHoliday::Public,
        StateHoliday::Easter,
        StateHoliday::Christmas,
    ];

    /// Parses the data's text (`"0"`, `a`, `b`, `c`; `0` written as a number is accepted too).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "0" | "0.0" => Some(Self::None),
            "a" => Some(Self::Public),
            "b" => Some(Self::Easter),
            "c" => Some(Self::Christmas),
            _ => None,
        }
    }

    /// The data's text for this value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "0",
            Self::Public => "a",
            Self::Easter => "b",
            Self::Christmas => "c",
        }
    }

    /// Whether the day is any kind of state holiday.
    pub fn is_holiday(self) -> bool {
        self != Self::None
    }
}

/// One store-day to forecast, in the Kaggle test schema: everything known about the day in advance.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputRow {
    /// Store id.
    pub store: u32,
    /// Day number (days since 1970-01-01).
    pub date: Day,
    /// 1 = Monday … 7 = Sunday; must agree with `date`.
    pub day_of_week: u8,
    /// Whether the store is open.
    pub open: bool,
    /// Whether the store runs its daily promotion.
    pub promo: bool,
    /// State holiday of the day.
    pub state_holiday: StateHoliday,
    /// Whether schools are closed.
    pub school_holiday: bool,
}

impl InputRow {
    /// Checks the fields against each other; `row` is used in the message.
    ///
    /// # Errors
    /// [`FeatureError::InvalidValue`] when `day_of_week` is outside 1..=7 or disagrees with `date`.
    pub fn check(&self, row: usize) -> Result<(), FeatureError> {
        let expected = weekday(self.date);
        if self.day_of_week != expected {
            return Err(FeatureError::InvalidValue {
                column: "DayOfWeek".into(),
                row,
                reason: format!(
                    "DayOfWeek is {} but {} is a day {expected} (1 = Monday); fix the input row",
                    self.day_of_week,
                    crate::calendar::format_day(self.date)
                ),
            });
        }
        Ok(())
    }
}

/// An observed store-day: the row inputs plus what happened.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// The day's inputs.
    pub input: InputRow,
    /// Sales (the target).
    pub sales: f32,
    /// Customers (history only, never a feature of its own day).
    pub customers: f32,
}

/// Metadata of one store (store.csv after cleaning).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoreMeta {
    /// Store id.
    pub store: u32,
    /// `a`..`d`.
    pub store_type: String,
    /// `a`..`c`.
    pub assortment: String,
    /// Metres to the nearest competitor; `None` when unknown (the cleaning's 100000 sentinel maps here).
    pub competition_distance: Option<f32>,
    /// Month the competitor opened, 0 when unknown.
    pub competition_open_since_month: i32,
    /// Year the competitor opened, 0 when unknown.
    pub competition_open_since_year: i32,
    /// Whether the store takes part in Promo2.
    pub promo2: bool,
    /// Promo2 start week (first-Monday convention), 0 when not participating.
    pub promo2_since_week: i32,
    /// Promo2 start year, 0 when not participating.
    pub promo2_since_year: i32,
    /// Months Promo2 restarts in, e.g. `"Jan,Apr,Jul,Oct"`; empty when not participating.
    pub promo_interval: String,
}

/// Distance the cleaning step writes for "no competitor known" (reference §2.2).
pub const NO_COMPETITOR_SENTINEL: f32 = 100_000.0;

/// All stores, sorted by id, looked up by binary search.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StoreTable {
    stores: Vec<StoreMeta>,
}

impl StoreTable {
    /// Builds a table from any order of stores.
    ///
    /// # Errors
    /// [`FeatureError::InvalidValue`] when a store id appears twice.
    pub fn new(mut stores: Vec<StoreMeta>) -> Result<Self, FeatureError> {
        stores.sort_by_key(|s| s.store);
        if let Some(w) = stores.windows(2).find(|w| w[0].store == w[1].store) {
            return Err(FeatureError::InvalidValue {
                column: "Store".into(),
                row: 0,
                reason: format!("store {} appears twice in the store table", w[0].store),
            });
        }
        Ok(Self { stores })
    }

    /// The store with this id.
    pub fn get(&self, store: u32) -> Option<&StoreMeta> {
        self.stores
            .binary_search_by_key(&store, |s| s.store)
            .ok()
            .map(|i| &self.stores[i])
    }

    /// All stores, by id.
    pub fn stores(&self) -> &[StoreMeta] {
        &self.stores
    }

    /// Reads the cleaned store frame (store.csv's 10 columns, fills per the cleaning step).
    ///
    /// # Errors
    /// A missing column or an invalid value, named.
    pub fn from_frame(df: &DataFrame) -> Result<Self, FeatureError> {
        const SCHEMA: &str = "cleaned store (store_clean.parquet)";
        Self::new(store_rows(df, SCHEMA)?)
    }

    /// Takes the store columns out of the cleaned train frame (one row per store-day; the first row of each
    /// store wins), for when only `train_clean.parquet` is at hand.
    ///
    /// # Errors
    /// A missing column or an invalid value, named.
    pub fn from_clean_frame(df: &DataFrame) -> Result<Self, FeatureError> {
        const SCHEMA: &str = "cleaned train (train_clean.parquet)";
        let mut rows = store_rows(df, SCHEMA)?;
        rows.sort_by_key(|s| s.store);
        rows.dedup_by_key(|s| s.store);
        Self::new(rows)
    }
}

fn store_rows(df: &DataFrame, schema: &'static str) -> Result<Vec<StoreMeta>, FeatureError> {
    let store = int_column(df, "Store", schema)?;
    let store_type = str_column(df, "StoreType", schema)?;
    let assortment = str_column(df, "Assortment", schema)?;
    let distance = float_column(df, "CompetitionDistance", schema)?;
    let comp_month = int_column(df, "CompetitionOpenSinceMonth", schema)?;
    let comp_year = int_column(df, "CompetitionOpenSinceYear", schema)?;
    let promo2 = int_column(df, "Promo2", schema)?;
    let promo2_week = int_column(df, "Promo2SinceWeek", schema)?;
    let promo2_year = int_column(df, "Promo2SinceYear", schema)?;
    let interval = str_column(df, "PromoInterval", schema)?;
    let mut out = Vec::with_capacity(df.height());
    for row in 0..df.height() {
        let id = required(store[row], "Store", row)?;
        out.push(StoreMeta {
            store: to_store_id(id, row)?,
            store_type: required(store_type[row].clone(), "StoreType", row)?,
            assortment: required(assortment[row].clone(), "Assortment", row)?,
            competition_distance: distance[row]
                .filter(|d| d.is_finite() && *d < NO_COMPETITOR_SENTINEL as f64)
                .map(|d| d as f32),
            competition_open_since_month: comp_month[row].unwrap_or(0) as i32,
            competition_open_since_year: comp_year[row].unwrap_or(0) as i32,
            promo2: flag(promo2[row], "Promo2", row)?,
            promo2_since_week: promo2_week[row].unwrap_or(0) as i32,
            promo2_since_year: promo2_year[row].unwrap_or(0) as i32,
            promo_interval: interval[row].clone().unwrap_or_default(),
        });
    }
    Ok(out)
}

/// Reads prediction rows (Store, DayOfWeek, Date, Open, Promo, StateHoliday, SchoolHoliday) from a frame; extra
/// columns are ignored. Date may be a Polars `Date` or `YYYY-MM-DD` text.
///
/// # Errors
/// A missing column, a null, or a value outside its domain, named with its row.
pub fn input_rows_from_frame(df: &DataFrame) -> Result<Vec<InputRow>, FeatureError> {
    const SCHEMA: &str =
        "Kaggle test (Store, DayOfWeek, Date, Open, Promo, StateHoliday, SchoolHoliday)";
    let store = int_column(df, "Store", SCHEMA)?;
    let dow = int_column(df, "DayOfWeek", SCHEMA)?;
    let date = day_column(df, "Date", SCHEMA)?;
    let open = int_column(df, "Open", SCHEMA)?;
    let promo = int_column(df, "Promo", SCHEMA)?;
    let holiday = str_column(df, "StateHoliday", SCHEMA)?;
    let school = int_column(df, "SchoolHoliday", SCHEMA)?;
    let mut rows = Vec::with_capacity(df.height());
    for row in 0..df.height() {
        let holiday_text = required(holiday[row].clone(), "StateHoliday", row)?;
        let state_holiday =
            StateHoliday::parse(&holiday_text).ok_or_else(|| FeatureError::InvalidValue {
                column: "StateHoliday".into(),
                row,
                reason: format!("{holiday_text:?} is not one of \"0\", a, b, c"),
            })?;
        let day_of_week = required(dow[row], "DayOfWeek", row)?;
        if !(1..=7).contains(&day_of_week) {
            return Err(FeatureError::InvalidValue {
                column: "DayOfWeek".into(),
                row,
                reason: format!("{day_of_week} is outside 1..=7"),
            });
        }
        let input = InputRow {
            store: to_store_id(required(store[row], "Store", row)?, row)?,
            date: required(date[row], "Date", row)?,
            day_of_week: day_of_week as u8,
            open: flag(open[row], "Open", row)?,
            promo: flag(promo[row], "Promo", row)?,
            state_holiday,
            school_holiday: flag(school[row], "SchoolHoliday", row)?,
        };
        input.check(row)?;
        rows.push(input);
    }
    Ok(rows)
}

/// Reads observed days (the prediction columns plus Sales and Customers) from the cleaned train frame.
///
/// # Errors
/// As [`input_rows_from_frame`], plus a null or negative Sales/Customers.
pub fn observations_from_frame(df: &DataFrame) -> Result<Vec<Observation>, FeatureError> {
    const SCHEMA: &str = "cleaned train (train_clean.parquet)";
    let inputs = input_rows_from_frame(df)?;
    let sales = float_column(df, "Sales", SCHEMA)?;
    let customers = float_column(df, "Customers", SCHEMA)?;
    inputs
        .into_iter()
        .enumerate()
        .map(|(row, input)| {
            let sales = non_negative(sales[row], "Sales", row)?;
            let customers = non_negative(customers[row], "Customers", row)?;
            Ok(Observation {
                input,
                sales,
                customers,
            })
        })
        .collect()
}

fn non_negative(value: Option<f64>, column: &str, row: usize) -> Result<f32, FeatureError> {
    match value {
        Some(v) if v.is_finite() && v >= 0.0 => Ok(v as f32),
        other => Err(FeatureError::InvalidValue {
            column: column.into(),
            row,
            reason: format!("{other:?} is not a non-negative number"),
        }),
    }
}

fn required<T>(value: Option<T>, column: &str, row: usize) -> Result<T, FeatureError> {
    value.ok_or_else(|| FeatureError::InvalidValue {
        column: column.into(),
        row,
        reason: "value is missing (null)".into(),
    })
}

fn flag(value: Option<i64>, column: &str, row: usize) -> Result<bool, FeatureError> {
    match value {
        Some(0) => Ok(false),
        Some(1) => Ok(true),
        other => Err(FeatureError::InvalidValue {
            column: column.into(),
            row,
            reason: format!("{other:?} is not 0 or 1"),
        }),
    }
}

fn to_store_id(value: i64, row: usize) -> Result<u32, FeatureError> {
    u32::try_from(value)
        .ok()
        .filter(|s| *s >= 1)
        .ok_or_else(|| FeatureError::InvalidValue {
            column: "Store".into(),
            row,
            reason: format!("{value} is not a positive store id"),
        })
}

fn column<'a>(
    df: &'a DataFrame,
    name: &str,
    schema: &'static str,
) -> Result<&'a Column, FeatureError> {
    df.column(name).map_err(|_| FeatureError::MissingColumn {
        column: name.into(),
        schema,
    })
}

fn polars_err(name: &str, what: &str) -> impl FnOnce(PolarsError) -> FeatureError {
    let context = format!("column '{name}' cannot be read as {what}");
    move |source| FeatureError::Polars { context, source }
}

fn int_column(
    df: &DataFrame,
    name: &str,
    schema: &'static str,
) -> Result<Vec<Option<i64>>, FeatureError> {
    let col = column(df, name, schema)?;
    let cast = col
        .cast(&DataType::Int64)
        .map_err(polars_err(name, "integers"))?;
    Ok(cast
        .i64()
        .map_err(polars_err(name, "integers"))?
        .iter()
        .collect())
}

fn float_column(
    df: &DataFrame,
    name: &str,
    schema: &'static str,
) -> Result<Vec<Option<f64>>, FeatureError> {
    let col = column(df, name, schema)?;
    let cast = col
        .cast(&DataType::Float64)
        .map_err(polars_err(name, "numbers"))?;
    Ok(cast
        .f64()
        .map_err(polars_err(name, "numbers"))?
        .iter()
        .collect())
}

fn str_column(
    df: &DataFrame,
    name: &str,
    schema: &'static str,
) -> Result<Vec<Option<String>>, FeatureError> {
    let col = column(df, name, schema)?;
    let cast = col
        .cast(&DataType::String)
        .map_err(polars_err(name, "text"))?;
    Ok(cast
        .str()
        .map_err(polars_err(name, "text"))?
        .iter()
        .map(|v| v.map(str::to_string))
        .collect())
}

fn day_column(
    df: &DataFrame,
    name: &str,
    schema: &'static str,
) -> Result<Vec<Option<Day>>, FeatureError> {
    let col = column(df, name, schema)?;
    match col.dtype() {
        DataType::String => {
            let texts = str_column(df, name, schema)?;
            texts
                .into_iter()
                .enumerate()
                .map(|(row, t)| match t {
                    None => Ok(None),
                    Some(t) => crate::calendar::parse_day(&t).map(Some).ok_or_else(|| {
                        FeatureError::InvalidValue {
                            column: name.into(),
                            row,
                            reason: format!("{t:?} is not a YYYY-MM-DD date"),
                        }
                    }),
                })
                .collect()
        }
        _ => {
            let as_date = col
                .cast(&DataType::Date)
                .map_err(polars_err(name, "a date"))?;
            let days = as_date
                .cast(&DataType::Int32)
                .map_err(polars_err(name, "a date"))?;
            Ok(days
                .i32()
                .map_err(polars_err(name, "a date"))?
                .iter()
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_holiday_parses_the_zero_quirk() {
        assert_eq!(StateHoliday::parse("0"), Some(StateHoliday::None));
        assert_eq!(StateHoliday::parse("c"), Some(StateHoliday::Christmas));
        assert_eq!(StateHoliday::parse("x"), None);
    }

    #[test]
    fn input_rows_reject_a_weekday_that_disagrees_with_the_date() {
        let df = df!(
            "Store" => [1i32], "DayOfWeek" => [3i32], "Date" => ["2015-07-31"], "Open" => [1i32],
            "Promo" => [0i32], "StateHoliday" => ["0"], "SchoolHoliday" => [0i32]
        )
        .unwrap();
        let err = input_rows_from_frame(&df).unwrap_err().to_string();
        assert!(err.contains("DayOfWeek") && err.contains("row 0"), "{err}");
    }

    #[test]
    fn sentinel_distance_becomes_unknown() {
        let df = df!(
            "Store" => [1i32, 2], "StoreType" => ["a", "b"], "Assortment" => ["a", "c"],
            "CompetitionDistance" => [100000.0f32, 250.0], "CompetitionOpenSinceMonth" => [0i32, 9],
            "CompetitionOpenSinceYear" => [0i32, 2008], "Promo2" => [0i32, 1], "Promo2SinceWeek" => [0i32, 13],
            "Promo2SinceYear" => [0i32, 2010], "PromoInterval" => ["", "Jan,Apr,Jul,Oct"]
        )
        .unwrap();
        let table = StoreTable::from_frame(&df).unwrap();
        assert_eq!(table.get(1).unwrap().competition_distance, None);
        assert_eq!(table.get(2).unwrap().competition_distance, Some(250.0));
        assert!(table.get(3).is_none());
    }
}
