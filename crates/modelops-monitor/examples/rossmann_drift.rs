//! Drift reports on the real Rossmann data: the open training days as the reference, the drifted Aug–Dec 2015
//! traffic (`batch_aug_dec_2015.csv`) as current windows. Writes one report per window and prints a summary.
//!
//! ```text
//! cargo run -p modelops-monitor --example rossmann_drift -- [DATA_DIR] [OUTPUT_DIR]
//! ```
//! DATA_DIR defaults to `$MODELOPS_ROSSMANN_DIR`, else `../shared/data/rossmann`; OUTPUT_DIR to
//! `target/rossmann-drift`. No model is involved, so the reports carry no prediction drift.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/it/rossmann_data.rs"]
mod rossmann_data;

use modelops_monitor::{
    DriftConfig, ReferenceProfile, ReferenceWindow, SketchConfig, detect_drift, write_report,
};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let data = match args.next() {
        Some(dir) => PathBuf::from(dir),
        None => rossmann_data::real_data_dir().ok_or("Rossmann data not found; pass DATA_DIR")?,
    };
    let output = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "target/rossmann-drift".into()),
    );

    let started = std::time::Instant::now();
    let train = rossmann_data::read_open_rows(&data, "train.csv.gz");
    let traffic = rossmann_data::read_open_rows(&data, "batch_aug_dec_2015.csv");
    println!(
        "read {} open training rows, {} open traffic rows in {:.2?}",
        train.dates.len(),
        traffic.dates.len(),
        started.elapsed()
    );

    let started = std::time::Instant::now();
    let profile = ReferenceProfile::build(&train.columns(), &SketchConfig::default())?;
    let json = profile.to_json()?;
    println!(
        "profile built in {:.2?}: {} bytes of JSON",
        started.elapsed(),
        json.len()
    );

    let windows: [(&str, &[u32], ReferenceWindow); 5] = [
        ("aug-oct_full", &[8, 9, 10], ReferenceWindow::Full),
        ("nov-dec_full", &[11, 12], ReferenceWindow::Full),
        ("aug_same-months", &[8], ReferenceWindow::SameMonths),
        ("dec_same-months", &[12], ReferenceWindow::SameMonths),
        ("dec_full", &[12], ReferenceWindow::Full),
    ];
    for (name, months, reference_window) in windows {
        let current = traffic.in_months(months);
        let config = DriftConfig {
            reference_window,
            ..DriftConfig::default()
        };
        let started = std::time::Instant::now();
        let mut report = detect_drift(&profile, &current.columns(), &config)?;
        let elapsed = started.elapsed();
        report.model_name = Some("rossmann-ensemble".into());
        let written = write_report(&report, &output.join(name))?;
        println!(
            "\n{name}: {} rows, drift share {:.2} ({}/{}), dataset drift {} [{elapsed:.2?}] → {}",
            report.current.rows,
            report.drift_share,
            report.drifted_features,
            report.tested_features,
            report.dataset_drift,
            written.html.display()
        );
        for f in &report.features {
            println!(
                "  {:<20} {:<10} tvd {:>6} psi {:>7.3}  {}",
                f.name,
                format!("{:?}", f.status),
                f.total_variation
                    .map(|t| format!("{t:.3}"))
                    .unwrap_or_default(),
                f.psi.unwrap_or(f64::NAN),
                f.reason
            );
        }
    }
    Ok(())
}
