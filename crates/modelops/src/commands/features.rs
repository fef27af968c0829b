//! `modelops features build`: the origin-safe feature table and feature spec from `train_clean.parquet`.
//! Wiring only: the features are `modelops_features`, the manifest is `modelops_data`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use modelops_data::ingest::{TRAIN_CLEAN_FILE, TRAIN_FEATURES_FILE, processed_dir, read_parquet};
use modelops_data::{Freshness, Manifest};
use modelops_features::calendar::format_day;
use modelops_features::io::write_features_parquet;
use modelops_features::{
    FeatureBuilder, FeatureSettings, FeatureSpec, RollingOrigins, RowFilter, SalesData,
};

use crate::commands::EXIT_OK;
use crate::context::Context;

/// File name of the feature spec written next to the features table.
pub const FEATURE_SPEC_FILE: &str = "feature_spec.json";

/// Features: build the origin-safe feature table and spec.
#[derive(Debug, Subcommand)]
pub enum FeaturesCommand {
    /// Build data/processed/train_features.parquet and feature_spec.json from train_clean.parquet.
    #[command(
        long_about = "Build the origin-safe features of every day: the days before the holdout (the last \
--holdout-days of the data) in 42-day blocks, each block with history computed at its own start (rolling origins, \
so no row sees its own or any later Sales), and the holdout with history at the holdout origin. Writes \
data/processed/train_features.parquet (Store, Date, Sales, Open, Origin, IsHoldout, then the features) and \
data/processed/feature_spec.json (names, kinds, fixed category levels, store table, store histories at the \
holdout origin), and records both in data/manifest.json. Skips the work when both are fresh (inputs unchanged) \
unless --force. See docs/features.md.",
        after_help = "Examples:\n  modelops features build\n  modelops features build --data-dir /tmp/rossmann --force"
    )]
    Build(BuildArgs),
}

/// Arguments of `features build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Data directory holding processed/train_clean.parquet (default: the project's data/).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Days at the end of the data kept as the holdout (its first day is the spec's origin).
    #[arg(long, default_value_t = 42)]
    pub holdout_days: i32,
    /// Days per rolling-origin training block.
    #[arg(long, default_value_t = 42)]
    pub block_days: i32,
    /// Rebuild even when the outputs are fresh.
    #[arg(long)]
    pub force: bool,
}

/// Runs `modelops features …`.
pub fn exec(command: FeaturesCommand, ctx: &Context) -> anyhow::Result<u8> {
    match command {
        FeaturesCommand::Build(args) => build(args, ctx),
    }
}

fn build(args: BuildArgs, ctx: &Context) -> anyhow::Result<u8> {
    anyhow::ensure!(args.holdout_days >= 1, "--holdout-days must be at least 1");
    anyhow::ensure!(args.block_days >= 1, "--block-days must be at least 1");
    let data_dir = ctx.data_dir_or(args.data_dir.as_deref());
    let processed = processed_dir(&data_dir);
    let clean_path = processed.join(TRAIN_CLEAN_FILE);
    let features_path = processed.join(TRAIN_FEATURES_FILE);
    let spec_path = processed.join(FEATURE_SPEC_FILE);
    anyhow::ensure!(
        clean_path.is_file(),
        "{} does not exist; run `modelops data ingest` first",
        clean_path.display()
    );
    let mut manifest = Manifest::load(&data_dir)?;
    if !args.force
        && matches!(manifest.is_fresh(&features_path)?, Freshness::Fresh)
        && matches!(manifest.is_fresh(&spec_path)?, Freshness::Fresh)
    {
        println!(
            "Fresh      {} and {} (inputs unchanged; --force rebuilds)",
            features_path.display(),
            spec_path.display()
        );
        return Ok(EXIT_OK);
    }
    let started = std::time::Instant::now();
    let frame = read_parquet(
        &clean_path,
        None,
        "run `modelops data ingest` to rebuild it",
    )?;
    let data = SalesData::from_clean_frame(&frame).with_context(|| {
        format!(
            "{} does not follow the cleaned-table layout",
            clean_path.display()
        )
    })?;
    let (first, last) = data.day_range();
    let origin = last - args.holdout_days + 1;
    anyhow::ensure!(
        origin > first,
        "--holdout-days {} leaves no training days",
        args.holdout_days
    );
    let builder = FeatureBuilder::new(data.stores(), FeatureSettings::default());
    let plan = RollingOrigins {
        block_days: args.block_days,
        ..RollingOrigins::default()
    };
    let train = data.training_set(&builder, origin, &plan, RowFilter::AllRows)?;
    let holdout = data.forecast_set(&builder, origin, last + 1, RowFilter::AllRows)?;
    let rows = write_features_parquet(&features_path, &[&train, &holdout], origin)?;
    let spec = FeatureSpec::new(builder, data.stores().clone(), data.history_at(origin));
    spec.save(&spec_path)?;
    let inputs = [clean_path.as_path()];
    manifest.record(&features_path, "modelops features build", &inputs)?;
    manifest.record(&spec_path, "modelops features build", &inputs)?;
    tracing::info!(
        rows,
        seconds = started.elapsed().as_secs_f64(),
        "features built"
    );
    println!(
        "Wrote      {} ({rows} rows: {} training rows in {}-day rolling blocks from {}, {} holdout rows {}..{})",
        features_path.display(),
        train.len(),
        args.block_days,
        format_day(
            data.block_origins(origin, &plan)
                .first()
                .copied()
                .unwrap_or(origin)
        ),
        holdout.len(),
        format_day(origin),
        format_day(last)
    );
    println!(
        "Wrote      {} ({} features, history at origin {})",
        spec_path.display(),
        spec.names.len(),
        format_day(origin)
    );
    Ok(EXIT_OK)
}
