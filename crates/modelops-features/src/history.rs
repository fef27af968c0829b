//! Store history at a forecast origin: per-store aggregates over windows that end the day before the origin.
//!
//! [`DailyGrid`] lays the observations out once as a dense store × calendar-day grid (missing days stay missing,
//! so windows count calendar days, not rows: defect D3 fixed). [`History::at`] then reads the grid strictly before
//! the origin; it never looks at a cell on or after it, which is what makes every history feature origin-safe.
//! Re-reading the grid per origin is a linear pass over about a million cells, so the ~20 origins of a rolling
//! training set cost well under a second, and no cumulative-sum bookkeeping is needed.
//!
//! Sales statistics use open days with Sales > 0 only (closed days and the rare zero-sales open days say nothing
//! about the level of an open day) and are taken on `ln(Sales)`, the scale the model is trained on.

use crate::calendar::{Day, calendar_parts, weekday};
use crate::table::Observation;
use serde::{Deserialize, Serialize};

const PRESENT: u8 = 1;
const OPEN: u8 = 2;
const PROMO: u8 = 4;
const SCHOOL: u8 = 8;
const STATE_HOLIDAY: u8 = 16;

/// Weeks of weekly sales levels kept before the origin (one year and one week), for year-ago features.
pub const WEEKS_KEPT: usize = 53;

/// A closure longer than this many days (no open day in between) counts as a refurbishment; the next open day is
/// a reopening.
pub const LONG_CLOSURE_DAYS: i32 = 7;

/// Observations as a dense store × day grid. Built once per data set, read at many origins.
#[derive(Clone, Debug)]
pub struct DailyGrid {
    first_day: Day,
    n_days: usize,
    stores: Vec<u32>,
    /// `ln(Sales)` on open days with Sales > 0, else NaN.
    log_sales: Vec<f32>,
    /// Sales on open days, else NaN.
    sales: Vec<f32>,
    /// `ln(Customers)` on open days with Customers > 0, else NaN.
    log_customers: Vec<f32>,
    flags: Vec<u8>,
}

impl DailyGrid {
    /// Lays out observations; duplicates of a (store, date) keep the last one.
    pub fn new(observations: &[Observation]) -> Self {
        let mut stores: Vec<u32> = observations.iter().map(|o| o.input.store).collect();
        stores.sort_unstable();
        stores.dedup();
        let first_day = observations.iter().map(|o| o.input.date).min().unwrap_or(0);
        let last_day = observations
            .iter()
            .map(|o| o.input.date)
            .max()
            .unwrap_or(-1);
        let n_days = (last_day - first_day + 1).max(0) as usize;
        let cells = stores.len() * n_days;
        let mut grid = Self {
            first_day,
            n_days,
            log_sales: vec![f32::NAN; cells],
            sales: vec![f32::NAN; cells],
            log_customers: vec![f32::NAN; cells],
            flags: vec![0; cells],
            stores,
        };
        for o in observations {
            let Some(s) = grid.store_index(o.input.store) else {
                continue;
            };
            let i = s * n_days + (o.input.date - first_day) as usize;
            let row = &o.input;
            let mut flags = PRESENT;
            if row.open {
                flags |= OPEN;
                grid.sales[i] = o.sales;
                if o.sales > 0.0 {
                    grid.log_sales[i] = o.sales.ln();
                }
                if o.customers > 0.0 {
                    grid.log_customers[i] = o.customers.ln();
                }
            }
            if row.promo {
                flags |= PROMO;
            }
            if row.school_holiday {
                flags |= SCHOOL;
            }
            if row.state_holiday.is_holiday() {
                flags |= STATE_HOLIDAY;
            }
            grid.flags[i] = flags;
        }
        grid
    }

    fn store_index(&self, store: u32) -> Option<usize> {
        self.stores.binary_search(&store).ok()
    }

    /// First and last day covered, if any.
    pub fn day_range(&self) -> Option<(Day, Day)> {
        (self.n_days > 0).then(|| (self.first_day, self.first_day + self.n_days as i32 - 1))
    }
}

/// JSON has no NaN: serde_json writes it as `null`; these read `null` back as NaN.
mod nan_as_null {
    use serde::{Deserialize, Deserializer};

    pub fn scalar<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
        Ok(Option::<f32>::deserialize(d)?.unwrap_or(f32::NAN))
    }

    pub fn vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
        Ok(Vec::<Option<f32>>::deserialize(d)?
            .into_iter()
            .map(|v| v.unwrap_or(f32::NAN))
            .collect())
    }

    pub fn array<'de, D: Deserializer<'de>, const N: usize>(d: D) -> Result<[f32; N], D::Error> {
        let v = vec(d)?;
        let n = v.len();
        v.try_into()
            .map_err(|_| serde::de::Error::custom(format!("expected {N} values, found {n}")))
    }
}

