//! Integration tests of modelops-serve: one binary, one module per concern.

mod fixture;
mod hot_reload;
mod prediction_log;
mod router;
