//! Synthetic Rossmann data: `train.csv` and `store.csv` in the exact Kaggle layout (quoted header and holiday
//! columns, newest date first, then Store ascending), with known, documented effects so tests can check that a model
//! recovers them. `docs/synthetic-data.md` gives the generating process; the constants below are its numbers.
//!
//! Rows are written straight to a buffered writer (no DataFrame), so memory stays bounded for any number of rows.
//! Everything is a deterministic function of the seed: store `s` draws its attributes and its daily noise from its
//! own ChaCha8 streams, so a store's attributes do not depend on how many stores are generated.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{Datelike, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{DataError, Result};
use crate::manifest::Fingerprint;

/// Most stores the generator makes (the Kaggle data has 1,115; the raw suites accept ids up to 1,200).
pub const MAX_STORES: u32 = 1115;

/// Base daily sales of an average store on an ordinary open day, before all effects.
pub const BASE_SALES: f64 = 6000.0;
/// Multiplier on open days with `Promo = 1`.
pub const PROMO_UPLIFT: f64 = 1.30;
/// Multiplier on open days with `SchoolHoliday = 1`.
pub const SCHOOL_HOLIDAY_UPLIFT: f64 = 1.03;
/// Multiplier in months when a Promo2 store's interval restarts (after its start week).
pub const PROMO2_UPLIFT: f64 = 1.05;
/// Sales multiplier by day of week, Monday first (Sunday applies only to the few stores open on Sundays).
pub const DAY_OF_WEEK_EFFECT: [f64; 7] = [1.20, 1.05, 1.00, 1.00, 1.05, 0.85, 0.95];
/// Sales multiplier by month, January first.
pub const MONTH_EFFECT: [f64; 12] = [
    0.94, 0.95, 0.98, 1.00, 1.00, 1.00, 1.02, 0.98, 0.97, 0.98, 1.02, 1.05,
];
/// Christmas peak: on December `d` for 11 ≤ d ≤ 23 sales are multiplied by `1 + CHRISTMAS_PEAK·(d − 10)/13`.
pub const CHRISTMAS_PEAK: f64 = 0.35;
/// Christmas Eve multiplier (shorter opening hours).
pub const CHRISTMAS_EVE_EFFECT: f64 = 1.10;
/// Yearly growth: sales are multiplied by `1 + TREND_PER_YEAR·(years since the start date)`.
pub const TREND_PER_YEAR: f64 = 0.02;
/// Largest loss to a competitor next door: `1 − COMPETITION_LOSS·exp(−distance/COMPETITION_SCALE_M)` once open.
pub const COMPETITION_LOSS: f64 = 0.15;
/// Distance scale of the competition effect, metres.
pub const COMPETITION_SCALE_M: f64 = 5000.0;
/// Standard deviation of the daily log-normal sales noise.
pub const SALES_NOISE_SIGMA: f64 = 0.08;
/// Standard deviation of the store level's log-normal spread.
pub const STORE_LEVEL_SIGMA: f64 = 0.30;
/// Probability that an otherwise open day is closed anyway (inventory, local events).
pub const RANDOM_CLOSURE: f64 = 0.003;
/// Probability that a store opens on a state holiday.
pub const OPEN_ON_HOLIDAY: f64 = 0.03;
/// Share of stores missing the second half of the year before the last (refurbishment).
pub const REFURBISHED_SHARE: f64 = 0.16;
/// Number of state-like groups with their own holidays and school breaks.
pub const STATES: usize = 12;

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynthConfig {
    /// Number of stores, ids 1..=stores (at most [`MAX_STORES`]).
    pub stores: u32,
    /// First date (inclusive).
    pub start: NaiveDate,
    /// Last date (inclusive).
    pub end: NaiveDate,
    /// Seed: same seed, same bytes.
    pub seed: u64,
}

