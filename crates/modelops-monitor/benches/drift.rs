//! Timing of the monitor on synthetic data: building a month-partitioned profile of 1,000,000 training rows and
//! checking windows of 10,000 and 100,000 rows (full and same-months), plus rendering the HTML report.
//!
//! `cargo bench -p modelops-monitor --bench drift` (plain `std::time`, best of 3 runs).

use chrono::{Duration, NaiveDate};
use modelops_monitor::{
    ColumnSet, DriftConfig, ReferenceProfile, ReferenceWindow, SketchConfig, detect_drift,
    render_html,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::{Duration as Elapsed, Instant};

struct Rows {
    dates: Vec<NaiveDate>,
    distance: Vec<f64>,
    prediction: Vec<f64>,
    promo: Vec<f64>,
    store_type: Vec<Option<String>>,
}

fn rows(n: usize, seed: u64) -> Rows {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let start = NaiveDate::from_ymd_opt(2013, 1, 1).unwrap_or_default();
    let types = ["a", "b", "c", "d"];
    Rows {
        dates: (0..n)
            .map(|i| start + Duration::days((i % 900) as i64))
            .collect(),
        distance: (0..n)
            .map(|_| (rng.random::<f64>() * 20_000.0).round())
            .collect(),
        prediction: (0..n)
            .map(|_| 3000.0 + rng.random::<f64>() * 6000.0)
            .collect(),
        promo: (0..n)
            .map(|_| if rng.random::<f64>() < 0.4 { 1.0 } else { 0.0 })
            .collect(),
        store_type: (0..n)
            .map(|_| Some(types[rng.random_range(0..4)].to_owned()))
            .collect(),
    }
}

fn columns(r: &Rows) -> Result<ColumnSet<'_>, modelops_monitor::MonitorError> {
    ColumnSet::new()
        .with_dates(&r.dates)?
        .numeric("CompetitionDistance", &r.distance)?
        .binary("Promo", &r.promo)?
        .categorical("StoreType", &r.store_type)?
        .prediction(&r.prediction)
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Elapsed, T) {
    let mut best = Elapsed::MAX;
    let mut last = None;
    for _ in 0..runs {
        let started = Instant::now();
        let out = f();
        best = best.min(started.elapsed());
        last = Some(out);
    }
    (best, last.unwrap_or_else(f))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let training = rows(1_000_000, 1);
    let set = columns(&training)?;
    let (elapsed, profile) = best_of(3, || {
        ReferenceProfile::build(&set, &SketchConfig::default())
    });
    let profile = profile?;
    println!(
        "profile of 1,000,000 rows (2 numeric incl. prediction, 1 binary, 1 categorical; 12 months): {elapsed:.2?}, {} KB JSON",
        profile.to_json()?.len() / 1024
    );
    for n in [10_000, 100_000] {
        let window = rows(n, 2);
        let current = columns(&window)?;
        for reference_window in [ReferenceWindow::Full, ReferenceWindow::SameMonths] {
            let config = DriftConfig {
                reference_window,
                ..DriftConfig::default()
            };
            let (elapsed, report) = best_of(3, || detect_drift(&profile, &current, &config));
            let report = report?;
            println!(
                "drift check, {n} current rows, {} reference: {elapsed:.2?}",
                reference_window.label()
            );
            if n == 100_000 && reference_window == ReferenceWindow::Full {
                let (elapsed, html) = best_of(3, || render_html(&report));
                println!("HTML render: {elapsed:.2?}, {} KB", html.len() / 1024);
            }
        }
    }
    Ok(())
}
