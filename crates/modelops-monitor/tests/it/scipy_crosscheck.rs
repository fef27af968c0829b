//! Seeded random cases checked live against SciPy: KS statistics (with ties, exact profiles, and month mixtures)
//! and chi-square tests. Python is found via `MODELOPS_TEST_PYTHON`, else `<workspace>/.tools/pyenv/bin/python`;
//! without it the test skips with a message, unless `MODELOPS_REQUIRE_EXTERNAL=1`, which makes it fail.

use chrono::NaiveDate;
use modelops_monitor::stats::chi_square_homogeneity;
use modelops_monitor::{
    ColumnSet, DriftConfig, ReferenceProfile, ReferenceWindow, SketchConfig, detect_drift,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MODELOPS_TEST_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/pyenv/bin/python");
    if venv.is_file() {
        return Some(venv);
    }
    if std::env::var("MODELOPS_REQUIRE_EXTERNAL").as_deref() == Ok("1") {
        panic!(
            "MODELOPS_REQUIRE_EXTERNAL=1 but no Python: set MODELOPS_TEST_PYTHON or run scripts/bootstrap.sh test"
        );
    }
    eprintln!(
        "skipping: no test Python (set MODELOPS_TEST_PYTHON or run scripts/bootstrap.sh test)"
    );
    None
}

const SCRIPT: &str = r#"
import json, sys
import numpy as np
from scipy import stats
cases = json.load(sys.stdin)
out = {"ks": [], "chi": []}
for c in cases["ks"]:
    r = stats.ks_2samp(np.array(c["a"]), np.array(c["b"]), method="asymp")
    n, m = len(c["a"]), len(c["b"])
    out["ks"].append([float(r.statistic), float(stats.kstwobign.sf(np.sqrt(n * m / (n + m)) * r.statistic))])
for c in cases["chi"]:
    t = np.array([c["a"], c["b"]], dtype=float)
    t = t[:, t.sum(axis=0) > 0]
    r = stats.chi2_contingency(t, correction=False)
    out["chi"].append([float(r.statistic), float(r.pvalue)])
print(json.dumps(out))
"#;

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// One KS case: reference values with their months, current values in `current_month`.
struct KsCase {
    reference: Vec<f64>,
    reference_months: Vec<u32>,
    current: Vec<f64>,
    current_month: u32,
}

fn ks_cases() -> Vec<KsCase> {
    let mut rng = ChaCha8Rng::seed_from_u64(2015);
    let mut cases = Vec::new();
    for i in 0..12 {
        let n = 200 + 150 * i;
        let m = 60 + 40 * i;
        // Rounded values create many ties (the case the left/right limits exist for); shifts vary by case.
        let scale = if i % 3 == 0 { 1.0 } else { 10.0 };
        let shift = 0.08 * f64::from(i % 4);
        let reference: Vec<f64> = (0..n).map(|_| (normal(&mut rng) * scale).round()).collect();
        let reference_months = (0..n).map(|_| rng.random_range(1..=3)).collect();
        let current = (0..m)
            .map(|_| ((normal(&mut rng) + shift) * scale).round())
            .collect();
        cases.push(KsCase {
            reference,
            reference_months,
            current,
            current_month: 2,
        });
    }
    cases
}

fn day_in(month: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2014, month, 10).unwrap()
}

#[test]
fn ks_and_chi_square_agree_with_scipy_on_seeded_random_cases() {
    let Some(python) = python() else { return };
    let cases = ks_cases();
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let chi_cases: Vec<(Vec<f64>, Vec<f64>)> = (0..10)
        .map(|i| {
            let k = 2 + i % 5;
            let a = (0..k)
                .map(|_| f64::from(rng.random_range(0..400_u32)))
                .collect();
            let b = (0..k)
                .map(|_| f64::from(rng.random_range(0..200_u32)))
                .collect();
            (a, b)
        })
        .collect();

    // SciPy sees, for the same-months case, only the reference rows of the current month.
    let payload = serde_json::json!({
        "ks": cases.iter().map(|c| {
            let same_month: Vec<f64> = c.reference.iter().zip(&c.reference_months)
                .filter(|(_, m)| **m == c.current_month).map(|(v, _)| *v).collect();
            serde_json::json!({"a": same_month, "b": c.current})
        }).chain(cases.iter().map(|c| serde_json::json!({"a": c.reference, "b": c.current})))
        .collect::<Vec<_>>(),
        "chi": chi_cases.iter().map(|(a, b)| serde_json::json!({"a": a, "b": b})).collect::<Vec<_>>(),
    });
    let mut child = Command::new(&python)
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(payload.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let expected: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();

    let config = DriftConfig {
        min_rows: 1,
        ..DriftConfig::default()
    };
    let same_months = DriftConfig {
        reference_window: ReferenceWindow::SameMonths,
        ..config.clone()
    };
    for (i, case) in cases.iter().enumerate() {
        let ref_dates: Vec<NaiveDate> = case.reference_months.iter().map(|m| day_in(*m)).collect();
        let cur_dates = vec![day_in(case.current_month); case.current.len()];
        let training = ColumnSet::new()
            .with_dates(&ref_dates)
            .unwrap()
            .numeric("x", &case.reference)
            .unwrap();
        let profile = ReferenceProfile::build(&training, &SketchConfig::default()).unwrap();
        let current = ColumnSet::new()
            .with_dates(&cur_dates)
            .unwrap()
            .numeric("x", &case.current)
            .unwrap();
        for (label, cfg, index) in [
            ("same-months", &same_months, i),
            ("full", &config, cases.len() + i),
        ] {
            let ks = detect_drift(&profile, &current, cfg).unwrap().features[0]
                .ks
                .unwrap();
            let (d, p) = (
                expected["ks"][index][0].as_f64().unwrap(),
                expected["ks"][index][1].as_f64().unwrap(),
            );
            assert!(
                (ks.statistic - d).abs() < 1e-12,
                "case {i} {label}: D {} vs scipy {d}",
                ks.statistic
            );
            assert!(
                (ks.p_value - p).abs() <= 1e-9 * p.max(1e-300) + 1e-15,
                "case {i} {label}: p {} vs {p}",
                ks.p_value
            );
        }
    }
    for (i, (a, b)) in chi_cases.iter().enumerate() {
        let result = chi_square_homogeneity(a, b);
        let (statistic, p) = (
            expected["chi"][i][0].as_f64().unwrap(),
            expected["chi"][i][1].as_f64().unwrap(),
        );
        assert!(
            (result.statistic - statistic).abs() <= 1e-9 * statistic.max(1.0),
            "chi case {i}"
        );
        assert!(
            (result.p_value - p).abs() <= 1e-8 * p.max(1e-300) + 1e-15,
            "chi case {i}: {} vs {p}",
            result.p_value
        );
    }
}
