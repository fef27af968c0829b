//! The crate's error type: every way loading a search space, opening a study or running trials can fail.

use std::path::PathBuf;

/// Why a tuning call failed. Messages name the file, key, study or trial involved and say what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TuneError {
    /// The search-space file could not be read.
    #[error("cannot read the search-space file {path}: {source}")]
    ReadSearchSpaces {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// The search-space file is not valid YAML of the expected shape.
    #[error("the search-space file {path} is malformed: {message}")]
    ParseSearchSpaces {
        /// The file (or `<built-in>` for the compiled-in defaults).
        path: PathBuf,
        /// What the parser said, with line and column.
        message: String,
    },
    /// A parameter definition is unusable; `key` is `model.parameter`.
    #[error("search space key '{key}': {message}")]
    InvalidSearchSpace {
        /// `model.parameter`, e.g. `lightgbm.learning_rate`.
        key: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// No search space is defined for the requested model.
    #[error(
        "no search space for model '{model}'; known models: {known}. Add a '{model}:' section to the search-space file"
    )]
    UnknownModel {
        /// The requested model.
        model: String,
        /// Comma-separated models that do have a space.
        known: String,
    },
    /// A caller-supplied setting is unusable; the text names it.
    #[error("invalid setting: {0}")]
    InvalidSetting(String),
    /// The study storage URI is not one this crate can open.
    #[error(
        "studies need a SQL database, and '{0}' is not one; use sqlite:///path/to/studies.db or postgresql://user:password@host/db"
    )]
    UnsupportedStorage(String),
    /// An existing study was created with settings that conflict with the requested ones.
    #[error(
        "study '{study}' already exists with a different {what}; resume it with the same settings or pick a new study name"
    )]
    StudyMismatch {
        /// The study name.
        study: String,
        /// Which setting differs (`search space`, `direction`).
        what: String,
    },
    /// A study that should exist does not.
    #[error("study '{0}' not found")]
    StudyNotFound(String),
    /// A stored row could not be decoded (edited by hand, or written by an incompatible version).
    #[error("study '{study}' has an unreadable stored value in {field}: {message}")]
    CorruptStudy {
        /// The study name.
        study: String,
        /// Table and column, e.g. `tune_trials.params` of trial 3.
        field: String,
        /// What went wrong.
        message: String,
    },
    /// The database failed (connection, SQL, lock timeout). `context` says what was being done.
    #[error("study storage failed while {context}: {source}")]
    Storage {
        /// What was being done.
        context: String,
        /// The database error.
        #[source]
        source: sqlx::Error,
    },
    /// A worker thread could not be run or joined.
    #[error("tuning worker failed: {0}")]
    Worker(String),
}

impl TuneError {
    pub(crate) fn storage(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> TuneError {
        let context = context.into();
        move |source| TuneError::Storage { context, source }
    }

    pub(crate) fn invalid_space(key: impl Into<String>, message: impl Into<String>) -> TuneError {
        TuneError::InvalidSearchSpace {
            key: key.into(),
            message: message.into(),
        }
    }
}
