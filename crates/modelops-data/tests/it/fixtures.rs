//! Small generated fixtures: a synthetic project (few stores) and helpers to write corrupted copies.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use modelops_data::synth::{SynthConfig, generate};

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// A data dir with `raw/train.csv` and `raw/store.csv` for `stores` stores over `start..=end`.
pub fn synth_project(
    stores: u32,
    start: NaiveDate,
    end: NaiveDate,
) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = SynthConfig {
        stores,
        start,
        end,
        seed: 11,
    };
    generate(&cfg, &data.join("raw"), &|_, _| {}).unwrap();
    (dir, data)
}

/// A tiny project: 4 stores, 60 days (too small for the row-count expectations, fine for parsing tests).
pub fn tiny_project() -> (tempfile::TempDir, PathBuf) {
    synth_project(4, date(2015, 1, 1), date(2015, 3, 1))
}

/// A project big enough for the shipped suites (≥ 10,000 train rows).
pub fn suite_sized_project() -> (tempfile::TempDir, PathBuf) {
    synth_project(15, date(2013, 1, 1), date(2015, 6, 19))
}

/// Rewrites `data/raw/<name>` with `edit` applied to its lines (header is line index 0).
pub fn edit_lines(data: &Path, name: &str, edit: impl FnOnce(&mut Vec<String>)) -> PathBuf {
    let path = data.join("raw").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    edit(&mut lines);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

/// Gzips `data/raw/train.csv` into `train.csv.gz` (removing the plain file) and returns the new path.
pub fn gzip_train(data: &Path) -> PathBuf {
    let plain = data.join("raw/train.csv");
    let bytes = std::fs::read(&plain).unwrap();
    let gz = data.join("raw/train.csv.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(&bytes).unwrap();
    enc.finish().unwrap();
    std::fs::remove_file(plain).unwrap();
    gz
}
