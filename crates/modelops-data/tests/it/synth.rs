//! The synthetic generator: Kaggle look-alike marginals and recoverable effects (docs/synthetic-data.md).

use modelops_data::read_raw_train;
use modelops_data::synth::{PROMO_UPLIFT, SynthConfig, generate};
use polars::prelude::*;

use crate::fixtures::*;

struct Rows {
    store: Vec<i32>,
    dow: Vec<i32>,
    date: Vec<i32>,
    sales: Vec<f32>,
    open: Vec<i32>,
    promo: Vec<i32>,
}

fn rows(df: &DataFrame) -> Rows {
    let i = |c: &str| -> Vec<i32> {
        df.column(c)
            .unwrap()
            .to_physical_repr()
            .i32()
            .unwrap()
            .into_no_null_iter()
            .collect()
    };
    Rows {
        store: i("Store"),
        dow: i("DayOfWeek"),
        date: i("Date"),
        sales: df
            .column("Sales")
            .unwrap()
            .f32()
            .unwrap()
            .into_no_null_iter()
            .collect(),
        open: i("Open"),
        promo: i("Promo"),
    }
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    s / n as f64
}

#[test]
fn marginals_look_like_rossmann_and_effects_are_recoverable() {
    let (_tmp, data) = synth_project(50, date(2013, 1, 1), date(2015, 6, 19));
    let df = read_raw_train(&data.join("raw/train.csv")).unwrap();
    let r = rows(&df);
    let n = r.open.len();
    let closed = r.open.iter().filter(|o| **o == 0).count() as f64 / n as f64;
    assert!((0.13..0.22).contains(&closed), "closed share {closed}");
    let open_mean = mean(
        (0..n)
            .filter(|&i| r.open[i] == 1)
            .map(|i| r.sales[i] as f64),
    );
    assert!(
        (5000.0..7500.0).contains(&open_mean),
        "mean open sales {open_mean}"
    );
    // Closed days have zero sales.
    assert!((0..n).all(|i| r.open[i] == 1 || r.sales[i] == 0.0));
    // Sunday closure: almost all Sunday rows are closed.
    let sunday_open = mean((0..n).filter(|&i| r.dow[i] == 7).map(|i| r.open[i] as f64));
    assert!(sunday_open < 0.06, "Sunday open share {sunday_open}");
    // Promo uplift on open Mondays–Fridays, store by store (a ratio of means per store, then averaged).
    let mut ratios = Vec::new();
    for s in 1..=50 {
        let m = |p: i32| {
            mean(
                (0..n)
                    .filter(|&i| {
                        r.store[i] == s && r.open[i] == 1 && r.dow[i] <= 5 && r.promo[i] == p
                    })
                    .map(|i| r.sales[i] as f64),
            )
        };
        ratios.push(m(1) / m(0));
    }
    let uplift = mean(ratios.into_iter());
    assert!(
        (uplift - PROMO_UPLIFT).abs() < 0.06,
        "promo uplift {uplift}"
    );
    // Christmas peak: Dec 16–23 open days well above November's (promo effect divided out: promo weeks alternate).
    let day = |d: chrono::NaiveDate| modelops_data::table::parse_date_days(&d.to_string()).unwrap();
    let (dec_a, dec_b) = (day(date(2014, 12, 16)), day(date(2014, 12, 23)));
    let (nov_a, nov_b) = (day(date(2014, 11, 1)), day(date(2014, 11, 30)));
    let adjusted = |i: usize| r.sales[i] as f64 / if r.promo[i] == 1 { PROMO_UPLIFT } else { 1.0 };
    let dec = mean(
        (0..n)
            .filter(|&i| r.open[i] == 1 && (dec_a..=dec_b).contains(&r.date[i]))
            .map(adjusted),
    );
    let nov = mean(
        (0..n)
            .filter(|&i| r.open[i] == 1 && (nov_a..=nov_b).contains(&r.date[i]))
            .map(adjusted),
    );
    assert!(dec / nov > 1.2, "December peak {}", dec / nov);
}

#[test]
fn refurbished_stores_miss_the_second_half_of_2014() {
    let (_tmp, data) = synth_project(60, date(2014, 1, 1), date(2015, 6, 19));
    let df = read_raw_train(&data.join("raw/train.csv")).unwrap();
    let r = rows(&df);
    let days = (date(2015, 6, 19) - date(2014, 1, 1)).num_days() as usize + 1;
    let mut per_store = std::collections::HashMap::<i32, usize>::new();
    for s in &r.store {
        *per_store.entry(*s).or_default() += 1;
    }
    let short: Vec<usize> = per_store.values().copied().filter(|c| *c < days).collect();
    assert!(
        !short.is_empty() && short.len() < 30,
        "{} short stores",
        short.len()
    );
    assert!(short.iter().all(|c| *c == days - 184));
}

#[test]
fn generation_is_deterministic_by_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = SynthConfig {
        stores: 5,
        start: date(2015, 1, 1),
        end: date(2015, 2, 1),
        seed: 3,
    };
    let a = generate(&cfg, &tmp.path().join("a"), &|_, _| {}).unwrap();
    let b = generate(&cfg, &tmp.path().join("b"), &|_, _| {}).unwrap();
    assert_eq!(a.train_fingerprint, b.train_fingerprint);
    assert_eq!(a.store_fingerprint, b.store_fingerprint);
    assert_eq!(
        a.train_fingerprint,
        modelops_data::fingerprint(&a.train_path).unwrap()
    );
    let c = generate(
        &SynthConfig { seed: 4, ..cfg },
        &tmp.path().join("c"),
        &|_, _| {},
    )
    .unwrap();
    assert_ne!(a.train_fingerprint, c.train_fingerprint);
}
