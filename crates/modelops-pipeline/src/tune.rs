//! `modelops tune`: the cross-validated objective that `modelops-tune`'s studies minimise, the tracking of a study
//! (a parent run `<model>_tuning`, one nested run per trial) and the update of `config/best_hyperparameters.json`.
//!
//! Objective = mean RMSPE over the expanding-window CV folds (never the holdout). Each fold's rows are built once
//! per study, with that fold's own origin; inside a fold the model early-stops on the last block of days *before*
//! the origin (its own training data's tail), so the fold being scored never steers training — unlike the
//! reference, which early-stopped on the scored fold. The median pruner sees the running mean after each fold.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use modelops_eval::{CvConfig, FoldPlan};
use modelops_features::{
    FeatureBuilder, FeatureSettings, LabelledRows, RollingOrigins, RowFilter, SalesData,
};
use modelops_models::hyperparams::{BestHyperparameters, TunedModel};
use modelops_models::{Engine, Regressor, TrainSet};
use modelops_tracking::{RunLogger, RunStatus};
use modelops_tune::{
    ObjectiveError, OptimizeObserver, OptimizeOptions, SearchSpaces, ShouldPrune, Study,
    StudySettings, Trial, TrialInput, TrialOutcome, TrialReporter, TrialState, optimize,
    params_to_json,
};
use serde::Serialize;

use crate::serving::TargetTransform;
use crate::track::TrackingTarget;
use crate::train::{ensure_clean_data, load_sales_data};
use crate::{PipelineError, Progress};

/// Everything `tune` needs.
#[derive(Clone, Debug)]
pub struct TunePlan {
    /// Data directory.
    pub data_dir: PathBuf,
    /// Engines to tune, in order.
    pub engines: Vec<Engine>,
    /// Total trials per study.
    pub n_trials: u64,
    /// No new trial after this long (per engine).
    pub timeout: Option<Duration>,
    /// Study name (default `<engine>_tuning`); with several engines, `<name>_<engine>`.
    pub study: Option<String>,
    /// Sampler seed.
    pub seed: u64,
    /// Worker threads.
    pub workers: usize,
    /// Where studies live: `sqlite:///…` or `postgresql://…`.
    pub storage_uri: String,
    /// The search-space file (built-in spaces when it does not exist).
    pub search_spaces_file: PathBuf,
    /// The hyperparameter file to update.
    pub hyperparameters_file: PathBuf,
    /// CV layout.
    pub cv: CvConfig,
    /// Early-stopping patience inside each fold.
    pub early_stopping_rounds: u32,
    /// Upper bound of boosting rounds per fold.
    pub max_rounds: u32,
    /// Threads per model fit; 0 = the machine's cores shared out among the workers ([`TunePlan::fit_threads`]).
    pub threads: usize,
    /// Model target.
    pub target: TargetTransform,
    /// Where runs are recorded (none: no tracking).
    pub tracking: Option<TrackingTarget>,
}

impl TunePlan {
    /// Threads each model fit uses: `threads`, or when it is 0 the machine's cores divided among the workers (at
    /// least one). Giving every fit all cores while several workers fit at once would oversubscribe the CPU, and
    /// the engines' thread teams spin while they wait for each other.
    pub fn fit_threads(&self) -> usize {
        if self.threads > 0 {
            return self.threads;
        }
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        (cores / self.workers.max(1)).max(1)
    }
}

/// One engine's result.
#[derive(Clone, Debug, Serialize)]
pub struct EngineTuning {
    /// Engine key.
    pub engine: &'static str,
    /// Study name.
    pub study: String,
    /// Trials by state.
    pub completed: u64,
    /// Pruned trials.
    pub pruned: u64,
    /// Failed trials.
    pub failed: u64,
    /// Best mean CV RMSPE.
    pub best_rmspe: Option<f64>,
    /// Best parameters.
    pub best_params: serde_json::Map<String, serde_json::Value>,
    /// Parent tracking run.
    pub run_id: Option<String>,
    /// Wall time, seconds.
    pub seconds: f64,
}