impl Default for SynthConfig {
    /// 50 stores, 2013-01-01 … 2015-06-19 (the real training window), seed 42.
    fn default() -> Self {
        Self {
            stores: 50,
            start: NaiveDate::from_ymd_opt(2013, 1, 1).unwrap_or_default(),
            end: NaiveDate::from_ymd_opt(2015, 6, 19).unwrap_or_default(),
            seed: 42,
        }
    }
}

impl SynthConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`DataError::InvalidSetting`] naming the bad setting.
    pub fn check(&self) -> Result<()> {
        if self.stores == 0 || self.stores > MAX_STORES {
            return Err(DataError::InvalidSetting(format!(
                "--stores {} is out of range; use 1..={MAX_STORES} (the Kaggle store count; for more rows, widen --start/--end)",
                self.stores
            )));
        }
        if self.start > self.end {
            return Err(DataError::InvalidSetting(format!(
                "--start {} is after --end {}",
                self.start, self.end
            )));
        }
        if self.start.year() < 1900 || self.end.year() > 2199 {
            return Err(DataError::InvalidSetting(
                "dates must lie in 1900..2199".into(),
            ));
        }
        Ok(())
    }

    /// Number of days in the window.
    pub fn days(&self) -> u64 {
        (self.end - self.start).num_days() as u64 + 1
    }
}

