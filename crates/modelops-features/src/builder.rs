//! The one code path from rows to features: [`FeatureBuilder::build`] turns prediction rows (Kaggle test schema),
//! store metadata and a [`History`] at an origin into a [`FeatureMatrix`]. Training blocks, CV folds, batch
//! prediction and the service all call it; [`FeatureSpec`] bundles it with the store table and history so a model
//! package can rebuild features from raw rows alone.
//!
//! Each feature of a row is a function of (a) that row's own inputs, (b) its store's metadata, (c) the history
//! before the origin, and (d) the *inputs* (never sales) of the other rows of the same batch and store, which are
//! known in advance: the proximity features ("days until the next state holiday") look along them. Nothing reads
//! Sales or Customers of a row on or after the origin, because the builder never receives them.

use crate::FeatureError;
use crate::calendar::{
    Day, calendar_parts, first_of_month, promo_interval_months, promo2_start_day,
};
use crate::history::{History, LONG_CLOSURE_DAYS, StoreHistory, WEEKS_KEPT};
use crate::table::{InputRow, StateHoliday, StoreMeta, StoreTable};
use modelops_models::{FeatureKind, FeatureMatrix};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Version of the feature definitions; bumped whenever a feature changes meaning, so an old spec is refused
/// instead of silently producing different numbers.
pub const FEATURE_FORMAT_VERSION: u32 = 1;

/// Category levels, fixed when the spec is made (from the training store table) and never recomputed from a
/// batch (defect D5): code = position in the list, unseen values become `NaN` (missing).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoricalLevels {
    /// `StateHoliday`: always `["0", "a", "b", "c"]`.
    pub state_holiday: Vec<String>,
    /// `StoreType`, sorted.
    pub store_type: Vec<String>,
    /// `Assortment`, sorted.
    pub assortment: Vec<String>,
    /// `PromoInterval`, sorted (`""` first).
    pub promo_interval: Vec<String>,
}

impl CategoricalLevels {
    /// Levels from a store table: sorted distinct values, as the reference's category codes (§2.2 step 6).
    pub fn from_stores(stores: &StoreTable) -> Self {
        let sorted = |f: fn(&StoreMeta) -> &str| {
            let mut v: Vec<String> = stores.stores().iter().map(|s| f(s).to_string()).collect();
            v.sort();
            v.dedup();
            v
        };
        Self {
            state_holiday: StateHoliday::ALL
                .iter()
                .map(|h| h.as_str().to_string())
                .collect(),
            store_type: sorted(|s| &s.store_type),
            assortment: sorted(|s| &s.assortment),
            promo_interval: sorted(|s| &s.promo_interval),
        }
    }

    fn code(levels: &[String], value: &str) -> f32 {
        levels
            .iter()
            .position(|l| l == value)
            .map_or(f32::NAN, |i| i as f32)
    }
}

/// Tunable constants of the feature definitions, stored with the spec.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureSettings {
    /// Proximity features ("days since/until …") are clamped to this many days; an event further away, or not
    /// visible within the batch, reads as the cap.
    pub proximity_cap_days: i32,
}

impl Default for FeatureSettings {
    fn default() -> Self {
        Self {
            proximity_cap_days: 60,
        }
    }
}

/// Builds feature matrices with fixed column order and category codes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureBuilder {
    /// Category levels (fixed at training time).
    pub levels: CategoricalLevels,
    /// Constants of the definitions.
    pub settings: FeatureSettings,
}