/// A fold prepared once per study: training rows before the early-stopping block, that block, and the scored fold.
struct PreparedFold {
    train: LabelledRows,
    y_train: Vec<f32>,
    stop: LabelledRows,
    y_stop: Vec<f32>,
    valid: LabelledRows,
}

fn prepare_folds(
    data: &SalesData,
    plan: &FoldPlan,
    builder: &FeatureBuilder,
    transform: TargetTransform,
) -> Result<Vec<PreparedFold>, PipelineError> {
    let rolling = RollingOrigins::default();
    let mut out = Vec::new();
    for fold in &plan.folds {
        let stop_origin = fold.origin - rolling.block_days;
        let train = data.training_set(builder, stop_origin, &rolling, RowFilter::ModelRows)?;
        let stop = data.forecast_set(builder, stop_origin, fold.origin, RowFilter::ModelRows)?;
        let valid = data.forecast_set(builder, fold.origin, fold.end + 1, RowFilter::ModelRows)?;
        let y_train = train.sales.iter().map(|&s| transform.forward(s)).collect();
        let y_stop = stop.sales.iter().map(|&s| transform.forward(s)).collect();
        out.push(PreparedFold {
            train,
            y_train,
            stop,
            y_stop,
            valid,
        });
    }
    if out.is_empty() {
        return Err(PipelineError::Invalid(
            "the data is too short for even one CV fold".into(),
        ));
    }
    Ok(out)
}

/// Builds the engine for one trial's parameters, through the same mapping and range checks as
/// `best_hyperparameters.json`. `plan.threads` is already resolved (see [`TunePlan::fit_threads`]).
fn fit_trial(
    engine: Engine,
    params: &serde_json::Map<String, serde_json::Value>,
    plan: &TunePlan,
    fold: &PreparedFold,
) -> Result<Box<dyn Regressor>, PipelineError> {
    let mut best = BestHyperparameters::reference();
    best.set_model(
        engine,
        TunedModel {
            hyperparameters: params.clone(),
            best_rmspe: f64::NAN,
            run_id: String::new(),
        },
    );
    let file = PathBuf::from("<trial parameters>");
    let train = TrainSet {
        features: &fold.train.features,
        target: &fold.y_train,
        weights: None,
    };
    let stop = TrainSet {
        features: &fold.stop.features,
        target: &fold.y_stop,
        weights: None,
    };
    let progress = modelops_models::NoProgress;
    let model: Box<dyn Regressor> = match engine {
        Engine::Lightgbm => {
            let mut c = best.lightgbm_config(&file)?;
            c.rounds = plan.max_rounds;
            c.early_stopping_rounds = Some(plan.early_stopping_rounds);
            c.num_threads = plan.threads as u32;
            c.fit_boxed(&train, Some(&stop), &progress)?
        }
        Engine::Xgboost => {
            let mut c = best.xgboost_config(&file)?;
            c.rounds = plan.max_rounds;
            c.early_stopping_rounds = Some(plan.early_stopping_rounds);
            c.nthread = plan.threads as u32;
            c.fit_boxed(&train, Some(&stop), &progress)?
        }
        Engine::Catboost => {
            let mut c = best.oblivious_config(&file)?;
            c.iterations = plan.max_rounds;
            c.early_stopping_rounds = Some(plan.early_stopping_rounds);
            c.threads = plan.threads;
            Box::new(modelops_models::Fit::fit(
                &c,
                &train,
                Some(&stop),
                &progress,
            )?)
        }
    };
    Ok(model)
}

fn fold_rmspe(
    model: &dyn Regressor,
    fold: &PreparedFold,
    transform: TargetTransform,
) -> Result<f64, PipelineError> {
    let raw = model.predict(&fold.valid.features)?;
    let predicted: Vec<f64> = raw.into_iter().map(|v| transform.inverse(v)).collect();
    let actual: Vec<f64> = fold.valid.sales.iter().map(|&s| f64::from(s)).collect();
    Ok(modelops_eval::metrics::rmspe(&actual, &predicted)?)
}

