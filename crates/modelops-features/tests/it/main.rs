//! Integration tests of modelops-features on an in-memory fixture (see `fixture.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns panic on bad fixtures

mod common;
mod fixture;
mod frame;
mod leakage;
mod spec;
