//! One module per subcommand: its arguments (clap) and an `exec` that calls a library crate and reports.
//! This file is the table of contents and the exit-code contract.

use crate::cli::Command;
use crate::context::Context;

pub mod baseline;
pub mod data;
pub mod demo;
pub mod features;
pub mod model_uri;
pub mod monitor;
pub mod predict;
pub mod promote;
pub mod registry;
pub mod retrain;
pub mod serve;
pub mod server;
pub mod train;
pub mod tune;
pub mod validate;

/// Success.
pub const EXIT_OK: u8 = 0;
/// Any error not covered by a more specific code (bad input, I/O, store failure).
pub const EXIT_ERROR: u8 = 1;
/// Data failed its expectation suite (`data validate --fail-on-error`).
pub const EXIT_VALIDATION_FAILED: u8 = 3;
/// A model version failed the validation gate (`validate`, `retrain`).
pub const EXIT_GATE_FAILED: u8 = 4;
// Codes 5 and up mean different things per command (`monitor` and `retrain` below); 0, 1, 3 and 4 are shared.
/// `monitor drift` found dataset drift (more than the drift-share threshold of the features drifted).
pub const EXIT_DRIFT_DETECTED: u8 = 5;
/// `monitor performance` found a week above the RMSPE (or MAE) threshold.
pub const EXIT_PERFORMANCE_ALERT: u8 = 6;
/// `retrain`: ingesting the raw data or building features failed.
pub const EXIT_FEATURES_FAILED: u8 = 5;
/// `retrain`: training failed.
pub const EXIT_TRAINING_FAILED: u8 = 6;
/// `retrain`: the tracking store or the registry failed (recording the run, registering the version).
pub const EXIT_TRACKING_FAILED: u8 = 7;
/// `retrain --test-inference`: the Staging model's smoke test failed.
pub const EXIT_INFERENCE_FAILED: u8 = 8;
/// `retrain`: another retraining run holds the lock.
pub const EXIT_LOCKED: u8 = 9;

/// Runs one subcommand and returns the process exit code.
pub fn run(command: Command, ctx: &Context) -> anyhow::Result<u8> {
    match command {
        Command::Data(cmd) => data::exec(cmd, ctx),
        Command::Demo(args) => demo::exec(args, ctx),
        Command::Features(cmd) => features::exec(cmd, ctx),
        Command::Baseline(args) => baseline::exec(args, ctx),
        Command::Train(args) => train::exec(args, ctx),
        Command::Retrain(args) => retrain::exec(*args, ctx),
        Command::Validate(args) => validate::exec(args, ctx),
        Command::Predict(args) => predict::exec(args, ctx),
        Command::Tune(args) => tune::exec(args, ctx),
        Command::Server(args) => server::exec(args, ctx),
        Command::Registry(cmd) => registry::exec(cmd, ctx),
        Command::Promote(args) => promote::exec_promote(args, ctx),
        Command::Rollback(args) => promote::exec_rollback(args, ctx),
        Command::Serve(args) => serve::exec(args, ctx),
        Command::Monitor(cmd) => monitor::exec(cmd, ctx),
    }
}