/// Logs each finished trial as a nested run under the study's parent run.
struct TrialRuns {
    target: Option<TrackingTarget>,
    parent_run_id: Option<String>,
    engine: Engine,
    progress: Arc<dyn Progress>,
}

impl OptimizeObserver for TrialRuns {
    fn trial_finished(&self, _study: &Study, trial: &Trial) {
        self.progress.advance(trial.number + 1);
        let (Some(target), Some(parent)) = (&self.target, &self.parent_run_id) else {
            return;
        };
        let name = format!("{}_trial_{}", self.engine.key(), trial.number);
        let tags = [
            ("mlflow.parentRunId", parent.as_str()),
            ("modelops.job", "tune_trial"),
        ];
        let logged = (|| {
            let run = RunLogger::start(
                &target.tracking_uri,
                &target.artifact_root,
                &target.experiment,
                Some(&name),
                &tags,
            )?;
            let params: Vec<(String, String)> = params_to_json(&trial.params)
                .into_iter()
                .map(|(k, v)| (k, json_text(&v)))
                .collect();
            run.log_params(&params)?;
            let mut metrics: Vec<(String, f64)> = trial
                .intermediate_values
                .iter()
                .map(|(step, v)| (format!("fold_{step}_running_rmspe"), *v))
                .collect();
            if let Some(v) = trial.value.filter(|v| v.is_finite()) {
                metrics.push(("rmspe".into(), v));
            }
            if let Some(d) = trial.duration() {
                metrics.push(("duration_seconds".into(), d.as_secs_f64()));
            }
            run.log_metrics(&metrics, 0)?;
            let state = format!("{:?}", trial.state).to_lowercase();
            run.set_tags(&[
                ("modelops.trial_state", state),
                ("modelops.trial_number", trial.number.to_string()),
            ])?;
            run.end(if trial.state == TrialState::Failed {
                RunStatus::Failed
            } else {
                RunStatus::Finished
            })
        })();
        if let Err(err) = logged {
            tracing::warn!(trial = trial.number, error = %err, "could not record the trial run");
        }
    }
}

fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The plan's search-space file (or the built-in spaces), with errors naming the file.
struct PlanSpaces<'a> {
    spaces: SearchSpaces,
    file: &'a Path,
}

impl<'a> PlanSpaces<'a> {
    fn load(plan: &'a TunePlan) -> Result<Self, PipelineError> {
        let file = plan.search_spaces_file.as_path();
        let spaces = SearchSpaces::load_or_builtin(file)
            .map_err(|e| PipelineError::Invalid(format!("{}: {e}", file.display())))?;
        Ok(Self { spaces, file })
    }

    fn get(&self, engine: Engine) -> Result<&modelops_tune::SearchSpace, PipelineError> {
        self.spaces
            .get(engine.key())
            .map_err(|e| PipelineError::Invalid(format!("{}: {e}", self.file.display())))
    }
}

/// Ingests the data when needed and builds every CV fold; also returns the cleaned data's fingerprint.
fn load_folds(
    plan: &TunePlan,
    progress: &dyn Progress,
) -> Result<(Vec<PreparedFold>, String), PipelineError> {
    let clean = ensure_clean_data(&plan.data_dir, progress)?;
    progress.step("build CV folds", 0);
    let data = load_sales_data(&clean)?;
    let folds_plan = FoldPlan::for_data(&data, &plan.cv)?;
    let builder = FeatureBuilder::new(data.stores(), FeatureSettings::default());
    let folds = prepare_folds(&data, &folds_plan, &builder, plan.target)?;
    progress.finish(&format!("{} folds", folds.len()));
    let fingerprint = crate::train::data_fingerprints(&plan.data_dir, &clean)
        .into_values()
        .next()
        .unwrap_or_default();
    Ok((folds, fingerprint))
}

