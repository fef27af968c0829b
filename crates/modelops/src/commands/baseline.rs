//! `modelops baseline`: score the baselines on the expanding-window CV folds and the holdout, print the fold table
//! and the scores, record one tracked run per forecaster, and write them to `outputs/metrics/baseline_<timestamp>.json`.
//! Wiring only: the evaluation is `modelops_eval`, the recording `modelops_pipeline::track`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use modelops_data::ingest::{TRAIN_CLEAN_FILE, processed_dir, read_parquet};
use modelops_eval::report::BaselineReport;
use modelops_eval::{
    Baseline, CvConfig, EvalProgress, Fold, FoldPlan, ModelReport, WindowScore, evaluate_baseline,
};
use modelops_features::SalesData;

use crate::commands::EXIT_OK;
use crate::context::Context;

/// Arguments of `modelops baseline`.
#[derive(Debug, Args)]
#[command(
    long_about = "Score the baselines with expanding-window cross-validation and on the holdout (the last \
--holdout-days of data/processed/train_clean.parquet): naive last week (the same weekday of the last week before \
each origin), the store×DayOfWeek×Promo mean, and LightGBM with default parameters on the origin-safe features \
(log target, rolling-origin training rows) — or, with --lightgbm tuned, with the settings and rounds of \
config/best_hyperparameters.json — when the binary has the lightgbm engine. Every window recomputes history at \
its own origin. Prints the fold table, per-fold/holdout RMSPE and the LightGBM holdout model's top 15 features by \
gain, records one run per forecaster in the tracking store (experiment from the settings; --no-track to skip), \
and writes outputs/metrics/baseline_<UTC timestamp>.json.",
    after_help = "Examples:\n  modelops baseline\n  modelops baseline --no-lightgbm --folds 3\n  \
modelops baseline --lightgbm tuned --data-dir /tmp/rossmann"
)]
pub struct BaselineArgs {
    /// Data directory holding processed/train_clean.parquet (default: the project's data/).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Number of CV folds.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Days per CV fold.
    #[arg(long, default_value_t = 42)]
    pub fold_days: i32,
    /// Minimum training days before the first fold.
    #[arg(long, default_value_t = 365)]
    pub min_train_days: i32,
    /// Days at the end of the data kept as the holdout.
    #[arg(long, default_value_t = 42)]
    pub holdout_days: i32,
    /// Skip the LightGBM baseline (the two history baselines take seconds; LightGBM takes minutes).
    #[arg(long)]
    pub no_lightgbm: bool,
    /// LightGBM settings: `default` (LightGBM's own, 100 rounds) or `tuned` (the hyperparameter file's, 1,600
    /// rounds unless --lightgbm-rounds).
    #[arg(long, value_enum, default_value_t = LightGbmSettings::Default)]
    pub lightgbm: LightGbmSettings,
    /// Boosting rounds of the LightGBM baseline (overrides the settings' rounds).
    #[arg(long, value_name = "N")]
    pub lightgbm_rounds: Option<u32>,
    /// Hyperparameter file for `--lightgbm tuned` (default: config/best_hyperparameters.json).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Do not record the scores as tracked runs (the JSON report is still written).
    #[arg(long)]
    pub no_track: bool,
}

/// Which LightGBM settings the baseline uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LightGbmSettings {
    /// LightGBM's defaults (31 leaves, learning rate 0.1, 100 rounds).
    Default,
    /// The tuned settings of the hyperparameter file and the reference's 1,600 rounds.
    Tuned,
}

/// How many features the report lists per trained model.
const TOP_FEATURES: usize = 15;

struct PrintScores;

impl EvalProgress for PrintScores {
    fn window_scored(&self, name: &str, fold: &Fold, score: &WindowScore) {
        tracing::info!(model = name, window = %fold.label(), rmspe = score.scores.rmspe, "scored");
    }
}

/// Runs `modelops baseline`.
pub fn exec(args: BaselineArgs, ctx: &Context) -> anyhow::Result<u8> {
    let data_dir = ctx.data_dir_or(args.data_dir.as_deref());
    let lightgbm = lightgbm_settings(&args, ctx)?;
    let clean_path = processed_dir(&data_dir).join(TRAIN_CLEAN_FILE);
    anyhow::ensure!(
        clean_path.is_file(),
        "{} does not exist; run `modelops data ingest` first",
        clean_path.display()
    );
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
    let cv = CvConfig {
        n_folds: args.folds,
        fold_days: args.fold_days,
        min_train_days: args.min_train_days,
        holdout_days: args.holdout_days,
    };
    let plan = FoldPlan::for_data(&data, &cv)?;
    let table = plan.table(&data);
    println!("{table}");
    let mut models = Vec::new();
    for baseline in Baseline::ALL {
        let report = evaluate_baseline(&data, &plan, baseline, &PrintScores)?;
        print_report(&report);
        models.push(report);
    }
    if !args.no_lightgbm {
        match lightgbm_baseline(&data, &plan, lightgbm.0, &lightgbm.1)? {
            Some(report) => {
                print_report(&report);
                print_top_features(&report);
                models.push(report);
            }
            None => eprintln!(
                "note: this binary is built without the lightgbm engine; LightGBM baseline skipped"
            ),
        }
    }
    let now = chrono::Utc::now();
    let report = BaselineReport {
        created_at: now.to_rfc3339(),
        cv,
        folds: table,
        models,
    };
    let path = report.write(
        &ctx.outputs_dir.join("metrics"),
        &now.format("%Y%m%dT%H%M%SZ").to_string(),
    )?;
    println!("Wrote      {}", path.display());
    if !args.no_track {
        let target = ctx.tracking_target();
        for model in &report.models {
            let params = if model.name == lightgbm.0 {
                lightgbm_params(&lightgbm.1)
            } else {
                Vec::new()
            };
            let run_id = modelops_pipeline::track::record_baseline(&target, model, &report.cv, &params)
                .with_context(|| {
                    format!(
                        "the scores are in {}, but recording them in {} failed (--no-track skips tracking)",
                        path.display(),
                        ctx.tracking_uri
                    )
                })?;
            println!(
                "Tracked    baseline_{} as run {run_id} in experiment '{}'",
                model.name, ctx.experiment
            );
        }
    }
    Ok(EXIT_OK)
}

