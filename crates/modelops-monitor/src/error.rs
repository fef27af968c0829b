//! The one error type of the monitor. Every variant names the feature, row, file or setting at fault and says
//! what to do about it.

use std::path::PathBuf;

/// Why building a profile, checking drift, scoring live performance or writing a report failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MonitorError {
    /// A column's length differs from the other columns of the same set.
    #[error(
        "column '{feature}' has {found} rows but the other columns have {expected}; pass columns of equal length"
    )]
    LengthMismatch {
        /// The column (feature name, `dates` or `prediction`).
        feature: String,
        /// Rows in the columns added before it.
        expected: usize,
        /// Rows in this column.
        found: usize,
    },
    /// A value cannot be used (an infinity, or a binary flag other than 0/1).
    #[error("column '{feature}', row {row}: value {value} is not allowed; {expected}")]
    InvalidValue {
        /// The column.
        feature: String,
        /// 1-based row number within the column.
        row: usize,
        /// The value as text.
        value: String,
        /// What is allowed instead.
        expected: &'static str,
    },
    /// The same feature name was added twice.
    #[error("feature '{0}' is given twice; give each monitored feature once")]
    DuplicateFeature(String),
    /// A monitored feature of the profile is missing from the current data, or has another kind there.
    #[error("feature '{feature}': {problem}")]
    FeatureMismatch {
        /// The feature.
        feature: String,
        /// What differs and what to do.
        problem: String,
    },
    /// The requested reference window cannot be assembled.
    #[error("cannot build the {window} reference: {reason}")]
    ReferenceWindow {
        /// The window asked for (e.g. `same-months`).
        window: &'static str,
        /// Why, and what to do.
        reason: String,
    },
    /// A profile read from a model package is internally inconsistent.
    #[error(
        "reference profile is corrupt: feature '{feature}': {problem}; rebuild the model package's profile"
    )]
    CorruptProfile {
        /// The feature whose summary is wrong.
        feature: String,
        /// What is wrong.
        problem: String,
    },
    /// A threshold or setting is out of range.
    #[error("invalid monitor setting {name} = {value}: {expected}")]
    InvalidConfig {
        /// The setting's name.
        name: &'static str,
        /// Its value as text.
        value: String,
        /// The allowed range.
        expected: &'static str,
    },
    /// Reading or writing a report or profile file failed.
    #[error("{path}: {action} failed: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What was being done (e.g. "writing the HTML report").
        action: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A profile or report could not be (de)serialised.
    #[error("{what}: JSON (de)serialisation failed: {source}")]
    Json {
        /// What was being (de)serialised.
        what: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}
