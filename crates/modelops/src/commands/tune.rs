//! `modelops tune`: hyperparameter search with TPE (or random) and median pruning over the expanding-window CV,
//! studies stored in SQL (resumable, shareable between workers), results written to best_hyperparameters.json.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use modelops_eval::CvConfig;
use modelops_models::Engine;
use modelops_pipeline::serving::TargetTransform;
use modelops_pipeline::tune::{TunePlan, export_folds, tune};

use crate::context::Context;
use crate::progress::StepPrinter;

/// Which engines to tune.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TuneModel {
    /// LightGBM.
    Lightgbm,
    /// XGBoost.
    Xgboost,
    /// The CatBoost-compatible oblivious booster.
    Catboost,
    /// All three, one study each.
    All,
}

/// Arguments of `modelops tune`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  modelops tune --model lightgbm --trials 50\n  modelops tune --model all --trials 10 \
                        --timeout 30m\n  modelops tune --model xgboost --study xgb-nightly --workers 2   # resumes if it \
                        exists"
)]
pub struct TuneArgs {
    /// Engine(s) to tune.
    #[arg(long, value_enum, default_value = "all")]
    pub model: TuneModel,
    /// Trials each study should hold (a resumed study runs only the missing ones).
    #[arg(long, default_value_t = 50)]
    pub trials: u64,
    /// Stop starting trials after this long per engine (e.g. 90s, 30m, 2h).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Study name (default <model>_tuning); an existing study is resumed.
    #[arg(long)]
    pub study: Option<String>,
    /// Sampler seed (same seed, data and one worker ⇒ same trials).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Worker threads sharing the study (more processes or machines may join the same study).
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Data directory (default: the project's data/).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Study storage (default: the tracking URI when it is sqlite:// or postgresql://).
    #[arg(long, value_name = "URI")]
    pub storage: Option<String>,
    /// Search spaces (default config/search_spaces.yaml; built-in reference spaces when absent).
    #[arg(long, value_name = "FILE")]
    pub search_spaces: Option<PathBuf>,
    /// CV folds.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Days per fold.
    #[arg(long, default_value_t = 42)]
    pub fold_days: i32,
    /// Minimum training days before the first fold.
    #[arg(long, default_value_t = 365)]
    pub min_train_days: i32,
    /// Most boosting rounds per fit.
    #[arg(long, default_value_t = 2000)]
    pub max_rounds: u32,
    /// Early-stopping patience inside each fold.
    #[arg(long, default_value_t = 100)]
    pub early_stopping: u32,
    /// Threads per model fit (0 = the cores shared out among the workers: 1 each with --workers 2 on 2 cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Write the CV folds the objective uses (parquet per fold part + folds.json) to DIR and exit without
    /// tuning — for running another tuner, e.g. Optuna, on exactly the same rows.
    #[arg(long, value_name = "DIR")]
    pub export_folds: Option<PathBuf>,
}

/// Parses `90s`, `30m`, `2h` or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, unit) = t.split_at(
        t.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(t.len()),
    );
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 90s, 30m or 2h"))?;
    let seconds = match unit {
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("{text:?}: unknown unit {unit:?}; use s, m or h")),
    };
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(format!("{text:?}: the duration must be positive"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Runs `modelops tune`.
pub fn exec(args: TuneArgs, ctx: &Context) -> anyhow::Result<u8> {
    let engines = match args.model {
        TuneModel::Lightgbm => vec![Engine::Lightgbm],
        TuneModel::Xgboost => vec![Engine::Xgboost],
        TuneModel::Catboost => vec![Engine::Catboost],
        TuneModel::All => vec![Engine::Lightgbm, Engine::Xgboost, Engine::Catboost],
    };
    let storage_uri = args
        .storage
        .clone()
        .unwrap_or_else(|| ctx.tracking_uri.clone());
    let plan = TunePlan {
        data_dir: ctx.data_dir_or(args.data_dir.as_deref()),
        engines,
        n_trials: args.trials,
        timeout: args.timeout,
        study: args.study.clone(),
        seed: args.seed,
        workers: args.workers,
        storage_uri,
        search_spaces_file: args
            .search_spaces
            .clone()
            .unwrap_or_else(|| ctx.config_dir.join("search_spaces.yaml")),
        hyperparameters_file: ctx.config_dir.join("best_hyperparameters.json"),
        cv: CvConfig {
            n_folds: args.folds,
            fold_days: args.fold_days,
            min_train_days: args.min_train_days,
            ..CvConfig::default()
        },
        early_stopping_rounds: args.early_stopping,
        max_rounds: args.max_rounds,
        threads: args.threads,
        target: TargetTransform::Log1p,
        tracking: Some(ctx.tracking_target()),
    };
    let printer: Arc<dyn modelops_pipeline::Progress> = Arc::new(StepPrinter::new(ctx.quiet));
    if let Some(dir) = &args.export_folds {
        let export =
            export_folds(&plan, dir, &*printer).context("exporting the CV folds failed")?;
        for (k, (train, stop, valid)) in export.rows.iter().enumerate() {
            println!(
                "fold {k}: {train} training rows, {stop} early-stopping rows, {valid} scored rows"
            );
        }
        println!("wrote {}", export.manifest.display());
        return Ok(crate::commands::EXIT_OK);
    }
    let results = tune(&plan, printer).context("tuning failed")?;
    println!(
        "{:<10} {:<22} {:>9} {:>7} {:>7} {:>10} {:>8}",
        "model", "study", "complete", "pruned", "failed", "best RMSPE", "wall s"
    );
    for r in &results {
        println!(
            "{:<10} {:<22} {:>9} {:>7} {:>7} {:>10} {:>8.1}",
            r.engine,
            r.study,
            r.completed,
            r.pruned,
            r.failed,
            r.best_rmspe.map_or("-".into(), |v| format!("{v:.5}")),
            r.seconds
        );
    }
    println!(
        "Best parameters written to {}",
        plan.hyperparameters_file.display()
    );
    Ok(crate::commands::EXIT_OK)
}