/// Store metadata as written to store.csv, plus the hidden parameters that drive its sales.
#[derive(Clone, Debug, PartialEq)]
pub struct SynthStore {
    /// Store id.
    pub id: u32,
    /// `a`..`d`.
    pub store_type: char,
    /// `a`..`c`.
    pub assortment: char,
    /// Metres, `None` when written empty.
    pub competition_distance: Option<u32>,
    /// (month, year) the competitor opened, `None` when written empty.
    pub competition_open_since: Option<(u32, i32)>,
    /// (week, year) Promo2 started and its interval; `None` for Promo2 = 0.
    pub promo2: Option<(u32, i32, &'static str)>,
    /// State-like group 0..[`STATES`].
    pub state: usize,
    /// Open on Sundays.
    pub opens_sundays: bool,
    /// Missing the second half of the year before the last year of the window.
    pub refurbished: bool,
    /// Hidden: the store's base sales level.
    pub level: f64,
    /// Hidden: mean spend per customer.
    pub ticket: f64,
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    // Box–Muller; one value per call keeps the streams simple and deterministic.
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn stream(seed: u64, id: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(id);
    rng
}

/// Draws the metadata of store `id` (deterministic in `seed` and `id` only).
pub fn synth_store(seed: u64, id: u32, config: &SynthConfig) -> SynthStore {
    let mut rng = stream(seed, 2 * u64::from(id));
    let u: f64 = rng.random();
    let store_type = if u < 0.54 {
        'a'
    } else if u < 0.555 {
        'b'
    } else if u < 0.688 {
        'c'
    } else {
        'd'
    };
    let assortment = if store_type == 'b' {
        if rng.random::<f64>() < 0.5 { 'b' } else { 'a' }
    } else if rng.random::<f64>() < 0.55 {
        'a'
    } else {
        'c'
    };
    let competition_distance = if rng.random::<f64>() < 0.003 {
        None
    } else {
        let d = (2300f64.ln() + 1.2 * normal(&mut rng))
            .exp()
            .clamp(20.0, 75_860.0);
        Some(((d / 10.0).round() * 10.0).max(20.0) as u32)
    };
    let competition_open_since = if rng.random::<f64>() < 0.32 {
        None
    } else {
        let u: f64 = rng.random();
        let year = if u < 0.05 {
            rng.random_range(1961..=1999)
        } else if u < 0.75 {
            rng.random_range(2000..=2012)
        } else {
            rng.random_range(config.start.year()..=config.end.year())
        };
        Some((rng.random_range(1..=12), year))
    };
    let promo2 = if rng.random::<f64>() < 0.51 {
        let week = rng.random_range(1..=50);
        let year = rng.random_range(2009..=config.end.year().max(2009));
        let u: f64 = rng.random();
        let interval = if u < 0.59 {
            "Jan,Apr,Jul,Oct"
        } else if u < 0.82 {
            "Feb,May,Aug,Nov"
        } else {
            "Mar,Jun,Sept,Dec"
        };
        Some((week, year, interval))
    } else {
        None
    };
    // State sizes loosely like German states' store counts.
    const STATE_WEIGHTS: [f64; STATES] = [
        0.25, 0.16, 0.11, 0.08, 0.08, 0.07, 0.06, 0.05, 0.05, 0.04, 0.03, 0.02,
    ];
    let mut u: f64 = rng.random();
    let mut state = STATES - 1;
    for (i, w) in STATE_WEIGHTS.iter().enumerate() {
        if u < *w {
            state = i;
            break;
        }
        u -= w;
    }
    let opens_sundays = store_type == 'b' || rng.random::<f64>() < 0.015;
    let refurbished = rng.random::<f64>() < REFURBISHED_SHARE;
    let type_effect = match store_type {
        'b' => 1.70,
        'd' => 0.95,
        _ => 1.0,
    };
    let assortment_effect = if assortment == 'c' { 1.08 } else { 1.0 };
    let level = BASE_SALES
        * type_effect
        * assortment_effect
        * (STORE_LEVEL_SIGMA * normal(&mut rng) - STORE_LEVEL_SIGMA * STORE_LEVEL_SIGMA / 2.0)
            .exp();
    let ticket = (if store_type == 'b' { 5.5 } else { 9.5 }) * (0.15 * normal(&mut rng)).exp();
    SynthStore {
        id,
        store_type,
        assortment,
        competition_distance,
        competition_open_since,
        promo2,
        state,
        opens_sundays,
        refurbished,
        level,
        ticket,
    }
}

/// Easter Sunday of `year` (anonymous Gregorian algorithm).
pub fn easter(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).unwrap_or_default()
}

/// The state holiday code (`'0'`, `'a'`, `'b'`, `'c'`) of `date` in state group `state`.
pub fn state_holiday(date: NaiveDate, state: usize) -> u8 {
    let (m, d, y) = (date.month(), date.day(), date.year());
    if m == 12 && (d == 25 || d == 26) {
        return b'c';
    }
    let e = easter(y);
    let from_easter = (date - e).num_days();
    if from_easter == -2 || from_easter == 1 {
        return b'b';
    }
    let national =
        matches!((m, d), (1, 1) | (5, 1) | (10, 3)) || from_easter == 39 || from_easter == 50;
    let regional = (m == 1 && d == 6 && state < 3)
        || (from_easter == 60 && state < 7 && state != 2)
        || (m == 8 && d == 15 && state == 6)
        || (m == 10 && d == 31 && state >= 7)
        || (m == 11 && d == 1 && state < 6 && state != 2);
    if national || regional { b'a' } else { b'0' }
}

/// Whether schools are closed on `date` in state group `state`: Christmas break (Dec 23 – Jan 6), two Easter weeks,
/// six summer weeks starting on a Monday that rotates by state and year (late June … early August), and one or two
/// autumn weeks in October.
pub fn school_holiday(date: NaiveDate, state: usize) -> bool {
    let (m, d, y) = (date.month(), date.day(), date.year());
    if (m == 12 && d >= 23) || (m == 1 && d <= 6) {
        return true;
    }
    let from_easter = (date - easter(y)).num_days();
    let easter_break = if state.is_multiple_of(2) {
        (-6..=8).contains(&from_easter)
    } else {
        (-13..=1).contains(&from_easter)
    };
    if easter_break {
        return true;
    }
    let monday_on_or_after = |date: NaiveDate| {
        let back = date.weekday().num_days_from_monday();
        if back == 0 {
            date
        } else {
            date + chrono::Duration::days(7 - i64::from(back))
        }
    };
    let base = NaiveDate::from_ymd_opt(y, 6, 22).unwrap_or(date);
    let rotation = (state as i64 + i64::from(y)) % 7;
    let summer_start = monday_on_or_after(base + chrono::Duration::days(7 * rotation));
    let into_summer = (date - summer_start).num_days();
    if (0..42).contains(&into_summer) {
        return true;
    }
    let october = monday_on_or_after(NaiveDate::from_ymd_opt(y, 10, 8).unwrap_or(date))
        + chrono::Duration::days(7 * (state as i64 % 3));
    let into_autumn = (date - october).num_days();
    let autumn_days = if state.is_multiple_of(4) { 14 } else { 7 };
    (0..autumn_days).contains(&into_autumn)
}

/// First day of Promo2 week `week` of `year`: week 1 begins on the year's first Monday (not ISO), as the
/// reference's feature code assumes.
pub fn promo2_start(week: u32, year: i32) -> NaiveDate {
    let jan1 = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or_default();
    let back = jan1.weekday().num_days_from_monday();
    let first_monday = if back == 0 {
        jan1
    } else {
        jan1 + chrono::Duration::days(7 - i64::from(back))
    };
    first_monday + chrono::Duration::days(7 * (i64::from(week) - 1))
}

/// Whether `Promo` is on: Monday–Friday of every other week (counted from the Monday 1970-01-05).
pub fn promo_on(date: NaiveDate) -> bool {
    let days = crate::table::days_since_epoch(date) as i64 - 4; // 1970-01-05 was a Monday
    date.weekday().num_days_from_monday() < 5 && days.div_euclid(7) % 2 == 0
}

/// Calendar facts of one day, shared by all stores.
struct Day {
    date: NaiveDate,
    text: [u8; 10],
    dow: usize,
    promo: bool,
    calendar_effect: f64,
    refurbishment_gap: bool,
    holiday: [u8; STATES],
    school: [bool; STATES],
    month_index0: u32,
}

fn calendar_effect(date: NaiveDate, start: NaiveDate) -> f64 {
    let (m, d) = (date.month(), date.day());
    let mut f = MONTH_EFFECT[(m - 1) as usize];
    if m == 12 && (11..=23).contains(&d) {
        f *= 1.0 + CHRISTMAS_PEAK * f64::from(d - 10) / 13.0;
    } else if m == 12 && d == 24 {
        f *= CHRISTMAS_EVE_EFFECT;
    }
    f * (1.0 + TREND_PER_YEAR * (date - start).num_days() as f64 / 365.25)
}

fn push_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// A writer that hashes what it writes, so the generator's outputs are fingerprinted for free.
struct HashingWriter<W: Write> {
    inner: W,
    hasher: sha2::Sha256,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use sha2::Digest;
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// What [`generate`] wrote.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SynthSummary {
    /// `<out>/train.csv`.
    pub train_path: PathBuf,
    /// `<out>/store.csv`.
    pub store_path: PathBuf,
    /// Data rows in train.csv.
    pub rows: u64,
    /// Rows with `Open = 0`.
    pub closed_rows: u64,
    /// Mean Sales over open days.
    pub mean_open_sales: f64,
    /// Stores written.
    pub stores: u32,
    /// Hash of train.csv.
    pub train_fingerprint: Fingerprint,
    /// Hash of store.csv.
    pub store_fingerprint: Fingerprint,
    /// Wall time, seconds.
    pub seconds: f64,
}

/// Counts of what [`write_train`] wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TrainCounts {
    /// Data rows.
    pub rows: u64,
    /// Rows with `Open = 0`.
    pub closed_rows: u64,
    /// Sum of Sales over open days.
    pub open_sales_sum: f64,
}

