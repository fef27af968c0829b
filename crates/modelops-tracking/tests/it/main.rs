//! Integration tests of the tracking crate's public API: the store contract, run on every backend.

// clippy.toml allows unwrap in `#[test]` functions only; the helpers here are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod contract;
mod logger;
mod registry;
