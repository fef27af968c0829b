//! `modelops retrain`: the scheduled retraining pipeline, one command for cron or a systemd timer.
//!
//! validate the raw data → ingest and build features (skipped when fingerprints are unchanged) → train → register
//! a new version → validation gate → Staging → (optional) inference smoke test — and then stop: Production needs a
//! person, so it prints the `modelops promote` command and where to review the version. Every step has its own exit
//! code, a lock keeps two runs from overlapping, the whole run is one parent tracking run with a child run per
//! step, and a JSON summary lands in `outputs/retrain/`. The lock and the summary live in
//! `modelops_pipeline::retrain`; this module strings the existing commands together.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use clap::Args;
use modelops_data::ingest::{TRAIN_CLEAN_FILE, TRAIN_FEATURES_FILE, processed_dir};
use modelops_data::{Freshness, Manifest};
use modelops_models::EnsembleWeights;
use modelops_pipeline::predict::predict_file;
use modelops_pipeline::registry::RegistryClient;
use modelops_pipeline::retrain::{
    LATEST_SUMMARY_FILE, LockError, RETRAIN_JOB, RetrainLock, RetrainSummary, StepRecord,
    StepStatus, close_abandoned_runs,
};
use modelops_pipeline::track::TrackingTarget;
use modelops_tracking::{RunLogger, RunStatus};

use crate::commands::{
    EXIT_ERROR, EXIT_FEATURES_FAILED, EXIT_GATE_FAILED, EXIT_INFERENCE_FAILED, EXIT_LOCKED,
    EXIT_OK, EXIT_TRACKING_FAILED, EXIT_TRAINING_FAILED, EXIT_VALIDATION_FAILED, data, features,
    train, validate,
};
use crate::context::Context;
use crate::progress::StepPrinter;

/// Arguments of `modelops retrain`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes: 0 success (new version in Staging, or registered with --no-validate), \
3 raw data failed validation, 4 the new version failed the gate (it stays in stage None), 5 ingest or feature \
building failed, 6 training failed, 7 tracking or registration failed, 8 the inference smoke test failed, 9 another \
retrain is running, 1 anything else. A summary is written to outputs/retrain/latest.json either way.

Examples:
  modelops retrain
  modelops retrain --data-dir /srv/rossmann/incoming --strict --test-inference
  modelops retrain --rounds 400,400,300 --threshold 0.11"
)]
pub struct RetrainArgs {
    /// Where the raw train.csv and store.csv are (directly or in raw/; default: the project's data/raw). Processed
    /// data and features are always written to the project's data/.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Gate with the strict threshold (RMSPE ≤ 0.09856).
    #[arg(long, conflicts_with = "threshold")]
    pub strict: bool,
    /// Gate threshold on holdout RMSPE (default 0.10 from settings).
    #[arg(long, value_name = "X")]
    pub threshold: Option<f64>,
    /// Register the new version but do not run the gate (it stays in stage None).
    #[arg(long)]
    pub no_validate: bool,
    /// After Staging, predict a small future batch with the Staging model and check the output.
    #[arg(long)]
    pub test_inference: bool,
    /// Hyperparameter file (default: config/best_hyperparameters.json, else the reference's values).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Ensemble weights.
    #[arg(
        long,
        value_name = "lightgbm=W,xgboost=W,catboost=W",
        default_value = "lightgbm=0.3,xgboost=0.6,catboost=0.1"
    )]
    pub weights: EnsembleWeights,
    /// Fit the ensemble weights on out-of-fold predictions before the holdout (see `modelops train --help`).
    #[arg(long)]
    pub optimize_weights: bool,
    /// Override boosting rounds per engine: LIGHTGBM,XGBOOST,CATBOOST.
    #[arg(long, value_name = "L,X,C")]
    pub rounds: Option<String>,
    /// Days at the end of the data held out for the holdout score and the gate.
    #[arg(long, default_value_t = 42, value_name = "DAYS")]
    pub holdout_days: i32,
    /// Threads per engine (0 = all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

/// The steps, in order: (name in the summary, what the step does).
const STEPS: [(&str, &str); 6] = [
    ("validate_data", "validate the raw data"),
    ("features", "ingest and build features"),
    ("train", "train the ensemble"),
    ("register", "register a new version"),
    ("gate", "validation gate → Staging"),
    ("test_inference", "inference smoke test"),
];

