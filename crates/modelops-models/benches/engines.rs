//! Train time and peak memory of the native engines on a synthetic Rossmann-sized matrix.
//!
//! `cargo bench -p modelops-models --features lightgbm,xgboost --bench engines`
//!
//! Builds an 800,000 × 40 matrix (34 numeric columns, 6 categorical) once, then trains LightGBM and XGBoost with
//! the reference's tuned hyperparameters for `MODELOPS_BENCH_ROUNDS` rounds (default 100; the reference trains
//! 1,600) and prints wall time, rounds per second and the process's peak resident memory (`VmHWM`, reset before
//! each engine through `/proc/self/clear_refs`, so each figure includes the shared input matrix). Also times
//! prediction of all rows. Plain `std::time` timing: one run per engine, as a training run is long enough.
// A benchmark fixture that cannot be built is a failed benchmark.
#![allow(clippy::expect_used)]

use modelops_models::{
    FeatureKind, FeatureMatrix, Fit, LightGbmConfig, NoProgress, Regressor, TrainSet, XgBoostConfig,
};
use std::time::Instant;

const ROWS: usize = 800_000;
const NUMERIC: usize = 34;
const CATEGORICAL: usize = 6;
/// Levels of each categorical column (Rossmann-like: store type, assortment, state holiday, month, …).
const CAT_LEVELS: [u32; CATEGORICAL] = [4, 3, 4, 12, 7, 31];

struct SplitMix(u64);

impl SplitMix {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn synthetic() -> (FeatureMatrix, Vec<f32>) {
    let mut rng = SplitMix(2026);
    let mut names: Vec<String> = (0..NUMERIC).map(|i| format!("num_{i}")).collect();
    names.extend((0..CATEGORICAL).map(|i| format!("cat_{i}")));
    let mut kinds = vec![FeatureKind::Numeric; NUMERIC];
    kinds.extend(CAT_LEVELS.map(|levels| FeatureKind::Categorical { levels }));
    let mut values = Vec::with_capacity(ROWS * (NUMERIC + CATEGORICAL));
    let mut target = Vec::with_capacity(ROWS);
    for _ in 0..ROWS {
        let start = values.len();
        for j in 0..NUMERIC {
            let v = rng.uniform();
            values.push(if j % 9 == 0 && rng.uniform() < 0.05 {
                f32::NAN
            } else {
                (v * 100.0) as f32
            });
        }
        for levels in CAT_LEVELS {
            values.push((rng.uniform() * f64::from(levels)).floor() as f32);
        }
        let row = &values[start..];
        let x = |j: usize| {
            if row[j].is_nan() {
                50.0
            } else {
                f64::from(row[j])
            }
        };
        let log_sales = 8.5
            + 0.004 * x(0)
            + 0.3 * (x(1) / 15.0).sin()
            + 0.002 * (x(2) - 50.0).abs()
            + if x(3) > 70.0 { 0.2 } else { 0.0 }
            + [0.1, -0.2, 0.15, -0.05][row[NUMERIC] as usize]
            + 0.01 * f64::from(row[NUMERIC + 3])
            + 0.05 * (rng.uniform() - 0.5);
        target.push(log_sales as f32);
    }
    (
        FeatureMatrix::new(names, kinds, values).expect("consistent matrix"),
        target,
    )
}

/// Peak resident set size of this process so far, in MiB (`VmHWM`).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Resets `VmHWM` to the current RSS (Linux ≥ 4.0), so the next reading is this engine's peak.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn report(engine: &str, rounds: usize, train_seconds: f64, predict_seconds: f64) {
    let peak = peak_rss_mib().map_or_else(|| "n/a".to_string(), |m| format!("{m:.0} MiB"));
    println!(
        "{engine:<9} rows={ROWS} features={} rounds={rounds} train={train_seconds:.1}s ({:.2} rounds/s) \
         predict_all={predict_seconds:.2}s peak_rss={peak}",
        NUMERIC + CATEGORICAL,
        rounds as f64 / train_seconds,
    );
}

fn main() {
    let rounds: u32 = std::env::var("MODELOPS_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "building the synthetic matrix ({ROWS} x {}); {threads} threads",
        NUMERIC + CATEGORICAL
    );
    let (features, target) = synthetic();
    let set = TrainSet {
        features: &features,
        target: &target,
        weights: None,
    };
    let matrix_mib = (features.values().len() * 4) as f64 / (1024.0 * 1024.0);
    println!(
        "input matrix {matrix_mib:.0} MiB; baseline peak_rss={:.0} MiB",
        peak_rss_mib().unwrap_or(0.0)
    );

    reset_peak_rss();
    let config = LightGbmConfig {
        rounds,
        ..LightGbmConfig::reference()
    };
    let start = Instant::now();
    let model = match config.fit(&set, None, &NoProgress) {
        Ok(model) => model,
        Err(err) => return eprintln!("lightgbm failed: {err}"),
    };
    let train_seconds = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let predicted = model.predict(&features).map(|p| p.len()).unwrap_or(0);
    assert_eq!(predicted, ROWS);
    report(
        "lightgbm",
        model.n_rounds(),
        train_seconds,
        start.elapsed().as_secs_f64(),
    );
    drop(model);

    reset_peak_rss();
    let config = XgBoostConfig {
        rounds,
        ..XgBoostConfig::reference()
    };
    let start = Instant::now();
    let model = match config.fit(&set, None, &NoProgress) {
        Ok(model) => model,
        Err(err) => return eprintln!("xgboost failed: {err}"),
    };
    let train_seconds = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let predicted = model.predict(&features).map(|p| p.len()).unwrap_or(0);
    assert_eq!(predicted, ROWS);
    report(
        "xgboost",
        model.n_rounds(),
        train_seconds,
        start.elapsed().as_secs_f64(),
    );
}
