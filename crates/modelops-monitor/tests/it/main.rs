//! Integration tests of modelops-monitor through its public API (one test binary for the crate).

// clippy.toml allows unwrap in `#[test]` functions only; the fixture helpers here are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod drift;
mod performance;
mod report;
mod rossmann;
mod rossmann_data;
mod scipy_crosscheck;
mod stats_reference;
