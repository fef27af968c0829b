//! The real Kaggle files, when present: `$MODELOPS_ROSSMANN_DIR`, else `<workspace>/../shared/data/rossmann`.
//! Skips with a message when absent. Writes only into a temporary folder.

use std::path::PathBuf;

use modelops_data::validate::{Stage, embedded_suites, render_table, validate};
use modelops_data::{Manifest, RAW_TRAIN, locate_raw};

fn real_data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("MODELOPS_ROSSMANN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/rossmann")
        });
    if locate_raw(&dir, &RAW_TRAIN).is_ok() {
        Some(dir)
    } else {
        None
    }
}

#[test]
fn real_kaggle_data_ingests_validates_and_fingerprints() {
    let Some(dir) = real_data_dir() else {
        eprintln!(
            "skipping: real Rossmann data not found (set MODELOPS_ROSSMANN_DIR or put it in ../shared/data/rossmann)"
        );
        return;
    };
    let report = validate(&dir, Stage::Raw, &embedded_suites().unwrap()).unwrap();
    assert!(report.success, "{}", render_table(&report));
    let train = report
        .suites
        .iter()
        .find(|s| s.suite == "raw_train_suite")
        .unwrap();
    assert_eq!(train.rows, Some(970_379));

    let out = tempfile::tempdir().unwrap();
    let summary = modelops_data::ingest_into(&dir, out.path()).unwrap();
    assert_eq!(summary.train_rows, 970_379);
    assert_eq!(summary.stores, 1115);
    assert_eq!(
        (summary.first_date.as_str(), summary.last_date.as_str()),
        ("2013-01-01", "2015-06-19")
    );
    assert_eq!(summary.clean.rows_without_store, 0);

    let m = Manifest::load(out.path()).unwrap();
    let gz = m
        .entries()
        .find(|e| e.path.ends_with("train.csv.gz"))
        .unwrap();
    assert_eq!(
        gz.sha256,
        "a3f91d0ce5e22bba3053ce2a22da5787089cec72f5381268a2266071e7be3847"
    );
    let store = m.entries().find(|e| e.path.ends_with("store.csv")).unwrap();
    assert_eq!(
        store.sha256,
        "f56bd124a2849489e6bbb5c000f5fc9640204355e316475c918ae4d089afb344"
    );
    let processed = validate(out.path(), Stage::Processed, &embedded_suites().unwrap()).unwrap();
    assert!(processed.success, "{}", render_table(&processed));
}
