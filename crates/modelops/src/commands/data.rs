//! `modelops data …`: generate synthetic data, ingest the raw files, validate them against expectation suites and
//! show which datasets are fresh. Wiring only: the work is in `modelops_data`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use modelops_data::synth::{SynthConfig, generate};
use modelops_data::validate::{Stage, load_suites, render_table, validate};
use modelops_data::{Freshness, Manifest, Shape};

use crate::commands::{EXIT_ERROR, EXIT_OK, EXIT_VALIDATION_FAILED};
use crate::context::Context;
use crate::progress::Progress;

/// Data: generate synthetic data, ingest, validate against expectation suites, see what is stale.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Write a synthetic train.csv and store.csv in the exact Kaggle format (deterministic by seed).
    #[command(
        long_about = "Write a synthetic train.csv and store.csv in the exact Kaggle Rossmann format: store types and \
assortments, weekly seasonality, Sunday closures, state and school holidays, Promo cycles, Promo2, competition \
openings, Christmas peaks, refurbishment gaps and noise. Same seed, same bytes. The generating process and its \
effect sizes are documented in docs/synthetic-data.md.",
        after_help = "Examples:\n  modelops data synth                      # 50 stores into <data dir>/raw\n  \
modelops data synth --out /tmp/rossmann --stores 1115 --start 2013-01-01 --end 2015-07-31 --seed 7"
    )]
    Synth(SynthArgs),
    /// Read data/raw/{train,store}.csv[.gz], merge, clean and write data/processed/*.parquet.
    #[command(
        long_about = "Read the raw Kaggle files (data/raw/train.csv and store.csv, plain or .gz; a folder holding \
them directly also works), left-join store onto train, sort by (Store, Date), fill missing store fields \
(CompetitionDistance → 100000, CompetitionOpenSince*/Promo2Since* → 0, PromoInterval → \"\") and write \
data/processed/train_clean.parquet and store_clean.parquet. Every file read or written is fingerprinted in \
data/manifest.json.",
        after_help = "Examples:\n  modelops data ingest\n  modelops data ingest --data-dir /path/to/rossmann"
    )]
    Ingest(DirArgs),
    /// Check datasets against the expectation suites in config/suites/ (or the built-in ones).
    #[command(
        long_about = "Check datasets against expectation suites (JSON files in config/suites/, else the built-in \
copies): raw train.csv and store.csv, the processed train_clean.parquet, or the features table. Prints a table of \
expectations with pass/fail, what was observed and failing examples with their line numbers, and writes a JSON \
report. Exit code: 0 when everything passes (or with failures but without --fail-on-error), 3 when a suite fails \
with --fail-on-error, 1 when a file cannot be read.",
        after_help = "Examples:\n  modelops data validate --stage raw --fail-on-error\n  \
modelops data validate --stage all --report outputs/validation/all.json\n  \
modelops data validate --stage raw --data-dir ../shared/data/rossmann"
    )]
    Validate(ValidateArgs),
    /// Show which datasets are fresh and which are stale, by content hash.
    #[command(
        long_about = "List every dataset recorded in data/manifest.json with its hash, rows and producing command, \
and whether it is fresh (file and all its inputs unchanged since it was made), stale (and why), or missing.",
        after_help = "Example:\n  modelops data status"
    )]
    Status(DirArgs),
}

/// Arguments of `data synth`.
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Output folder (default: <data dir>/raw).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Number of stores (1..=1115).
    #[arg(long, default_value_t = 50)]
    pub stores: u32,
    /// First date, YYYY-MM-DD.
    #[arg(long, default_value = "2013-01-01", value_parser = parse_date)]
    pub start: chrono::NaiveDate,
    /// Last date, YYYY-MM-DD.
    #[arg(long, default_value = "2015-06-19", value_parser = parse_date)]
    pub end: chrono::NaiveDate,
    /// Random seed; the same seed gives the same bytes.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// A `--data-dir` flag.
#[derive(Debug, Args)]
pub struct DirArgs {
    /// Data directory (raw/ and processed/ below it); default: the project's data/.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// Which datasets to validate.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum StageArg {
    /// raw train.csv and store.csv.
    Raw,
    /// data/processed/train_clean.parquet.
    Processed,
    /// data/processed/train_features.parquet.
    Features,
    /// All of the above.
    All,
}

/// Arguments of `data validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Which datasets to check.
    #[arg(long, value_enum, default_value = "all")]
    pub stage: StageArg,
    /// Data directory (raw/ and processed/ below it, or the raw files directly); default: the project's data/.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Exit with code 3 when an expectation fails.
    #[arg(long)]
    pub fail_on_error: bool,
    /// Where to write the JSON report (default: <outputs>/validation/validation_<stage>.json).
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
}

fn parse_date(text: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|e| format!("{text:?} is not a date YYYY-MM-DD ({e})"))
}

/// Runs a `data` subcommand and returns the exit code.
pub fn exec(cmd: DataCommand, ctx: &Context) -> anyhow::Result<u8> {
    match cmd {
        DataCommand::Synth(args) => synth(args, ctx),
        DataCommand::Ingest(args) => ingest(&ctx.data_dir_or(args.data_dir.as_deref())),
        DataCommand::Validate(args) => validate_cmd(args, ctx),
        DataCommand::Status(args) => status(&ctx.data_dir_or(args.data_dir.as_deref())),
    }
}