/// Sales history of one store, aggregated at an origin. `NaN` means "no data in that window".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoreHistory {
    /// Store id.
    pub store: u32,
    /// Open days with Sales > 0 before the origin.
    pub n_sales_days: u32,
    /// Mean `ln(Sales)` over all days before the origin.
    #[serde(deserialize_with = "nan_as_null::scalar")]
    pub mean_log_sales: f32,
    /// Standard deviation of `ln(Sales)` over all days before the origin.
    #[serde(deserialize_with = "nan_as_null::scalar")]
    pub std_log_sales: f32,
    /// Mean `ln(Sales)` over the 28 days before the origin.
    #[serde(deserialize_with = "nan_as_null::scalar")]
    pub mean_log_sales_28: f32,
    /// Mean `ln(Sales)` over the 91 days before the origin.
    #[serde(deserialize_with = "nan_as_null::scalar")]
    pub mean_log_sales_91: f32,
    /// Mean `ln(Sales)` over the 364 days before the origin.
    #[serde(deserialize_with = "nan_as_null::scalar")]
    pub mean_log_sales_364: f32,
    /// Mean `ln(Sales)` over the 91 days that ended 364 days before the origin (for year-on-year growth).
    #[serde(deserialize_with = "nan_as_null::scalar")]
    pub mean_log_sales_91_year_ago: f32,
    /// Mean `ln(Sales)` per weekday (index 0 = Monday), all days before the origin.
    #[serde(deserialize_with = "nan_as_null::array")]
    pub by_weekday: [f32; 7],
    /// Mean `ln(Sales)` without (0) and with (1) Promo.
    #[serde(deserialize_with = "nan_as_null::array")]
    pub by_promo: [f32; 2],
    /// Mean `ln(Sales)` per weekday × Promo (index `2·(weekday−1) + promo`).
    #[serde(deserialize_with = "nan_as_null::array")]
    pub by_weekday_promo: [f32; 14],
    /// Mean Sales (not logged) per weekday × Promo, for the store×DayOfWeek×Promo baseline.
    #[serde(deserialize_with = "nan_as_null::array")]
    pub mean_sales_by_weekday_promo: [f32; 14],
    /// Mean `ln(Sales)` per calendar month (index 0 = January).
    #[serde(deserialize_with = "nan_as_null::array")]
    pub by_month: [f32; 12],
    /// Mean `ln(Sales)` without (0) and with (1) a school holiday.
    #[serde(deserialize_with = "nan_as_null::array")]
    pub by_school_holiday: [f32; 2],
    /// Mean `ln(Customers)` over all days before the origin.
    #[serde(deserialize_with = "nan_as_null::scalar")]
    pub mean_log_customers: f32,
    /// Mean `ln(Sales / Customers)` over all days before the origin.
    #[serde(deserialize_with = "nan_as_null::scalar")]
    pub mean_log_sales_per_customer: f32,
    /// Mean `ln(Sales)` of whole weeks before the origin: entry k covers days `[origin−7(k+1), origin−7k)`.
    #[serde(deserialize_with = "nan_as_null::vec")]
    pub weekly_log_sales: Vec<f32>,
    /// Sales on each weekday of the last 7 days before the origin (index 0 = Monday); `NaN` if closed or absent.
    #[serde(deserialize_with = "nan_as_null::array")]
    pub last_week_sales: [f32; 7],
    /// Last open day before the origin.
    pub last_open_day: Option<Day>,
    /// Last reopening (first open day after a closure longer than [`LONG_CLOSURE_DAYS`]) before the origin.
    pub last_reopening: Option<Day>,
    /// Last closed day (a row with Open = 0) before the origin.
    pub last_closed_day: Option<Day>,
    /// Last state holiday before the origin.
    pub last_state_holiday: Option<Day>,
    /// Last school holiday before the origin.
    pub last_school_holiday: Option<Day>,
    /// Last day with Promo before the origin.
    pub last_promo_day: Option<Day>,
    /// First day of the last Promo run before the origin.
    pub last_promo_start: Option<Day>,
}

/// Running mean and variance (Welford), small enough to keep one per window.
#[derive(Clone, Copy, Default)]
struct Moments {
    n: u32,
    mean: f64,
    m2: f64,
}

impl Moments {
    fn push(&mut self, x: f32) {
        self.n += 1;
        let x = f64::from(x);
        let delta = x - self.mean;
        self.mean += delta / f64::from(self.n);
        self.m2 += delta * (x - self.mean);
    }
    fn mean(&self) -> f32 {
        if self.n == 0 {
            f32::NAN
        } else {
            self.mean as f32
        }
    }
    fn std(&self) -> f32 {
        if self.n < 2 {
            f32::NAN
        } else {
            (self.m2 / f64::from(self.n - 1)).sqrt() as f32
        }
    }
}

