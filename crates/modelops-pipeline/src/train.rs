//! `modelops train`: cleaned data → origin-safe features → the three engines → weighted ensemble → holdout scores →
//! model package, recorded as one tracking run.
//!
//! The forecast origin is the first holdout day (`--holdout-days 42`: the last 42 days are held out; `0`: train on
//! everything and skip the holdout). Training rows get their history features from rolling origins before it (see
//! `modelops_features::dataset`), holdout rows from the origin itself, so the holdout score is an honest
//! 1..42-day-ahead forecast score. The package's feature spec carries the history at the *end* of the data, so a
//! forecast for the days after the data uses everything known.
//!
//! The package also carries the drift-monitoring reference profile of the training rows (`reference_profile.json`,
//! see `modelops_monitor::MonitoredRows`), so `modelops monitor drift` never needs the training file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use modelops_data::{Freshness, Manifest, TRAIN_CLEAN_FILE};
use modelops_features::calendar::{date_of, format_day};
use modelops_features::{
    FeatureBuilder, FeatureSettings, FeatureSpec, LabelledRows, RollingOrigins, RowFilter,
    SalesData,
};
use modelops_models::hyperparams::BestHyperparameters;
use modelops_models::package::{DateRange, Lineage, SaveOptions};
use modelops_models::{
    Engine, Ensemble, EnsembleWeights, LightGbmConfig, ModelPackage, Regressor, TrainSet,
    XgBoostConfig,
};
use serde::Serialize;

use crate::progress::RoundProgress;
use crate::serving::{SERVING_SPEC_VERSION, ServingSpec, TargetTransform, predict_sales};
use crate::{PipelineError, Progress};

/// Boosting rounds per engine, when not taken from the hyperparameter file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Rounds {
    /// LightGBM rounds.
    pub lightgbm: u32,
    /// XGBoost rounds.
    pub xgboost: u32,
    /// Oblivious booster iterations.
    pub catboost: u32,
}

/// Everything `train` needs to know, checked.
#[derive(Clone, Debug)]
pub struct TrainPlan {
    /// The data directory (`raw/`, `processed/`, `manifest.json`).
    pub data_dir: PathBuf,
    /// `config/best_hyperparameters.json`; when it does not exist, the reference's tuned values are used.
    pub hyperparameters_file: PathBuf,
    /// Ensemble weights (the starting point when `optimize_weights`).
    pub weights: EnsembleWeights,
    /// Fit the weights on out-of-fold predictions of the blocks before the training origin instead.
    pub optimize_weights: bool,
    /// Days held out at the end of the data (0 = none).
    pub holdout_days: i32,
    /// Early stopping: hold out the last `block` days of the training period as an evaluation set and stop when
    /// it has not improved for this many rounds. `None`: fixed rounds.
    pub early_stopping_rounds: Option<u32>,
    /// Rounds per engine instead of the file's (the demo trains shorter).
    pub rounds: Option<Rounds>,
    /// Threads per engine (0 = all cores).
    pub threads: usize,
    /// Model target.
    pub target: TargetTransform,
    /// Where packages are written: `<dir>/<run name>/`.
    pub packages_dir: PathBuf,
    /// Run name; also the package folder name.
    pub run_name: String,
    /// The code's git commit, when known.
    pub git_commit: Option<String>,
}

/// What one engine achieved.
#[derive(Clone, Debug, Serialize)]
pub struct EngineReport {
    /// Engine key.
    pub engine: &'static str,
    /// Rounds kept.
    pub rounds: usize,
    /// Wall time of fitting, seconds.
    pub train_seconds: f64,
    /// Peak resident memory of the process while this engine trained, MiB (Linux; includes the feature matrix).
    pub peak_rss_mib: Option<f64>,
    /// Holdout scores (absent without a holdout).
    pub holdout: Option<modelops_eval::metrics::Scores>,
}

