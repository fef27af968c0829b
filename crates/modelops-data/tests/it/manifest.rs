//! Fingerprints and lineage recorded by ingest, and staleness when an input changes.

use modelops_data::{Freshness, Manifest, TRAIN_CLEAN_FILE};

use crate::fixtures::*;

#[test]
fn ingest_records_inputs_and_outputs_and_detects_staleness() {
    let (_tmp, data) = tiny_project();
    modelops_data::ingest(&data).unwrap();
    let m = Manifest::load(&data).unwrap();
    let paths: Vec<&str> = m.entries().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "processed/store_clean.parquet",
            "processed/train_clean.parquet",
            "raw/store.csv",
            "raw/train.csv"
        ]
    );
    let out = data.join("processed").join(TRAIN_CLEAN_FILE);
    let entry = m.get(&out).unwrap();
    assert_eq!(entry.columns.as_ref().unwrap().len(), 18);
    assert_eq!(entry.inputs.len(), 2);
    assert_eq!(entry.command, "modelops data ingest");
    assert!(
        m.status()
            .unwrap()
            .iter()
            .all(|(_, f)| *f == Freshness::Fresh)
    );

    // Changing a raw file makes the outputs stale and says why.
    edit_lines(&data, "store.csv", |l| {
        l[1] = l[1].replace(",\"a\",", ",\"c\",")
    });
    match m.is_fresh(&out).unwrap() {
        Freshness::Stale(reasons) => assert!(
            reasons.iter().any(|r| r.contains("raw/store.csv changed")),
            "{reasons:?}"
        ),
        other => panic!("expected stale, got {other:?}"),
    }
    // Re-ingesting makes everything fresh again.
    modelops_data::ingest(&data).unwrap();
    let m = Manifest::load(&data).unwrap();
    assert!(
        m.status()
            .unwrap()
            .iter()
            .all(|(_, f)| *f == Freshness::Fresh)
    );
}
