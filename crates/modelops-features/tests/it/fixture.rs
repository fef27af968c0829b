//! A small deterministic Rossmann-like data set built in memory (no files, no RNG crate): store levels, weekday
//! and promo effects, Sunday closures, fixed state holidays, summer school holidays, alternating promo weeks and a
//! refurbishment gap for every fifth store. Used until the shared synthetic generator (`modelops_data::synth`)
//! is available to every crate's tests.

use modelops_features::calendar::{Day, parse_day, weekday};
use modelops_features::{InputRow, Observation, SalesData, StateHoliday, StoreMeta, StoreTable};

/// A hash-based uniform number in [0, 1) for (a, b), stable across platforms.
fn unit(a: u64, b: u64) -> f64 {
    let mut x = a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    x ^= x >> 33;
    x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    x ^= x >> 33;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// `stores` stores with one row per day from `start` to `end` (inclusive).
pub fn observations(stores: u32, start: &str, end: &str) -> (Vec<Observation>, StoreTable) {
    let (start, end) = (parse_day(start).unwrap(), parse_day(end).unwrap());
    let types = ["a", "b", "c", "d"];
    let intervals = ["", "Feb,May,Aug,Nov", "Jan,Apr,Jul,Oct", "Mar,Jun,Sept,Dec"];
    let metas: Vec<StoreMeta> = (1..=stores)
        .map(|s| {
            let promo2 = s % 2 == 0;
            StoreMeta {
                store: s,
                store_type: types[(s % 4) as usize].into(),
                assortment: ["a", "b", "c"][(s % 3) as usize].into(),
                competition_distance: if s % 7 == 0 {
                    None
                } else {
                    Some(100.0 + 900.0 * s as f32)
                },
                competition_open_since_month: if s % 5 == 0 { 0 } else { 1 + (s % 12) as i32 },
                competition_open_since_year: if s % 5 == 0 { 0 } else { 2010 + (s % 5) as i32 },
                promo2,
                promo2_since_week: if promo2 { 1 + (s % 40) as i32 } else { 0 },
                promo2_since_year: if promo2 { 2012 + (s % 3) as i32 } else { 0 },
                promo_interval: if promo2 {
                    intervals[1 + (s % 3) as usize].into()
                } else {
                    String::new()
                },
            }
        })
        .collect();
    let holidays: Vec<Day> = [
        "2013-05-01",
        "2013-12-25",
        "2013-12-26",
        "2014-01-01",
        "2014-04-18",
        "2014-04-21",
        "2014-05-01",
    ]
    .iter()
    .map(|d| parse_day(d).unwrap())
    .collect();
    let refurbished = (
        parse_day("2013-07-01").unwrap(),
        parse_day("2013-08-31").unwrap(),
    );
    let mut out = Vec::new();
    for s in 1..=stores {
        let level = 5000.0 * (0.6 + 0.8 * unit(u64::from(s), 0));
        for date in start..=end {
            if s % 5 == 0 && (refurbished.0..=refurbished.1).contains(&date) {
                continue;
            }
            let dow = weekday(date);
            let holiday = holidays.contains(&date);
            let open = dow != 7 && !holiday;
            let promo = open && dow <= 5 && ((date - start) / 7) % 2 == 0;
            let doy = (date - parse_day("2013-01-01").unwrap()).rem_euclid(365);
            let school = (190..230).contains(&doy);
            let effect = [1.2, 1.05, 1.0, 1.0, 1.05, 0.85, 0.0][usize::from(dow) - 1];
            let noise = 1.0 + 0.1 * (unit(u64::from(s), date as u64) - 0.5);
            let sales = if open {
                (level
                    * effect
                    * if promo { 1.3 } else { 1.0 }
                    * if school { 1.03 } else { 1.0 }
                    * noise)
                    .round()
            } else {
                0.0
            };
            out.push(Observation {
                input: InputRow {
                    store: s,
                    date,
                    day_of_week: dow,
                    open,
                    promo,
                    state_holiday: if holiday {
                        StateHoliday::Public
                    } else {
                        StateHoliday::None
                    },
                    school_holiday: school,
                },
                sales: sales as f32,
                customers: (sales / 9.5).round() as f32,
            });
        }
    }
    (out, StoreTable::new(metas).unwrap())
}

/// 12 stores, 2013-01-01 … 2014-05-31.
pub fn data() -> SalesData {
    let (observations, stores) = observations(12, "2013-01-01", "2014-05-31");
    SalesData::new(observations, stores).unwrap()
}
