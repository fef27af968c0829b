//! [`StoreError`]: why a tracking-store or artifact-store call failed. The HTTP layer maps each case to an
//! MLflow error code; commands print it.

/// Why a tracking-store call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A looked-up entity is missing; the text names it (`Run with id=3f2a… not found`).
    #[error("{0}")]
    NotFound(String),
    /// A name that must be unique is taken (experiment, registered model).
    #[error("{0}")]
    AlreadyExists(String),
    /// A caller-supplied value is unusable; the text names the parameter and says what is allowed.
    #[error("{0}")]
    InvalidParameter(String),
    /// The remote server answered with an MLflow error code this crate has no variant for.
    #[error("remote tracking server answered {code}: {message}")]
    Remote {
        /// The MLflow `error_code`.
        code: String,
        /// The server's message.
        message: String,
    },
    /// The backend failed (SQL, HTTP, I/O); the cause is kept for the log, not shown to clients.
    #[error("tracking backend failed: {context}")]
    Backend {
        /// What was being done ("opening sqlite:///x.db", "logging a batch").
        context: String,
        /// The underlying failure.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StoreError {
    /// Wraps a backend failure with a short description of what was being done.
    pub fn backend(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Backend {
            context: context.into(),
            source: source.into(),
        }
    }

    /// Shorthand for [`StoreError::InvalidParameter`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidParameter(message.into())
    }

    /// Shorthand for [`StoreError::NotFound`].
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }
}
