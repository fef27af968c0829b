//! The `modelops` binary: clap commands, configuration and progress output. Wiring only: every command opens what
//! it needs, calls a library crate and reports; no modelling or storage logic lives here.

mod cli;
mod commands;
mod context;
mod progress;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    progress::init_logging(cli.global.verbose, cli.global.quiet);
    let ctx = match context::Context::resolve(&cli.global) {
        Ok(ctx) => ctx,
        Err(err) => {
            eprintln!("error: {err:#}");
            return ExitCode::from(commands::EXIT_ERROR);
        }
    };
    match commands::run(cli.command, &ctx) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(commands::EXIT_ERROR)
        }
    }
}
