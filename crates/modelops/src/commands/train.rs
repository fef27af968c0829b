//! `modelops train`: fits the three engines and the weighted ensemble, scores the holdout, writes the model
//! package, and records everything as one tracking run.

use anyhow::Context as _;
use clap::Args;
use modelops_models::EnsembleWeights;
use modelops_pipeline::registry::RegistryClient;
use modelops_pipeline::serving::TargetTransform;
use modelops_pipeline::train::{Rounds, TrainPlan, TrainReport, train};
use modelops_tracking::registry::ModelVersion;
use std::path::PathBuf;

use crate::context::Context;
use crate::progress::StepPrinter;

/// Arguments of `modelops train`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  modelops train\n  modelops train --holdout-days 0 --weights \
                        lightgbm=0.3,xgboost=0.6,catboost=0.1\n  modelops train --early-stopping 100"
)]
pub struct TrainArgs {
    /// Data directory (default: the project's data/).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Hyperparameter file in the reference shape (default: config/best_hyperparameters.json; the reference's tuned
    /// values when it does not exist).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Ensemble weights, non-negative and summing to 1.
    #[arg(
        long,
        value_name = "lightgbm=W,xgboost=W,catboost=W",
        default_value = "lightgbm=0.3,xgboost=0.6,catboost=0.1"
    )]
    pub weights: EnsembleWeights,
    /// Fit the weights instead: out-of-fold predictions of the three 42-day blocks before the training origin
    /// (each predicted by models trained only on earlier days), minimising RMSPE. Trains each engine 3 more times.
    #[arg(long)]
    pub optimize_weights: bool,
    /// Days held out at the end of the data and scored (0 trains on everything).
    #[arg(long, default_value_t = 42, value_name = "DAYS")]
    pub holdout_days: i32,
    /// Use the fixed rounds of the hyperparameter file (1600 / 1600 / 1500 for the reference) — the default.
    #[arg(long, conflicts_with = "early_stopping")]
    pub rounds_from_config: bool,
    /// Stop each engine when the last 42 training days have not improved for this many rounds (they are then
    /// not trained on).
    #[arg(long, value_name = "ROUNDS", num_args = 0..=1, default_missing_value = "100")]
    pub early_stopping: Option<u32>,
    /// Override rounds per engine: LIGHTGBM,XGBOOST,CATBOOST (e.g. 400,400,300 for a quick run).
    #[arg(long, value_name = "L,X,C")]
    pub rounds: Option<String>,
    /// Threads per engine (0 = all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Fit on sales directly instead of ln(1 + sales).
    #[arg(long)]
    pub no_log_target: bool,
    /// Do not record the run in the tracking store (the package is still written under outputs/models/).
    #[arg(long)]
    pub no_track: bool,
    /// Record the run but do not register a new version of the model.
    #[arg(long)]
    pub no_register: bool,
}

/// Parses `--rounds L,X,C`.
pub fn parse_rounds(text: &str) -> anyhow::Result<Rounds> {
    let parts: Vec<u32> = text
        .split(',')
        .map(|p| p.trim().parse::<u32>())
        .collect::<Result<_, _>>()
        .with_context(|| {
            format!("--rounds {text:?}: expected three whole numbers like 400,400,300")
        })?;
    match parts.as_slice() {
        [l, x, c] if *l > 0 && *x > 0 && *c > 0 => Ok(Rounds {
            lightgbm: *l,
            xgboost: *x,
            catboost: *c,
        }),
        _ => anyhow::bail!(
            "--rounds {text:?}: expected three positive numbers LIGHTGBM,XGBOOST,CATBOOST"
        ),
    }
}

