//! Studies on SQLite: reproducibility, pruning, failures, crash recovery and workers sharing a study.

use super::{box_space, objectives, sqlite_uri};
use modelops_tune::{
    Claim, NoObserver, Objective, ObjectiveError, OptimizeOptions, StopReason, Study,
    StudySettings, TrialInput, TrialOutcome, TrialReporter, TrialState, TuneError, optimize,
};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Settings whose heartbeat timeout no live worker can miss, even on a loaded machine.
fn settings(seed: u64) -> StudySettings {
    let mut s = StudySettings::new(box_space(3), seed);
    s.heartbeat_timeout = Duration::from_secs(5);
    s
}

/// Settings for tests that wait for a dead worker's trial to go stale.
fn quick_stale_settings(seed: u64) -> StudySettings {
    let mut s = settings(seed);
    s.heartbeat_timeout = Duration::from_secs(1);
    s
}

/// Checks the study holds exactly trials 0..n, all finished.
async fn assert_gap_free_and_finished(study: &Study, n: u64) {
    let trials = study.trials().await.unwrap();
    let numbers: Vec<u64> = trials.iter().map(|t| t.number).collect();
    assert_eq!(numbers, (0..n).collect::<Vec<_>>());
    for t in &trials {
        assert!(t.state.is_finished(), "trial {} is {}", t.number, t.state);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_seed_and_one_worker_give_the_same_trials() {
    let mut runs = Vec::new();
    for _ in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let study = Study::create_or_load(&sqlite_uri(dir.path()), "s", settings(11))
            .await
            .unwrap();
        optimize(
            &study,
            Arc::new(objectives::five_fold_quadratic),
            &OptimizeOptions::new(25),
            Arc::new(NoObserver),
        )
        .await
        .unwrap();
        let trials = study.trials().await.unwrap();
        runs.push(
            trials
                .into_iter()
                .map(|t| (t.params, t.state, t.value, t.intermediate_values))
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(runs[0].len(), 25);
    assert_eq!(runs[0], runs[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_trials_are_pruned_after_warm_up_and_keep_their_last_value() {
    let dir = tempfile::tempdir().unwrap();
    let study = Study::create_or_load(&sqlite_uri(dir.path()), "s", settings(3))
        .await
        .unwrap();
    let summary = optimize(
        &study,
        Arc::new(objectives::five_fold_quadratic),
        &OptimizeOptions::new(40),
        Arc::new(NoObserver),
    )
    .await
    .unwrap();
    assert_eq!(summary.stop_reason, StopReason::Finished);
    assert_eq!(summary.completed + summary.pruned + summary.failed, 40);
    assert!(summary.pruned > 0, "nothing pruned in 40 trials");
    let trials = study.trials().await.unwrap();
    let first_complete: Vec<_> = trials.iter().take(5).collect();
    assert!(
        first_complete
            .iter()
            .all(|t| t.state == TrialState::Complete),
        "pruned before 5 complete trials"
    );
    for t in trials.iter().filter(|t| t.state == TrialState::Pruned) {
        let (last_step, last_value) = t.last_step().unwrap();
        assert!(
            last_step >= 2,
            "trial {} pruned at warm-up step {last_step}",
            t.number
        );
        assert_eq!(t.value, Some(last_value));
    }
    let best = study.best_trial().await.unwrap().unwrap();
    assert_eq!(summary.best.as_ref().map(|t| t.number), Some(best.number));
    assert!(
        trials
            .iter()
            .filter(|t| t.state == TrialState::Complete)
            .all(|t| t.value >= best.value)
    );
}

/// Also runs on a current-thread runtime, as a `#[tokio::main(flavor = "current_thread")]` binary would.
#[tokio::test]
async fn errors_panics_and_nan_fail_their_trial_and_tuning_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let study = Study::create_or_load(&sqlite_uri(dir.path()), "s", settings(1))
        .await
        .unwrap();
    let objective = |trial: &TrialInput<'_>,
                     _r: &mut dyn TrialReporter|
     -> Result<TrialOutcome, ObjectiveError> {
        match trial.number {
            1 => Err("fold 3 has no rows".into()),
            2 => panic!("boom"),
            3 => Ok(TrialOutcome::Complete(f64::NAN)),
            _ => Ok(TrialOutcome::Complete(objectives::shifted_quadratic(
                trial.params,
            ))),
        }
    };
    let summary = optimize(
        &study,
        Arc::new(objective),
        &OptimizeOptions::new(6),
        Arc::new(NoObserver),
    )
    .await
    .unwrap();
    assert_eq!((summary.completed, summary.failed), (3, 3));
    let trials = study.trials().await.unwrap();
    assert_eq!(trials[1].error.as_deref(), Some("fold 3 has no rows"));
    assert!(
        trials[2]
            .error
            .as_deref()
            .unwrap()
            .contains("panicked: boom")
    );
    assert!(trials[3].error.as_deref().unwrap().contains("NaN"));
    assert!(trials[3].value.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trial_left_running_by_a_crashed_worker_is_rerun_with_its_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let uri = sqlite_uri(dir.path());
    let crashed_params = {
        let study = Study::create_or_load(&uri, "s", quick_stale_settings(8))
            .await
            .unwrap();
        optimize(
            &study,
            Arc::new(objectives::five_fold_quadratic),
            &OptimizeOptions::new(3),
            Arc::new(NoObserver),
        )
        .await
        .unwrap();
        // A worker claims trial 3, reports one fold, then "dies": nothing more is written.
        let Claim::Trial(claimed) = study.claim_trial("dead-host:1:0", 10).await.unwrap() else {
            panic!("no claim")
        };
        assert_eq!(claimed.number, 3);
        study.report(3, "dead-host:1:0", 0, 9.0).await.unwrap();
        claimed.params
    };
    // A new process resumes the study (its settings are ignored in favour of the stored ones).
    let study = Study::create_or_load(&uri, "s", quick_stale_settings(999))
        .await
        .unwrap();
    assert_eq!(study.settings().seed, 8);
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = {
        let calls = calls.clone();
        move |trial: &TrialInput<'_>, reporter: &mut dyn TrialReporter| {
            calls.fetch_add(1, Ordering::SeqCst);
            objectives::five_fold_quadratic(trial, reporter)
        }
    };
    let summary = optimize(
        &study,
        Arc::new(counted),
        &OptimizeOptions::new(10),
        Arc::new(NoObserver),
    )
    .await
    .unwrap();
    assert_eq!(summary.stop_reason, StopReason::Finished);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        7,
        "trials 3..10 run once each"
    );
    assert_gap_free_and_finished(&study, 10).await;
    let rerun = study.trial(3).await.unwrap().unwrap();
    assert_eq!(rerun.params, crashed_params);
    assert_eq!(rerun.attempts, 2);
    assert_ne!(rerun.worker.as_deref(), Some("dead-host:1:0"));
    assert_ne!(
        rerun.intermediate_values.get(&0),
        Some(&9.0),
        "the dead attempt's values were dropped"
    );
    // A late write from the presumed-dead worker is refused.
    assert!(
        !study
            .finish_trial(3, "dead-host:1:0", TrialState::Complete, Some(0.0), None)
            .await
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trial_abandoned_too_often_is_marked_failed() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(2);
    s.max_attempts = 2;
    s.heartbeat_timeout = Duration::from_millis(100);
    let study = Study::create_or_load(&sqlite_uri(dir.path()), "s", s)
        .await
        .unwrap();
    for attempt in 1..=2 {
        let Claim::Trial(claimed) = study.claim_trial("dead", 1).await.unwrap() else {
            panic!("no claim")
        };
        assert_eq!((claimed.number, claimed.attempt), (0, attempt));
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(study.claim_trial("next", 1).await.unwrap(), Claim::Done);
    let trial = study.trial(0).await.unwrap().unwrap();
    assert_eq!(trial.state, TrialState::Failed);
    assert!(trial.error.unwrap().contains("stopped sending heartbeats"));
}

/// Counts objective calls per trial number.
struct Recording {
    calls: std::sync::Mutex<Vec<u64>>,
}

impl Objective for Recording {
    fn evaluate(
        &self,
        trial: &TrialInput<'_>,
        reporter: &mut dyn TrialReporter,
    ) -> Result<TrialOutcome, ObjectiveError> {
        self.calls.lock().unwrap().push(trial.number);
        std::thread::sleep(Duration::from_millis(5));
        objectives::five_fold_quadratic(trial, reporter)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_and_separate_handles_share_a_study_without_duplicates_or_losses() {
    let dir = tempfile::tempdir().unwrap();
    let uri = sqlite_uri(dir.path());
    // Two independently opened handles (separate pools, as two processes would have), two threads each.
    let a = Study::create_or_load(&uri, "shared", settings(4))
        .await
        .unwrap();
    let b = Study::create_or_load(&uri, "shared", settings(4))
        .await
        .unwrap();
    let recording = Arc::new(Recording {
        calls: Default::default(),
    });
    let mut options = OptimizeOptions::new(40);
    options.workers = 2;
    let (ra, rb) = tokio::join!(
        optimize(&a, recording.clone(), &options, Arc::new(NoObserver)),
        optimize(&b, recording.clone(), &options, Arc::new(NoObserver)),
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.completed + ra.pruned + rb.completed + rb.pruned, 40);
    let calls = recording.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 40, "every trial evaluated exactly once");
    assert_eq!(calls.iter().collect::<BTreeSet<_>>().len(), 40);
    assert_gap_free_and_finished(&a, 40).await;
    let workers: BTreeSet<String> = a
        .trials()
        .await
        .unwrap()
        .into_iter()
        .filter_map(|t| t.worker)
        .collect();
    assert!(workers.len() >= 2, "only {workers:?} did any work");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_and_cancel_stop_claiming() {
    let dir = tempfile::tempdir().unwrap();
    let study = Study::create_or_load(&sqlite_uri(dir.path()), "s", settings(5))
        .await
        .unwrap();
    let slow = |trial: &TrialInput<'_>, reporter: &mut dyn TrialReporter| {
        std::thread::sleep(Duration::from_millis(60));
        objectives::five_fold_quadratic(trial, reporter)
    };
    let mut options = OptimizeOptions::new(1000);
    options.timeout = Some(Duration::from_millis(200));
    let summary = optimize(&study, Arc::new(slow), &options, Arc::new(NoObserver))
        .await
        .unwrap();
    assert_eq!(summary.stop_reason, StopReason::Timeout);
    let ran = summary.completed + summary.pruned;
    assert!(
        (1..=6).contains(&ran),
        "{ran} trials in a 200 ms budget of 60 ms trials"
    );
    let options = OptimizeOptions::new(1000);
    options.cancel.store(true, Ordering::SeqCst);
    let summary = optimize(&study, Arc::new(slow), &options, Arc::new(NoObserver))
        .await
        .unwrap();
    assert_eq!(
        (summary.stop_reason, summary.completed),
        (StopReason::Cancelled, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_with_another_search_space_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let uri = sqlite_uri(dir.path());
    Study::create_or_load(&uri, "s", settings(1)).await.unwrap();
    let other = StudySettings::new(box_space(2), 1);
    let err = Study::create_or_load(&uri, "s", other).await.unwrap_err();
    assert!(matches!(err, TuneError::StudyMismatch { .. }), "{err}");
    assert!(err.to_string().contains("search space"), "{err}");
    assert!(matches!(
        Study::load(&uri, "nope").await.unwrap_err(),
        TuneError::StudyNotFound(_)
    ));
    assert_eq!(Study::list(&uri).await.unwrap(), ["s"]);
    let err = Study::create_or_load("http://localhost:5000", "s", settings(1))
        .await
        .unwrap_err();
    assert!(matches!(err, TuneError::UnsupportedStorage(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attributes_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let study = Study::create_or_load(&sqlite_uri(dir.path()), "s", settings(1))
        .await
        .unwrap();
    study
        .set_attribute("parent_run_id", &serde_json::json!("abc"))
        .await
        .unwrap();
    study
        .set_attribute("parent_run_id", &serde_json::json!("def"))
        .await
        .unwrap();
    assert_eq!(
        study.attributes().await.unwrap()["parent_run_id"],
        serde_json::json!("def")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_spaces_round_trip_through_a_study_with_types_and_bounds_kept() {
    let spaces = modelops_tune::SearchSpaces::builtin().unwrap();
    for model in ["lightgbm", "xgboost", "catboost"] {
        let space = spaces.get(model).unwrap().clone();
        let dir = tempfile::tempdir().unwrap();
        let study = Study::create_or_load(
            &sqlite_uri(dir.path()),
            model,
            StudySettings::new(space.clone(), 42),
        )
        .await
        .unwrap();
        let checked = space.clone();
        let objective = move |trial: &TrialInput<'_>,
                              _r: &mut dyn TrialReporter|
              -> Result<TrialOutcome, ObjectiveError> {
            let mut value = 0.0;
            for (name, distribution) in &checked.params {
                let v = &trial.params[name];
                match distribution {
                    modelops_tune::Distribution::Int(r) => {
                        let i = v
                            .as_i64()
                            .ok_or(format!("{name} is not an integer: {v:?}"))?;
                        assert!((r.low..=r.high).contains(&i), "{name} = {i}");
                        value += (i - r.low) as f64 / (r.high - r.low) as f64;
                    }
                    modelops_tune::Distribution::Float(r) => {
                        let f = match v {
                            modelops_tune::ParamValue::Float(f) => *f,
                            other => return Err(format!("{name} is not a float: {other:?}").into()),
                        };
                        assert!(f >= r.low && f <= r.high, "{name} = {f}");
                        value += (f - r.low) / (r.high - r.low);
                    }
                    modelops_tune::Distribution::Categorical(_) => {}
                }
            }
            Ok(TrialOutcome::Complete(value))
        };
        let summary = optimize(
            &study,
            Arc::new(objective),
            &OptimizeOptions::new(20),
            Arc::new(NoObserver),
        )
        .await
        .unwrap();
        assert_eq!(summary.completed, 20, "{model}: {summary:?}");
        let best = summary.best.unwrap();
        assert_eq!(
            best.params.keys().collect::<Vec<_>>(),
            space.params.keys().collect::<Vec<_>>()
        );
        let json = modelops_tune::params_to_json(&best.params);
        assert!(json.values().all(|v| v.is_number()), "{json:?}");
    }
}
