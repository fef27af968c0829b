//! Why a model operation failed.

use std::path::PathBuf;

/// Why fitting, predicting, saving or loading a model failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A hyperparameter or setting is out of range; the text names it and the allowed range.
    #[error("invalid setting: {0}")]
    InvalidConfig(String),
    /// The data handed to the model does not fit it (shape, feature names, empty set); the text says how.
    #[error("invalid data: {0}")]
    InvalidData(String),
    /// A model file could not be read or written.
    #[error("cannot access model file {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A model file exists but its content is not a model this engine understands.
    #[error("model file {path} is not valid: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The engine's native library reported an error.
    #[error("{engine} failed: {message}")]
    Engine {
        /// Which engine.
        engine: &'static str,
        /// The library's own message.
        message: String,
    },
    /// A model package file does not match the checksum in its manifest (modified, truncated or replaced).
    #[error(
        "{path} does not match the package manifest (sha256 {actual}, expected {expected}); the package was \
         modified or copied incompletely: re-export or re-download it"
    )]
    ChecksumMismatch {
        /// The file.
        path: PathBuf,
        /// SHA-256 recorded in the manifest.
        expected: String,
        /// SHA-256 of the file on disk.
        actual: String,
    },
    /// The binary was built without this engine.
    #[error("engine {0} is not built into this binary; rebuild with `--features {0}`")]
    EngineNotBuilt(&'static str),
}