/// What `train` produced.
#[derive(Clone, Debug, Serialize)]
pub struct TrainReport {
    /// The package folder.
    pub package_dir: PathBuf,
    /// First and last training day.
    pub train_range: (String, String),
    /// First and last holdout day, when there is a holdout.
    pub holdout_range: Option<(String, String)>,
    /// Rows the models were fitted on.
    pub train_rows: usize,
    /// Holdout rows scored.
    pub holdout_rows: usize,
    /// Number of model features.
    pub n_features: usize,
    /// Per engine.
    pub engines: Vec<EngineReport>,
    /// Ensemble holdout scores.
    pub ensemble_holdout: Option<modelops_eval::metrics::Scores>,
    /// Weights used.
    pub weights: BTreeMap<String, f64>,
    /// Top features by LightGBM gain (or the first engine's), largest first.
    pub top_features: Vec<(String, f64)>,
    /// Data fingerprints the models were trained from.
    pub data_fingerprints: BTreeMap<String, String>,
    /// Params to record (`lgb_*`, `xgb_*`, `cb_*`, weights, sizes).
    pub params: Vec<(String, String)>,
    /// Metrics to record.
    pub metrics: Vec<(String, f64)>,
    /// Wall time of the whole job, seconds.
    pub seconds: f64,
}

/// Makes sure `processed/train_clean.parquet` is up to date with the raw files, ingesting them when it is not.
///
/// # Errors
/// Ingest errors (naming file, line and column).
pub fn ensure_clean_data(
    data_dir: &Path,
    progress: &dyn Progress,
) -> Result<PathBuf, PipelineError> {
    let clean = modelops_data::processed_dir(data_dir).join(TRAIN_CLEAN_FILE);
    let manifest = Manifest::load(data_dir)?;
    let fresh = clean.exists() && matches!(manifest.is_fresh(&clean)?, Freshness::Fresh);
    if !fresh {
        progress.step("ingest raw data", 0);
        let summary = modelops_data::ingest(data_dir)?;
        progress.finish(&format!(
            "{} rows → {}",
            summary.train_rows,
            summary.train_clean_path.display()
        ));
    }
    Ok(clean)
}

/// Loads the cleaned data as the features crate's [`SalesData`].
///
/// # Errors
/// Read errors or invalid values, named.
pub fn load_sales_data(clean: &Path) -> Result<SalesData, PipelineError> {
    let frame = modelops_data::read_parquet(clean, None, "run `modelops data ingest`")?;
    Ok(SalesData::from_clean_frame(&frame)?)
}

/// The fingerprints recorded in the manifest for the cleaned data and its raw inputs.
pub(crate) fn data_fingerprints(data_dir: &Path, clean: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Ok(manifest) = Manifest::load(data_dir)
        && let Some(entry) = manifest.get(clean)
    {
        out.insert(entry.path.clone(), entry.sha256.clone());
        for input in &entry.inputs {
            out.insert(input.path.clone(), input.sha256.clone());
        }
    }
    out
}

fn day_string(day: i32) -> String {
    format_day(day)
}

struct Configs {
    lightgbm: LightGbmConfig,
    xgboost: XgBoostConfig,
    catboost: modelops_models::oblivious::ObliviousConfig,
}

fn engine_configs(plan: &TrainPlan) -> Result<Configs, PipelineError> {
    let best = BestHyperparameters::load_or_reference(&plan.hyperparameters_file)?;
    let file = &plan.hyperparameters_file;
    let mut lightgbm = best.lightgbm_config(file)?;
    let mut xgboost = best.xgboost_config(file)?;
    let mut catboost = best.oblivious_config(file)?;
    if let Some(r) = plan.rounds {
        lightgbm.rounds = r.lightgbm;
        xgboost.rounds = r.xgboost;
        catboost.iterations = r.catboost;
    }
    lightgbm.early_stopping_rounds = plan.early_stopping_rounds;
    xgboost.early_stopping_rounds = plan.early_stopping_rounds;
    catboost.early_stopping_rounds = plan.early_stopping_rounds;
    lightgbm.num_threads = plan.threads as u32;
    xgboost.nthread = plan.threads as u32;
    catboost.threads = plan.threads;
    Ok(Configs {
        lightgbm,
        xgboost,
        catboost,
    })
}

