//! `modelops monitor`: monitoring commands over the prediction log. `actuals` records actual sales so live
//! performance per model version can be computed; `drift` (the drift report) is added with `modelops-monitor`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use modelops_features::calendar::format_day;

use crate::context::Context;

/// Monitoring subcommands.
#[derive(Debug, Subcommand)]
pub enum MonitorCommand {
    /// Record actual sales (Store, Date, Sales; train.csv's layout works) in the prediction log's database.
    /// Idempotent: a (Store, Date) recorded again keeps one row with the newest value.
    Actuals(ActualsArgs),
}

/// Arguments of `monitor actuals`.
#[derive(Debug, Args)]
pub struct ActualsArgs {
    /// CSV or parquet file with Store, Date and Sales columns.
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Database of the prediction log. Default: the tracking store's database.
    #[arg(long, value_name = "URI", env = "MODELOPS_PREDICTION_LOG_URI")]
    pub prediction_log_uri: Option<String>,
}

/// Runs a monitoring subcommand.
pub fn exec(command: MonitorCommand, ctx: &Context) -> anyhow::Result<u8> {
    match command {
        MonitorCommand::Actuals(args) => actuals(args, ctx),
    }
}

fn actuals(args: ActualsArgs, ctx: &Context) -> anyhow::Result<u8> {
    let uri = match &args.prediction_log_uri {
        Some(uri) => super::serve::absolutize_sqlite(uri, &ctx.project_dir),
        None => modelops_serve::log_uri_for_tracking(&ctx.tracking_uri).with_context(|| {
            format!(
                "the tracking store {} is remote; give the prediction log's database with --prediction-log-uri",
                ctx.tracking_uri
            )
        })?,
    };
    let input = if args.input.is_absolute() {
        args.input.clone()
    } else {
        ctx.project_dir.join(&args.input)
    };
    let actuals = modelops_serve::actuals::read_actuals(&input).map_err(|e| anyhow::anyhow!(e))?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let written = runtime.block_on(async {
        let log = modelops_serve::PredictionLog::open(&uri)
            .await
            .map_err(|e| anyhow::anyhow!(e))
            .with_context(|| format!("cannot open the prediction log at {uri}"))?;
        log.record_actuals(&actuals)
            .await
            .map_err(|e| anyhow::anyhow!(e))
    })?;
    if !ctx.quiet {
        let first = actuals
            .iter()
            .map(|a| a.date)
            .min()
            .map(format_day)
            .unwrap_or_default();
        let last = actuals
            .iter()
            .map(|a| a.date)
            .max()
            .map(format_day)
            .unwrap_or_default();
        let mut stores: Vec<u32> = actuals.iter().map(|a| a.store).collect();
        stores.sort_unstable();
        stores.dedup();
        eprintln!(
            "Recorded {written} actual sales ({} stores, {first} … {last}) from {} into {uri}",
            stores.len(),
            input.display()
        );
    }
    Ok(super::EXIT_OK)
}