/// Column names in matrix order; [`FeatureBuilder::kinds`] gives their kinds.
pub const FEATURE_NAMES: [&str; 44] = [
    // Row inputs and calendar.
    "DayOfWeek",
    "Promo",
    "StateHoliday",
    "SchoolHoliday",
    "Year",
    "Month",
    "Day",
    "Week",
    "DayOfYear",
    "DaysSinceOrigin",
    // Store metadata, promo and competition (reference features with D4 fixed).
    "StoreType",
    "Assortment",
    "CompetitionDistance",
    "CompetitionOpenMonths",
    "Promo2",
    "Promo2Active",
    "Promo2Weeks",
    "PromoInterval",
    // Proximity along the batch's row inputs (and the history's last events).
    "DaysSinceStateHoliday",
    "DaysUntilStateHoliday",
    "DaysSinceSchoolHoliday",
    "DaysUntilSchoolHoliday",
    "DaysSincePromoStart",
    "DaysUntilPromoStart",
    "DaysSinceClosed",
    "DaysUntilClosed",
    "DaysSinceReopening",
    "DaysUntilLongClosure",
    // History before the origin (store level; ln(Sales) scale).
    "HistLogSales",
    "HistLogSalesStd",
    "HistLogSales28",
    "HistLogSales91",
    "HistLogSales364",
    "HistYearGrowth",
    "HistWeekdayEffect",
    "HistPromoEffect",
    "HistWeekdayPromoLogSales",
    "HistMonthEffect",
    "HistSchoolHolidayEffect",
    "HistLogCustomers",
    "HistLogSalesPerCustomer",
    "HistYearAgoWeekEffect",
    "HistLastWeekSameDay",
    "HistDaysSinceLastOpen",
];

const N_FEATURES: usize = FEATURE_NAMES.len();

impl FeatureBuilder {
    /// A builder whose category levels come from the training store table.
    pub fn new(stores: &StoreTable, settings: FeatureSettings) -> Self {
        Self {
            levels: CategoricalLevels::from_stores(stores),
            settings,
        }
    }

    /// Column names, in matrix order.
    pub fn names(&self) -> Vec<String> {
        FEATURE_NAMES.iter().map(|n| n.to_string()).collect()
    }

    /// Column kinds, in matrix order (categoricals carry their level counts).
    pub fn kinds(&self) -> Vec<FeatureKind> {
        FEATURE_NAMES
            .iter()
            .map(|name| {
                let levels = match *name {
                    "StateHoliday" => self.levels.state_holiday.len(),
                    "StoreType" => self.levels.store_type.len(),
                    "Assortment" => self.levels.assortment.len(),
                    "PromoInterval" => self.levels.promo_interval.len(),
                    _ => return FeatureKind::Numeric,
                };
                FeatureKind::Categorical {
                    levels: levels as u32,
                }
            })
            .collect()
    }