fn print_top_features(report: &ModelReport) {
    if report.top_features.is_empty() {
        return;
    }
    println!(
        "Top {} features of {} (share of total gain, holdout model):",
        report.top_features.len(),
        report.name
    );
    for (rank, (name, share)) in report.top_features.iter().enumerate() {
        println!("  {:>2}. {name:<28} {:>5.1}%", rank + 1, share * 100.0);
    }
}

fn print_report(report: &ModelReport) {
    let folds: Vec<String> = report
        .folds
        .iter()
        .map(|f| format!("{:.4}", f.scores.rmspe))
        .collect();
    println!(
        "{:<22} CV RMSPE {:.4} ± {:.4} (folds {})  holdout RMSPE {:.4}  RMSE {:.1}  MAE {:.1}  MAPE {:.2}%",
        report.name,
        report.cv_rmspe_mean,
        report.cv_rmspe_std,
        folds.join(" "),
        report.holdout.scores.rmspe,
        report.holdout.scores.rmse,
        report.holdout.scores.mae,
        report.holdout.scores.mape
    );
}

/// The LightGBM baseline's settings as tracking params (`lgb_<field>`; unset options left out).
fn lightgbm_params(config: &modelops_models::LightGbmConfig) -> Vec<(String, String)> {
    modelops_pipeline::train::config_params(config)
        .into_iter()
        .filter(|(_, v)| v != "null")
        .map(|(k, v)| (format!("lgb_{k}"), v))
        .collect()
}

/// The LightGBM baseline's report name and settings, resolved before any scoring so a bad hyperparameter file
/// fails fast. Like `modelops train`, a missing default file means the reference's tuned values; a missing
/// `--config FILE` is an error.
fn lightgbm_settings(
    args: &BaselineArgs,
    ctx: &Context,
) -> anyhow::Result<(&'static str, modelops_models::LightGbmConfig)> {
    use modelops_models::hyperparams::BestHyperparameters;
    let (name, mut config) = match args.lightgbm {
        LightGbmSettings::Default => (
            "lightgbm_default",
            modelops_models::LightGbmConfig::default(),
        ),
        LightGbmSettings::Tuned => {
            let file = args
                .config
                .clone()
                .unwrap_or_else(|| ctx.config_dir.join("best_hyperparameters.json"));
            let tuned = match &args.config {
                Some(_) => BestHyperparameters::load(&file)?,
                None => BestHyperparameters::load_or_reference(&file)?,
            };
            ("lightgbm_tuned", tuned.lightgbm_config(&file)?)
        }
    };
    if let Some(rounds) = args.lightgbm_rounds {
        anyhow::ensure!(rounds > 0, "--lightgbm-rounds must be at least 1");
        config.rounds = rounds;
    }
    Ok((name, config))
}

#[cfg(feature = "lightgbm")]
fn lightgbm_baseline(
    data: &SalesData,
    plan: &FoldPlan,
    name: &'static str,
    config: &modelops_models::LightGbmConfig,
) -> anyhow::Result<Option<ModelReport>> {
    use modelops_eval::ModelEvaluation;
    use modelops_features::{FeatureBuilder, FeatureSettings, RollingOrigins};
    use modelops_models::Regressor as _;
    let builder = FeatureBuilder::new(data.stores(), FeatureSettings::default());
    let how = ModelEvaluation {
        name,
        builder: &builder,
        rolling: RollingOrigins::default(),
        log_target: true,
    };
    let (mut report, model) = modelops_eval::evaluate_model(
        data,
        plan,
        config,
        &how,
        &modelops_models::NoProgress,
        &PrintScores,
    )?;
    report.set_top_features(model.feature_importance(), TOP_FEATURES);
    Ok(Some(report))
}

#[cfg(not(feature = "lightgbm"))]
fn lightgbm_baseline(
    _data: &SalesData,
    _plan: &FoldPlan,
    _name: &'static str,
    _config: &modelops_models::LightGbmConfig,
) -> anyhow::Result<Option<ModelReport>> {
    Ok(None)
}
