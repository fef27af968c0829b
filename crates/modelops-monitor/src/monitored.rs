//! The monitored columns of Rossmann traffic: their names, kinds and order, and [`MonitoredRows`], which collects
//! them row by row and hands them to the drift check as a [`ColumnSet`].
//!
//! Both sides of a drift check fill the same struct, so the reference profile (built from the training rows when a
//! model is packaged) and the current window (read from the prediction log) cannot disagree on a name or a kind:
//!
//! | Feature | Kind | Source |
//! |---|---|---|
//! | `Promo` | binary | input |
//! | `DayOfWeek` | numeric | input (1 = Monday) |
//! | `Month` | numeric | derived from Date |
//! | `StateHoliday` | categorical | input (`0`, `a`, `b`, `c`) |
//! | `SchoolHoliday` | binary | input |
//! | `StoreType` | categorical | store metadata |
//! | `Assortment` | categorical | store metadata |
//! | `CompetitionDistance` | numeric | store metadata (100000 when there is no competitor, as the log stores it) |
//! | `Promo2` | binary | store metadata |
//! | `Promo2Active` | binary | derived: Promo2 running on the day (the model's feature) |
//! | prediction | numeric | the model's predicted sales |
//!
//! This is the reference's list of key features (its drift check compares exactly these ten), with the
//! prediction added. Only **open** days belong in either side: the models are trained on open days and predict 0
//! for closed ones, so a closed day says nothing about drift (the reference mixed closed days into its
//! reference and not into its traffic — a defect not copied).

use crate::error::MonitorError;
use crate::profile::ColumnSet;
use chrono::{Datelike, NaiveDate};

/// The monitored feature names, in report order.
pub const MONITORED_FEATURES: [&str; 10] = [
    "Promo",
    "DayOfWeek",
    "Month",
    "StateHoliday",
    "SchoolHoliday",
    "StoreType",
    "Assortment",
    "CompetitionDistance",
    "Promo2",
    "Promo2Active",
];

/// One row's monitored values, borrowed from whatever the caller holds (a training row, a log record).
#[derive(Clone, Copy, Debug)]
pub struct MonitoredRow<'a> {
    /// Store id (kept so a window can be described by its stores).
    pub store: u32,
    /// The day predicted (or trained on).
    pub date: NaiveDate,
    /// 1 = Monday … 7 = Sunday.
    pub day_of_week: u8,
    /// The daily promotion.
    pub promo: bool,
    /// `0`, `a`, `b` or `c`.
    pub state_holiday: &'a str,
    /// Schools closed.
    pub school_holiday: bool,
    /// Store type `a`..`d`; empty when unknown (counted as missing).
    pub store_type: &'a str,
    /// Assortment `a`..`c`; empty when unknown.
    pub assortment: &'a str,
    /// Metres to the nearest competitor, 100000 when none; NaN when unknown.
    pub competition_distance: f64,
    /// The store takes part in Promo2.
    pub promo2: bool,
    /// Promo2 is running on this day.
    pub promo2_active: bool,
    /// Predicted sales, when known.
    pub prediction: Option<f64>,
}

/// Monitored columns collected row by row (owned), ready to become a [`ColumnSet`].
#[derive(Clone, Debug, Default)]
pub struct MonitoredRows {
    stores: Vec<u32>,
    dates: Vec<NaiveDate>,
    promo: Vec<f64>,
    day_of_week: Vec<f64>,
    month: Vec<f64>,
    state_holiday: Vec<Option<String>>,
    school_holiday: Vec<f64>,
    store_type: Vec<Option<String>>,
    assortment: Vec<Option<String>>,
    competition_distance: Vec<f64>,
    promo2: Vec<f64>,
    promo2_active: Vec<f64>,
    prediction: Vec<f64>,
    rows_with_prediction: usize,
}

fn flag(value: bool) -> f64 {
    if value { 1.0 } else { 0.0 }
}

