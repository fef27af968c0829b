//! [`ApiError`]: an MLflow error body `{"error_code", "message"}` with its HTTP status. The only code that knows
//! MLflow's error codes; backend causes are logged, never sent to clients.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use modelops_tracking::StoreError;
use serde_json::json;

/// An MLflow-style error reply.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    /// 400 INVALID_PARAMETER_VALUE.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "INVALID_PARAMETER_VALUE",
            message: message.into(),
        }
    }
    /// 404 RESOURCE_DOES_NOT_EXIST.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "RESOURCE_DOES_NOT_EXIST",
            message: message.into(),
        }
    }
    /// 404 ENDPOINT_NOT_FOUND.
    pub fn endpoint_not_found(path: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "ENDPOINT_NOT_FOUND",
            message: format!("No API endpoint matches '{path}'"),
        }
    }
    /// 405 with the MLflow BAD_REQUEST code.
    pub fn method_not_allowed(method: &str, path: &str) -> Self {
        Self {
            status: StatusCode::METHOD_NOT_ALLOWED,
            code: "BAD_REQUEST",
            message: format!("Method {method} is not allowed for '{path}'"),
        }
    }
    /// Missing required field.
    pub fn missing(field: &str) -> Self {
        Self::invalid(format!(
            "Missing value for required parameter '{field}'. See the API docs for more information about request \
             parameters."
        ))
    }
    /// Wrong JSON type or unparsable value.
    pub fn bad_value(field: &str, value: &serde_json::Value, expected: &str) -> Self {
        let shown = match value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        Self::invalid(format!(
            "Invalid value \"{shown}\" for parameter '{field}' supplied: {expected}. See the API docs for more \
             information about request parameters."
        ))
    }
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
    /// The MLflow error code.
    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(message) => Self::not_found(message),
            StoreError::AlreadyExists(message) => Self {
                status: StatusCode::BAD_REQUEST,
                code: "RESOURCE_ALREADY_EXISTS",
                message,
            },
            StoreError::InvalidParameter(message) => Self::invalid(message),
            other => {
                tracing::error!(error = ?other, "store call failed");
                Self {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    code: "INTERNAL_ERROR",
                    message: "The tracking store failed; see the server log for the cause.".into(),
                }
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "error_code": self.code, "message": self.message })),
        )
            .into_response()
    }
}