fn targets(rows: &LabelledRows, transform: TargetTransform) -> Vec<f32> {
    rows.sales.iter().map(|&s| transform.forward(s)).collect()
}

/// The fitted engines, and per engine key its fitting time and peak resident memory.
type FittedMembers = (Vec<Box<dyn Regressor>>, BTreeMap<&'static str, FitCost>);

/// What fitting one engine cost.
#[derive(Clone, Copy, Debug, Default)]
struct FitCost {
    /// Wall time, seconds.
    seconds: f64,
    /// Peak resident memory of the process while the engine trained, MiB (None where the OS does not say).
    peak_rss_mib: Option<f64>,
}

/// Peak resident set size of this process, read from `/proc/self/status` (`VmHWM`); None off Linux.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// Resets the peak that [`peak_rss_mib`] reports to the current resident size (Linux `clear_refs` 5), so each
/// engine's figure is its own (it still includes the shared feature matrix). Best effort: without it the figure
/// is the process's peak so far.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Fits the three engines on one training set; `label` prefixes the progress steps (e.g. "fold 1/3 ").
fn fit_members(
    configs: &Configs,
    train_set: &TrainSet<'_>,
    eval_set: Option<&TrainSet<'_>>,
    progress: &dyn Progress,
    label: &str,
) -> Result<FittedMembers, PipelineError> {
    let mut members: Vec<Box<dyn Regressor>> = Vec::new();
    let mut costs: BTreeMap<&'static str, FitCost> = BTreeMap::new();
    for engine in [Engine::Lightgbm, Engine::Xgboost, Engine::Catboost] {
        let total = match engine {
            Engine::Lightgbm => configs.lightgbm.rounds,
            Engine::Xgboost => configs.xgboost.rounds,
            Engine::Catboost => configs.catboost.iterations,
        };
        progress.step(&format!("{label}train {}", engine.key()), u64::from(total));
        reset_peak_rss();
        let t = Instant::now();
        let rounds = RoundProgress(progress);
        let model: Box<dyn Regressor> = match engine {
            Engine::Lightgbm => configs.lightgbm.fit_boxed(train_set, eval_set, &rounds)?,
            Engine::Xgboost => configs.xgboost.fit_boxed(train_set, eval_set, &rounds)?,
            Engine::Catboost => Box::new(modelops_models::Fit::fit(
                &configs.catboost,
                train_set,
                eval_set,
                &rounds,
            )?),
        };
        let elapsed = t.elapsed().as_secs_f64();
        progress.finish(&format!("{} rounds in {elapsed:.1}s", model.n_rounds()));
        costs.insert(
            engine.key(),
            FitCost {
                seconds: elapsed,
                peak_rss_mib: peak_rss_mib(),
            },
        );
        members.push(model);
    }
    Ok((members, costs))
}

/// Weights fitted on out-of-fold predictions, and where they came from.
struct BlendWeights {
    fitted: modelops_models::ensemble::FittedWeights,
    folds: usize,
    rows: usize,
    window: String,
}

/// Folds used to fit `--optimize-weights`.
const BLEND_FOLDS: i32 = 3;

/// `--optimize-weights`: for each of the [`BLEND_FOLDS`] blocks just before `fit_origin`, trains the three engines
/// on the data before the block (features from the block's own origin) and predicts the block; the weights that
/// minimise RMSPE of the blended out-of-fold predictions are fitted on all blocks together. No prediction used for
/// fitting comes from a model that saw its day, and the holdout is never touched.
fn fit_blend_weights(
    plan: &TrainPlan,
    configs: &Configs,
    data: &SalesData,
    builder: &FeatureBuilder,
    fit_origin: i32,
    progress: &dyn Progress,
) -> Result<BlendWeights, PipelineError> {
    let rolling = RollingOrigins::default();
    let block = rolling.block_days;
    let (first, _) = data.day_range();
    let fold_configs = Configs {
        lightgbm: LightGbmConfig {
            early_stopping_rounds: None,
            ..configs.lightgbm.clone()
        },
        xgboost: XgBoostConfig {
            early_stopping_rounds: None,
            ..configs.xgboost.clone()
        },
        catboost: modelops_models::oblivious::ObliviousConfig {
            early_stopping_rounds: None,
            ..configs.catboost.clone()
        },
    };
    let mut oof: Vec<(Engine, Vec<f64>)> = Vec::new();
    let mut actual: Vec<f64> = Vec::new();
    let origins: Vec<i32> = (1..=BLEND_FOLDS)
        .rev()
        .map(|k| fit_origin - k * block)
        .collect();
    if origins.first().is_none_or(|&o| o - first < 2 * block) {
        return Err(PipelineError::Invalid(format!(
            "--optimize-weights needs {BLEND_FOLDS} blocks of {block} days before {} plus at least {} days of \
             training data before them; the data starts {}",
            day_string(fit_origin),
            2 * block,
            day_string(first)
        )));
    }
    for (i, &origin) in origins.iter().enumerate() {
        let label = format!("weights fold {}/{BLEND_FOLDS}: ", i + 1);
        progress.step(&format!("{label}build features"), 0);
        let train_rows = data.training_set(builder, origin, &rolling, RowFilter::ModelRows)?;
        let fold_rows = data.forecast_set(builder, origin, origin + block, RowFilter::ModelRows)?;
        progress.finish(&format!(
            "{} training rows, {} rows {} … {}",
            train_rows.len(),
            fold_rows.len(),
            day_string(origin),
            day_string(origin + block - 1)
        ));
        let y = targets(&train_rows, plan.target);
        let set = TrainSet {
            features: &train_rows.features,
            target: &y,
            weights: None,
        };
        let (members, _) = fit_members(&fold_configs, &set, None, progress, &label)?;
        let ensemble = Ensemble::new(members, plan.weights)?;
        let predicted =
            predict_sales(&ensemble, plan.target, &fold_rows.features, &fold_rows.rows)?;
        for (engine, p) in predicted.per_engine {
            match oof.iter_mut().find(|(e, _)| *e == engine) {
                Some((_, column)) => column.extend(p),
                None => oof.push((engine, p)),
            }
        }
        actual.extend(fold_rows.sales.iter().map(|&s| f64::from(s)));
    }
    let columns: Vec<(Engine, &[f64])> = oof.iter().map(|(e, p)| (*e, p.as_slice())).collect();
    let fitted = modelops_models::ensemble::optimize_weights(&columns, &actual)?;
    let window = format!("{}..{}", day_string(origins[0]), day_string(fit_origin - 1));
    progress.step("fit ensemble weights", 0);
    progress.finish(&format!(
        "{:?} (out-of-fold RMSPE {:.5} on {} rows, {window})",
        fitted.weights,
        fitted.rmspe,
        actual.len()
    ));
    Ok(BlendWeights {
        fitted,
        folds: origins.len(),
        rows: actual.len(),
        window,
    })
}

/// Runs the whole training job.
///
/// # Errors
/// Any step's error; nothing is left half-written (the package is written atomically).
pub fn train(plan: &TrainPlan, progress: &dyn Progress) -> Result<TrainReport, PipelineError> {
    let started = Instant::now();
    if plan.holdout_days < 0 {
        return Err(PipelineError::Invalid(
            "--holdout-days must be 0 or more".into(),
        ));
    }
    let configs = engine_configs(plan)?;
    let clean = ensure_clean_data(&plan.data_dir, progress)?;
    let fingerprints = data_fingerprints(&plan.data_dir, &clean);

    progress.step("build features", 0);
    let data = load_sales_data(&clean)?;
    let (first, last) = data.day_range();
    let origin = last + 1 - plan.holdout_days;
    if origin <= first {
        return Err(PipelineError::Invalid(format!(
            "the data covers {} … {}, which leaves no training days before a {}-day holdout; use fewer \
             --holdout-days or more data",
            day_string(first),
            day_string(last),
            plan.holdout_days
        )));
    }
    let builder = FeatureBuilder::new(data.stores(), FeatureSettings::default());
    let rolling = RollingOrigins::default();
    // With early stopping, the last block before the origin is the evaluation set and training stops before it.
    let (fit_origin, eval_rows) = match plan.early_stopping_rounds {
        Some(_) => {
            let eval_origin = origin - rolling.block_days;
            let eval = data.forecast_set(&builder, eval_origin, origin, RowFilter::ModelRows)?;
            (eval_origin, Some(eval))
        }
        None => (origin, None),
    };
    let train_rows = data.training_set(&builder, fit_origin, &rolling, RowFilter::ModelRows)?;
    let holdout_rows = if plan.holdout_days > 0 {
        Some(data.forecast_set(&builder, origin, last + 1, RowFilter::ModelRows)?)
    } else {
        None
    };
    progress.finish(&format!(
        "{} training rows × {} features{}",
        train_rows.len(),
        builder.names().len(),
        holdout_rows
            .as_ref()
            .map(|h| format!(", {} holdout rows", h.len()))
            .unwrap_or_default()
    ));

    let y_train = targets(&train_rows, plan.target);
    let train_set = TrainSet {
        features: &train_rows.features,
        target: &y_train,
        weights: None,
    };
    let y_eval = eval_rows.as_ref().map(|e| targets(e, plan.target));
    let eval_set = match (&eval_rows, &y_eval) {
        (Some(rows), Some(y)) => Some(TrainSet {
            features: &rows.features,
            target: y,
            weights: None,
        }),
        _ => None,
    };

    // Weights: given, or fitted on out-of-fold predictions of the blocks before the fit origin.
    let (weights, blend) = if plan.optimize_weights {
        let blend = fit_blend_weights(plan, &configs, &data, &builder, fit_origin, progress)?;
        (blend.fitted.weights, Some(blend))
    } else {
        (plan.weights, None)
    };
    let (members, costs) = fit_members(&configs, &train_set, eval_set.as_ref(), progress, "")?;
    let ensemble = Ensemble::new(members, weights)?;

    // Holdout scores per engine and for the ensemble, in sales space.
    let mut engine_scores: BTreeMap<&'static str, modelops_eval::metrics::Scores> = BTreeMap::new();
    let mut ensemble_holdout = None;
    if let Some(hold) = &holdout_rows {
        progress.step("score holdout", 0);
        let predicted = predict_sales(&ensemble, plan.target, &hold.features, &hold.rows)?;
        let actual: Vec<f64> = hold.sales.iter().map(|&s| f64::from(s)).collect();
        for (engine, p) in &predicted.per_engine {
            engine_scores.insert(
                engine.key(),
                modelops_eval::metrics::Scores::compute(&actual, p)?,
            );
        }
        let scores = modelops_eval::metrics::Scores::compute(&actual, &predicted.ensemble)?;
        progress.finish(&format!("ensemble holdout RMSPE {:.4}", scores.rmspe));
        ensemble_holdout = Some(scores);
    }

    // Params and metrics in the reference's naming.
    let mut params: Vec<(String, String)> = Vec::new();
    for (k, v) in configs.lightgbm.to_params() {
        params.push((format!("lgb_{k}"), v));
    }
    for (k, v) in configs.xgboost.to_params() {
        params.push((format!("xgb_{k}"), v));
    }
    for (k, v) in config_params(&configs.catboost) {
        params.push((format!("cb_{k}"), v));
    }
    params.extend(weights.to_params());
    params.push((
        "weights_optimized".into(),
        plan.optimize_weights.to_string(),
    ));
    if let Some(blend) = &blend {
        params.push(("weights_oof_folds".into(), blend.folds.to_string()));
        params.push(("weights_oof_window".into(), blend.window.clone()));
    }
    params.push(("train_size".into(), train_rows.len().to_string()));
    params.push((
        "holdout_size".into(),
        holdout_rows
            .as_ref()
            .map_or(0, LabelledRows::len)
            .to_string(),
    ));
    params.push(("holdout_days".into(), plan.holdout_days.to_string()));
    params.push(("n_features".into(), builder.names().len().to_string()));
    params.push((
        "target_transform".into(),
        format!("{:?}", plan.target).to_lowercase(),
    ));
    params.push(("forecast_origin".into(), day_string(origin)));
    if let Some(commit) = &plan.git_commit {
        params.push(("git_commit_hash".into(), commit.clone()));
    }
    for (path, hash) in &fingerprints {
        params.push((
            format!("data_hash.{}", path.replace('/', ".")),
            hash.clone(),
        ));
    }
    let mut metrics: Vec<(String, f64)> = Vec::new();
    let prefix = |key: &str| match key {
        "lightgbm" => "lgb",
        "xgboost" => "xgb",
        _ => "cb",
    };
    for (engine, cost) in &costs {
        metrics.push((
            format!("{}_train_time_seconds", prefix(engine)),
            cost.seconds,
        ));
        if let Some(mib) = cost.peak_rss_mib {
            metrics.push((format!("{}_train_peak_rss_mib", prefix(engine)), mib));
        }
    }
    for (engine, s) in &engine_scores {
        for (name, value) in named_scores(s) {
            metrics.push((format!("{}_holdout_{name}", prefix(engine)), value));
        }
    }
    if let Some(s) = &ensemble_holdout {
        for (name, value) in named_scores(s) {
            metrics.push((format!("ensemble_holdout_{name}"), value));
        }
    }
    if let Some(blend) = &blend {
        metrics.push(("weights_oof_rmspe".into(), blend.fitted.rmspe));
        metrics.push(("weights_oof_rows".into(), blend.rows as f64));
    }

    // The package: models, the serving spec with history at the end of the data, lineage.
    progress.step("write model package", 0);
    let spec = ServingSpec {
        format_version: SERVING_SPEC_VERSION,
        target_transform: plan.target,
        features: FeatureSpec::new(
            builder.clone(),
            data.stores().clone(),
            data.history_at(last + 1),
        ),
    };
    let spec_json = serde_json::to_value(&spec)
        .map_err(|e| PipelineError::Invalid(format!("cannot serialise the feature spec: {e}")))?;
    let mut hyperparameters = BTreeMap::new();
    hyperparameters.insert(
        "lightgbm".to_string(),
        params_json(&configs.lightgbm.to_params()),
    );
    hyperparameters.insert(
        "xgboost".to_string(),
        params_json(&configs.xgboost.to_params()),
    );
    hyperparameters.insert(
        "catboost".to_string(),
        params_json(&config_params(&configs.catboost)),
    );
    let train_start = train_rows
        .rows
        .iter()
        .map(|r| r.date)
        .min()
        .unwrap_or(first);
    let train_end = fit_origin - 1;
    let lineage = Lineage {
        data_fingerprints: fingerprints.clone(),
        git_commit: plan.git_commit.clone(),
        hyperparameters,
        metrics: metrics.iter().cloned().collect(),
        training_date_range: match (date_of(train_start), date_of(origin - 1)) {
            (Some(start), Some(end)) => Some(DateRange { start, end }),
            _ => None,
        },
    };
    let package_dir = plan.packages_dir.join(&plan.run_name);
    let reference_profile = reference_profile(&ensemble, plan.target, &train_rows, data.stores())?;
    ModelPackage::save(
        &package_dir,
        &ensemble,
        &spec_json,
        &lineage,
        &SaveOptions {
            reference_profile: Some(reference_profile),
            ..SaveOptions::default()
        },
    )?;
    progress.finish(&package_dir.display().to_string());

    let importance = ensemble
        .member(Engine::Lightgbm)
        .or_else(|| ensemble.members().first().map(|m| &**m))
        .map(|m| m.feature_importance())
        .unwrap_or_default();
    let mut top_features = importance;
    top_features.sort_by(|a, b| b.1.total_cmp(&a.1));
    top_features.truncate(15);

    let engines = [Engine::Lightgbm, Engine::Xgboost, Engine::Catboost]
        .into_iter()
        .map(|engine| EngineReport {
            engine: engine.key(),
            rounds: ensemble.member(engine).map_or(0, |m| m.n_rounds()),
            train_seconds: costs.get(engine.key()).map_or(0.0, |c| c.seconds),
            peak_rss_mib: costs.get(engine.key()).and_then(|c| c.peak_rss_mib),
            holdout: engine_scores.get(engine.key()).cloned(),
        })
        .collect();
    Ok(TrainReport {
        package_dir,
        train_range: (day_string(train_start), day_string(train_end)),
        holdout_range: (plan.holdout_days > 0).then(|| (day_string(origin), day_string(last))),
        train_rows: train_rows.len(),
        holdout_rows: holdout_rows.as_ref().map_or(0, LabelledRows::len),
        n_features: builder.names().len(),
        engines,
        ensemble_holdout,
        weights: plan
            .weights
            .pairs()
            .iter()
            .map(|(e, w)| (e.key().to_string(), *w))
            .collect(),
        top_features,
        data_fingerprints: fingerprints,
        params,
        metrics,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The drift-monitoring reference profile (JSON) of the training rows: every monitored input and derived feature
/// (`modelops_monitor::MONITORED_FEATURES`) and the ensemble's predictions on those rows, partitioned by calendar
/// month so `monitor drift --reference-window same-months` can compare a season with the same season.
///
/// The rows are the ones the models were fitted on (open days with sales); the predictions are in-sample. The
/// features are profiled on every row, the predictions on [`profile_prediction_rows`]' sample of them.
fn reference_profile(
    ensemble: &Ensemble,
    target: TargetTransform,
    rows: &LabelledRows,
    stores: &modelops_features::StoreTable,
) -> Result<String, PipelineError> {
    let sample = profile_prediction_rows(rows.len());
    let sampled_rows: Vec<_> = sample.iter().map(|&i| rows.rows[i]).collect();
    let sampled = predict_sales(
        ensemble,
        target,
        &rows.features.select_rows(&sample),
        &sampled_rows,
    )?;
    let mut prediction_of: Vec<Option<f64>> = vec![None; rows.len()];
    for (&i, &p) in sample.iter().zip(&sampled.ensemble) {
        prediction_of[i] = Some(p);
    }
    let promo2_active = rows
        .features
        .names()
        .iter()
        .position(|n| n == "Promo2Active");
    let mut monitored = modelops_monitor::MonitoredRows::with_capacity(rows.len());
    for (i, (row, prediction)) in rows.rows.iter().zip(&prediction_of).enumerate() {
        let Some(date) = date_of(row.date) else {
            continue;
        };
        let meta = stores.get(row.store);
        monitored.push(&modelops_monitor::MonitoredRow {
            store: row.store,
            date,
            day_of_week: row.day_of_week,
            promo: row.promo,
            state_holiday: row.state_holiday.as_str(),
            school_holiday: row.school_holiday,
            store_type: meta.map_or("", |m| m.store_type.as_str()),
            assortment: meta.map_or("", |m| m.assortment.as_str()),
            competition_distance: f64::from(
                meta.and_then(|m| m.competition_distance)
                    .unwrap_or(modelops_features::table::NO_COMPETITOR_SENTINEL),
            ),
            promo2: meta.is_some_and(|m| m.promo2),
            promo2_active: promo2_active
                .and_then(|c| rows.features.row(i).get(c))
                .is_some_and(|v| *v == 1.0),
            prediction: *prediction,
        });
    }
    let monitor_error = |e: modelops_monitor::MonitorError| {
        PipelineError::Invalid(format!("reference profile: {e}"))
    };
    let columns = monitored.column_set().map_err(monitor_error)?;
    let profile = modelops_monitor::ReferenceProfile::build(
        &columns,
        &modelops_monitor::SketchConfig::default(),
    )
    .map_err(monitor_error)?;
    profile.to_json().map_err(monitor_error)
}

/// Most training rows whose predictions go into the reference profile. Predicting every training row with the
/// three engines costs about a minute on the Rossmann data (750k rows), while 100,000 predictions already pin the
/// distribution's quantiles and histogram far finer than the drift thresholds resolve.
const PROFILE_PREDICTION_ROWS: usize = 100_000;

/// The indices (ascending) of the rows whose predictions the reference profile holds: all of them up to
/// [`PROFILE_PREDICTION_ROWS`], else a uniform random sample of that many from a fixed seed (random, so no stride
/// can line up with the stores' or weekdays' periods in the row order; seeded, so a retrain is reproducible).
fn profile_prediction_rows(n: usize) -> Vec<usize> {
    use rand::SeedableRng as _;
    if n <= PROFILE_PREDICTION_ROWS {
        return (0..n).collect();
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x5052_4f46);
    let mut sample = rand::seq::index::sample(&mut rng, n, PROFILE_PREDICTION_ROWS).into_vec();
    sample.sort_unstable();
    sample
}

fn params_json(params: &[(String, String)]) -> serde_json::Value {
    serde_json::Value::Object(
        params
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect(),
    )
}

/// The four scores by name, as metrics are logged.
pub fn named_scores(s: &modelops_eval::metrics::Scores) -> [(&'static str, f64); 4] {
    [
        ("rmspe", s.rmspe),
        ("rmse", s.rmse),
        ("mae", s.mae),
        ("mape", s.mape),
    ]
}

/// A config's fields as (name, value) text pairs, from its serde form (an unset option reads `null`).
pub fn config_params<T: Serialize>(config: &T) -> Vec<(String, String)> {
    match serde_json::to_value(config) {
        Ok(serde_json::Value::Object(map)) => map
            .into_iter()
            .map(|(k, v)| {
                let text = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, text)
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_predicts_every_row_of_a_small_set_and_a_fixed_sample_of_a_large_one() {
        assert_eq!(profile_prediction_rows(1000), (0..1000).collect::<Vec<_>>());
        let n = 750_000;
        let sample = profile_prediction_rows(n);
        let wanted = PROFILE_PREDICTION_ROWS as f64;
        assert!(
            (sample.len() as f64 - wanted).abs() < 0.02 * wanted,
            "{} rows sampled",
            sample.len()
        );
        assert!(sample.windows(2).all(|w| w[0] < w[1]) && sample.last() < Some(&n));
        assert_eq!(sample, profile_prediction_rows(n), "deterministic");
        // No weekday-like period survives: every residue mod 7 gets its share.
        let mut by_residue = [0usize; 7];
        for i in &sample {
            by_residue[i % 7] += 1;
        }
        let share = sample.len() as f64 / 7.0;
        assert!(
            by_residue
                .iter()
                .all(|&c| (c as f64 - share).abs() < 0.05 * share),
            "{by_residue:?}"
        );
    }
}