fn label(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

impl MonitoredRows {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty collection with room for `rows` rows.
    pub fn with_capacity(rows: usize) -> Self {
        Self {
            stores: Vec::with_capacity(rows),
            dates: Vec::with_capacity(rows),
            promo: Vec::with_capacity(rows),
            day_of_week: Vec::with_capacity(rows),
            month: Vec::with_capacity(rows),
            state_holiday: Vec::with_capacity(rows),
            school_holiday: Vec::with_capacity(rows),
            store_type: Vec::with_capacity(rows),
            assortment: Vec::with_capacity(rows),
            competition_distance: Vec::with_capacity(rows),
            promo2: Vec::with_capacity(rows),
            promo2_active: Vec::with_capacity(rows),
            prediction: Vec::with_capacity(rows),
            rows_with_prediction: 0,
        }
    }

    /// Adds one row.
    pub fn push(&mut self, row: &MonitoredRow<'_>) {
        self.stores.push(row.store);
        self.dates.push(row.date);
        self.promo.push(flag(row.promo));
        self.day_of_week.push(f64::from(row.day_of_week));
        self.month.push(f64::from(row.date.month()));
        self.state_holiday.push(label(row.state_holiday));
        self.school_holiday.push(flag(row.school_holiday));
        self.store_type.push(label(row.store_type));
        self.assortment.push(label(row.assortment));
        // An infinite distance is not a distance; keep the set valid by treating it as unknown.
        self.competition_distance
            .push(if row.competition_distance.is_finite() {
                row.competition_distance
            } else {
                f64::NAN
            });
        self.promo2.push(flag(row.promo2));
        self.promo2_active.push(flag(row.promo2_active));
        match row.prediction.filter(|p| p.is_finite()) {
            Some(p) => {
                self.prediction.push(p);
                self.rows_with_prediction += 1;
            }
            None => self.prediction.push(f64::NAN),
        }
    }

    /// Rows collected.
    pub fn len(&self) -> usize {
        self.dates.len()
    }

    /// True when no row was added.
    pub fn is_empty(&self) -> bool {
        self.dates.is_empty()
    }

    /// Each row's date.
    pub fn dates(&self) -> &[NaiveDate] {
        &self.dates
    }

    /// Each row's store.
    pub fn stores(&self) -> &[u32] {
        &self.stores
    }

    /// The distinct stores, ascending.
    pub fn distinct_stores(&self) -> Vec<u32> {
        let mut stores = self.stores.clone();
        stores.sort_unstable();
        stores.dedup();
        stores
    }

    /// The columns as a [`ColumnSet`] (with dates; with predictions when any row has one).
    ///
    /// # Errors
    /// Never for rows added through [`MonitoredRows::push`] (lengths agree and values are valid by construction);
    /// the `Result` is the [`ColumnSet`] builder's.
    pub fn column_set(&self) -> Result<ColumnSet<'_>, MonitorError> {
        let set = ColumnSet::new()
            .with_dates(&self.dates)?
            .binary(MONITORED_FEATURES[0], &self.promo)?
            .numeric(MONITORED_FEATURES[1], &self.day_of_week)?
            .numeric(MONITORED_FEATURES[2], &self.month)?
            .categorical(MONITORED_FEATURES[3], &self.state_holiday)?
            .binary(MONITORED_FEATURES[4], &self.school_holiday)?
            .categorical(MONITORED_FEATURES[5], &self.store_type)?
            .categorical(MONITORED_FEATURES[6], &self.assortment)?
            .numeric(MONITORED_FEATURES[7], &self.competition_distance)?
            .binary(MONITORED_FEATURES[8], &self.promo2)?
            .binary(MONITORED_FEATURES[9], &self.promo2_active)?;
        if self.rows_with_prediction > 0 {
            set.prediction(&self.prediction)
        } else {
            Ok(set)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DriftConfig, ReferenceProfile, SketchConfig, detect_drift};

    fn row(date: NaiveDate, promo: bool, prediction: Option<f64>) -> MonitoredRow<'static> {
        MonitoredRow {
            store: 7,
            date,
            day_of_week: date.weekday().number_from_monday() as u8,
            promo,
            state_holiday: "0",
            school_holiday: false,
            store_type: "a",
            assortment: "c",
            competition_distance: 1270.0,
            promo2: true,
            promo2_active: promo,
            prediction,
        }
    }

    #[test]
    fn rows_become_every_monitored_column_and_the_prediction() {
        let start = NaiveDate::from_ymd_opt(2015, 1, 5).unwrap_or_default();
        let mut rows = MonitoredRows::new();
        for i in 0..40 {
            let date = start + chrono::Duration::days(i);
            rows.push(&row(date, i % 2 == 0, Some(5000.0 + i as f64)));
        }
        let set = rows.column_set().unwrap();
        let names: Vec<&str> = set.columns().iter().map(|c| c.name).collect();
        assert_eq!(names, MONITORED_FEATURES);
        assert_eq!(set.predictions().map(<[f64]>::len), Some(40));
        let profile = ReferenceProfile::build(&set, &SketchConfig::default()).unwrap();
        assert!(profile.prediction.is_some());
        // The same rows against their own profile: nothing drifts.
        let report = detect_drift(&profile, &set, &DriftConfig::default()).unwrap();
        assert_eq!(
            report.drifted_features,
            0,
            "{:?}",
            report.drifted_feature_names()
        );
        assert_eq!(rows.distinct_stores(), vec![7]);
    }

    #[test]
    fn rows_without_predictions_give_a_set_without_them() {
        let mut rows = MonitoredRows::new();
        rows.push(&row(
            NaiveDate::from_ymd_opt(2015, 3, 2).unwrap_or_default(),
            true,
            None,
        ));
        assert!(rows.column_set().unwrap().predictions().is_none());
    }
}
