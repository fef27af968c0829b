//! The optimisation driver: `workers` threads claim trials from a [`Study`], run the caller's [`Objective`] on
//! them, stream intermediate values through a [`TrialReporter`] (which consults the pruner) and record outcomes.
//!
//! The objective is plain blocking code (training models is CPU work); each worker is a Tokio blocking thread that
//! calls the async study storage through the runtime handle, and a small async task per running trial keeps its
//! heartbeat fresh. Stopping: after `timeout` or when the cancel flag is raised, no new trial is claimed and
//! running trials finish normally; a process that dies instead leaves its trials `running`, and the next claimer
//! re-queues them once their heartbeat is stale (see [`crate::study`]).

use crate::error::TuneError;
use crate::space::Params;
use crate::study::{Claim, ClaimedTrial, ReportOutcome, Study};
use crate::trial::{Trial, TrialState};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::runtime::Handle;

/// Whether the objective should carry on after a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShouldPrune {
    /// Keep going.
    Continue,
    /// Stop now and return [`TrialOutcome::Pruned`]: the pruner said so, or the trial is no longer this worker's.
    Prune,
}

impl ShouldPrune {
    /// True for [`ShouldPrune::Prune`].
    pub fn is_prune(self) -> bool {
        self == ShouldPrune::Prune
    }
}

/// Receives a trial's intermediate values (for the tuning objective: the running mean RMSPE after each fold).
pub trait TrialReporter {
    /// Records `value` at `step` (steps increase; the fold index from 0) and says whether to stop.
    fn report(&mut self, step: u32, value: f64) -> ShouldPrune;
}

/// How a trial's evaluation ended, when it did not fail.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TrialOutcome {
    /// Finished with this objective value.
    Complete(f64),
    /// Stopped after a [`ShouldPrune::Prune`]; the last reported value becomes the trial's value.
    Pruned,
}

/// An objective's failure; the trial is recorded as failed with this message and tuning continues.
pub type ObjectiveError = Box<dyn std::error::Error + Send + Sync>;

/// What the objective gets for one trial.
#[derive(Clone, Copy, Debug)]
pub struct TrialInput<'a> {
    /// Trial number in the study.
    pub number: u64,
    /// The sampled parameters.
    pub params: &'a Params,
    /// 1, or more when re-running a trial whose worker died.
    pub attempt: u32,
}

/// The function being minimised (or maximised): parameters in, value out.
///
/// Implemented for closures `Fn(&TrialInput, &mut dyn TrialReporter) -> Result<TrialOutcome, ObjectiveError>`.
pub trait Objective: Send + Sync {
    /// Evaluates one trial. Call `reporter.report` after each step and return [`TrialOutcome::Pruned`] when it says
    /// [`ShouldPrune::Prune`]. A non-finite value or an error fails the trial; a panic is caught and fails it too.
    ///
    /// # Errors
    /// Any failure of the evaluation; it is recorded on the trial, not propagated.
    fn evaluate(
        &self,
        trial: &TrialInput<'_>,
        reporter: &mut dyn TrialReporter,
    ) -> Result<TrialOutcome, ObjectiveError>;
}

impl<F> Objective for F
where
    F: Fn(&TrialInput<'_>, &mut dyn TrialReporter) -> Result<TrialOutcome, ObjectiveError>
        + Send
        + Sync,
{
    fn evaluate(
        &self,
        trial: &TrialInput<'_>,
        reporter: &mut dyn TrialReporter,
    ) -> Result<TrialOutcome, ObjectiveError> {
        self(trial, reporter)
    }
}

/// Hears about trials as workers start and finish them; called on worker threads (blocking is allowed, so an
/// implementation may log the trial to a tracking store with `Handle::block_on`). Keep it cheap.
pub trait OptimizeObserver: Send + Sync {
    /// A worker claimed a trial.
    fn trial_started(&self, _study: &Study, _trial: &ClaimedTrial) {}
    /// A trial this process ran reached a finished state (as stored).
    fn trial_finished(&self, _study: &Study, _trial: &Trial) {}
}

/// Observes nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoObserver;

impl OptimizeObserver for NoObserver {}

/// How long and how wide to optimise.
#[derive(Clone, Debug)]
pub struct OptimizeOptions {
    /// Total trials the study should hold (across all workers, processes and earlier runs): resuming a study of
    /// 30 trials with `n_trials = 50` runs 20 more.
    pub n_trials: u64,
    /// No new trial starts after this long; running trials finish.
    pub timeout: Option<Duration>,
    /// Worker threads in this process (at least 1).
    pub workers: usize,
    /// Raised by the caller (for example on Ctrl-C): no new trial starts; running trials finish.
    pub cancel: Arc<AtomicBool>,
    /// Worker name prefix; defaults to `host:pid`.
    pub worker_prefix: Option<String>,
}

impl OptimizeOptions {
    /// `n_trials` on one worker, no timeout.
    pub fn new(n_trials: u64) -> Self {
        Self {
            n_trials,
            timeout: None,
            workers: 1,
            cancel: Arc::new(AtomicBool::new(false)),
            worker_prefix: None,
        }
    }
}

/// Why the driver stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The study holds `n_trials` finished trials.
    Finished,
    /// The timeout passed.
    Timeout,
    /// The cancel flag was raised.
    Cancelled,
}

