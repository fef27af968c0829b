//! A small reader for the real Kaggle Rossmann files, shared by the real-data test and the `rossmann_drift`
//! example. Test code: it panics with a message on malformed input. The product reads data through
//! `modelops-data`; this crate keeps Polars out of its build, so the fixture parses the simple CSV itself.

#![allow(dead_code)]

use chrono::{Datelike, NaiveDate};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// `$MODELOPS_ROSSMANN_DIR`, else `<workspace>/../shared/data/rossmann`, when its files are there.
pub fn real_data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("MODELOPS_ROSSMANN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/rossmann")
        });
    let complete = ["train.csv.gz", "store.csv", "batch_aug_dec_2015.csv"]
        .iter()
        .all(|f| dir.join(f).is_file());
    complete.then_some(dir)
}

/// The monitored inputs of some rows (train or traffic), joined with store metadata, open days only.
#[derive(Default)]
pub struct Rows {
    pub dates: Vec<NaiveDate>,
    pub day_of_week: Vec<f64>,
    pub month: Vec<f64>,
    pub promo: Vec<f64>,
    pub school_holiday: Vec<f64>,
    pub state_holiday: Vec<Option<String>>,
    pub store_type: Vec<Option<String>>,
    pub assortment: Vec<Option<String>>,
    pub competition_distance: Vec<f64>,
    pub promo2: Vec<f64>,
}

impl Rows {
    /// The rows whose month is in `months`.
    pub fn in_months(&self, months: &[u32]) -> Rows {
        let mut out = Rows::default();
        for i in (0..self.dates.len()).filter(|&i| months.contains(&self.dates[i].month())) {
            out.dates.push(self.dates[i]);
            out.day_of_week.push(self.day_of_week[i]);
            out.month.push(self.month[i]);
            out.promo.push(self.promo[i]);
            out.school_holiday.push(self.school_holiday[i]);
            out.state_holiday.push(self.state_holiday[i].clone());
            out.store_type.push(self.store_type[i].clone());
            out.assortment.push(self.assortment[i].clone());
            out.competition_distance.push(self.competition_distance[i]);
            out.promo2.push(self.promo2[i]);
        }
        out
    }

    /// The monitored columns as a set (names as in the reference's drift check).
    pub fn columns(&self) -> modelops_monitor::ColumnSet<'_> {
        modelops_monitor::ColumnSet::new()
            .with_dates(&self.dates)
            .and_then(|s| s.binary("Promo", &self.promo))
            .and_then(|s| s.numeric("DayOfWeek", &self.day_of_week))
            .and_then(|s| s.numeric("Month", &self.month))
            .and_then(|s| s.categorical("StateHoliday", &self.state_holiday))
            .and_then(|s| s.binary("SchoolHoliday", &self.school_holiday))
            .and_then(|s| s.categorical("StoreType", &self.store_type))
            .and_then(|s| s.categorical("Assortment", &self.assortment))
            .and_then(|s| s.numeric("CompetitionDistance", &self.competition_distance))
            .and_then(|s| s.binary("Promo2", &self.promo2))
            .unwrap_or_else(|e| panic!("building the Rossmann column set: {e}"))
    }
}

struct Store {
    store_type: String,
    assortment: String,
    competition_distance: f64,
    promo2: f64,
}

fn fields(line: &str) -> Vec<String> {
    line.split(',')
        .map(|f| f.trim_matches('"').to_owned())
        .collect()
}

fn read_text(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if path.extension().is_some_and(|e| e == "gz") {
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        text
    } else {
        String::from_utf8(bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}

fn stores(dir: &Path) -> HashMap<u32, Store> {
    let text = read_text(&dir.join("store.csv"));
    let mut lines = text.lines();
    let header = fields(lines.next().unwrap_or_default());
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("store.csv lacks {name}"))
    };
    let (s, t, a, d, p) = (
        col("Store"),
        col("StoreType"),
        col("Assortment"),
        col("CompetitionDistance"),
        col("Promo2"),
    );
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f = fields(l);
            let store = Store {
                store_type: f[t].clone(),
                assortment: f[a].clone(),
                competition_distance: f[d].parse().unwrap_or(100_000.0), // the reference's fill for missing
                promo2: f[p].parse().unwrap_or(f64::NAN),
            };
            (f[s].parse().unwrap_or(0), store)
        })
        .collect()
}

/// Reads a Kaggle-schema file (train or test layout), keeping open days (as the models and the service do).
pub fn read_open_rows(dir: &Path, file: &str) -> Rows {
    let stores = stores(dir);
    let text = read_text(&dir.join(file));
    let mut lines = text.lines();
    let header = fields(lines.next().unwrap_or_default());
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("{file} lacks {name}"))
    };
    let (store_c, dow_c, date_c, open_c) =
        (col("Store"), col("DayOfWeek"), col("Date"), col("Open"));
    let (promo_c, state_c, school_c) = (col("Promo"), col("StateHoliday"), col("SchoolHoliday"));
    let mut rows = Rows::default();
    for line in lines.filter(|l| !l.is_empty()) {
        let f = fields(line);
        if f[open_c] != "1" {
            continue;
        }
        let date = NaiveDate::parse_from_str(&f[date_c], "%Y-%m-%d")
            .unwrap_or_else(|e| panic!("{file}: {line}: {e}"));
        let store = stores.get(&f[store_c].parse().unwrap_or(0));
        let flag = |v: &str| v.parse::<f64>().unwrap_or(f64::NAN);
        rows.dates.push(date);
        rows.day_of_week.push(flag(&f[dow_c]));
        rows.month.push(f64::from(date.month()));
        rows.promo.push(flag(&f[promo_c]));
        rows.school_holiday.push(flag(&f[school_c]));
        rows.state_holiday.push(Some(f[state_c].clone()));
        rows.store_type.push(store.map(|s| s.store_type.clone()));
        rows.assortment.push(store.map(|s| s.assortment.clone()));
        rows.competition_distance
            .push(store.map_or(f64::NAN, |s| s.competition_distance));
        rows.promo2.push(store.map_or(f64::NAN, |s| s.promo2));
    }
    rows
}