/// History of every store at one origin: what a forecast made on the origin's morning may know.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// The forecast origin: the first day that is *not* history.
    pub origin: Day,
    stores: Vec<StoreHistory>,
}

impl History {
    /// Aggregates every store's days strictly before `origin`.
    pub fn at(grid: &DailyGrid, origin: Day) -> Self {
        let stores = (0..grid.stores.len())
            .map(|s| store_history(grid, s, origin))
            .collect();
        Self { origin, stores }
    }

    /// The history of one store, if it had any observation before the origin.
    pub fn get(&self, store: u32) -> Option<&StoreHistory> {
        self.stores
            .binary_search_by_key(&store, |s| s.store)
            .ok()
            .map(|i| &self.stores[i])
    }

    /// All per-store histories, by store id.
    pub fn stores(&self) -> &[StoreHistory] {
        &self.stores
    }
}

fn store_history(grid: &DailyGrid, s: usize, origin: Day) -> StoreHistory {
    let n_days = grid.n_days;
    let base = s * n_days;
    // Only days strictly before the origin are read: `end` is exclusive.
    let end = ((origin - grid.first_day).max(0) as usize).min(n_days);
    let mut all = Moments::default();
    let (mut w28, mut w91, mut w364, mut w91_year_ago) = (
        Moments::default(),
        Moments::default(),
        Moments::default(),
        Moments::default(),
    );
    let mut by_weekday = [Moments::default(); 7];
    let mut by_promo = [Moments::default(); 2];
    let mut by_weekday_promo = [Moments::default(); 14];
    let mut sales_by_weekday_promo = [Moments::default(); 14];
    let mut by_month = [Moments::default(); 12];
    let mut by_school = [Moments::default(); 2];
    let mut customers = Moments::default();
    let mut per_customer = Moments::default();
    let mut weekly = vec![Moments::default(); WEEKS_KEPT];
    let mut last_week_sales = [f32::NAN; 7];
    let mut h = StoreHistory {
        store: grid.stores[s],
        n_sales_days: 0,
        mean_log_sales: f32::NAN,
        std_log_sales: f32::NAN,
        mean_log_sales_28: f32::NAN,
        mean_log_sales_91: f32::NAN,
        mean_log_sales_364: f32::NAN,
        mean_log_sales_91_year_ago: f32::NAN,
        by_weekday: [f32::NAN; 7],
        by_promo: [f32::NAN; 2],
        by_weekday_promo: [f32::NAN; 14],
        mean_sales_by_weekday_promo: [f32::NAN; 14],
        by_month: [f32::NAN; 12],
        by_school_holiday: [f32::NAN; 2],
        mean_log_customers: f32::NAN,
        mean_log_sales_per_customer: f32::NAN,
        weekly_log_sales: Vec::new(),
        last_week_sales: [f32::NAN; 7],
        last_open_day: None,
        last_reopening: None,
        last_closed_day: None,
        last_state_holiday: None,
        last_school_holiday: None,
        last_promo_day: None,
        last_promo_start: None,
    };
    let mut month_of_first = calendar_parts(grid.first_day).map_or(0, |c| c.month as usize - 1);
    let mut day_of_month_next_change = days_to_next_month(grid.first_day);
    for t in 0..end {
        let day = grid.first_day + t as i32;
        // Track the calendar month incrementally (calendar_parts per cell would dominate the run time).
        if day_of_month_next_change == 0 {
            month_of_first = (month_of_first + 1) % 12;
            day_of_month_next_change = days_to_next_month(day);
        }
        day_of_month_next_change -= 1;
        let month = month_of_first;
        let i = base + t;
        let flags = grid.flags[i];
        if flags & PRESENT == 0 {
            continue;
        }
        let wd = weekday(day) as usize - 1;
        let promo = usize::from(flags & PROMO != 0);
        if flags & STATE_HOLIDAY != 0 {
            h.last_state_holiday = Some(day);
        }
        if flags & SCHOOL != 0 {
            h.last_school_holiday = Some(day);
        }
        if promo == 1 {
            if h.last_promo_day != Some(day - 1) {
                h.last_promo_start = Some(day);
            }
            h.last_promo_day = Some(day);
        }
        if flags & OPEN == 0 {
            h.last_closed_day = Some(day);
            continue;
        }
        match h.last_open_day {
            Some(prev) if day - prev > LONG_CLOSURE_DAYS => h.last_reopening = Some(day),
            _ => {}
        }
        h.last_open_day = Some(day);
        let days_before = origin - day; // 1 for the day before the origin
        if days_before <= 7 {
            last_week_sales[wd] = grid.sales[i];
        }
        let ls = grid.log_sales[i];
        if ls.is_nan() {
            continue;
        }
        all.push(ls);
        if days_before <= 28 {
            w28.push(ls);
        }
        if days_before <= 91 {
            w91.push(ls);
        }
        if days_before <= 364 {
            w364.push(ls);
        }
        if (365..=364 + 91).contains(&days_before) {
            w91_year_ago.push(ls);
        }
        let week = ((days_before - 1) / 7) as usize;
        if week < WEEKS_KEPT {
            weekly[week].push(ls);
        }
        by_weekday[wd].push(ls);
        by_promo[promo].push(ls);
        by_weekday_promo[2 * wd + promo].push(ls);
        sales_by_weekday_promo[2 * wd + promo].push(grid.sales[i]);
        by_month[month].push(ls);
        by_school[usize::from(flags & SCHOOL != 0)].push(ls);
        let lc = grid.log_customers[i];
        if !lc.is_nan() {
            customers.push(lc);
            per_customer.push(ls - lc);
        }
    }
    h.n_sales_days = all.n;
    h.mean_log_sales = all.mean();
    h.std_log_sales = all.std();
    h.mean_log_sales_28 = w28.mean();
    h.mean_log_sales_91 = w91.mean();
    h.mean_log_sales_364 = w364.mean();
    h.mean_log_sales_91_year_ago = w91_year_ago.mean();
    h.by_weekday = by_weekday.map(|m| m.mean());
    h.by_promo = by_promo.map(|m| m.mean());
    h.by_weekday_promo = by_weekday_promo.map(|m| m.mean());
    h.mean_sales_by_weekday_promo = sales_by_weekday_promo.map(|m| m.mean());
    h.by_month = by_month.map(|m| m.mean());
    h.by_school_holiday = by_school.map(|m| m.mean());
    h.mean_log_customers = customers.mean();
    h.mean_log_sales_per_customer = per_customer.mean();
    h.weekly_log_sales = weekly.iter().map(Moments::mean).collect();
    h.last_week_sales = last_week_sales;
    h
}

