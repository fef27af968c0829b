//! Why a service operation failed ([`ServeError`], for library callers) and how a failure looks on the wire
//! ([`ApiError`], the only code that picks HTTP statuses and error codes).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Why loading a model, opening the prediction log or writing to it failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The model package could not be read; the text names the folder.
    #[error("cannot load the model package {path}: {source}")]
    Package {
        /// The package folder.
        path: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The registry could not resolve or download a model (empty stage, unknown model, unreachable store).
    #[error("model registry: {0}")]
    Registry(#[from] modelops_tracking::StoreError),
    /// The prediction log's database failed.
    #[error("prediction log ({context}): {source}")]
    Log {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A caller-supplied value is unusable; the text says what to change.
    #[error("{0}")]
    Invalid(String),
}

impl ServeError {
    /// Wraps a database error (sqlx's, or rusqlite's on the log's SQLite path) with what was being done.
    pub(crate) fn log<E>(context: impl Into<String>) -> impl FnOnce(E) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        let context = context.into();
        move |source| Self::Log {
            context,
            source: Box::new(source),
        }
    }
}

/// One bad field of one input row: `{"row": 0, "field": "Date", "message": "…"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Zero-based row index in the request (`null` for request-level problems).
    pub row: Option<usize>,
    /// The field (`Store`, `Date`, …), or the request member (`inputs`, `dataframe_split`).
    pub field: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl FieldError {
    /// A problem with field `field` of row `row`.
    pub fn row(row: usize, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            row: Some(row),
            field: field.into(),
            message: message.into(),
        }
    }

    /// A problem with the request as a whole.
    pub fn request(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            row: None,
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An HTTP error reply: `{"error_code", "message"[, "errors": [FieldError…]]}` with its status.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code (`INVALID_INPUT`, `MALFORMED_REQUEST`, …).
    pub code: &'static str,
    /// Human-readable summary.
    pub message: String,
    /// Per-row, per-field problems (input validation only).
    pub errors: Vec<FieldError>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error_code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    errors: &'a [FieldError],
}

impl ApiError {
    /// 422 `INVALID_INPUT` listing every bad row and field.
    pub fn invalid_input(errors: Vec<FieldError>) -> Self {
        let message = match errors.len() {
            1 => "1 input value is invalid; see errors".to_string(),
            n => format!("{n} input values are invalid; see errors"),
        };
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "INVALID_INPUT",
            message,
            errors,
        }
    }

    /// 400 `MALFORMED_REQUEST`: the body is not JSON at all.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "MALFORMED_REQUEST",
            message: message.into(),
            errors: vec![],
        }
    }

    /// 413 `PAYLOAD_TOO_LARGE`.
    pub fn too_large(limit: usize) -> Self {
        Self {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "PAYLOAD_TOO_LARGE",
            message: format!(
                "the request body is larger than {limit} bytes; split the inputs into smaller requests"
            ),
            errors: vec![],
        }
    }

    /// 404 `ENDPOINT_NOT_FOUND`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "ENDPOINT_NOT_FOUND",
            message: message.into(),
            errors: vec![],
        }
    }

    /// 404 `RESOURCE_DOES_NOT_EXIST`: an unknown model, version or empty stage.
    pub fn no_such_model(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "RESOURCE_DOES_NOT_EXIST",
            message: message.into(),
            errors: vec![],
        }
    }

    /// 503 `MODEL_UNAVAILABLE`: the service cannot reach its registry or load a model right now.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "MODEL_UNAVAILABLE",
            message: message.into(),
            errors: vec![],
        }
    }

    /// 500 `INTERNAL_ERROR`: the cause goes to the log, not to the client.
    pub fn internal(context: &str, cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "{context}");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "INTERNAL_ERROR",
            message: format!("{context}; see the service log"),
            errors: vec![],
        }
    }
}

impl From<ServeError> for ApiError {
    fn from(err: ServeError) -> Self {
        match &err {
            ServeError::Registry(modelops_tracking::StoreError::NotFound(what)) => {
                Self::no_such_model(what.clone())
            }
            ServeError::Registry(modelops_tracking::StoreError::InvalidParameter(what))
            | ServeError::Invalid(what) => Self {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "INVALID_PARAMETER_VALUE",
                message: what.clone(),
                errors: vec![],
            },
            ServeError::Registry(_) => {
                tracing::error!(error = %err, "registry call failed");
                Self::unavailable(format!("{err}"))
            }
            _ => Self::internal("loading the model failed", &err),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error_code: self.code,
            message: &self.message,
            errors: &self.errors,
        };
        (self.status, Json(body)).into_response()
    }
}