/// What one [`optimize`] call did.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizeSummary {
    /// Trials this call ran to a stored finished state, by state.
    pub completed: usize,
    /// Pruned by this call.
    pub pruned: usize,
    /// Failed in this call.
    pub failed: usize,
    /// Finished here but discarded because the trial had been re-queued meanwhile.
    pub lost: usize,
    /// Why it stopped.
    pub stop_reason: StopReason,
    /// The study's best complete trial afterwards.
    pub best: Option<Trial>,
}

#[derive(Default)]
struct Counters {
    completed: AtomicUsize,
    pruned: AtomicUsize,
    failed: AtomicUsize,
    lost: AtomicUsize,
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Runs trials until the study holds `options.n_trials` finished trials, the timeout passes or the cancel flag is
/// raised. Must be called inside a Tokio runtime (any flavour); the objective runs on blocking threads.
///
/// # Errors
/// [`TuneError::InvalidSetting`] for zero workers; the first storage error a worker hits (other workers stop
/// claiming); [`TuneError::Worker`] if a worker thread itself could not be joined. Objective errors and panics
/// fail their trial instead.
pub async fn optimize(
    study: &Study,
    objective: Arc<dyn Objective>,
    options: &OptimizeOptions,
    observer: Arc<dyn OptimizeObserver>,
) -> Result<OptimizeSummary, TuneError> {
    if options.workers == 0 {
        return Err(TuneError::InvalidSetting(
            "workers must be at least 1".into(),
        ));
    }
    let deadline = options.timeout.map(|t| Instant::now() + t);
    let prefix = options
        .worker_prefix
        .clone()
        .unwrap_or_else(|| format!("{}:{}", host_name(), std::process::id()));
    let counters = Arc::new(Counters::default());
    let abort = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::with_capacity(options.workers);
    for index in 0..options.workers {
        let worker = Worker {
            study: study.clone(),
            objective: objective.clone(),
            observer: observer.clone(),
            id: format!("{prefix}:{index}"),
            n_trials: options.n_trials,
            deadline,
            cancel: options.cancel.clone(),
            abort: abort.clone(),
            counters: counters.clone(),
            handle: Handle::current(),
        };
        handles.push(tokio::task::spawn_blocking(move || worker.run()));
    }
    let mut first_error = None;
    let mut reasons = Vec::new();
    for handle in handles {
        match handle.await {
            Ok(Ok(reason)) => reasons.push(reason),
            Ok(Err(err)) => {
                first_error.get_or_insert(err);
            }
            Err(join) => {
                first_error.get_or_insert(TuneError::Worker(join.to_string()));
            }
        }
    }
    if let Some(err) = first_error {
        return Err(err);
    }
    let stop_reason = if reasons.contains(&StopReason::Cancelled) {
        StopReason::Cancelled
    } else if reasons.contains(&StopReason::Timeout) {
        StopReason::Timeout
    } else {
        StopReason::Finished
    };
    Ok(OptimizeSummary {
        completed: counters.completed.load(Ordering::Relaxed),
        pruned: counters.pruned.load(Ordering::Relaxed),
        failed: counters.failed.load(Ordering::Relaxed),
        lost: counters.lost.load(Ordering::Relaxed),
        stop_reason,
        best: study.best_trial().await?,
    })
}

struct Worker {
    study: Study,
    objective: Arc<dyn Objective>,
    observer: Arc<dyn OptimizeObserver>,
    id: String,
    n_trials: u64,
    deadline: Option<Instant>,
    cancel: Arc<AtomicBool>,
    /// Raised when another worker hit a storage error.
    abort: Arc<AtomicBool>,
    counters: Arc<Counters>,
    handle: Handle,
}

impl Worker {
    fn stop_reason(&self) -> Option<StopReason> {
        if self.cancel.load(Ordering::Relaxed) || self.abort.load(Ordering::Relaxed) {
            Some(StopReason::Cancelled)
        } else if self.deadline.is_some_and(|d| Instant::now() >= d) {
            Some(StopReason::Timeout)
        } else {
            None
        }
    }