/// Days from `day` (inclusive) to the first day of the next month.
fn days_to_next_month(day: Day) -> u32 {
    calendar_parts(day).map_or(31, |c| {
        let (y, m) = if c.month == 12 {
            (c.year + 1, 1)
        } else {
            (c.year, c.month as i32 + 1)
        };
        crate::calendar::first_of_month(y, m).map_or(31, |next| (next - day) as u32)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::parse_day;
    use crate::table::{InputRow, StateHoliday};

    fn obs(store: u32, date: Day, sales: f32, open: bool, promo: bool) -> Observation {
        Observation {
            input: InputRow {
                store,
                date,
                day_of_week: weekday(date),
                open,
                promo,
                state_holiday: StateHoliday::None,
                school_holiday: false,
            },
            sales,
            customers: sales / 10.0,
        }
    }

    #[test]
    fn history_ignores_the_origin_and_later_days() {
        let start = parse_day("2015-01-01").unwrap();
        let mut rows: Vec<_> = (0..60)
            .map(|k| obs(1, start + k, 100.0, true, false))
            .collect();
        let origin = start + 30;
        let before = History::at(&DailyGrid::new(&rows), origin);
        for r in rows.iter_mut().filter(|r| r.input.date >= origin) {
            r.sales = 1.0e6;
            r.customers = 3.0;
        }
        let after = History::at(&DailyGrid::new(&rows), origin);
        // Debug output compares NaN fields too (NaN != NaN under PartialEq).
        assert_eq!(format!("{before:?}"), format!("{after:?}"));
        let h = before.get(1).unwrap();
        assert_eq!(h.n_sales_days, 30);
        assert!((h.mean_log_sales - 100f32.ln()).abs() < 1e-6);
    }

    #[test]
    fn month_tracking_matches_the_calendar() {
        let start = parse_day("2014-12-25").unwrap();
        let rows: Vec<_> = (0..20)
            .map(|k| obs(1, start + k, if k < 7 { 10.0 } else { 1000.0 }, true, false))
            .collect();
        let h = History::at(&DailyGrid::new(&rows), start + 20);
        assert!((h.get(1).unwrap().by_month[11] - 10f32.ln()).abs() < 1e-6);
        assert!((h.get(1).unwrap().by_month[0] - 1000f32.ln()).abs() < 1e-6);
    }

    #[test]
    fn a_long_gap_is_a_reopening() {
        let start = parse_day("2014-06-01").unwrap();
        let mut rows: Vec<_> = (0..10)
            .map(|k| obs(1, start + k, 50.0, true, false))
            .collect();
        rows.extend((40..45).map(|k| obs(1, start + k, 50.0, true, k == 42 || k == 43)));
        let h = History::at(&DailyGrid::new(&rows), start + 45);
        let h = h.get(1).unwrap();
        assert_eq!(h.last_reopening, Some(start + 40));
        assert_eq!(h.last_promo_start, Some(start + 42));
        assert_eq!(h.last_promo_day, Some(start + 43));
    }
}
