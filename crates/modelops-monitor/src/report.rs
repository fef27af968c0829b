//! Writing a drift report to disk: `<output>/drift_report_<YYYY-MM-DD>.json` and `.html` (the date of
//! `generated_at`, UTC; a second run on the same day replaces that day's files) plus `latest.json` and
//! `latest.html` copies, so a dashboard or a browser bookmark always finds the newest report.
//!
//! Each file is written to a temporary name in the same folder and renamed into place, so a reader never sees a
//! half-written report.

use crate::drift::DriftReport;
use crate::error::MonitorError;
use crate::html::render_html;
use std::path::{Path, PathBuf};

/// Where [`write_report`] put the files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenReport {
    /// `drift_report_<date>.json`.
    pub json: PathBuf,
    /// `drift_report_<date>.html`.
    pub html: PathBuf,
    /// `latest.json`.
    pub latest_json: PathBuf,
    /// `latest.html`.
    pub latest_html: PathBuf,
}

/// Writes the JSON summary and the HTML report into `output_dir` (created if missing), plus the `latest` copies.
///
/// # Errors
/// [`MonitorError::Io`] naming the folder or file that could not be created or written.
pub fn write_report(
    report: &DriftReport,
    output_dir: &Path,
) -> Result<WrittenReport, MonitorError> {
    std::fs::create_dir_all(output_dir).map_err(|source| MonitorError::Io {
        path: output_dir.to_path_buf(),
        action: "creating the report folder",
        source,
    })?;
    let json = serde_json::to_string_pretty(report).map_err(|source| MonitorError::Json {
        what: "drift report".into(),
        source,
    })?;
    let html = render_html(report);
    let stem = format!("drift_report_{}", report.generated_at.format("%Y-%m-%d"));
    let written = WrittenReport {
        json: output_dir.join(format!("{stem}.json")),
        html: output_dir.join(format!("{stem}.html")),
        latest_json: output_dir.join("latest.json"),
        latest_html: output_dir.join("latest.html"),
    };
    write_atomically(
        &written.json,
        json.as_bytes(),
        "writing the JSON drift report",
    )?;
    write_atomically(
        &written.html,
        html.as_bytes(),
        "writing the HTML drift report",
    )?;
    write_atomically(&written.latest_json, json.as_bytes(), "writing latest.json")?;
    write_atomically(&written.latest_html, html.as_bytes(), "writing latest.html")?;
    tracing::info!(html = %written.html.display(), "drift report written");
    Ok(written)
}

fn write_atomically(path: &Path, bytes: &[u8], action: &'static str) -> Result<(), MonitorError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let io = |source| MonitorError::Io {
        path: path.to_path_buf(),
        action,
        source,
    };
    std::fs::write(&temporary, bytes).map_err(io)?;
    std::fs::rename(&temporary, path).map_err(|source| {
        let _ = std::fs::remove_file(&temporary);
        io(source)
    })
}

/// Reads a JSON drift report written by [`write_report`] (e.g. `latest.json` for a dashboard).
///
/// # Errors
/// [`MonitorError::Io`] when the file cannot be read, [`MonitorError::Json`] when it is not a drift report.
pub fn read_report(path: &Path) -> Result<DriftReport, MonitorError> {
    let text = std::fs::read_to_string(path).map_err(|source| MonitorError::Io {
        path: path.to_path_buf(),
        action: "reading the drift report",
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| MonitorError::Json {
        what: path.display().to_string(),
        source,
    })
}
