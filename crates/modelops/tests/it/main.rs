//! End-to-end tests of the `modelops` binary: the commands run as a user runs them, on a temporary project.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers fail loudly by design

mod monitoring;
