//! Why building features failed.

/// Why reading inputs, computing history or building features failed. Every message names the column, row, store
/// or date at fault and what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FeatureError {
    /// A required column is absent from an input table.
    #[error("input table has no column '{column}'; expected the {schema} schema")]
    MissingColumn {
        /// The column that was looked for.
        column: String,
        /// Which schema the table should follow (e.g. "cleaned train").
        schema: &'static str,
    },
    /// A column exists but holds values of the wrong type or an invalid value.
    #[error("column '{column}', row {row}: {reason}")]
    InvalidValue {
        /// The column.
        column: String,
        /// Zero-based row index in the input table.
        row: usize,
        /// What is wrong and what was expected.
        reason: String,
    },
    /// A row refers to a store absent from the store table or the feature spec.
    #[error(
        "row {row}: store {store} is not in the store table; add it to store.csv and rebuild the feature spec"
    )]
    UnknownStore {
        /// Zero-based row index.
        row: usize,
        /// The store id.
        store: u32,
    },
    /// The requested data selection is empty or inconsistent (e.g. no rows before the origin).
    #[error("{0}")]
    Empty(String),
    /// A Polars operation failed while reading or writing a table.
    #[error("{context}")]
    Polars {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: polars::error::PolarsError,
    },
    /// A file could not be read or written.
    #[error("cannot access {path}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A feature spec could not be (de)serialised.
    #[error("feature spec {path} is not valid JSON for this version of modelops: {source}")]
    SpecFormat {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The model-side matrix rejected the built values (a bug: names and values disagree).
    #[error("feature matrix could not be assembled")]
    Matrix(#[source] modelops_models::ModelError),
}
