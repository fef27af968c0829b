//! The command-line surface: global options and the table of subcommands. Each subcommand's own arguments live
//! beside its implementation in `commands/<name>.rs`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

use crate::commands;

/// Train, track, register, serve and monitor sales-forecasting models (Rossmann-style daily store sales).
///
/// Every command works on a project directory (default: the current one) laid out as
/// data/raw/{train.csv,store.csv}, data/processed/, config/, outputs/, with an optional modelops.toml.
#[derive(Debug, Parser)]
#[command(name = "modelops", version, max_term_width = 110)]
pub struct Cli {
    /// Options every command understands.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every command; each also reads a `MODELOPS_*` variable and the `modelops.toml` file.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Project directory holding data/, config/, outputs/ and modelops.toml.
    #[arg(long, global = true, env = "MODELOPS_PROJECT_DIR", value_name = "DIR")]
    pub project_dir: Option<PathBuf>,
    /// Where runs are recorded: sqlite:///mlflow.db (default, relative to the project), postgresql://…,
    /// http://host:5000. Also read from MODELOPS_TRACKING_URI, then MLFLOW_TRACKING_URI.
    #[arg(long, global = true, value_name = "URI")]
    pub tracking_uri: Option<String>,
    /// Settings file (default: <project-dir>/modelops.toml when it exists).
    #[arg(
        long = "config-file",
        global = true,
        env = "MODELOPS_CONFIG",
        value_name = "FILE"
    )]
    pub config_file: Option<PathBuf>,
    /// More log output (-v debug for modelops, -vv everything); RUST_LOG, when set, wins.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors; no progress bars.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Data: generate synthetic data, validate it against expectation suites, see what is stale.
    #[command(subcommand)]
    Data(commands::data::DataCommand),
    /// Serve the MLflow-compatible tracking API and artifact proxy (port 5000).
    Server(commands::server::ServerArgs),
    /// Model registry: list registered models; show versions, stages, aliases, lineage and the audit trail.
    #[command(subcommand)]
    Registry(commands::registry::RegistryCommand),
    /// Promote a registered version to Staging, Production (needs --approver) or Archived.
    Promote(commands::promote::PromoteArgs),
    /// Put the previous Production version back into Production (needs --approver).
    Rollback(commands::promote::RollbackArgs),
    /// Serve predictions over HTTP (port 8000): /predict, /invocations, hot reload, prediction log.
    Serve(commands::serve::ServeArgs),
    /// Monitoring: drift reports over the prediction log (`drift`), actual sales (`actuals`) and live RMSPE per
    /// version and week (`performance`).
    #[command(subcommand)]
    Monitor(commands::monitor::MonitorCommand),
    /// Features: build the origin-safe feature table and the feature spec.
    #[command(subcommand)]
    Features(commands::features::FeaturesCommand),
    /// Score the baselines (naive last week, store×DayOfWeek×Promo mean, default LightGBM) with time-series CV
    /// and on the holdout; writes outputs/metrics/baseline_<timestamp>.json.
    Baseline(commands::baseline::BaselineArgs),
    /// Run the whole lifecycle on synthetic data: validate, features, train, register, gate, promote, predict.
    Demo(commands::demo::DemoArgs),
    /// Train LightGBM, XGBoost and the CatBoost-compatible booster, blend them, score the holdout, package and
    /// register the model.
    Train(commands::train::TrainArgs),
    /// The scheduled pipeline: validate raw data, features, train, register, gate → Staging, optional smoke test;
    /// stops before Production (the human step) and prints the promote command. For cron / systemd timers.
    Retrain(Box<commands::retrain::RetrainArgs>),
    /// The automated gate: score a registered version on the days after its training data; pass → Staging.
    Validate(commands::validate::ValidateArgs),
    /// Batch predictions for a file of rows in the Kaggle test schema.
    Predict(commands::predict::PredictArgs),
    /// Hyperparameter search (TPE + median pruning over time-series CV); updates best_hyperparameters.json.
    Tune(commands::tune::TuneArgs),
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn every_command_definition_is_consistent() {
        // clap's own checks: unique names, valid defaults, no clash with --version/--help, for every subcommand.
        Cli::command().debug_assert();
    }

    #[test]
    fn version_flags_of_subcommands_parse() {
        use clap::Parser;
        assert!(
            Cli::try_parse_from(["modelops", "validate", "--version", "3", "--strict"]).is_ok()
        );
        assert!(
            Cli::try_parse_from([
                "modelops",
                "registry",
                "show",
                "rossmann-ensemble",
                "--version",
                "2"
            ])
            .is_ok()
        );
    }
}
