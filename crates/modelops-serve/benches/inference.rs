//! Where a prediction's time goes: features, then each engine, for one row and for 1,000 rows, called from one
//! thread (no HTTP, no log). The load benchmark (`benches/load.rs`) measures the service end to end; this one
//! says which part to make faster.
//!
//! `cargo bench -p modelops-serve --bench inference` serves the tests' fixture package; `LOAD_PACKAGE=DIR` and
//! `LOAD_ORIGIN=YYYY-MM-DD` (as for the load benchmark) time any package, e.g. the real-data model.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark harness: failures abort the run

#[allow(dead_code)]
#[path = "../tests/it/fixture.rs"]
mod fixture;

use std::time::Instant;

use modelops_models::{Engine, Regressor};
use modelops_serve::{ModelIdentity, ServedModel};
use serde_json::Value;

/// Median of `reps` timings of `f`, in milliseconds.
fn median_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` runs nothing here.
    }
    let (package, origin, stores) = match std::env::var("LOAD_PACKAGE") {
        Ok(package) => {
            let origin = std::env::var("LOAD_ORIGIN")
                .expect("LOAD_ORIGIN=YYYY-MM-DD goes with LOAD_PACKAGE");
            let origin =
                modelops_features::calendar::parse_day(&origin).expect("LOAD_ORIGIN is YYYY-MM-DD");
            (std::path::PathBuf::from(package), origin, 1115)
        }
        Err(_) => {
            let fix = fixture::fixture();
            (fix.package_a.clone(), fix.origin, fixture::STORES)
        }
    };
    let model = ServedModel::load_dir(&package, ModelIdentity::default()).unwrap();
    let records = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|k| {
                fixture::row(
                    (k as u32 % stores) + 1,
                    origin + (k as i32 / stores as i32) % 40,
                    1,
                    (k % 2) as u8,
                )
            })
            .collect()
    };
    for n in [1usize, 1000] {
        let rows = modelops_serve::input::rows_from_records(&records(n)).unwrap();
        let reps = if n == 1 { 2000 } else { 50 };
        let features_ms = median_ms(reps, || {
            model.spec.features.build(&rows).unwrap();
        });
        let features = model.spec.features.build(&rows).unwrap();
        let mut line = format!("{n} row(s): features {features_ms:.3} ms");
        for engine in [Engine::Lightgbm, Engine::Xgboost, Engine::Catboost] {
            if let Some(member) = model.package.ensemble.member(engine) {
                let ms = median_ms(reps, || {
                    member.predict(&features).unwrap();
                });
                line.push_str(&format!(", {} {ms:.3} ms", engine.key()));
            }
        }
        let lightgbm_file = package.join(modelops_models::lightgbm::MODEL_FILE);
        if let Ok(lightgbm) = modelops_models::lightgbm::LightGbmModel::load(&lightgbm_file) {
            let library_ms = median_ms(reps, || {
                lightgbm.predict_with_library(&features).unwrap();
            });
            let same = lightgbm
                .predict(&features)
                .unwrap()
                .iter()
                .zip(lightgbm.predict_with_library(&features).unwrap())
                .all(|(a, b)| a.to_bits() == b.to_bits());
            line.push_str(&format!(
                " (LightGBM's own predictor {library_ms:.3} ms; compiled forest bit-identical: {same})"
            ));
        }
        let xgboost_file = package.join(modelops_models::xgboost::MODEL_FILE);
        if let Ok(xgboost) = modelops_models::xgboost::XgBoostModel::load(&xgboost_file) {
            let library_ms = median_ms(reps, || {
                xgboost.predict_with_library(&features).unwrap();
            });
            let same = xgboost
                .predict(&features)
                .unwrap()
                .iter()
                .zip(xgboost.predict_with_library(&features).unwrap())
                .all(|(a, b)| a.to_bits() == b.to_bits());
            line.push_str(&format!(
                " (XGBoost's own predictor {library_ms:.3} ms; compiled forest bit-identical: {same})"
            ));
        }
        let whole = median_ms(reps, || {
            model.predict(&rows).unwrap();
        });
        line.push_str(&format!("; whole predict {whole:.3} ms (median of {reps})"));
        println!("{line}");
    }
}