/// What [`export_folds`] wrote.
#[derive(Clone, Debug, Serialize)]
pub struct FoldExport {
    /// The manifest, `folds.json`.
    pub manifest: PathBuf,
    /// Rows per fold: (train, early-stopping block, scored).
    pub rows: Vec<(usize, usize, usize)>,
}

/// Writes the exact rows the tuning objective uses — per fold `fold_<k>_train.parquet`,
/// `fold_<k>_stop.parquet` (the early-stopping block) and `fold_<k>_valid.parquet` (the scored days), in the
/// features-file layout — plus `folds.json` (feature names and kinds, target transform, round cap, patience,
/// threads, the search spaces and the data fingerprint), so another tuner (Optuna, for the side-by-side in
/// `crates/modelops-tune/benches/optuna_rossmann.py`) can run the same objective on the same matrix.
///
/// # Errors
/// Data, feature or file errors, naming the file.
pub fn export_folds(
    plan: &TunePlan,
    dir: &Path,
    progress: &dyn Progress,
) -> Result<FoldExport, PipelineError> {
    let spaces = PlanSpaces::load(plan)?;
    let (folds, fingerprint) = load_folds(plan, progress)?;
    std::fs::create_dir_all(dir).map_err(PipelineError::io(dir))?;
    progress.step("write folds", folds.len() as u64);
    let mut rows = Vec::with_capacity(folds.len());
    let mut files = Vec::with_capacity(folds.len());
    for (k, fold) in folds.iter().enumerate() {
        let mut names = serde_json::Map::new();
        for (part, set) in [
            ("train", &fold.train),
            ("stop", &fold.stop),
            ("valid", &fold.valid),
        ] {
            let file = format!("fold_{k}_{part}.parquet");
            modelops_features::io::write_features_parquet(&dir.join(&file), &[set], i32::MAX)?;
            names.insert(part.into(), file.into());
        }
        files.push(serde_json::Value::Object(names));
        rows.push((fold.train.len(), fold.stop.len(), fold.valid.len()));
        progress.advance(k as u64 + 1);
    }
    let Some(first) = folds.first() else {
        return Err(PipelineError::Invalid("no CV fold to export".into()));
    };
    let mut engines = serde_json::Map::new();
    for &engine in &plan.engines {
        engines.insert(engine.key().into(), serde_json::json!(spaces.get(engine)?));
    }
    let manifest = serde_json::json!({
        "feature_names": first.train.features.names(),
        "feature_kinds": first.train.features.kinds(),
        "target": plan.target,
        "max_rounds": plan.max_rounds,
        "early_stopping_rounds": plan.early_stopping_rounds,
        "threads": plan.fit_threads(),
        "n_folds": folds.len(),
        "folds": files,
        "search_spaces": engines,
        "data_fingerprint": fingerprint,
    });
    let path = dir.join("folds.json");
    let text = serde_json::to_string_pretty(&manifest)
        .map_err(|e| PipelineError::Invalid(format!("cannot serialise {}: {e}", path.display())))?;
    std::fs::write(&path, text).map_err(PipelineError::io(&path))?;
    progress.finish(&format!("{} folds → {}", folds.len(), dir.display()));
    Ok(FoldExport {
        manifest: path,
        rows,
    })
}

