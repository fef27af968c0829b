//! Integration tests of modelops-eval on the in-memory fixture shared with modelops-features.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns panic on bad fixtures

#[path = "../../../modelops-features/tests/it/fixture.rs"]
#[allow(dead_code)]
mod fixture;

mod baselines;
