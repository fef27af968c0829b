//! Integration tests of modelops-serve: one binary, one module per concern.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers fail loudly by design

mod fixture;
mod hot_reload;
mod prediction_log;
mod router;
