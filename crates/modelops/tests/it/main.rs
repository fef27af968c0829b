//! End-to-end tests of the `modelops` binary: the real executable, run as a user runs it, on small generated
//! projects in temporary folders.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers fail loudly by design

mod baseline;
mod monitoring;
mod project;
mod retrain;
mod tune;
