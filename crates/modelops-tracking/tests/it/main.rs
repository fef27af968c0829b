//! Integration tests of the tracking crate's public API: the store contract, run on every backend (SQLite,
//! PostgreSQL, and `RemoteStore` against a stock `mlflow server`), and artifact stores on moto's S3 server.

// clippy.toml allows unwrap in `#[test]` functions only; the helpers here are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod contract;
mod external;
mod logger;
mod registry;
mod s3_artifacts;
mod stock_server;
