//! Integration tests of modelops-data through its public API: ingest, validation, manifest and the synthetic
//! generator on small generated fixtures and hand-corrupted files, plus one test on the real Kaggle data when it is
//! present.

// Test helpers outside #[test] functions panic on purpose: a failed fixture is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fixtures;
mod ingest;
mod manifest;
mod real_data;
mod synth;
mod validate;