/// Tunes each engine of the plan and updates the hyperparameter file with every engine's best trial.
///
/// # Errors
/// Data, feature, study or file errors. Failing trials do not fail the job (they are recorded as failed).
pub fn tune(
    plan: &TunePlan,
    progress: Arc<dyn Progress>,
) -> Result<Vec<EngineTuning>, PipelineError> {
    if plan.storage_uri.starts_with("http") {
        return Err(PipelineError::Invalid(format!(
            "studies are stored in SQL; the tracking URI {} is a server — pass --storage sqlite:///studies.db or a \
             postgresql:// URI",
            plan.storage_uri
        )));
    }
    // The thread count is settled once (it reads the machine's CPU quota), not on every fold's fit.
    let plan = &TunePlan {
        threads: plan.fit_threads(),
        ..plan.clone()
    };
    let spaces = PlanSpaces::load(plan)?;
    let (folds, fingerprint) = load_folds(plan, &*progress)?;
    let folds = Arc::new(folds);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| PipelineError::Invalid(format!("cannot start the async runtime: {e}")))?;
    let mut results = Vec::new();
    for &engine in &plan.engines {
        let started = Instant::now();
        let space = spaces.get(engine)?.clone();
        let settings = StudySettings::new(space, plan.seed);
        let sampler = settings.sampler.name().to_string();
        let pruner = settings.pruner.name().to_string();
        let study_name = match (&plan.study, plan.engines.len()) {
            (Some(name), 1) => name.clone(),
            (Some(name), _) => format!("{name}_{}", engine.key()),
            (None, _) => format!("{}_tuning", engine.key()),
        };
        let study = runtime
            .block_on(Study::create_or_load(
                &plan.storage_uri,
                &study_name,
                settings,
            ))
            .map_err(|e| PipelineError::Invalid(format!("study {study_name}: {e}")))?;

        // The parent run, created once per study and remembered in the study so resumed runs reuse it.
        let parent = match &plan.tracking {
            None => None,
            Some(t) => {
                let run = RunLogger::start(
                    &t.tracking_uri,
                    &t.artifact_root,
                    &t.experiment,
                    Some(&format!("{}_tuning", engine.key())),
                    &[
                        ("modelops.job", "tune"),
                        ("modelops.study", study_name.as_str()),
                    ],
                )?;
                run.log_params(&[
                    ("model_type", engine.key().to_string()),
                    ("tuning_method", "modelops_tune".to_string()),
                    ("n_trials", plan.n_trials.to_string()),
                    ("n_folds", folds.len().to_string()),
                    ("pruner", pruner.clone()),
                    ("sampler", sampler.clone()),
                    ("seed", plan.seed.to_string()),
                    ("data_fingerprint", fingerprint.clone()),
                    ("study", study_name.clone()),
                ])?;
                Some(run)
            }
        };
        let parent_id = parent.as_ref().map(|r| r.run_id().to_string());

        let objective_plan = plan.clone();
        let objective_folds = Arc::clone(&folds);
        let objective = move |trial: &TrialInput<'_>,
                              reporter: &mut dyn TrialReporter|
              -> Result<TrialOutcome, ObjectiveError> {
            let params = params_to_json(trial.params);
            let mut sum = 0.0;
            for (k, fold) in objective_folds.iter().enumerate() {
                let model = fit_trial(engine, &params, &objective_plan, fold)?;
                sum += fold_rmspe(&*model, fold, objective_plan.target)?;
                let running = sum / (k + 1) as f64;
                // Step = fold index from 0, as the reference reported it; with n_warmup_steps = 2 the first
                // pruning decision comes after the third fold.
                if reporter.report(k as u32, running) == ShouldPrune::Prune {
                    return Ok(TrialOutcome::Pruned);
                }
            }
            Ok(TrialOutcome::Complete(sum / objective_folds.len() as f64))
        };
        let mut options = OptimizeOptions::new(plan.n_trials);
        options.timeout = plan.timeout;
        options.workers = plan.workers.max(1);
        options.cancel = Arc::new(AtomicBool::new(false));
        progress.step(&format!("tune {}", engine.key()), plan.n_trials);
        let observer = TrialRuns {
            target: plan.tracking.clone(),
            parent_run_id: parent_id.clone(),
            engine,
            progress: Arc::clone(&progress),
        };
        let summary = runtime
            .block_on(optimize(
                &study,
                Arc::new(objective),
                &options,
                Arc::new(observer),
            ))
            .map_err(|e| PipelineError::Invalid(format!("study {study_name}: {e}")))?;
        let best_params = summary
            .best
            .as_ref()
            .map(|t| params_to_json(&t.params))
            .unwrap_or_default();
        let best_rmspe = summary.best.as_ref().and_then(|t| t.value);
        progress.finish(&format!(
            "{} complete, {} pruned, {} failed; best RMSPE {}",
            summary.completed,
            summary.pruned,
            summary.failed,
            best_rmspe.map_or("-".into(), |v| format!("{v:.5}"))
        ));
        if let Some(run) = parent {
            let mut metrics = vec![("n_trials_completed".to_string(), summary.completed as f64)];
            if let Some(v) = best_rmspe {
                metrics.push(("best_rmspe".into(), v));
            }
            run.log_metrics(&metrics, 0)?;
            let best: Vec<(String, String)> = best_params
                .iter()
                .map(|(k, v)| (format!("best_{k}"), json_text(v)))
                .collect();
            run.log_params(&best)?;
            run.end(RunStatus::Finished)?;
        }
        results.push(EngineTuning {
            engine: engine.key(),
            study: study_name,
            completed: summary.completed as u64,
            pruned: summary.pruned as u64,
            failed: summary.failed as u64,
            best_rmspe,
            best_params,
            run_id: parent_id,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    write_best(plan, &results, folds.len())?;
    Ok(results)
}

/// Updates `best_hyperparameters.json` with every tuned engine that has a best trial, keeping the others.
fn write_best(
    plan: &TunePlan,
    results: &[EngineTuning],
    n_folds: usize,
) -> Result<(), PipelineError> {
    let mut best = BestHyperparameters::load_or_reference(&plan.hyperparameters_file)?;
    let mut updated = false;
    for r in results {
        let (Some(rmspe), Some(engine)) = (r.best_rmspe, engine_of(r.engine)) else {
            continue;
        };
        best.set_model(
            engine,
            TunedModel {
                hyperparameters: r.best_params.clone(),
                best_rmspe: rmspe,
                run_id: r.run_id.clone().unwrap_or_default(),
            },
        );
        updated = true;
    }
    if !updated {
        return Ok(());
    }
    best.metadata.source = "modelops_tune".into();
    best.metadata.n_trials_per_model = plan.n_trials;
    best.metadata.cv_folds = n_folds as u64;
    best.metadata.optimization_metric = "rmspe".into();
    let winner = [Engine::Lightgbm, Engine::Xgboost, Engine::Catboost]
        .into_iter()
        .filter_map(|e| {
            let m = match e {
                Engine::Lightgbm => best.lightgbm.as_ref(),
                Engine::Xgboost => best.xgboost.as_ref(),
                Engine::Catboost => best.catboost.as_ref(),
            }?;
            m.best_rmspe.is_finite().then_some((e, m.best_rmspe))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1));
    if let Some((engine, rmspe)) = winner {
        best.metadata.best_model = engine.key().into();
        best.metadata.best_rmspe = rmspe;
    }
    if let Some(parent) = plan
        .hyperparameters_file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(PipelineError::io(parent))?;
    }
    best.save(&plan.hyperparameters_file)?;
    Ok(())
}

fn engine_of(key: &str) -> Option<Engine> {
    match key {
        "lightgbm" => Some(Engine::Lightgbm),
        "xgboost" => Some(Engine::Xgboost),
        "catboost" => Some(Engine::Catboost),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(workers: usize, threads: usize) -> TunePlan {
        TunePlan {
            data_dir: PathBuf::new(),
            engines: vec![Engine::Lightgbm],
            n_trials: 1,
            timeout: None,
            study: None,
            seed: 0,
            workers,
            storage_uri: String::new(),
            search_spaces_file: PathBuf::new(),
            hyperparameters_file: PathBuf::new(),
            cv: CvConfig::default(),
            early_stopping_rounds: 1,
            max_rounds: 1,
            threads,
            target: TargetTransform::Log1p,
            tracking: None,
        }
    }

    #[test]
    fn fits_share_the_cores_among_workers_unless_told() {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        assert_eq!(plan(1, 0).fit_threads(), cores);
        assert_eq!(plan(2, 0).fit_threads(), (cores / 2).max(1));
        assert_eq!(plan(cores + 1, 0).fit_threads(), 1);
        assert_eq!(plan(4, 3).fit_threads(), 3);
    }
}
