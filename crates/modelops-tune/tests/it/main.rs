//! Integration tests of `modelops-tune` through its public API: sampler quality, determinism, pruning, crash
//! recovery and shared studies on SQLite (and PostgreSQL when `MODELOPS_TEST_POSTGRES_URL` is set).
// Test helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod objectives;
mod postgres;
mod quality;
mod studies;
mod subprocess;

use modelops_tune::{Distribution, FloatRange, SearchSpace};

/// A study database in `dir`, as a URI.
pub fn sqlite_uri(dir: &std::path::Path) -> String {
    format!("sqlite://{}", dir.join("studies.db").display())
}

/// `dims` float parameters `x0..` in `[-5, 5]`.
pub fn box_space(dims: usize) -> SearchSpace {
    SearchSpace {
        params: (0..dims)
            .map(|i| {
                (
                    format!("x{i}"),
                    Distribution::Float(FloatRange {
                        low: -5.0,
                        high: 5.0,
                        step: None,
                        log: false,
                    }),
                )
            })
            .collect(),
    }
}
