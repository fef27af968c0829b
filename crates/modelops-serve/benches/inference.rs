//! Where a prediction's time goes: features, then each engine, for one row and for 1,000 rows, called from one
//! thread (no HTTP, no log). The load benchmark (`benches/load.rs`) measures the service end to end; this one
//! says which part to make faster.
//!
//! `cargo bench -p modelops-serve --bench inference` times the tests' fixture package; `LOAD_PACKAGE=DIR` and
//! `LOAD_ORIGIN=YYYY-MM-DD` (see `support/target.rs`) time any package, e.g. the real-data model. For LightGBM and
//! XGBoost it also times the library's own predictor and checks that the compiled forest matches it bit for bit.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark harness: failures abort the run

#[path = "support/target.rs"]
mod bench_target;
#[allow(dead_code)]
#[path = "../tests/it/fixture.rs"]
mod fixture;

use std::time::Instant;

use modelops_models::lightgbm::LightGbmModel;
use modelops_models::xgboost::XgBoostModel;
use modelops_models::{Engine, Regressor};
use modelops_serve::{ModelIdentity, ServedModel};

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

/// `compiled` (the engine's own `predict`) against `library` (its library predictor): the library's median time
/// and whether the two agree to the bit, as a note for the report line.
fn against_library(
    engine: &str,
    reps: usize,
    compiled: impl Fn() -> Vec<f64>,
    library: impl Fn() -> Vec<f64>,
) -> String {
    let library_ms = median_ms(reps, || {
        library();
    });
    let same = compiled()
        .iter()
        .zip(library())
        .all(|(a, b)| a.to_bits() == b.to_bits());
    format!(" ({engine}'s own predictor {library_ms:.3} ms; compiled forest bit-identical: {same})")
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` runs nothing here.
    }
    let target = bench_target::Target::from_env();
    let model = ServedModel::load_dir(&target.package, ModelIdentity::default()).unwrap();
    // The engines once more as their concrete types, for the comparison with each library's predictor.
    let lightgbm =
        LightGbmModel::load(&target.package.join(modelops_models::lightgbm::MODEL_FILE)).ok();
    let xgboost =
        XgBoostModel::load(&target.package.join(modelops_models::xgboost::MODEL_FILE)).ok();
    for n in [1usize, 1000] {
        let rows = modelops_serve::input::rows_from_records(&target.rows(n)).unwrap();
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
        if let Some(m) = &lightgbm {
            line.push_str(&against_library(
                "LightGBM",
                reps,
                || m.predict(&features).unwrap(),
                || m.predict_with_library(&features).unwrap(),
            ));
        }
        if let Some(m) = &xgboost {
            line.push_str(&against_library(
                "XGBoost",
                reps,
                || m.predict(&features).unwrap(),
                || m.predict_with_library(&features).unwrap(),
            ));
        }
        let whole = median_ms(reps, || {
            model.predict(&rows).unwrap();
        });
        line.push_str(&format!("; whole predict {whole:.3} ms (median of {reps})"));
        println!("{line}");
    }
}