    /// Builds one matrix row per input row, in input order.
    ///
    /// # Errors
    /// [`FeatureError::UnknownStore`] for a store missing from `stores`; [`FeatureError::InvalidValue`] for a row
    /// dated before the history's origin (its features would see its own sales) or whose weekday disagrees with
    /// its date.
    pub fn build(
        &self,
        rows: &[InputRow],
        stores: &StoreTable,
        history: &History,
    ) -> Result<FeatureMatrix, FeatureError> {
        use rayon::prelude::*;
        let proximity = self.proximity(rows, history)?;
        let metas = rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                stores.get(row.store).ok_or(FeatureError::UnknownStore {
                    row: i,
                    store: row.store,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Rows are independent from here on: built in parallel, a block of rows per task, in row order.
        const BLOCK: usize = 8192;
        let mut values = vec![0.0f32; rows.len() * N_FEATURES];
        values
            .par_chunks_mut(BLOCK * N_FEATURES)
            .zip(rows.par_chunks(BLOCK).zip(metas.par_chunks(BLOCK)))
            .zip(proximity.par_chunks(BLOCK))
            .for_each(|((out, (rows, metas)), proximity)| {
                let mut block = Vec::with_capacity(out.len());
                for ((row, meta), proximity) in rows.iter().zip(metas).zip(proximity) {
                    self.push_row(&mut block, row, meta, history, proximity);
                }
                out.copy_from_slice(&block); // N_FEATURES values per row
            });
        FeatureMatrix::new(self.names(), self.kinds(), values).map_err(FeatureError::Matrix)
    }

    fn push_row(
        &self,
        out: &mut Vec<f32>,
        row: &InputRow,
        meta: &StoreMeta,
        history: &History,
        proximity: &Proximity,
    ) {
        let cal = calendar_parts(row.date);
        let nan = f32::NAN;
        let flag = |b: bool| if b { 1.0 } else { 0.0 };
        // Row inputs and calendar.
        out.push(f32::from(row.day_of_week));
        out.push(flag(row.promo));
        out.push(CategoricalLevels::code(
            &self.levels.state_holiday,
            row.state_holiday.as_str(),
        ));
        out.push(flag(row.school_holiday));
        out.push(cal.map_or(nan, |c| c.year as f32));
        out.push(cal.map_or(nan, |c| f32::from(c.month)));
        out.push(cal.map_or(nan, |c| f32::from(c.day_of_month)));
        out.push(cal.map_or(nan, |c| f32::from(c.iso_week)));
        out.push(cal.map_or(nan, |c| f32::from(c.day_of_year)));
        out.push((row.date - history.origin + 1) as f32);
        // Store metadata, promo, competition.
        out.push(CategoricalLevels::code(
            &self.levels.store_type,
            &meta.store_type,
        ));
        out.push(CategoricalLevels::code(
            &self.levels.assortment,
            &meta.assortment,
        ));
        out.push(meta.competition_distance.unwrap_or(nan));
        out.push(competition_open_months(meta, row.date));
        out.push(flag(meta.promo2));
        let (promo2_active, promo2_weeks) = promo2_state(meta, row.date, cal.map(|c| c.month));
        out.push(promo2_active);
        out.push(promo2_weeks);
        out.push(CategoricalLevels::code(
            &self.levels.promo_interval,
            &meta.promo_interval,
        ));
        // Proximity.
        out.extend_from_slice(&proximity.values);
        // History.
        let wd = usize::from(row.day_of_week.clamp(1, 7)) - 1;
        let promo = usize::from(row.promo);
        match history.get(row.store) {
            None => out.extend(std::iter::repeat_n(nan, N_HISTORY_FEATURES)),
            Some(h) => push_history(
                out,
                h,
                row,
                wd,
                promo,
                cal.map(|c| usize::from(c.month) - 1),
                history.origin,
            ),
        }
    }

    /// Proximity features of every row, computed per store along its rows in date order.
    fn proximity(
        &self,
        rows: &[InputRow],
        history: &History,
    ) -> Result<Vec<Proximity>, FeatureError> {
        let cap = self.settings.proximity_cap_days;
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by_key(|&i| (rows[i].store, rows[i].date));
        for (i, row) in rows.iter().enumerate() {
            row.check(i)?;
            if row.date < history.origin {
                return Err(FeatureError::InvalidValue {
                    column: "Date".into(),
                    row: i,
                    reason: format!(
                        "{} is before the forecast origin {}; history must end before every predicted day",
                        crate::calendar::format_day(row.date),
                        crate::calendar::format_day(history.origin)
                    ),
                });
            }
        }
        let mut out = vec![Proximity::default(); rows.len()];
        for group in order.chunk_by(|&a, &b| rows[a].store == rows[b].store) {
            let h = history.get(rows[group[0]].store);
            proximity_for_store(rows, group, h, cap, &mut out);
        }
        Ok(out)
    }
}

const N_PROXIMITY_FEATURES: usize = 10;
const N_HISTORY_FEATURES: usize = 16;
const _: () = assert!(18 + N_PROXIMITY_FEATURES + N_HISTORY_FEATURES == N_FEATURES);

#[derive(Clone, Copy, Debug)]
struct Proximity {
    values: [f32; N_PROXIMITY_FEATURES],
}

impl Default for Proximity {
    fn default() -> Self {
        Self {
            values: [f32::NAN; N_PROXIMITY_FEATURES],
        }
    }
}

/// Walks one store's rows forwards (days since) and backwards (days until). Events before the batch come from the
/// history's last-event days; events after the batch are unknown and read as the cap, both in training blocks and
/// in forecasts, so the two see the same distribution.
fn proximity_for_store(
    rows: &[InputRow],
    group: &[usize],
    h: Option<&StoreHistory>,
    cap: i32,
    out: &mut [Proximity],
) {
    let since = |last: Option<Day>, day: Day| last.map_or(cap, |l| (day - l).clamp(0, cap)) as f32;
    let until = |next: Option<Day>, day: Day| next.map_or(cap, |n| (n - day).clamp(0, cap)) as f32;
    // Forwards.
    let mut last_state = h.and_then(|h| h.last_state_holiday);
    let mut last_school = h.and_then(|h| h.last_school_holiday);
    let mut last_promo_day = h.and_then(|h| h.last_promo_day);
    let mut last_promo_start = h.and_then(|h| h.last_promo_start);
    let mut last_closed = h.and_then(|h| h.last_closed_day);
    let mut last_open = h.and_then(|h| h.last_open_day);
    let mut last_reopening = h.and_then(|h| h.last_reopening);
    for &i in group {
        let r = &rows[i];
        let d = r.date;
        if r.state_holiday.is_holiday() {
            last_state = Some(d);
        }
        if r.school_holiday {
            last_school = Some(d);
        }
        if r.promo {
            if last_promo_day != Some(d - 1) && last_promo_day != Some(d) {
                last_promo_start = Some(d);
            }
            last_promo_day = Some(d);
        }
        if r.open {
            if let Some(prev) = last_open
                && d - prev > LONG_CLOSURE_DAYS
            {
                last_reopening = Some(d);
            }
            last_open = Some(d);
        } else {
            last_closed = Some(d);
        }
        let v = &mut out[i].values;
        v[0] = since(last_state, d);
        v[2] = since(last_school, d);
        v[4] = if r.promo {
            since(last_promo_start, d)
        } else {
            cap as f32
        };
        v[6] = since(last_closed, d);
        v[8] = since(last_reopening, d);
    }
    // Backwards.
    let (
        mut next_state,
        mut next_school,
        mut next_promo_start,
        mut next_closed,
        mut next_long_closure,
    ) = (None, None, None, None, None);
    let mut next_open: Option<Day> = None;
    for (pos, &i) in group.iter().enumerate().rev() {
        let r = &rows[i];
        let d = r.date;
        if r.state_holiday.is_holiday() {
            next_state = Some(d);
        }
        if r.school_holiday {
            next_school = Some(d);
        }
        if r.promo {
            // A promo day is a run start when the day before was not a promo day; look at the previous row.
            let before_is_promo = pos > 0 && {
                let p = &rows[group[pos - 1]];
                p.promo && p.date == d - 1
            } || (pos == 0
                && h.and_then(|h| h.last_promo_day) == Some(d - 1));
            if !before_is_promo {
                next_promo_start = Some(d);
            }
        }
        if r.open {
            next_open = Some(d);
        } else {
            next_closed = Some(d);
            // A closed day starts a long closure when the next open row is more than the threshold away (or no
            // open row follows and the batch shows closed days up to the threshold).
            if next_open.is_some_and(|o| o - d >= LONG_CLOSURE_DAYS) {
                next_long_closure = Some(d);
            }
        }
        let v = &mut out[i].values;
        v[1] = until(next_state, d);
        v[3] = until(next_school, d);
        v[5] = until(next_promo_start, d);
        v[7] = until(next_closed, d);
        v[9] = until(next_long_closure, d);
    }
}

fn push_history(
    out: &mut Vec<f32>,
    h: &StoreHistory,
    row: &InputRow,
    wd: usize,
    promo: usize,
    month: Option<usize>,
    origin: Day,
) {
    let base = h.mean_log_sales;
    out.push(base);
    out.push(h.std_log_sales);
    out.push(h.mean_log_sales_28);
    out.push(h.mean_log_sales_91);
    out.push(h.mean_log_sales_364);
    out.push(h.mean_log_sales_91 - h.mean_log_sales_91_year_ago);
    out.push(h.by_weekday[wd] - base);
    out.push(h.by_promo[promo] - base);
    out.push(h.by_weekday_promo[2 * wd + promo]);
    out.push(month.map_or(f32::NAN, |m| h.by_month[m] - base));
    out.push(h.by_school_holiday[usize::from(row.school_holiday)] - base);
    out.push(h.mean_log_customers);
    out.push(h.mean_log_sales_per_customer);
    // The week that held the same weekday 52 weeks earlier, if it is history.
    let year_ago = row.date - 364;
    let year_ago_effect = if year_ago < origin {
        let week = ((origin - year_ago - 1) / 7) as usize;
        if week < WEEKS_KEPT && week < h.weekly_log_sales.len() {
            h.weekly_log_sales[week] - h.mean_log_sales_364
        } else {
            f32::NAN
        }
    } else {
        f32::NAN
    };
    out.push(year_ago_effect);
    let last_week = h.last_week_sales[wd];
    out.push(if last_week > 0.0 {
        last_week.ln()
    } else {
        f32::NAN
    });
    out.push(h.last_open_day.map_or(f32::NAN, |d| (origin - d) as f32));
}

/// Months since the nearest competitor opened (negative: opens later); `NaN` when the opening date is unknown.
/// Opening years before 1990 (store 815's "1900") are treated as "long ago" and clamped to 25 years.
fn competition_open_months(meta: &StoreMeta, day: Day) -> f32 {
    match first_of_month(
        meta.competition_open_since_year,
        meta.competition_open_since_month,
    ) {
        None => f32::NAN,
        Some(open) => (((day - open) as f32) / 30.4375).min(300.0),
    }
}

/// `(Promo2Active, Promo2Weeks)`. Active iff the store takes part, the day is on or after its Promo2 start
/// (first-Monday weeks, see [`crate::calendar`]) and the month is one of its PromoInterval months (defect D4
/// fixed: the reference ignored the start date). Weeks since the start are `NaN` for non-participants and negative
/// before the start.
fn promo2_state(meta: &StoreMeta, day: Day, month: Option<u8>) -> (f32, f32) {
    if !meta.promo2 {
        return (0.0, f32::NAN);
    }
    let Some(start) = promo2_start_day(meta.promo2_since_year, meta.promo2_since_week) else {
        return (0.0, f32::NAN);
    };
    let months = promo_interval_months(&meta.promo_interval);
    let in_interval = month.is_some_and(|m| months[usize::from(m) - 1]);
    let active = day >= start && in_interval;
    (if active { 1.0 } else { 0.0 }, (day - start) as f32 / 7.0)
}

/// Everything needed to turn raw prediction rows into the model's features, serialisable into a model package:
/// column names and kinds, fixed category levels, the store table and the store histories at the origin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpec {
    /// [`FEATURE_FORMAT_VERSION`] at creation.
    pub format_version: u32,
    /// Column names, in matrix order.
    pub names: Vec<String>,
    /// Column kinds, in matrix order.
    pub kinds: Vec<FeatureKind>,
    /// The builder (levels and settings).
    pub builder: FeatureBuilder,
    /// Store metadata.
    pub stores: StoreTable,
    /// Store histories at the origin.
    pub history: History,
}

impl FeatureSpec {
    /// Bundles a builder, the store table and a history.
    pub fn new(builder: FeatureBuilder, stores: StoreTable, history: History) -> Self {
        Self {
            format_version: FEATURE_FORMAT_VERSION,
            names: builder.names(),
            kinds: builder.kinds(),
            builder,
            stores,
            history,
        }
    }

