//! Integration tests of `modelops-models`, one binary (`cargo test -p modelops-models --features lightgbm,xgboost`).
//!
//! Engine tests need the engine's cargo feature; interoperability tests also need the test venv's Python
//! (`MODELOPS_TEST_PYTHON`, else `<workspace>/.tools/pyenv/bin/python`) and skip with a message without it unless
//! `MODELOPS_REQUIRE_EXTERNAL=1`.
// Test helpers (not only `#[test]` functions) may panic: a failed fixture is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod ensemble;
#[cfg(feature = "lightgbm")]
mod lightgbm;
mod oblivious;
mod package;
#[cfg(feature = "xgboost")]
mod xgboost;

use modelops_models::{FeatureKind, FeatureMatrix, ModelError, TrainProgress};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// A small deterministic regression problem: six numeric columns (one with missing values) and one categorical
/// column with four levels whose effect is not monotone in its code.
pub struct Synthetic {
    /// The features.
    pub features: FeatureMatrix,
    /// The target (around 1000, always positive).
    pub target: Vec<f32>,
}

/// SplitMix64: enough randomness for fixtures, no dependency.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `features` with its values replaced (same names and kinds), e.g. to plant missing or unseen values.
pub fn with_values(features: &FeatureMatrix, values: Vec<f32>) -> FeatureMatrix {
    FeatureMatrix::new(features.names().to_vec(), features.kinds().to_vec(), values).unwrap()
}

/// `features` cut into row groups (`FeatureMatrix::set_row_groups`) of the given sizes — a long group, one too
/// short for blocks of its own, one over a block's maximum, then whatever is left — where every column but
/// `varying` holds the group's first-row value in every row (as a store's attributes do across its days), so the
/// compiled forests specialize their trees per block.
pub fn grouped(features: &FeatureMatrix, varying: &[usize]) -> FeatureMatrix {
    let n = features.n_rows();
    let width = features.n_features();
    let mut ends = Vec::new();
    for size in [700, 63, 1300, 200] {
        let start = ends.last().copied().unwrap_or(0);
        if start + size < n {
            ends.push(start + size);
        }
    }
    ends.push(n);
    let mut values = features.values().to_vec();
    let mut start = 0;
    for &end in &ends {
        for row in start + 1..end {
            for column in (0..width).filter(|c| !varying.contains(c)) {
                values[row * width + column] = values[start * width + column];
            }
        }
        start = end;
    }
    let mut grouped = with_values(features, values);
    grouped.set_row_groups(ends).unwrap();
    grouped
}

/// Column names of [`synthetic`].
pub fn synthetic_names() -> Vec<String> {
    [
        "promo",
        "distance",
        "day_of_week",
        "month",
        "noise_a",
        "noise_b",
        "store_type",
    ]
    .map(String::from)
    .to_vec()
}

/// `rows` rows of the synthetic problem, drawn with `seed`.
pub fn synthetic(rows: usize, seed: u64) -> Synthetic {
    let mut rng = Rng::new(seed);
    let names = synthetic_names();
    let mut kinds = vec![FeatureKind::Numeric; 6];
    kinds.push(FeatureKind::Categorical { levels: 4 });
    let mut values = Vec::with_capacity(rows * names.len());
    let mut target = Vec::with_capacity(rows);
    for _ in 0..rows {
        let promo = f32::from(rng.uniform() < 0.4);
        let distance = if rng.uniform() < 0.1 {
            f32::NAN
        } else {
            (rng.uniform() * 10_000.0) as f32
        };
        let dow = (rng.uniform() * 7.0).floor() as f32;
        let month = (rng.uniform() * 12.0).floor() as f32 + 1.0;
        let (a, b) = (rng.uniform() as f32, rng.uniform() as f32);
        let store_type = (rng.uniform() * 4.0).floor() as f32;
        let type_effect = [250.0, -150.0, 300.0, -200.0][store_type as usize];
        let distance_effect = if distance.is_nan() {
            50.0
        } else {
            -0.02 * f64::from(distance)
        };
        let y = 1000.0
            + 300.0 * f64::from(promo)
            + distance_effect
            + 40.0 * (f64::from(dow) - 3.0).powi(2)
            + 80.0 * (f64::from(month) / 2.0).sin()
            + type_effect
            + 20.0 * (rng.uniform() - 0.5);
        values.extend([promo, distance, dow, month, a, b, store_type]);
        target.push(y as f32);
    }
    let features = FeatureMatrix::new(names, kinds, values).expect("consistent fixture");
    Synthetic { features, target }
}

/// Root-mean-square error.
pub fn rmse(predictions: &[f64], target: &[f32]) -> f64 {
    let sum: f64 = predictions
        .iter()
        .zip(target)
        .map(|(p, y)| (p - f64::from(*y)).powi(2))
        .sum();
    (sum / target.len() as f64).sqrt()
}

/// Records every progress callback.
#[derive(Default)]
pub struct RecordedProgress {
    /// (done, total, eval metric) per call.
    pub rounds: Mutex<Vec<(usize, usize, Option<f64>)>>,
}

impl TrainProgress for RecordedProgress {
    fn on_round(&self, done: usize, total: usize, eval_metric: Option<f64>) {
        self.rounds
            .lock()
            .expect("not poisoned")
            .push((done, total, eval_metric));
    }
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The test venv's Python, or `None` (after printing why) when the test should skip.
///
/// # Panics
/// When no Python is found and `MODELOPS_REQUIRE_EXTERNAL=1` (CI), so a missing venv cannot pass silently.
pub fn python() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("MODELOPS_TEST_PYTHON") {
        return Some(PathBuf::from(path));
    }
    let fallback = workspace_root().join(".tools/pyenv/bin/python");
    if fallback.exists() {
        return Some(fallback);
    }
    if std::env::var("MODELOPS_REQUIRE_EXTERNAL").as_deref() == Ok("1") {
        panic!(
            "MODELOPS_REQUIRE_EXTERNAL=1 but no test Python: set MODELOPS_TEST_PYTHON or run `bash scripts/bootstrap.sh test`"
        );
    }
    eprintln!(
        "skipping: no test Python (set MODELOPS_TEST_PYTHON or run `bash scripts/bootstrap.sh test`)"
    );
    None
}

/// Runs `script` with `python` and `args`; returns stdout, failing the test with stderr on a non-zero exit.
pub fn run_python(python: &Path, script: &str, args: &[&Path]) -> String {
    let output = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python starts");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "python failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Writes a matrix's values as little-endian f32 (NumPy `<f4`), row-major.
pub fn write_f32(path: &Path, values: &[f32]) {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, bytes).expect("fixture written");
}

/// Writes predictions as little-endian f64 (NumPy `<f8`).
pub fn write_f64(path: &Path, values: &[f64]) {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, bytes).expect("fixture written");
}

/// Largest relative difference between two prediction vectors (denominator at least 1e-12).
pub fn max_relative_difference(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / x.abs().max(y.abs()).max(1e-12))
        .fold(0.0, f64::max)
}

/// Predictions as their bit patterns, for byte-identity checks.
pub fn bits(predictions: &[f64]) -> Vec<u64> {
    predictions.iter().map(|p| p.to_bits()).collect()
}

/// True when `err` is an invalid-data error.
pub fn is_invalid_data(err: &ModelError) -> bool {
    matches!(err, ModelError::InvalidData(_))
}
