//! `modelops demo`: the whole lifecycle on embedded defaults, in the current project — synthetic data → validate →
//! ingest → features → train (tracked) → register → validation gate → Staging → Production (an explicit demo
//! approver, recorded as such in the audit log) → a batch prediction — then a summary and how to look at it.
//! Runs again safely: data is kept (`--fresh` regenerates it), each run trains and registers a new version, and
//! promoting it archives the previous Production version.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context as _, bail};
use clap::Args;
use modelops_pipeline::predict::predict_file;
use modelops_pipeline::registry::RegistryClient;
use modelops_tracking::registry::Stage;

use crate::commands::{data, features, train, validate};
use crate::context::Context;
use crate::progress::StepPrinter;

/// Arguments of `modelops demo`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  modelops demo\n  modelops --project-dir /tmp/demo demo --fresh --stores 20"
)]
pub struct DemoArgs {
    /// Stores in the synthetic data.
    #[arg(long, default_value_t = 50)]
    pub stores: u32,
    /// Seed of the synthetic data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Regenerate the synthetic data even when data/raw/train.csv exists.
    #[arg(long)]
    pub fresh: bool,
    /// Boosting rounds per engine, LIGHTGBM,XGBOOST,CATBOOST (shorter than the reference's 1600,1600,1500 so the
    /// demo stays quick).
    #[arg(long, default_value = "600,600,600", value_name = "L,X,C")]
    pub rounds: String,
}

/// The approver recorded for the demo's Production promotion: plainly not a person.
pub const DEMO_APPROVER: &str = "modelops-demo (automatic demo approval, not a human review)";

fn step(n: u32, text: &str) {
    println!("\n[{n}/8] {text}");
}

/// Runs `modelops demo`.
pub fn exec(args: DemoArgs, ctx: &Context) -> anyhow::Result<u8> {
    let started = Instant::now();
    let raw_dir = ctx.data_dir.join("raw");
    step(1, "synthetic data");
    let has_data = ["train.csv", "train.csv.gz"]
        .iter()
        .any(|f| raw_dir.join(f).exists());
    if args.fresh || !has_data {
        data::exec(
            data::DataCommand::Synth(data::SynthArgs {
                out: Some(raw_dir.clone()),
                stores: args.stores,
                start: chrono::NaiveDate::from_ymd_opt(2013, 1, 1).context("start date")?,
                end: chrono::NaiveDate::from_ymd_opt(2015, 6, 19).context("end date")?,
                seed: args.seed,
            }),
            ctx,
        )?;
    } else {
        println!(
            "Using the existing data in {} (--fresh regenerates it)",
            raw_dir.display()
        );
    }

    step(2, "validate the raw data");
    let code = data::exec(
        data::DataCommand::Validate(data::ValidateArgs {
            stage: data::StageArg::Raw,
            data_dir: None,
            fail_on_error: true,
            report: None,
        }),
        ctx,
    )?;
    if code != crate::commands::EXIT_OK {
        bail!("the raw data failed validation (see the table above); the demo stops here");
    }

    step(3, "ingest and build features");
    data::exec(
        data::DataCommand::Ingest(data::DirArgs { data_dir: None }),
        ctx,
    )?;
    features::exec(
        features::FeaturesCommand::Build(features::BuildArgs {
            data_dir: None,
            holdout_days: 42,
            block_days: 42,
            force: false,
        }),
        ctx,
    )?;

    step(
        4,
        "train LightGBM, XGBoost and the oblivious booster; blend 0.30/0.60/0.10",
    );
    let train_args = train::TrainArgs {
        data_dir: None,
        config: None,
        weights: modelops_models::EnsembleWeights::default(),
        optimize_weights: false,
        holdout_days: 42,
        rounds_from_config: false,
        early_stopping: None,
        rounds: Some(args.rounds.clone()),
        threads: 0,
        no_log_target: false,
        no_track: true,
        no_register: true,
    };
    let plan = train::plan(&train_args, ctx)?;
    let printer = StepPrinter::new(ctx.quiet);
    let report = modelops_pipeline::train::train(&plan, &printer)?;
    train::print_report(&report);
    let target = ctx.tracking_target();
    let run_id = modelops_pipeline::track::record_training(&target, &plan.run_name, &report)?;
    println!("Tracked: run {run_id} in experiment '{}'", ctx.experiment);

    step(5, "register the model");
    let registry = RegistryClient::open(&target)?;
    let version = train::register(
        &registry,
        ctx,
        &run_id,
        &plan,
        &report,
        "modelops demo: weighted LightGBM/XGBoost/oblivious ensemble",
    )?;
    println!(
        "Registered {} version {} (stage None)",
        ctx.model_name, version.version
    );

    step(6, "validation gate → Staging");
    let verdict = validate::run(
        &validate::ValidateArgs {
            model_name: None,
            version: Some(version.version),
            threshold: None,
            strict: false,
            no_auto_promote: false,
            data_dir: None,
            window_days: 42,
            parent_run_id: None,
        },
        ctx,
    )?;
    validate::print_verdict(&ctx.model_name, &verdict);
    if !verdict.report.passed {
        bail!(
            "version {} failed the gate, so the demo does not promote it; it stays in stage None",
            version.version
        );
    }

    step(7, "approve to Production (demo approver)");
    let promoted = registry.promote(
        &ctx.model_name,
        version.version,
        Stage::Production,
        DEMO_APPROVER,
        "modelops demo: automatic approval so the walkthrough completes; a real Production promotion needs a person",
        false,
    )?;
    println!(
        "{} version {} is now in {}",
        ctx.model_name,
        promoted.version,
        promoted.current_stage.as_str()
    );

    step(8, "batch prediction with the Production model");
    let batch = demo_batch(ctx, args.stores.min(10), args.seed)?;
    let out = ctx
        .outputs_dir
        .join("predictions")
        .join("demo_predictions.csv");
    let (package_dir, label) = registry.resolve_local(
        &format!("models:/{}/Production", ctx.model_name),
        &ctx.outputs_dir.join("model-cache"),
    )?;
    let predicted = predict_file(&package_dir, label, &batch, &out, &printer)?;
    println!(
        "{} predictions for {} … {} written to {}",
        predicted.n_predictions,
        predicted.date_range.start,
        predicted.date_range.end,
        out.display()
    );

    println!(
        "\n== modelops demo finished in {:.0}s ==",
        started.elapsed().as_secs_f64()
    );
    if let Some(s) = &report.ensemble_holdout {
        println!(
            "Ensemble holdout RMSPE {:.4}, RMSE {:.1}, MAE {:.1}",
            s.rmspe, s.rmse, s.mae
        );
    }
    println!(
        "Model: {} version {} in Production (package {})",
        ctx.model_name,
        version.version,
        report.package_dir.display()
    );
    println!("Tracking store: {}", ctx.tracking_uri);
    println!("Predictions: {}", out.display());
    println!(
        "Look at it: `modelops server` then open http://127.0.0.1:5000  (or `modelops registry show {}`)",
        ctx.model_name
    );
    Ok(crate::commands::EXIT_OK)
}

/// Writes a batch in the Kaggle test schema for the 42 days after the data (which ends 2015-06-19) for the first
/// `stores` stores.
fn demo_batch(ctx: &Context, stores: u32, seed: u64) -> anyhow::Result<PathBuf> {
    let first = chrono::NaiveDate::from_ymd_opt(2015, 6, 20).context("date")?;
    Ok(modelops_pipeline::smoke::future_inputs(
        &ctx.outputs_dir.join("demo"),
        first,
        42,
        stores,
        seed,
    )?)
}