    /// The forecast origin: the first day the spec may predict.
    pub fn origin(&self) -> Day {
        self.history.origin
    }

    /// Builds features for raw prediction rows (any order; output in input order).
    ///
    /// # Errors
    /// As [`FeatureBuilder::build`].
    pub fn build(&self, rows: &[InputRow]) -> Result<FeatureMatrix, FeatureError> {
        self.builder.build(rows, &self.stores, &self.history)
    }

    /// Writes the spec as JSON.
    ///
    /// # Errors
    /// [`FeatureError::Io`] when the file cannot be written.
    pub fn save(&self, path: &Path) -> Result<(), FeatureError> {
        let io = |source| FeatureError::Io {
            path: path.to_path_buf(),
            source,
        };
        let text = serde_json::to_vec(self).map_err(|source| FeatureError::SpecFormat {
            path: path.to_path_buf(),
            source,
        })?;
        std::fs::write(path, text).map_err(io)
    }

    /// Reads a spec written by [`FeatureSpec::save`].
    ///
    /// # Errors
    /// [`FeatureError::Io`], [`FeatureError::SpecFormat`], or [`FeatureError::InvalidValue`] for a spec made by
    /// another feature format version.
    pub fn load(path: &Path) -> Result<Self, FeatureError> {
        let text = std::fs::read(path).map_err(|source| FeatureError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let spec: Self =
            serde_json::from_slice(&text).map_err(|source| FeatureError::SpecFormat {
                path: path.to_path_buf(),
                source,
            })?;
        if spec.format_version != FEATURE_FORMAT_VERSION || spec.names != spec.builder.names() {
            return Err(FeatureError::InvalidValue {
                column: "format_version".into(),
                row: 0,
                reason: format!(
                    "{} was made by feature format {} but this modelops builds format {}; rebuild the model",
                    path.display(),
                    spec.format_version,
                    FEATURE_FORMAT_VERSION
                ),
            });
        }
        Ok(spec)
    }
}
