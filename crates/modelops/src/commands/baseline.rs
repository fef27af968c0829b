//! `modelops baseline`: score the baselines on the expanding-window CV folds and the holdout, print the fold table
//! and the scores, and write them to `outputs/metrics/baseline_<timestamp>.json`. Wiring only: the evaluation is
//! `modelops_eval`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
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
(log target, rolling-origin training rows), when the binary has the lightgbm engine. Every window recomputes \
history at its own origin. Prints the fold table and per-fold/holdout RMSPE, and writes \
outputs/metrics/baseline_<UTC timestamp>.json.",
    after_help = "Examples:\n  modelops baseline\n  modelops baseline --no-lightgbm --folds 3\n  \
modelops baseline --data-dir /tmp/rossmann"
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
}

struct PrintScores;

impl EvalProgress for PrintScores {
    fn window_scored(&self, name: &str, fold: &Fold, score: &WindowScore) {
        tracing::info!(model = name, window = %fold.label(), rmspe = score.scores.rmspe, "scored");
    }
}

/// Runs `modelops baseline`.
pub fn exec(args: BaselineArgs, ctx: &Context) -> anyhow::Result<u8> {
    let data_dir = ctx.data_dir_or(args.data_dir.as_deref());
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
        match lightgbm_baseline(&data, &plan)? {
            Some(report) => {
                print_report(&report);
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
    Ok(EXIT_OK)
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

#[cfg(feature = "lightgbm")]
fn lightgbm_baseline(data: &SalesData, plan: &FoldPlan) -> anyhow::Result<Option<ModelReport>> {
    use modelops_eval::ModelEvaluation;
    use modelops_features::{FeatureBuilder, FeatureSettings, RollingOrigins};
    let builder = FeatureBuilder::new(data.stores(), FeatureSettings::default());
    let how = ModelEvaluation {
        name: "lightgbm_default",
        builder: &builder,
        rolling: RollingOrigins::default(),
        log_target: true,
    };
    let config = modelops_models::LightGbmConfig::default();
    let (report, _model) = modelops_eval::evaluate_model(
        data,
        plan,
        &config,
        &how,
        &modelops_models::NoProgress,
        &PrintScores,
    )?;
    Ok(Some(report))
}

#[cfg(not(feature = "lightgbm"))]
fn lightgbm_baseline(_data: &SalesData, _plan: &FoldPlan) -> anyhow::Result<Option<ModelReport>> {
    Ok(None)
}
