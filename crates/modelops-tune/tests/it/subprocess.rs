//! A real worker process killed mid-trial: the test binary re-runs itself as the worker (an ignored test that only
//! acts when an environment variable names the database), kills it while it evaluates a trial, then resumes.

use super::{box_space, objectives, sqlite_uri};
use modelops_tune::{
    NoObserver, ObjectiveError, OptimizeOptions, ShouldPrune, Study, StudySettings, TrialInput,
    TrialOutcome, TrialReporter, TrialState, optimize,
};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WORKER_DB_ENV: &str = "MODELOPS_TUNE_TEST_WORKER_DB";
const STUDY: &str = "killed";
const N_TRIALS: u64 = 6;
/// The trial during which the worker process is killed.
const KILLED_TRIAL: u64 = 2;

fn settings() -> StudySettings {
    let mut s = StudySettings::new(box_space(2), 77);
    s.heartbeat_timeout = Duration::from_secs(1);
    s
}

#[test]
#[ignore = "helper process for a_worker_process_killed_mid_trial_loses_nothing; does nothing when run directly"]
fn worker_process_entry() {
    let Ok(uri) = std::env::var(WORKER_DB_ENV) else {
        println!("{WORKER_DB_ENV} is not set: nothing to do (this test is a helper process)");
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let study = Study::create_or_load(&uri, STUDY, settings())
            .await
            .unwrap();
        let objective = |trial: &TrialInput<'_>,
                         reporter: &mut dyn TrialReporter|
         -> Result<TrialOutcome, ObjectiveError> {
            if trial.number == KILLED_TRIAL {
                if reporter.report(0, 123.0) == ShouldPrune::Prune {
                    return Ok(TrialOutcome::Pruned);
                }
                std::thread::sleep(Duration::from_secs(120)); // killed here
            }
            objectives::five_fold_quadratic(trial, reporter)
        };
        optimize(
            &study,
            Arc::new(objective),
            &OptimizeOptions::new(N_TRIALS),
            Arc::new(NoObserver),
        )
        .await
        .unwrap();
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_process_killed_mid_trial_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let uri = sqlite_uri(dir.path());
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "subprocess::worker_process_entry",
            "--ignored",
            "--test-threads",
            "1",
        ])
        .env(WORKER_DB_ENV, &uri)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the child is inside the killed trial (it has reported its first fold).
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the worker process never reached trial {KILLED_TRIAL}"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the worker process exited early"
        );
        if let Ok(study) = Study::load(&uri, STUDY).await
            && let Some(t) = study.trial(KILLED_TRIAL).await.unwrap()
            && t.state == TrialState::Running
            && !t.intermediate_values.is_empty()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let study = Study::create_or_load(&uri, STUDY, settings())
        .await
        .unwrap();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let objective = {
        let calls = calls.clone();
        move |trial: &TrialInput<'_>, reporter: &mut dyn TrialReporter| {
            calls.lock().unwrap().push(trial.number);
            objectives::five_fold_quadratic(trial, reporter)
        }
    };
    optimize(
        &study,
        Arc::new(objective),
        &OptimizeOptions::new(N_TRIALS),
        Arc::new(NoObserver),
    )
    .await
    .unwrap();
    let mut calls = calls.lock().unwrap().clone();
    calls.sort_unstable();
    assert_eq!(
        calls,
        [2, 3, 4, 5],
        "only the killed trial and the unstarted ones run"
    );
    let trials = study.trials().await.unwrap();
    assert_eq!(
        trials.iter().map(|t| t.number).collect::<Vec<_>>(),
        (0..N_TRIALS).collect::<Vec<_>>()
    );
    assert!(
        trials
            .iter()
            .all(|t| matches!(t.state, TrialState::Complete | TrialState::Pruned))
    );
    let killed = &trials[KILLED_TRIAL as usize];
    assert_eq!(killed.attempts, 2);
    assert_ne!(killed.intermediate_values.get(&0), Some(&123.0));
    assert!(
        trials
            .iter()
            .filter(|t| t.number != KILLED_TRIAL)
            .all(|t| t.attempts == 1)
    );
}