    fn run(self) -> Result<StopReason, TuneError> {
        let result = self.run_inner();
        if result.is_err() {
            self.abort.store(true, Ordering::Relaxed);
        }
        result
    }

    fn run_inner(&self) -> Result<StopReason, TuneError> {
        let poll = (self.study.settings().heartbeat_interval() / 2)
            .clamp(Duration::from_millis(20), Duration::from_secs(2));
        loop {
            if let Some(reason) = self.stop_reason() {
                return Ok(reason);
            }
            match self
                .handle
                .block_on(self.study.claim_trial(&self.id, self.n_trials))?
            {
                Claim::Done => return Ok(StopReason::Finished),
                Claim::Wait => std::thread::sleep(poll),
                Claim::Trial(trial) => self.run_trial(&trial)?,
            }
        }
    }

    fn run_trial(&self, claimed: &ClaimedTrial) -> Result<(), TuneError> {
        self.observer.trial_started(&self.study, claimed);
        let started = Instant::now();
        let beat = {
            let study = self.study.clone();
            let (id, number) = (self.id.clone(), claimed.number);
            let interval = self.study.settings().heartbeat_interval();
            self.handle.spawn(async move {
                loop {
                    tokio::time::sleep(interval).await;
                    match study.heartbeat(number, &id).await {
                        Ok(true) => {}
                        Ok(false) => break,
                        Err(err) => tracing::warn!(error = %err, trial = number, "heartbeat failed; will retry"),
                    }
                }
            })
        };
        let mut reporter = StudyReporter {
            worker: self,
            number: claimed.number,
            lost: false,
        };
        let input = TrialInput {
            number: claimed.number,
            params: &claimed.params,
            attempt: claimed.attempt,
        };
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
            self.objective.evaluate(&input, &mut reporter)
        }));
        let lost = reporter.lost;
        beat.abort();
        let (state, value, error) = match result {
            Ok(Ok(TrialOutcome::Complete(v))) if v.is_finite() => {
                (TrialState::Complete, Some(v), None)
            }
            Ok(Ok(TrialOutcome::Complete(v))) => (
                TrialState::Failed,
                None,
                Some(format!("the objective returned {v}")),
            ),
            Ok(Ok(TrialOutcome::Pruned)) => (TrialState::Pruned, None, None),
            Ok(Err(err)) => (TrialState::Failed, None, Some(error_chain(err.as_ref()))),
            Err(panic) => (
                TrialState::Failed,
                None,
                Some(format!(
                    "the objective panicked: {}",
                    panic_message(panic.as_ref())
                )),
            ),
        };
        let stored = !lost
            && self.handle.block_on(self.study.finish_trial(
                claimed.number,
                &self.id,
                state,
                value,
                error.as_deref(),
            ))?;
        if !stored {
            tracing::warn!(trial = claimed.number, worker = %self.id, "trial was re-queued while running (heartbeat lost); its result is discarded");
            self.counters.lost.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let counter = match state {
            TrialState::Complete => &self.counters.completed,
            TrialState::Pruned => &self.counters.pruned,
            _ => &self.counters.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        match &error {
            Some(message) => {
                tracing::warn!(trial = claimed.number, error = %message, "trial failed")
            }
            None => {
                tracing::info!(trial = claimed.number, %state, ?value, seconds = started.elapsed().as_secs_f64(), "trial finished")
            }
        }
        if let Some(trial) = self.handle.block_on(self.study.trial(claimed.number))? {
            self.observer.trial_finished(&self.study, &trial);
        }
        Ok(())
    }
}

struct StudyReporter<'a> {
    worker: &'a Worker,
    number: u64,
    lost: bool,
}

impl TrialReporter for StudyReporter<'_> {
    fn report(&mut self, step: u32, value: f64) -> ShouldPrune {
        if self.lost {
            return ShouldPrune::Prune;
        }
        let study = &self.worker.study;
        match self
            .worker
            .handle
            .block_on(study.report(self.number, &self.worker.id, step, value))
        {
            Ok(ReportOutcome::Continue) => ShouldPrune::Continue,
            Ok(ReportOutcome::Prune) => {
                tracing::debug!(trial = self.number, step, value, "pruned");
                ShouldPrune::Prune
            }
            Ok(ReportOutcome::Lost) => {
                self.lost = true;
                ShouldPrune::Prune
            }
            Err(err) => {
                // A report that cannot be stored must not kill a long evaluation; the final result still counts.
                tracing::warn!(error = %err, trial = self.number, step, "could not record an intermediate value");
                ShouldPrune::Continue
            }
        }
    }
}

fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}