/// How a step ended, as the step's code reports it.
enum Outcome {
    Done(String),
    Skipped(String),
    Failed(String),
}

/// One retraining run in progress.
struct Run<'a> {
    ctx: &'a Context,
    started: Instant,
    summary: RetrainSummary,
    run_dir: PathBuf,
    target: TrackingTarget,
    parent: Option<RunLogger>,
}

impl Run<'_> {
    fn announce(&self, index: usize) {
        println!(
            "{} [{}/{}] {}",
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ"),
            index + 1,
            STEPS.len(),
            STEPS[index].1
        );
    }

    /// Runs step `index`; on failure records it and returns the exit code the run ends with.
    fn step(
        &mut self,
        index: usize,
        exit_code: u8,
        body: impl FnOnce(&mut Self) -> anyhow::Result<Outcome>,
    ) -> Result<(), u8> {
        self.announce(index);
        let began = Instant::now();
        let outcome = body(self).unwrap_or_else(|e| Outcome::Failed(format!("{e:#}")));
        let seconds = began.elapsed().as_secs_f64();
        let (status, detail) = match outcome {
            Outcome::Done(d) => (StepStatus::Succeeded, d),
            Outcome::Skipped(d) => (StepStatus::Skipped, d),
            Outcome::Failed(d) => (StepStatus::Failed, d),
        };
        let marker = match status {
            StepStatus::Succeeded => "ok",
            StepStatus::Skipped => "skipped",
            _ => "FAILED",
        };
        println!("      {marker} ({seconds:.1}s): {detail}");
        tracing::debug!(step = STEPS[index].0, ?status, seconds, "retrain step");
        self.summary.steps.push(StepRecord {
            name: STEPS[index].0.into(),
            status,
            seconds,
            detail,
            run_id: None,
        });
        if status == StepStatus::Failed {
            Err(exit_code)
        } else {
            Ok(())
        }
    }

    /// Records a finished step as a child run of the pipeline's run; a tracking failure here is a warning (the
    /// step's work is done and the parent run still records the summary).
    fn child_run(&mut self, job: &str, params: &[(&str, String)], metrics: &[(&str, f64)]) {
        let Some(record) = self.summary.steps.last_mut() else {
            return;
        };
        let outcome = (|| {
            let run = RunLogger::start(
                &self.target.tracking_uri,
                &self.target.artifact_root,
                &self.target.experiment,
                Some(&format!("retrain_{job}")),
                &self.target.run_tags(job),
            )?;
            let id = run.run_id().to_string();
            run.log_params(params)?;
            let mut all: Vec<(String, f64)> =
                metrics.iter().map(|(k, v)| (k.to_string(), *v)).collect();
            all.push(("step_seconds".into(), record.seconds));
            run.log_metrics(&all, 0)?;
            let status = if record.status == StepStatus::Failed {
                RunStatus::Failed
            } else {
                RunStatus::Finished
            };
            run.end(status)?;
            Ok::<_, modelops_tracking::StoreError>(id)
        })();
        match outcome {
            Ok(id) => record.run_id = Some(id),
            Err(e) => tracing::warn!("could not record the {job} step as a run: {e}"),
        }
    }

    /// Ends the run: fills in the steps that never ran, writes the summary, closes the parent run.
    fn finish(mut self, exit_code: u8) -> anyhow::Result<u8> {
        let done = self.summary.steps.len();
        for (name, _) in &STEPS[done..] {
            self.summary.steps.push(StepRecord {
                name: (*name).into(),
                status: StepStatus::NotRun,
                seconds: 0.0,
                detail: "an earlier step failed".into(),
                run_id: None,
            });
        }
        self.summary.exit_code = exit_code;
        self.summary.outcome = match self
            .summary
            .steps
            .iter()
            .find(|s| s.status == StepStatus::Failed)
        {
            Some(step) => format!("failed at {}", step.name),
            None => "succeeded".into(),
        };
        self.summary.finished =
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        self.summary.seconds = self.started.elapsed().as_secs_f64();
        self.summary.fingerprints = fingerprints(&self.ctx.data_dir);
        if let Some(version) = self.summary.model_version {
            let staged = self.summary.stage.as_deref() == Some("Staging");
            let gated = self.summary.metrics.contains_key("gate_rmspe");
            self.summary.next = next_steps(self.ctx, version, staged, gated);
        }
        let path = self.summary.write(&self.run_dir)?;
        if let Some(parent) = self.parent.take() {
            let outcome = (|| {
                let mut metrics: Vec<(String, f64)> = self
                    .summary
                    .metrics
                    .iter()
                    .map(|(k, v)| (k.clone(), *v))
                    .collect();
                metrics.push(("total_seconds".into(), self.summary.seconds));
                metrics.push(("exit_code".into(), f64::from(exit_code)));
                parent.log_metrics(&metrics, 0)?;
                let mut tags = vec![("modelops.outcome", self.summary.outcome.clone())];
                if let Some(v) = self.summary.model_version {
                    tags.push(("modelops.model_version", v.to_string()));
                }
                parent.set_tags(&tags)?;
                parent.log_artifact_dir(&self.run_dir, "retrain")?;
                parent.end(if exit_code == EXIT_OK {
                    RunStatus::Finished
                } else {
                    RunStatus::Failed
                })
            })();
            if let Err(e) = outcome {
                tracing::warn!("could not close the pipeline's tracking run: {e}");
            }
        }
        println!();
        println!(
            "== retrain {} in {:.0}s (exit code {exit_code}) ==",
            self.summary.outcome, self.summary.seconds
        );
        if let Some(v) = self.summary.model_version {
            println!(
                "Model: {} version {v}, stage {}",
                self.summary.model_name,
                self.summary.stage.as_deref().unwrap_or("None")
            );
        }
        for line in &self.summary.next {
            println!("{line}");
        }
        println!(
            "Summary: {} (and {})",
            path.display(),
            self.run_dir
                .parent()
                .unwrap_or(&self.run_dir)
                .join(LATEST_SUMMARY_FILE)
                .display()
        );
        Ok(exit_code)
    }
}

