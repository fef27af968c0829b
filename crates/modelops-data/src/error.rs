//! The one error type of the data layer. Every variant names the file and, where it applies, the line (1-based, as
//! an editor shows it) and the column, and says what to do about it.

use std::path::PathBuf;

/// Why reading, cleaning, validating or fingerprinting a dataset failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// An input file does not exist.
    #[error("{path}: file not found; {hint}")]
    NotFound {
        /// The file that was looked for.
        path: PathBuf,
        /// What to do (e.g. which command produces the file).
        hint: String,
    },
    /// The file exists but holds no bytes (or only blank lines).
    #[error("{path}: file is empty; expected a CSV header line and data rows")]
    EmptyFile {
        /// The empty file.
        path: PathBuf,
    },
    /// A gzip stream ends early or is corrupt.
    #[error(
        "{path}: gzip data is truncated or corrupt after line {last_complete_line} ({source}); \
         re-download or re-compress the file"
    )]
    Gzip {
        /// The compressed file.
        path: PathBuf,
        /// The last line that was read completely before the stream broke.
        last_complete_line: u64,
        /// The decoder's complaint.
        #[source]
        source: std::io::Error,
    },
    /// The header line is not comma-separated.
    #[error(
        "{path}: line 1: the header is separated by {found:?}, not ','; save the file as comma-separated CSV"
    )]
    WrongDelimiter {
        /// The file.
        path: PathBuf,
        /// The separator that was found instead (e.g. `;`).
        found: char,
    },
    /// A data line has a different number of fields than the header.
    #[error(
        "{path}: line {line}: {found} field(s), but the header has {expected}{more}; \
         check for a stray or missing comma or an unclosed quote"
    )]
    FieldCount {
        /// The file.
        path: PathBuf,
        /// 1-based line number of the first bad record.
        line: u64,
        /// Fields on that line.
        found: usize,
        /// Fields in the header.
        expected: usize,
        /// Text listing further bad lines, if any (e.g. ` (also lines 7, 9)`).
        more: String,
    },
    /// The header lacks required columns or has columns the format does not know.
    #[error("{path}: line 1: {problem}; expected exactly the columns {expected}")]
    Columns {
        /// The file.
        path: PathBuf,
        /// What is wrong (`missing column "Sales"`, `unexpected column "Foo" (position 10)`).
        problem: String,
        /// The expected column list, comma-separated.
        expected: String,
    },
    /// A cell could not be converted to its column's type.
    #[error("{path}: line {line}, column {column}: {value:?} is not {expected}{}", more_cells_text(*.more_cells))]
    BadValue {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// Column name.
        column: String,
        /// The text found.
        value: String,
        /// What was expected (`an integer`, `a date YYYY-MM-DD`).
        expected: &'static str,
        /// How many further cells of the file failed to parse.
        more_cells: usize,
    },
    /// A dataset violates a rule that cleaning relies on (e.g. duplicate (Store, Date) rows).
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming lines and columns.
        message: String,
    },
    /// An expectation suite file is unreadable or malformed.
    #[error("expectation suite {name}: {message}")]
    Suite {
        /// The suite file (or embedded suite name).
        name: String,
        /// What is wrong, naming the expectation.
        message: String,
    },
    /// The data manifest (`data/manifest.json`) cannot be read or written.
    #[error("{path}: {message}")]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A caller-supplied setting is unusable (e.g. `--stores 0`).
    #[error("invalid setting: {0}")]
    InvalidSetting(String),
    /// Operating-system I/O failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Polars failed while building, sorting or writing a frame.
    #[error("{context}: {source}")]
    Polars {
        /// What was being done, naming the file.
        context: String,
        /// The cause.
        #[source]
        source: polars::error::PolarsError,
    },
}

impl DataError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// Wraps a Polars error with what was being done.
    pub fn polars(context: impl Into<String>, source: polars::error::PolarsError) -> Self {
        Self::Polars {
            context: context.into(),
            source,
        }
    }

    /// True when the error means a file could not be read at all (as opposed to data that read but broke a rule).
    pub fn is_unreadable(&self) -> bool {
        matches!(
            self,
            Self::NotFound { .. }
                | Self::EmptyFile { .. }
                | Self::Gzip { .. }
                | Self::WrongDelimiter { .. }
                | Self::FieldCount { .. }
                | Self::Io { .. }
                | Self::Polars { .. }
        )
    }
}

/// Result alias of the data layer.
pub type Result<T, E = DataError> = std::result::Result<T, E>;

fn more_cells_text(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" ({n} more unparseable cell(s) in the file)")
    }
}

/// Lists further line numbers after the first, e.g. ` (also lines 7, 9 and 3 more)`; empty when there are none.
pub(crate) fn more_lines(rest: &[u64], total_more: usize) -> String {
    if total_more == 0 {
        return String::new();
    }
    let shown: Vec<String> = rest.iter().map(|l| l.to_string()).collect();
    let hidden = total_more.saturating_sub(rest.len());
    if hidden > 0 {
        format!(" (also lines {} and {hidden} more)", shown.join(", "))
    } else {
        format!(
            " (also line{} {})",
            if shown.len() > 1 { "s" } else { "" },
            shown.join(", ")
        )
    }
}
