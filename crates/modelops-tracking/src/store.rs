//! The [`Store`] trait: one async method per MLflow tracking RPC. Every backend implements it; commands and the
//! HTTP server only ever hold an `Arc<dyn Store>`. The registry (issue 6) adds its methods here later, with
//! default bodies so existing backends keep compiling.

use crate::entities::{
    CreateRun, Experiment, ExperimentId, Metric, Page, Param, Run, RunId, RunInfo,
    SearchExperiments, SearchRuns, Tag, UpdateRun,
};
use crate::error::StoreError;

/// Everything modelops records about experiments and runs, one method per MLflow RPC and named after it.
#[async_trait::async_trait]
pub trait Store: crate::registry::Registry + Send + Sync {
    /// Creates an experiment; [`StoreError::AlreadyExists`] if the name is taken (deleted experiments included).
    async fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[Tag],
    ) -> Result<ExperimentId, StoreError>;
    /// Looks an experiment up by id; [`StoreError::NotFound`] when unknown.
    async fn get_experiment(&self, id: &ExperimentId) -> Result<Experiment, StoreError>;
    /// Looks an experiment up by name (deleted ones too); [`StoreError::NotFound`] when unknown.
    async fn get_experiment_by_name(&self, name: &str) -> Result<Experiment, StoreError>;
    /// Searches experiments with MLflow's filter grammar, ordering and paging.
    async fn search_experiments(
        &self,
        request: &SearchExperiments,
    ) -> Result<Page<Experiment>, StoreError>;
    /// Renames an experiment.
    async fn rename_experiment(&self, id: &ExperimentId, new_name: &str) -> Result<(), StoreError>;
    /// Soft-deletes an experiment and all its runs.
    async fn delete_experiment(&self, id: &ExperimentId) -> Result<(), StoreError>;
    /// Restores a deleted experiment and the runs deleted with it.
    async fn restore_experiment(&self, id: &ExperimentId) -> Result<(), StoreError>;
    /// Sets (upserts) an experiment tag.
    async fn set_experiment_tag(&self, id: &ExperimentId, tag: &Tag) -> Result<(), StoreError>;

    /// Creates a run (status RUNNING) in an active experiment.
    async fn create_run(&self, request: &CreateRun) -> Result<Run, StoreError>;
    /// Fetches a run with its latest metrics, params and tags; deleted runs are returned too.
    async fn get_run(&self, id: &RunId) -> Result<Run, StoreError>;
    /// Changes status, end time or name of an active run.
    async fn update_run(&self, id: &RunId, update: &UpdateRun) -> Result<RunInfo, StoreError>;
    /// Soft-deletes a run.
    async fn delete_run(&self, id: &RunId) -> Result<(), StoreError>;
    /// Restores a deleted run (a no-op on an active one).
    async fn restore_run(&self, id: &RunId) -> Result<(), StoreError>;
    /// Searches runs with MLflow's filter grammar, ordering and paging.
    async fn search_runs(&self, request: &SearchRuns) -> Result<Page<Run>, StoreError>;

    /// Logs one param; the same value again is a no-op, a different one is [`StoreError::InvalidParameter`].
    async fn log_param(&self, id: &RunId, param: &Param) -> Result<(), StoreError> {
        self.log_batch(id, &[], std::slice::from_ref(param), &[])
            .await
    }
    /// Logs one metric point.
    async fn log_metric(&self, id: &RunId, metric: &Metric) -> Result<(), StoreError> {
        self.log_batch(id, std::slice::from_ref(metric), &[], &[])
            .await
    }
    /// Sets (upserts) one run tag; `mlflow.runName` also renames the run.
    async fn set_tag(&self, id: &RunId, tag: &Tag) -> Result<(), StoreError> {
        self.log_batch(id, &[], &[], std::slice::from_ref(tag))
            .await
    }
    /// Validates everything, then writes metrics, params and tags atomically.
    async fn log_batch(
        &self,
        id: &RunId,
        metrics: &[Metric],
        params: &[Param],
        tags: &[Tag],
    ) -> Result<(), StoreError>;
    /// Deletes a run tag; [`StoreError::NotFound`] when absent.
    async fn delete_tag(&self, id: &RunId, key: &str) -> Result<(), StoreError>;
    /// Every point of a metric in (timestamp, step, value) order, paged.
    async fn get_metric_history(
        &self,
        id: &RunId,
        key: &str,
        max_results: Option<i64>,
        page_token: Option<&str>,
    ) -> Result<Page<Metric>, StoreError>;
}