/// Runs `modelops retrain`.
pub fn exec(args: RetrainArgs, ctx: &Context) -> anyhow::Result<u8> {
    let base = ctx.outputs_dir.join("retrain");
    let _lock = match RetrainLock::acquire(&base) {
        Ok(lock) => lock,
        Err(e @ LockError::Held { .. }) => {
            eprintln!("error: {e}");
            return Ok(EXIT_LOCKED);
        }
        Err(e) => return Err(e.into()),
    };
    let now = chrono::Utc::now();
    let summary = RetrainSummary {
        started: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        model_name: ctx.model_name.clone(),
        ..RetrainSummary::default()
    };
    let run_dir = base.join(now.format("%Y%m%dT%H%M%SZ").to_string());
    let mut target = ctx.tracking_target();

    // Runs a crashed predecessor left RUNNING are closed first, so the store never shows two live pipelines.
    match close_abandoned_runs(&target) {
        Ok(closed) if !closed.is_empty() => println!(
            "Closed {} run(s) left RUNNING by an earlier retrain that did not finish: {}",
            closed.len(),
            closed.join(", ")
        ),
        Ok(_) => {}
        Err(e) => {
            eprintln!(
                "error: the tracking store {} is not usable: {e}",
                ctx.tracking_uri
            );
            return Ok(EXIT_TRACKING_FAILED);
        }
    }
    let parent = match RunLogger::start(
        &target.tracking_uri,
        &target.artifact_root,
        &target.experiment,
        Some(&format!("retrain-{}", now.format("%Y%m%d-%H%M%S"))),
        &[("modelops.job", RETRAIN_JOB)],
    ) {
        Ok(run) => run,
        Err(e) => {
            eprintln!(
                "error: cannot start the pipeline's run in {}: {e}",
                ctx.tracking_uri
            );
            return Ok(EXIT_TRACKING_FAILED);
        }
    };
    let params = [
        ("strict", args.strict.to_string()),
        (
            "threshold",
            args.threshold
                .map(|t| t.to_string())
                .unwrap_or_else(|| "settings".into()),
        ),
        ("no_validate", args.no_validate.to_string()),
        ("test_inference", args.test_inference.to_string()),
        ("holdout_days", args.holdout_days.to_string()),
        (
            "rounds",
            args.rounds.clone().unwrap_or_else(|| "config".into()),
        ),
    ];
    if let Err(e) = parent.log_params(&params) {
        tracing::warn!("could not log the pipeline's parameters: {e}");
    }
    target.parent_run_id = Some(parent.run_id().to_string());
    let mut run = Run {
        ctx,
        started: Instant::now(),
        summary: RetrainSummary {
            parent_run_id: target.parent_run_id.clone(),
            ..summary
        },
        run_dir,
        target,
        parent: Some(parent),
    };
    println!(
        "Retraining {} (pipeline run {} in experiment '{}')",
        ctx.model_name,
        run.summary.parent_run_id.as_deref().unwrap_or("-"),
        ctx.experiment
    );
    let code = match steps(&mut run, &args) {
        Ok(()) => EXIT_OK,
        Err(code) => code,
    };
    run.finish(code)
}