/// The code's git commit, when the project is a git checkout.
pub fn git_commit(dir: &std::path::Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Builds the plan from the flags and the settings.
pub fn plan(args: &TrainArgs, ctx: &Context) -> anyhow::Result<TrainPlan> {
    let run_name = format!("ensemble-{}", chrono::Utc::now().format("%Y%m%d-%H%M%S"));
    Ok(TrainPlan {
        data_dir: ctx.data_dir_or(args.data_dir.as_deref()),
        hyperparameters_file: args
            .config
            .clone()
            .unwrap_or_else(|| ctx.config_dir.join("best_hyperparameters.json")),
        weights: args.weights,
        optimize_weights: args.optimize_weights,
        holdout_days: args.holdout_days,
        early_stopping_rounds: args.early_stopping,
        rounds: args.rounds.as_deref().map(parse_rounds).transpose()?,
        threads: args.threads,
        target: if args.no_log_target {
            TargetTransform::Identity
        } else {
            TargetTransform::Log1p
        },
        packages_dir: ctx.outputs_dir.join("models"),
        run_name,
        git_commit: git_commit(&ctx.project_dir),
    })
}

/// Runs `modelops train`.
pub fn exec(args: TrainArgs, ctx: &Context) -> anyhow::Result<u8> {
    let plan = plan(&args, ctx)?;
    let printer = StepPrinter::new(ctx.quiet);
    let report = train(&plan, &printer)?;
    print_report(&report);
    if !args.no_track {
        let target = ctx.tracking_target();
        let run_id = modelops_pipeline::track::record_training(&target, &plan.run_name, &report)
            .with_context(|| {
                format!(
                    "the model package is saved at {}, but recording the run failed",
                    report.package_dir.display()
                )
            })?;
        println!(
            "Tracked: run {run_id} in experiment '{}' ({})",
            ctx.experiment, ctx.tracking_uri
        );
        if !args.no_register {
            let registry = RegistryClient::open(&target)?;
            let version = register(
                &registry,
                ctx,
                &run_id,
                &plan,
                &report,
                "modelops train: weighted LightGBM/XGBoost/oblivious ensemble",
            )?;
            println!(
                "Registered {} version {} (stage None); next: `modelops validate --version {}`",
                ctx.model_name, version.version, version.version
            );
        }
    }
    Ok(crate::commands::EXIT_OK)
}

/// Registers the package that run `run_id` logged as a new version of the configured model, tagged with its
/// lineage (training run, data fingerprints, git commit, weights). Shared by `demo` and `retrain`.
pub fn register(
    registry: &RegistryClient,
    ctx: &Context,
    run_id: &str,
    plan: &TrainPlan,
    report: &TrainReport,
    description: &str,
) -> anyhow::Result<ModelVersion> {
    let mut tags: Vec<(String, String)> = vec![("training_run_id".into(), run_id.to_string())];
    for (path, hash) in &report.data_fingerprints {
        tags.push((format!("data_hash.{path}"), hash.clone()));
    }
    if let Some(commit) = &plan.git_commit {
        tags.push(("git_commit".into(), commit.clone()));
    }
    let weights: Vec<String> = report
        .weights
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    tags.push(("weights".into(), weights.join(",")));
    Ok(registry.register(&ctx.model_name, run_id, &tags, description)?)
}

/// Prints the scores table of a training run.
pub fn print_report(report: &TrainReport) {
    println!(
        "Trained on {} rows × {} features ({} … {})",
        report.train_rows, report.n_features, report.train_range.0, report.train_range.1
    );
    if let Some((start, end)) = &report.holdout_range {
        println!("Holdout: {} rows, {start} … {end}", report.holdout_rows);
        println!(
            "{:<10} {:>7} {:>9} {:>9} {:>9} {:>8} {:>8} {:>9}",
            "model", "rounds", "RMSPE", "RMSE", "MAE", "MAPE%", "train s", "peak MiB"
        );
        for e in &report.engines {
            if let Some(s) = &e.holdout {
                let peak = e
                    .peak_rss_mib
                    .map_or_else(|| "-".to_string(), |m| format!("{m:.0}"));
                println!(
                    "{:<10} {:>7} {:>9.5} {:>9.1} {:>9.1} {:>8.2} {:>8.1} {:>9}",
                    e.engine, e.rounds, s.rmspe, s.rmse, s.mae, s.mape, e.train_seconds, peak
                );
            }
        }
        if let Some(s) = &report.ensemble_holdout {
            let w: Vec<String> = report
                .weights
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            println!(
                "{:<10} {:>7} {:>9.5} {:>9.1} {:>9.1} {:>8.2}   weights {}",
                "ensemble",
                "",
                s.rmspe,
                s.rmse,
                s.mae,
                s.mape,
                w.join(",")
            );
        }
    }
    println!("Package: {}", report.package_dir.display());
}
