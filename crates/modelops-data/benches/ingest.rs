//! Benchmark (plain `std::time`, `harness = false`): ingest + clean + validate of the real Kaggle `train.csv.gz`
//! (970,379 rows) with `store.csv`, and synthetic generation speed.
//!
//! Targets: ingest + clean + validate ≤ 3 s wall and ≤ 1 GiB peak RSS; generation ≥ 2 M rows/s.
//! The real data is looked up at `$MODELOPS_ROSSMANN_DIR`, else `<workspace>/../shared/data/rossmann`; that part is
//! skipped with a message when absent. Run: `cargo bench -p modelops-data --bench ingest`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use modelops_data::synth::{SynthConfig, write_train};
use modelops_data::validate::{DatasetId, Stage, embedded_suites, load_dataset, run_suite};
use modelops_data::{RAW_TRAIN, clean_with_report, locate_raw, write_parquet};

/// Peak resident set size of this process so far, from `/proc/self/status` (Linux), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn real_data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("MODELOPS_ROSSMANN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/rossmann")
        });
    locate_raw(&dir, &RAW_TRAIN).is_ok().then_some(dir)
}

fn bench_real_ingest() -> Result<(), Box<dyn std::error::Error>> {
    let Some(dir) = real_data_dir() else {
        println!("ingest: skipped (real Rossmann data not found; set MODELOPS_ROSSMANN_DIR)");
        return Ok(());
    };
    let out = tempfile::tempdir()?;
    let suites: Vec<_> = embedded_suites()?
        .into_iter()
        .filter(|s| Stage::Raw.includes(s.dataset))
        .collect();
    for round in 1..=3 {
        let started = Instant::now();
        // Read both raw files once, in parallel; validate them; clean; write parquet.
        let (train, store) = std::thread::scope(|s| {
            let store = s.spawn(|| load_dataset(&dir, DatasetId::RawStore, &[]));
            let train = load_dataset(&dir, DatasetId::RawTrain, &[]);
            (train, store.join().map_err(|_| "store reader panicked"))
        });
        let (train, store) = (train?, store??);
        let read = started.elapsed().as_secs_f64();
        let mut others = HashMap::new();
        others.insert(DatasetId::RawStore, store.clone());
        let mut all_passed = true;
        for suite in &suites {
            let ds = if suite.dataset == DatasetId::RawTrain {
                &train
            } else {
                &store
            };
            all_passed &= run_suite(suite, ds, &others)?.success;
        }
        let validated = started.elapsed().as_secs_f64();
        let (mut merged, _) = clean_with_report(&train.frame, &store.frame)?;
        write_parquet(&mut merged, &out.path().join("train_clean.parquet"))?;
        let total = started.elapsed().as_secs_f64();
        println!(
            "ingest+clean+validate (round {round}): {total:.2} s wall (read {read:.2} s, validate {:.2} s, clean+write {:.2} s); \
             {} rows; suites {}; peak RSS {:.0} MiB",
            validated - read,
            total - validated,
            merged.height(),
            if all_passed { "passed" } else { "FAILED" },
            peak_rss_mib().unwrap_or(f64::NAN)
        );
    }
    let started = Instant::now();
    let summary = modelops_data::ingest_into(&dir, out.path())?;
    println!(
        "modelops_data::ingest_into alone: {:.2} s ({} rows); peak RSS {:.0} MiB",
        started.elapsed().as_secs_f64(),
        summary.train_rows,
        peak_rss_mib().unwrap_or(f64::NAN)
    );
    Ok(())
}

fn bench_synth() -> Result<(), Box<dyn std::error::Error>> {
    let config = SynthConfig {
        stores: 1115,
        start: chrono::NaiveDate::from_ymd_opt(2013, 1, 1).ok_or("date")?,
        end: chrono::NaiveDate::from_ymd_opt(2015, 7, 31).ok_or("date")?,
        seed: 1,
    };
    let started = Instant::now();
    let counts = write_train(&config, &mut std::io::sink(), &|_, _| {})?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "synth to memory sink: {} rows in {secs:.2} s = {:.1} M rows/s",
        counts.rows,
        counts.rows as f64 / secs / 1e6
    );
    let out = tempfile::tempdir()?;
    let started = Instant::now();
    let summary = modelops_data::synth::generate(&config, out.path(), &|_, _| {})?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "synth to disk (train.csv + store.csv, hashed): {} rows in {secs:.2} s = {:.1} M rows/s",
        summary.rows,
        summary.rows as f64 / secs / 1e6
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    bench_real_ingest()?;
    bench_synth()?;
    Ok(())
}