/// The steps; `Err(code)` stops at the first failure.
fn steps(run: &mut Run<'_>, args: &RetrainArgs) -> Result<(), u8> {
    let ctx = run.ctx;
    let raw_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| ctx.data_dir.clone());

    // 1. The raw data must pass its expectation suite; nothing else runs otherwise.
    let report = run.run_dir.join("validation_raw.json");
    run.step(0, EXIT_VALIDATION_FAILED, |_| {
        std::fs::create_dir_all(report.parent().unwrap_or(Path::new(".")))?;
        let code = data::exec(
            data::DataCommand::Validate(data::ValidateArgs {
                stage: data::StageArg::Raw,
                data_dir: Some(raw_dir.clone()),
                fail_on_error: true,
                report: Some(report.clone()),
            }),
            ctx,
        )?;
        Ok(match code {
            EXIT_OK => Outcome::Done(format!(
                "every raw expectation holds (report {})",
                report.display()
            )),
            EXIT_VALIDATION_FAILED => Outcome::Failed(format!(
                "the raw data in {} breaks its expectation suite; nothing was trained or registered. Fix the \
                 data (see the table above and {}) and run again",
                raw_dir.display(),
                report.display()
            )),
            _ => Outcome::Failed(format!(
                "the raw data in {} could not be read (see the errors above and {})",
                raw_dir.display(),
                report.display()
            )),
        })
    })?;
    run.child_run(
        "validate_data",
        &[("raw_dir", raw_dir.display().to_string())],
        &[],
    );

    // 2. Ingest and features, each skipped when its inputs' fingerprints are unchanged.
    run.step(1, EXIT_FEATURES_FAILED, |_| {
        ingest_and_features(ctx, &raw_dir)
    })?;
    run.child_run("features", &[], &[]);

    // 3. Train (tracked as a child run) and 4. register.
    let train_args = train::TrainArgs {
        data_dir: None,
        config: args.config.clone(),
        weights: args.weights,
        optimize_weights: args.optimize_weights,
        holdout_days: args.holdout_days,
        rounds_from_config: false,
        early_stopping: None,
        rounds: args.rounds.clone(),
        threads: args.threads,
        no_log_target: false,
        no_track: false,
        no_register: true,
    };
    let mut trained = None;
    run.step(2, EXIT_TRAINING_FAILED, |run| {
        let plan = train::plan(&train_args, ctx)?;
        let printer = StepPrinter::new(ctx.quiet);
        let report = modelops_pipeline::train::train(&plan, &printer)?;
        train::print_report(&report);
        let detail = match &report.ensemble_holdout {
            Some(s) => format!(
                "holdout RMSPE {:.5}, MAE {:.1} on {} rows; package {}",
                s.rmspe,
                s.mae,
                report.holdout_rows,
                report.package_dir.display()
            ),
            None => format!("package {}", report.package_dir.display()),
        };
        if let Some(s) = &report.ensemble_holdout {
            run.summary.metrics.insert("holdout_rmspe".into(), s.rmspe);
            run.summary.metrics.insert("holdout_mae".into(), s.mae);
            run.summary.metrics.insert("holdout_rmse".into(), s.rmse);
        }
        run.summary.package_dir = Some(report.package_dir.clone());
        trained = Some((plan, report));
        Ok(Outcome::Done(detail))
    })?;
    let Some((plan, report)) = trained else {
        return Err(EXIT_ERROR);
    };

    let mut version = 0;
    run.step(3, EXIT_TRACKING_FAILED, |run| {
        let run_id =
            modelops_pipeline::track::record_training(&run.target, &plan.run_name, &report)
                .context("recording the training run")?;
        let registry = RegistryClient::open(&run.target)?;
        let registered = train::register(
            &registry,
            ctx,
            &run_id,
            &plan,
            &report,
            "modelops retrain: weighted LightGBM/XGBoost/oblivious ensemble",
        )?;
        version = registered.version;
        run.summary.model_version = Some(version);
        run.summary.stage = Some("None".into());
        // The training run is the train step's child run (the step before this one).
        if let Some(record) = run.summary.steps.last_mut() {
            record.run_id = Some(run_id.clone());
        }
        Ok(Outcome::Done(format!(
            "{} version {version} (stage None) from training run {run_id}",
            ctx.model_name
        )))
    })?;

    // 5. The gate.
    let mut staged = false;
    run.step(4, EXIT_GATE_FAILED, |run| {
        if args.no_validate {
            return Ok(Outcome::Skipped(
                "--no-validate: the version stays in stage None".into(),
            ));
        }
        let verdict = validate::run(
            &validate::ValidateArgs {
                model_name: None,
                version: Some(version),
                threshold: args.threshold,
                strict: args.strict,
                no_auto_promote: false,
                data_dir: None,
                window_days: args.holdout_days,
                parent_run_id: run.target.parent_run_id.clone(),
            },
            ctx,
        )?;
        validate::print_verdict(&ctx.model_name, &verdict);
        let r = &verdict.report;
        run.summary
            .metrics
            .insert("gate_rmspe".into(), r.scores.rmspe);
        run.summary.metrics.insert("gate_mae".into(), r.scores.mae);
        run.summary
            .metrics
            .insert("gate_threshold_rmspe".into(), r.thresholds.rmspe);
        if verdict.promoted {
            staged = true;
            run.summary.stage = Some("Staging".into());
            Ok(Outcome::Done(format!(
                "RMSPE {:.5} ≤ {} on {} … {}: version {version} is in Staging",
                r.scores.rmspe, r.thresholds.rmspe, r.window.0, r.window.1
            )))
        } else {
            Ok(Outcome::Failed(format!(
                "version {version} failed the gate and stays in stage None: {}",
                r.failures.join("; ")
            )))
        }
    })?;

    // 6. The smoke test, on the Staging model.
    run.step(5, EXIT_INFERENCE_FAILED, |run| {
        if !args.test_inference {
            return Ok(Outcome::Skipped("not requested (--test-inference)".into()));
        }
        if !staged {
            return Ok(Outcome::Skipped(
                "no Staging version from this run to test".into(),
            ));
        }
        let last = report
            .holdout_range
            .as_ref()
            .map_or(&report.train_range.1, |(_, end)| end);
        let last = chrono::NaiveDate::parse_from_str(last, "%Y-%m-%d")
            .with_context(|| format!("the training report's last day {last:?}"))?;
        let dir = run.run_dir.join("test_inference");
        let input = modelops_pipeline::smoke::future_inputs(&dir, last + chrono::Days::new(1), 42, 10, 7)?;
        let registry = RegistryClient::open(&run.target)?;
        let (package_dir, label) = registry.resolve_local(
            &format!("models:/{}/Staging", ctx.model_name),
            &ctx.outputs_dir.join("model-cache"),
        )?;
        let output = dir.join("staging_test_predictions.csv");
        let printer = StepPrinter::new(ctx.quiet);
        predict_file(&package_dir, label, &input, &output, &printer)?;
        let check = modelops_pipeline::smoke::check_predictions(&input, &output)?;
        run.summary
            .metrics
            .insert("smoke_mean_open_prediction".into(), check.mean_open_prediction);
        Ok(Outcome::Done(format!(
            "{} predictions in input order, finite, {} closed days at 0, mean open-day prediction {:.0} ({})",
            check.rows,
            check.closed_rows,
            check.mean_open_prediction,
            output.display()
        )))
    })?;
    if args.test_inference && staged {
        run.child_run("test_inference", &[], &[]);
    }
    Ok(())
}

