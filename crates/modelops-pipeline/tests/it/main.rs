//! End-to-end tests of the pipeline on small synthetic data: train → package → batch predict → gate.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers fail loudly by design

mod train_predict;