/// Writes store.csv for `config` to `out`.
///
/// # Errors
/// The writer's I/O error.
pub fn write_store<W: Write + ?Sized>(config: &SynthConfig, out: &mut W) -> std::io::Result<()> {
    out.write_all(
        b"\"Store\",\"StoreType\",\"Assortment\",\"CompetitionDistance\",\"CompetitionOpenSinceMonth\",\
\"CompetitionOpenSinceYear\",\"Promo2\",\"Promo2SinceWeek\",\"Promo2SinceYear\",\"PromoInterval\"\n",
    )?;
    for id in 1..=config.stores {
        let s = synth_store(config.seed, id, config);
        let distance = s
            .competition_distance
            .map(|d| d.to_string())
            .unwrap_or_default();
        let (cm, cy) = s
            .competition_open_since
            .map(|(m, y)| (m.to_string(), y.to_string()))
            .unwrap_or_default();
        let (p2, pw, py, pi) = match s.promo2 {
            Some((w, y, i)) => ("1", w.to_string(), y.to_string(), i),
            None => ("0", String::new(), String::new(), ""),
        };
        writeln!(
            out,
            "{id},\"{}\",\"{}\",{distance},{cm},{cy},{p2},{pw},{py},\"{pi}\"",
            s.store_type, s.assortment
        )?;
    }
    Ok(())
}