/// Step 2: ingest (unless the cleaned table was built from exactly these raw files and is unchanged), then
/// features (the build skips itself when fresh).
fn ingest_and_features(ctx: &Context, raw_dir: &Path) -> anyhow::Result<Outcome> {
    let clean = processed_dir(&ctx.data_dir).join(TRAIN_CLEAN_FILE);
    let manifest = Manifest::load(&ctx.data_dir)?;
    let raw_hashes = raw_fingerprints(raw_dir)?;
    let clean_fresh = manifest.get(&clean).is_some_and(|entry| {
        let inputs: Vec<&str> = entry.inputs.iter().map(|i| i.sha256.as_str()).collect();
        raw_hashes.iter().all(|h| inputs.contains(&h.as_str()))
    }) && matches!(manifest.is_fresh(&clean)?, Freshness::Fresh);
    let features_path = processed_dir(&ctx.data_dir).join(TRAIN_FEATURES_FILE);
    let features_fresh = clean_fresh
        && matches!(manifest.is_fresh(&features_path)?, Freshness::Fresh)
        && matches!(
            manifest.is_fresh(&processed_dir(&ctx.data_dir).join(features::FEATURE_SPEC_FILE))?,
            Freshness::Fresh
        );
    if features_fresh {
        return Ok(Outcome::Skipped(
            "cleaned data and features are fresh (raw fingerprints unchanged)".into(),
        ));
    }
    if !clean_fresh {
        let s = modelops_data::ingest::ingest_into(raw_dir, &ctx.data_dir)?;
        println!(
            "      ingested {} rows ({} … {}) into {}",
            s.train_rows,
            s.first_date,
            s.last_date,
            s.train_clean_path.display()
        );
    }
    features::exec(
        features::FeaturesCommand::Build(features::BuildArgs {
            data_dir: None,
            holdout_days: 42,
            block_days: 42,
            force: !clean_fresh,
        }),
        ctx,
    )?;
    Ok(Outcome::Done(if clean_fresh {
        "cleaned data fresh; features rebuilt".into()
    } else {
        "ingested the raw data and rebuilt the features".into()
    }))
}

