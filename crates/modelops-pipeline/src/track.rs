//! Recording jobs in the tracking store: one run per job, params and metrics in the reference's naming, the model
//! package as the run's `ensemble_model` artifact.

use modelops_tracking::{RunLogger, RunStatus};

use crate::PipelineError;
use crate::train::TrainReport;

/// Where runs go.
#[derive(Clone, Debug)]
pub struct TrackingTarget {
    /// Tracking URI (`sqlite:///…`, `postgresql://…`, `http(s)://…`).
    pub tracking_uri: String,
    /// Artifact root of the embedded store (ignored for `http(s)://`).
    pub artifact_root: String,
    /// Experiment name.
    pub experiment: String,
    /// When set, runs are recorded as children of this run (MLflow's `mlflow.parentRunId` tag), as
    /// `modelops retrain` does with one parent run per pipeline.
    pub parent_run_id: Option<String>,
}

/// MLflow's tag naming a run's parent.
pub const PARENT_RUN_TAG: &str = "mlflow.parentRunId";

impl TrackingTarget {
    /// The tags every run of `job` gets: `modelops.job` and, under a parent, `mlflow.parentRunId`.
    pub fn run_tags<'a>(&'a self, job: &'a str) -> Vec<(&'a str, &'a str)> {
        let mut tags = vec![("modelops.job", job)];
        if let Some(parent) = &self.parent_run_id {
            tags.push((PARENT_RUN_TAG, parent.as_str()));
        }
        tags
    }
}

/// The artifact path of the package inside its run (the reference's).
pub const PACKAGE_ARTIFACT_PATH: &str = "ensemble_model";

/// Records a finished training job as a run and returns its id. The run is marked FAILED if any logging step fails
/// after it was created, so a half-recorded run never looks finished.
///
/// # Errors
/// [`PipelineError::Tracking`] naming the failing call.
pub fn record_training(
    target: &TrackingTarget,
    run_name: &str,
    report: &TrainReport,
) -> Result<String, PipelineError> {
    let logger = RunLogger::start(
        &target.tracking_uri,
        &target.artifact_root,
        &target.experiment,
        Some(run_name),
        &target.run_tags("train"),
    )?;
    let outcome = (|| {
        logger.log_params(&report.params)?;
        logger.log_metrics(&report.metrics, 0)?;
        let summary = serde_json::to_string(&report.top_features).unwrap_or_default();
        logger.set_tags(&[("modelops.top_features", summary)])?;
        logger.log_artifact_dir(&report.package_dir, PACKAGE_ARTIFACT_PATH)?;
        Ok::<(), modelops_tracking::StoreError>(())
    })();
    end_run(logger, outcome)
}

/// Records one forecaster of `modelops baseline` as a run named `baseline_<name>`: params `model`, the CV settings
/// and `params` (a trained model's settings); metrics `cv_rmspe_mean`, `cv_rmspe_std`, `holdout_{rmspe,rmse,mae,
/// mape}`, and `cv_fold_rmspe` with one step per fold (1 = oldest), so the fold scores chart as a series; the top
/// features as the tag `modelops.top_features`. Returns the run id.
///
/// # Errors
/// [`PipelineError::Tracking`] naming the failing call; the run is marked FAILED when logging fails after it was
/// created.
pub fn record_baseline(
    target: &TrackingTarget,
    report: &modelops_eval::ModelReport,
    cv: &modelops_eval::CvConfig,
    params: &[(String, String)],
) -> Result<String, PipelineError> {
    let run_name = format!("baseline_{}", report.name);
    let logger = RunLogger::start(
        &target.tracking_uri,
        &target.artifact_root,
        &target.experiment,
        Some(&run_name),
        &target.run_tags("baseline"),
    )?;
    let outcome = (|| {
        let mut all_params: Vec<(String, String)> = vec![
            ("model".into(), report.name.clone()),
            ("n_folds".into(), cv.n_folds.to_string()),
            ("fold_days".into(), cv.fold_days.to_string()),
            ("min_train_days".into(), cv.min_train_days.to_string()),
            ("holdout_days".into(), cv.holdout_days.to_string()),
        ];
        all_params.extend(params.iter().cloned());
        logger.log_params(&all_params)?;
        let h = &report.holdout.scores;
        logger.log_metrics(
            &[
                ("cv_rmspe_mean", report.cv_rmspe_mean),
                ("cv_rmspe_std", report.cv_rmspe_std),
                ("holdout_rmspe", h.rmspe),
                ("holdout_rmse", h.rmse),
                ("holdout_mae", h.mae),
                ("holdout_mape", h.mape),
            ],
            0,
        )?;
        for (i, fold) in report.folds.iter().enumerate() {
            let step = i64::try_from(i + 1).unwrap_or(i64::MAX);
            logger.log_metrics(&[("cv_fold_rmspe", fold.scores.rmspe)], step)?;
        }
        if !report.top_features.is_empty() {
            let summary = serde_json::to_string(&report.top_features).unwrap_or_default();
            logger.set_tags(&[("modelops.top_features", summary)])?;
        }
        Ok::<(), modelops_tracking::StoreError>(())
    })();
    end_run(logger, outcome)
}

/// Ends a job's run FINISHED when every logging step succeeded and FAILED otherwise, so a half-recorded run never
/// looks finished; returns the run id or the logging error.
fn end_run(
    logger: RunLogger,
    outcome: Result<(), modelops_tracking::StoreError>,
) -> Result<String, PipelineError> {
    match outcome {
        Ok(()) => {
            let run_id = logger.run_id().to_string();
            logger.end(RunStatus::Finished)?;
            Ok(run_id)
        }
        Err(err) => {
            let _ = logger.end(RunStatus::Failed);
            Err(err.into())
        }
    }
}