/// Writes train.csv for `config` to `out`, newest date first, then Store ascending; `progress(done, total)` is
/// called once per day.
///
/// # Errors
/// The writer's I/O error.
pub fn write_train<W: Write + ?Sized>(
    config: &SynthConfig,
    out: &mut W,
    progress: &dyn Fn(u64, u64),
) -> std::io::Result<TrainCounts> {
    let stores: Vec<SynthStore> = (1..=config.stores)
        .map(|id| synth_store(config.seed, id, config))
        .collect();
    let mut rngs: Vec<ChaCha8Rng> = (1..=config.stores)
        .map(|id| stream(config.seed, 2 * u64::from(id) + 1))
        .collect();
    let competition_since: Vec<Option<NaiveDate>> = stores
        .iter()
        .map(|s| {
            s.competition_distance?;
            match s.competition_open_since {
                Some((m, y)) => NaiveDate::from_ymd_opt(y, m, 1),
                None => Some(NaiveDate::MIN),
            }
        })
        .collect();
    let competition_factor: Vec<f64> = stores
        .iter()
        .map(|s| {
            1.0 - COMPETITION_LOSS
                * (-f64::from(s.competition_distance.unwrap_or(0)) / COMPETITION_SCALE_M).exp()
        })
        .collect();
    let promo2_since: Vec<Option<(NaiveDate, [bool; 12])>> = stores
        .iter()
        .map(|s| {
            s.promo2.map(|(w, y, interval)| {
                let mut months = [false; 12];
                for name in interval.split(',') {
                    let idx = [
                        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sept", "Oct",
                        "Nov", "Dec",
                    ]
                    .iter()
                    .position(|m| *m == name);
                    if let Some(i) = idx {
                        months[i] = true;
                    }
                }
                (promo2_start(w, y), months)
            })
        })
        .collect();
    let gap = NaiveDate::from_ymd_opt(config.end.year() - 1, 7, 1).zip(NaiveDate::from_ymd_opt(
        config.end.year() - 1,
        12,
        31,
    ));

    let total = config.days();
    let mut counts = TrainCounts::default();
    out.write_all(
        b"\"Store\",\"DayOfWeek\",\"Date\",\"Sales\",\"Customers\",\"Open\",\"Promo\",\"StateHoliday\",\"SchoolHoliday\"\n",
    )?;
    let mut line = Vec::with_capacity(64 * stores.len());
    let mut date = config.end;
    for done in 0..total {
        let mut text = [0u8; 10];
        text.copy_from_slice(date.format("%Y-%m-%d").to_string().as_bytes());
        let day = Day {
            date,
            text,
            dow: date.weekday().num_days_from_monday() as usize,
            promo: promo_on(date),
            calendar_effect: calendar_effect(date, config.start),
            refurbishment_gap: gap.is_some_and(|(a, b)| date >= a && date <= b),
            holiday: std::array::from_fn(|s| state_holiday(date, s)),
            school: std::array::from_fn(|s| school_holiday(date, s)),
            month_index0: date.month0(),
        };
        line.clear();
        for (i, s) in stores.iter().enumerate() {
            if day.refurbishment_gap && s.refurbished {
                continue;
            }
            let rng = &mut rngs[i];
            let noise = normal(rng);
            let customer_noise = normal(rng);
            let closure: f64 = rng.random();
            let holiday = day.holiday[s.state];
            let school = day.school[s.state];
            let closed_for_sunday = day.dow == 6 && !s.opens_sundays;
            let closed_for_holiday = holiday != b'0' && closure > OPEN_ON_HOLIDAY;
            let open = !closed_for_sunday && !closed_for_holiday && closure >= RANDOM_CLOSURE;
            let (sales, customers) = if open {
                let mut f = s.level * DAY_OF_WEEK_EFFECT[day.dow] * day.calendar_effect;
                if day.promo {
                    f *= PROMO_UPLIFT;
                }
                if school {
                    f *= SCHOOL_HOLIDAY_UPLIFT;
                }
                if competition_since[i].is_some_and(|since| day.date >= since) {
                    f *= competition_factor[i];
                }
                if let Some((since, months)) = &promo2_since[i]
                    && day.date >= *since
                    && months[day.month_index0 as usize]
                {
                    f *= PROMO2_UPLIFT;
                }
                f *=
                    (SALES_NOISE_SIGMA * noise - SALES_NOISE_SIGMA * SALES_NOISE_SIGMA / 2.0).exp();
                let sales = f.round().max(0.0);
                let ticket =
                    s.ticket * if day.promo { 0.92 } else { 1.0 } * (0.05 * customer_noise).exp();
                (sales as u64, (sales / ticket).round().max(1.0) as u64)
            } else {
                (0, 0)
            };
            counts.rows += 1;
            if open {
                counts.open_sales_sum += sales as f64;
            } else {
                counts.closed_rows += 1;
            }
            push_u64(&mut line, u64::from(s.id));
            line.push(b',');
            line.push(b'1' + day.dow as u8);
            line.push(b',');
            line.extend_from_slice(&day.text);
            line.push(b',');
            push_u64(&mut line, sales);
            line.push(b',');
            push_u64(&mut line, customers);
            line.extend_from_slice(if open { b",1," } else { b",0," });
            line.push(if day.promo { b'1' } else { b'0' });
            line.extend_from_slice(b",\"");
            line.push(holiday);
            line.extend_from_slice(b"\",\"");
            line.push(if school { b'1' } else { b'0' });
            line.extend_from_slice(b"\"\n");
        }
        out.write_all(&line)?;
        progress(done + 1, total);
        date = date.pred_opt().unwrap_or(date);
    }
    Ok(counts)
}