/// SHA-256 of the raw train and store files in `raw_dir` (or its `raw/`), plain or gzipped.
fn raw_fingerprints(raw_dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut hashes = Vec::new();
    for stem in ["train", "store"] {
        let found = [raw_dir.join("raw"), raw_dir.to_path_buf()]
            .iter()
            .flat_map(|d| {
                [
                    d.join(format!("{stem}.csv")),
                    d.join(format!("{stem}.csv.gz")),
                ]
            })
            .find(|p| p.is_file())
            .with_context(|| format!("no {stem}.csv(.gz) in {} or its raw/", raw_dir.display()))?;
        hashes.push(modelops_data::manifest::fingerprint(&found)?.sha256);
    }
    Ok(hashes)
}

/// Every dataset the manifest knows, path → SHA-256.
fn fingerprints(data_dir: &Path) -> BTreeMap<String, String> {
    Manifest::load(data_dir)
        .map(|m| {
            m.entries()
                .map(|e| (e.path.clone(), e.sha256.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// What a person does next.
fn next_steps(ctx: &Context, version: i64, staged: bool, gated: bool) -> Vec<String> {
    let name = &ctx.model_name;
    let review = if ctx.tracking_uri.starts_with("http://")
        || ctx.tracking_uri.starts_with("https://")
    {
        format!(
            "{}/models/{name}/versions/{version}",
            ctx.tracking_uri.trim_end_matches('/')
        )
    } else {
        format!(
            "`modelops server`, then http://127.0.0.1:5000/models/{name}/versions/{version} (or `modelops registry show {name}`)"
        )
    };
    if staged {
        vec![
            format!("Review version {version}: {review}"),
            format!(
                "Then the human step (modelops never does it): modelops promote --version {version} --stage Production --approver NAME --reason TEXT"
            ),
        ]
    } else if gated {
        vec![
            format!("Review version {version}: {review}"),
            format!(
                "It failed the gate and stays in stage None; Production keeps its current version. Look at the \
                 scores, then retrain (more data, `modelops tune`) rather than forcing it through"
            ),
        ]
    } else {
        vec![
            format!("Review version {version}: {review}"),
            format!(
                "It is in stage None (--no-validate); gate it with `modelops validate --version {version}` before \
                 any promotion"
            ),
        ]
    }
}