fn synth(args: SynthArgs, ctx: &Context) -> anyhow::Result<u8> {
    let config = SynthConfig {
        stores: args.stores,
        start: args.start,
        end: args.end,
        seed: args.seed,
    };
    config.check()?;
    let out = args.out.unwrap_or_else(|| ctx.data_dir.join("raw"));
    let progress = Progress::new("synth days", config.days(), ctx.quiet);
    let summary = generate(&config, &out, &|done, _| progress.set(done))
        .with_context(|| format!("cannot write synthetic data to {}", out.display()))?;
    progress.finish();
    // Record the files in the project's manifest when they land inside its data directory.
    let mut manifest = Manifest::load(&ctx.data_dir)?;
    if !Path::new(&manifest.key(&summary.train_path)).is_absolute() {
        let cmd = format!(
            "modelops data synth --stores {} --start {} --end {} --seed {}",
            config.stores, config.start, config.end, config.seed
        );
        manifest.record_known(
            &summary.store_path,
            &summary.store_fingerprint,
            Shape::default(),
            &cmd,
            &[],
        )?;
        manifest.record_known(
            &summary.train_path,
            &summary.train_fingerprint,
            Shape::default(),
            &cmd,
            &[],
        )?;
    }
    println!(
        "Wrote {} rows for {} stores to {} and {} in {:.2}s ({:.1}M rows/s); {:.1}% closed days, mean sales on open days {:.0}",
        summary.rows,
        summary.stores,
        summary.train_path.display(),
        summary.store_path.display(),
        summary.seconds,
        summary.rows as f64 / summary.seconds.max(1e-9) / 1e6,
        100.0 * summary.closed_rows as f64 / summary.rows.max(1) as f64,
        summary.mean_open_sales
    );
    Ok(EXIT_OK)
}

fn ingest(data_dir: &Path) -> anyhow::Result<u8> {
    let s = modelops_data::ingest(data_dir)?;
    println!(
        "Ingested {} rows ({} … {}) and {} stores from {} and {}",
        s.train_rows,
        s.first_date,
        s.last_date,
        s.stores,
        s.train_path.display(),
        s.store_path.display()
    );
    println!(
        "Filled: CompetitionDistance {} rows, CompetitionOpenSince* {}, Promo2Since*/PromoInterval {}; rows without store metadata: {}",
        s.clean.fills.competition_distance,
        s.clean.fills.competition_open_since,
        s.clean.fills.promo2_since,
        s.clean.rows_without_store
    );
    println!(
        "Wrote {} (sha256 {}) and {} in {:.2}s",
        s.train_clean_path.display(),
        &s.train_clean_fingerprint.sha256[..12],
        s.store_clean_path.display(),
        s.seconds
    );
    Ok(EXIT_OK)
}

fn validate_cmd(args: ValidateArgs, ctx: &Context) -> anyhow::Result<u8> {
    let data_dir = ctx.data_dir_or(args.data_dir.as_deref());
    let (stage, name) = match args.stage {
        StageArg::Raw => (Stage::Raw, "raw"),
        StageArg::Processed => (Stage::Processed, "processed"),
        StageArg::Features => (Stage::Features, "features"),
        StageArg::All => (Stage::All, "all"),
    };
    let suites = load_suites(Some(&ctx.config_dir))?;
    let report = validate(&data_dir, stage, &suites)?;
    print!("{}", render_table(&report));
    let report_path = args.report.unwrap_or_else(|| {
        ctx.outputs_dir
            .join("validation")
            .join(format!("validation_{name}.json"))
    });
    if let Some(dir) = report_path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(&report_path, report.to_json() + "\n")
        .with_context(|| format!("cannot write the report to {}", report_path.display()))?;
    println!("Report: {}", report_path.display());
    if report.has_unreadable() {
        for s in report.suites.iter().filter(|s| s.read_error.is_some()) {
            eprintln!(
                "error: {}: {}",
                s.suite,
                s.read_error.as_deref().unwrap_or_default()
            );
        }
        return Ok(EXIT_ERROR);
    }
    Ok(if !report.success && args.fail_on_error {
        EXIT_VALIDATION_FAILED
    } else {
        EXIT_OK
    })
}

fn status(data_dir: &Path) -> anyhow::Result<u8> {
    let manifest = Manifest::load(data_dir)?;
    let rows = manifest.status()?;
    if rows.is_empty() {
        println!(
            "No datasets recorded in {}; run `modelops data ingest` first.",
            data_dir.join("manifest.json").display()
        );
        return Ok(EXIT_OK);
    }
    println!(
        "{:<10} {:<44} {:<14} {:>10}  {:<26} command",
        "status", "dataset", "sha256", "rows", "created"
    );
    for (entry, fresh) in &rows {
        println!(
            "{:<10} {:<44} {:<14} {:>10}  {:<26} {}",
            fresh.label(),
            entry.path,
            &entry.sha256[..12.min(entry.sha256.len())],
            entry
                .rows
                .map(|r| r.to_string())
                .unwrap_or_else(|| "-".into()),
            entry.created,
            entry.command
        );
        if let Freshness::Stale(reasons) = fresh {
            for r in reasons {
                println!("{:<10} ↳ {r}", "");
            }
        }
    }
    let stale = rows
        .iter()
        .filter(|(_, f)| !matches!(f, Freshness::Fresh))
        .count();
    println!("{} fresh, {stale} stale or missing", rows.len() - stale);
    Ok(EXIT_OK)
}
