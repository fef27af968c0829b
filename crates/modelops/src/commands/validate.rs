//! `modelops validate`: the automated gate. Scores a registered version on the 42 days after its training data,
//! records the scores (a tracking run and tags on the version) and promotes it to Staging when it passes.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use modelops_pipeline::gate::{GateReport, GateThresholds, evaluate};
use modelops_pipeline::registry::RegistryClient;
use modelops_tracking::registry::Stage;
use modelops_tracking::{RunLogger, RunStatus};

use crate::commands::{EXIT_GATE_FAILED, EXIT_OK};
use crate::context::Context;
use crate::progress::StepPrinter;

/// Arguments of `modelops validate`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes: 0 passed, 4 failed the gate, 1 error.\n\nExamples:\n  modelops validate\n  \
                        modelops validate --version 3 --strict\n  modelops validate --threshold 0.11 --no-auto-promote"
)]
pub struct ValidateArgs {
    /// Registered model name (default from settings: rossmann-ensemble).
    #[arg(long)]
    pub model_name: Option<String>,
    /// Version to validate (default: the newest version in stage None).
    #[arg(long)]
    pub version: Option<i64>,
    /// Pass when holdout RMSPE ≤ this (default 0.10 from settings).
    #[arg(long, conflicts_with = "strict")]
    pub threshold: Option<f64>,
    /// Use the strict threshold (0.09856).
    #[arg(long)]
    pub strict: bool,
    /// Record the verdict but do not promote to Staging.
    #[arg(long)]
    pub no_auto_promote: bool,
    /// Data directory holding the days after the model's training data (default: the project's data/).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Days scored after the training data.
    #[arg(long, default_value_t = 42)]
    pub window_days: i32,
    /// Record the gate's run as a child of this run (set by `retrain`, not a flag).
    #[arg(skip)]
    pub parent_run_id: Option<String>,
}

/// What validation decided, for callers such as `demo` and `retrain`.
pub struct Verdict {
    /// The version validated.
    pub version: i64,
    /// The gate's report.
    pub report: GateReport,
    /// Whether the version now is in Staging.
    pub promoted: bool,
}

/// Validates (and maybe promotes) one version; shared by `validate`, `retrain` and `demo`.
pub fn run(args: &ValidateArgs, ctx: &Context) -> anyhow::Result<Verdict> {
    let name = args
        .model_name
        .clone()
        .unwrap_or_else(|| ctx.model_name.clone());
    let mut target = ctx.tracking_target();
    target.parent_run_id = args.parent_run_id.clone();
    let registry = RegistryClient::open(&target)?;
    let version = match args.version {
        Some(v) => v,
        None => registry
            .latest_in_stage(&name, Stage::None)?
            .map(|v| v.version)
            .with_context(|| {
                format!("'{name}' has no version in stage None to validate; pass --version N")
            })?,
    };
    let (package_dir, _) = registry.resolve_local(
        &format!("models:/{name}/{version}"),
        &ctx.outputs_dir.join("model-cache"),
    )?;
    let rmspe = if args.strict {
        ctx.thresholds.strict_rmspe
    } else {
        args.threshold.unwrap_or(ctx.thresholds.rmspe)
    };
    let thresholds = GateThresholds {
        rmspe,
        mae: ctx.thresholds.mae,
    };
    let printer = StepPrinter::new(ctx.quiet);
    let report = evaluate(
        &package_dir,
        &ctx.data_dir_or(args.data_dir.as_deref()),
        args.window_days,
        thresholds,
        &printer,
    )?;

    // The scores go to a run and onto the version, whatever the verdict.
    let run = RunLogger::start(
        &target.tracking_uri,
        &target.artifact_root,
        &target.experiment,
        Some(&format!("validate_{name}_v{version}")),
        &target.run_tags("validate"),
    )?;
    let mut metrics: Vec<(String, f64)> = vec![
        ("holdout_rmspe".into(), report.scores.rmspe),
        ("holdout_rmse".into(), report.scores.rmse),
        ("holdout_mae".into(), report.scores.mae),
        ("holdout_mape".into(), report.scores.mape),
        ("gate_passed".into(), if report.passed { 1.0 } else { 0.0 }),
    ];
    for (engine, s) in &report.engine_scores {
        metrics.push((format!("{engine}_holdout_rmspe"), s.rmspe));
    }
    run.log_params(&[
        ("model_name", name.clone()),
        ("model_version", version.to_string()),
        ("threshold_rmspe", rmspe.to_string()),
        ("threshold_mae", thresholds.mae.to_string()),
        (
            "window",
            format!("{} … {}", report.window.0, report.window.1),
        ),
    ])?;
    run.log_metrics(&metrics, 0)?;
    let run_id = run.run_id().to_string();
    run.end(RunStatus::Finished)?;
    registry.tag_version(
        &name,
        version,
        &[
            (
                "validation.rmspe".into(),
                format!("{:.6}", report.scores.rmspe),
            ),
            ("validation.mae".into(), format!("{:.2}", report.scores.mae)),
            ("validation.passed".into(), report.passed.to_string()),
            (
                "validation.window".into(),
                format!("{}..{}", report.window.0, report.window.1),
            ),
            ("validation.threshold".into(), rmspe.to_string()),
            ("validation.run_id".into(), run_id),
        ],
    )?;
    let promoted = report.passed && !args.no_auto_promote;
    if promoted {
        registry.promote(
            &name,
            version,
            Stage::Staging,
            "modelops validate (automatic gate)",
            &format!(
                "holdout RMSPE {:.5} ≤ {rmspe} and MAE {:.1} < {}",
                report.scores.rmspe, report.scores.mae, thresholds.mae
            ),
            false,
        )?;
    }
    Ok(Verdict {
        version,
        report,
        promoted,
    })
}

/// Prints a verdict.
pub fn print_verdict(name: &str, verdict: &Verdict) {
    let r = &verdict.report;
    println!(
        "{name} v{}: RMSPE {:.5} (≤ {}), MAE {:.1} (< {}) on {} rows, {} … {}",
        verdict.version,
        r.scores.rmspe,
        r.thresholds.rmspe,
        r.scores.mae,
        r.thresholds.mae,
        r.rows,
        r.window.0,
        r.window.1
    );
    if r.passed {
        println!(
            "PASSED{}",
            if verdict.promoted {
                " — promoted to Staging"
            } else {
                " (not promoted: --no-auto-promote)"
            }
        );
    } else {
        println!("FAILED — stays in stage None:");
        for f in &r.failures {
            println!("  - {f}");
        }
    }
}

/// Runs `modelops validate`.
pub fn exec(args: ValidateArgs, ctx: &Context) -> anyhow::Result<u8> {
    let verdict = run(&args, ctx)?;
    let name = args
        .model_name
        .clone()
        .unwrap_or_else(|| ctx.model_name.clone());
    print_verdict(&name, &verdict);
    if verdict.promoted {
        println!(
            "Next: review it, then `modelops promote --version {} --stage Production --approver NAME --reason TEXT`",
            verdict.version
        );
    }
    Ok(if verdict.report.passed {
        EXIT_OK
    } else {
        EXIT_GATE_FAILED
    })
}
