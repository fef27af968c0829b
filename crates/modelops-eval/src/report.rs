//! The baseline report file: every forecaster's fold and holdout scores plus the fold layout, as JSON in
//! `outputs/metrics/baseline_<UTC timestamp>.json` (until the tracking store records them as runs).

use crate::EvalError;
use crate::baseline::ModelReport;
use crate::cv::{CvConfig, FoldTable};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Everything one `modelops baseline` invocation measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BaselineReport {
    /// UTC creation time, RFC 3339.
    pub created_at: String,
    /// The CV settings.
    pub cv: CvConfig,
    /// Fold dates and sizes.
    pub folds: FoldTable,
    /// One entry per forecaster.
    pub models: Vec<ModelReport>,
}

impl BaselineReport {
    /// Writes the report as `<dir>/baseline_<timestamp>.json` (timestamp `YYYYmmddTHHMMSSZ` from `created_at`'s
    /// moment, supplied by the caller as `stamp`) and returns the path.
    ///
    /// # Errors
    /// [`EvalError::Io`] when the folder or file cannot be written.
    pub fn write(&self, dir: &Path, stamp: &str) -> Result<PathBuf, EvalError> {
        std::fs::create_dir_all(dir).map_err(|source| EvalError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(format!("baseline_{stamp}.json"));
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| EvalError::InvalidInput(format!("report cannot be serialised: {e}")))?;
        std::fs::write(&path, text).map_err(|source| EvalError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }
}
