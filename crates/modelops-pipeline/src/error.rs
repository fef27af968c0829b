//! Why a job failed: the failing library's error, kept whole, plus the step it happened in.

use std::path::PathBuf;

/// Why a pipeline job failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// Reading, cleaning or validating data failed.
    #[error(transparent)]
    Data(#[from] modelops_data::DataError),
    /// Building features failed.
    #[error(transparent)]
    Features(#[from] modelops_features::FeatureError),
    /// A model could not be fitted, saved, loaded or run.
    #[error(transparent)]
    Model(#[from] modelops_models::ModelError),
    /// Recording to the tracking store failed.
    #[error("tracking store: {0}")]
    Tracking(#[from] modelops_tracking::StoreError),
    /// Scoring failed.
    #[error(transparent)]
    Eval(#[from] modelops_eval::EvalError),
    /// A plan or an input is unusable; the text says what to change.
    #[error("{0}")]
    Invalid(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A data-frame operation failed on a file.
    #[error("{path}: {message}")]
    Frame {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

impl PipelineError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}
