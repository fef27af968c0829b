//! The OpenAPI 3.0 document served at `/openapi.json`, hand-written in `openapi.json` beside this file: nine
//! routes do not justify a code-generation dependency, and the integration tests check that the document parses,
//! is OpenAPI 3 and lists exactly the routes [`crate::router`] serves.

/// The document, as served.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// The `(method, path)` pairs the router serves; the tests compare them with the document.
pub const ROUTES: [(&str, &str); 8] = [
    ("get", "/"),
    ("get", "/health"),
    ("get", "/ping"),
    ("get", "/model/info"),
    ("post", "/model/load"),
    ("post", "/predict"),
    ("post", "/invocations"),
    ("get", "/openapi.json"),
];