/// Writes `<out_dir>/train.csv` and `<out_dir>/store.csv` (each through a temporary file, then renamed).
///
/// # Errors
/// [`DataError::InvalidSetting`] for a bad config, [`DataError::Io`] naming the file.
pub fn generate(
    config: &SynthConfig,
    out_dir: &Path,
    progress: &dyn Fn(u64, u64),
) -> Result<SynthSummary> {
    config.check()?;
    let started = Instant::now();
    std::fs::create_dir_all(out_dir).map_err(|e| DataError::io(out_dir, e))?;
    let write = |name: &str, body: &dyn Fn(&mut dyn Write) -> std::io::Result<TrainCounts>| {
        let path = out_dir.join(name);
        let tmp = out_dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let file = File::create(&tmp).map_err(|e| DataError::io(&tmp, e))?;
        let mut w = HashingWriter {
            inner: BufWriter::with_capacity(1 << 20, file),
            hasher: Default::default(),
            bytes: 0,
        };
        let counts = body(&mut w).map_err(|e| DataError::io(&tmp, e))?;
        w.flush().map_err(|e| DataError::io(&tmp, e))?;
        use sha2::Digest;
        let fp = Fingerprint {
            sha256: hex::encode(w.hasher.finalize()),
            bytes: w.bytes,
        };
        std::fs::rename(&tmp, &path).map_err(|e| DataError::io(&path, e))?;
        Ok::<_, DataError>((path, fp, counts))
    };
    let (store_path, store_fingerprint, _) = write("store.csv", &|w| {
        write_store(config, w).map(|_| TrainCounts::default())
    })?;
    let (train_path, train_fingerprint, counts) =
        write("train.csv", &|w| write_train(config, w, progress))?;
    let open = counts.rows - counts.closed_rows;
    Ok(SynthSummary {
        train_path,
        store_path,
        rows: counts.rows,
        closed_rows: counts.closed_rows,
        mean_open_sales: if open > 0 {
            counts.open_sales_sum / open as f64
        } else {
            0.0
        },
        stores: config.stores,
        train_fingerprint,
        store_fingerprint,
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn easter_dates_are_right() {
        assert_eq!(easter(2013), d(2013, 3, 31));
        assert_eq!(easter(2014), d(2014, 4, 20));
        assert_eq!(easter(2015), d(2015, 4, 5));
    }

    #[test]
    fn christmas_and_easter_have_their_codes() {
        assert_eq!(state_holiday(d(2014, 12, 25), 3), b'c');
        assert_eq!(state_holiday(d(2015, 4, 3), 0), b'b'); // Good Friday
        assert_eq!(state_holiday(d(2015, 5, 1), 5), b'a');
        assert_eq!(state_holiday(d(2015, 5, 4), 5), b'0');
    }

    #[test]
    fn promo2_week_one_starts_on_the_first_monday() {
        assert_eq!(promo2_start(1, 2015), d(2015, 1, 5));
        assert_eq!(promo2_start(13, 2010), d(2010, 3, 29));
        assert_eq!(promo2_start(14, 2011), d(2011, 4, 4));
    }

    #[test]
    fn promo_runs_weekdays_of_alternate_weeks() {
        let days: Vec<bool> = (0..14)
            .map(|i| promo_on(d(2015, 6, 1) + chrono::Duration::days(i)))
            .collect();
        let on = days.iter().filter(|x| **x).count();
        assert_eq!(on, 5);
        assert!(!days[5] && !days[6] && !days[12] && !days[13]);
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let cfg = SynthConfig {
            stores: 3,
            start: d(2015, 1, 1),
            end: d(2015, 1, 20),
            seed: 7,
        };
        let run = |cfg: &SynthConfig| {
            let mut out = Vec::new();
            write_train(cfg, &mut out, &|_, _| {}).unwrap();
            out
        };
        assert_eq!(run(&cfg), run(&cfg));
        assert_ne!(
            run(&cfg),
            run(&SynthConfig {
                seed: 8,
                ..cfg.clone()
            })
        );
    }

    #[test]
    fn rows_are_newest_first_in_kaggle_format() {
        let cfg = SynthConfig {
            stores: 2,
            start: d(2015, 6, 18),
            end: d(2015, 6, 19),
            seed: 1,
        };
        let mut out = Vec::new();
        write_train(&cfg, &mut out, &|_, _| {}).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "\"Store\",\"DayOfWeek\",\"Date\",\"Sales\",\"Customers\",\"Open\",\"Promo\",\"StateHoliday\",\"SchoolHoliday\""
        );
        assert_eq!(lines.len(), 5);
        assert!(lines[1].starts_with("1,5,2015-06-19,"), "{}", lines[1]);
        assert!(lines[2].starts_with("2,5,2015-06-19,"));
        assert!(lines[3].starts_with("1,4,2015-06-18,"));
        assert!(
            lines[1].ends_with("\"0\",\"0\"")
                || lines[1].contains(",\"a\",")
                || lines[1].ends_with("\"1\"")
        );
    }

    #[test]
    fn bad_settings_are_rejected() {
        assert!(
            SynthConfig {
                stores: 0,
                ..Default::default()
            }
            .check()
            .is_err()
        );
        assert!(
            SynthConfig {
                stores: 2000,
                ..Default::default()
            }
            .check()
            .is_err()
        );
        let cfg = SynthConfig::default();
        assert!(
            SynthConfig {
                start: cfg.end,
                end: cfg.start,
                ..cfg
            }
            .check()
            .is_err()
        );
    }
}
