//! Feature-building throughput on synthetic data (plain `std::time`, `harness = false`):
//! grid + history at one origin, a full rolling-origin training set, and serving-size batches through the spec.
//!
//! ```text
//! cargo bench -p modelops-features --bench build            # 200 stores × 2013-01-01..2015-06-19
//! BENCH_STORES=1115 cargo bench -p modelops-features --bench build
//! ```
//! Data: the in-memory fixture of the integration tests (Rossmann-like, deterministic).

#[path = "../tests/it/fixture.rs"]
#[allow(dead_code, clippy::unwrap_used)]
mod fixture;

use modelops_features::{
    FeatureBuilder, FeatureSettings, FeatureSpec, RollingOrigins, RowFilter, SalesData,
};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let stores: u32 = std::env::var("BENCH_STORES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let (observations, store_table) = fixture::observations(stores, "2013-01-01", "2015-06-19");

    let t = Instant::now();
    let data = SalesData::new(observations, store_table)?;
    let n = data.observations().len();
    report("observations → SalesData (grid)", t, n);

    let (_, last) = data.day_range();
    let origin = last - 41;
    let t = Instant::now();
    let history = data.history_at(origin);
    report("history at one origin", t, n);

    let builder = FeatureBuilder::new(data.stores(), FeatureSettings::default());
    let t = Instant::now();
    let train = data.training_set(
        &builder,
        origin,
        &RollingOrigins::default(),
        RowFilter::AllRows,
    )?;
    report("rolling-origin training set", t, train.len());

    let spec = FeatureSpec::new(builder, data.stores().clone(), history);
    let batch: Vec<_> = data
        .between(origin, last + 1)
        .iter()
        .map(|o| o.input)
        .collect();
    let t = Instant::now();
    let reps = 20;
    for _ in 0..reps {
        std::hint::black_box(spec.build(&batch)?);
    }
    report("spec.build on a 42-day batch", t, batch.len() * reps);

    let one: Vec<_> = batch.iter().take(1).copied().collect();
    let t = Instant::now();
    let reps = 10_000;
    for _ in 0..reps {
        std::hint::black_box(spec.build(&one)?);
    }
    let per = t.elapsed().as_secs_f64() / reps as f64;
    println!(
        "{:<34} {:>10.1} µs per single-row request",
        "spec.build, 1 row",
        per * 1e6
    );
    Ok(())
}

fn report(what: &str, started: Instant, rows: usize) {
    let s = started.elapsed().as_secs_f64();
    println!(
        "{what:<34} {s:>8.3} s  {rows:>9} rows  {:>12.0} rows/s",
        rows as f64 / s
    );
}
