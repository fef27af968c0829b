//! The same guarantees on PostgreSQL, against the server named by `MODELOPS_TEST_POSTGRES_URL` (skipped with a
//! message when unset, unless `MODELOPS_REQUIRE_EXTERNAL=1`).

use super::{box_space, objectives};
use modelops_tune::{
    Claim, NoObserver, OptimizeOptions, Study, StudySettings, TrialState, optimize,
};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

fn postgres_url() -> Option<String> {
    match std::env::var("MODELOPS_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("MODELOPS_REQUIRE_EXTERNAL").as_deref() == Ok("1") => {
            panic!("MODELOPS_TEST_POSTGRES_URL is not set but MODELOPS_REQUIRE_EXTERNAL=1")
        }
        _ => {
            println!("skipping: MODELOPS_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

/// A study name no other run uses, so tests can share one database.
fn unique_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}_{}_{nanos}", std::process::id())
}

fn settings(seed: u64, heartbeat_timeout: Duration) -> StudySettings {
    let mut s = StudySettings::new(box_space(3), seed);
    s.heartbeat_timeout = heartbeat_timeout;
    s
}

/// No live worker misses this heartbeat timeout, even on a loaded machine.
const SAFE_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_shared_study_has_no_duplicates_or_losses() {
    let Some(url) = postgres_url() else { return };
    let name = unique_name("shared");
    let a = Study::create_or_load(&url, &name, settings(4, SAFE_TIMEOUT))
        .await
        .unwrap();
    let b = Study::create_or_load(&url, &name, settings(4, SAFE_TIMEOUT))
        .await
        .unwrap();
    let mut options = OptimizeOptions::new(30);
    options.workers = 2;
    let (ra, rb) = tokio::join!(
        optimize(
            &a,
            Arc::new(objectives::five_fold_quadratic),
            &options,
            Arc::new(NoObserver)
        ),
        optimize(
            &b,
            Arc::new(objectives::five_fold_quadratic),
            &options,
            Arc::new(NoObserver)
        ),
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.completed + ra.pruned + rb.completed + rb.pruned, 30);
    let trials = a.trials().await.unwrap();
    assert_eq!(
        trials.iter().map(|t| t.number).collect::<Vec<_>>(),
        (0..30).collect::<Vec<_>>()
    );
    assert!(
        trials
            .iter()
            .all(|t| t.attempts == 1 && t.state.is_finished())
    );
    let workers: BTreeSet<_> = trials.iter().filter_map(|t| t.worker.clone()).collect();
    assert!(workers.len() >= 2, "{workers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_study_resumes_after_a_crashed_worker_and_is_reproducible() {
    let Some(url) = postgres_url() else { return };
    let name = unique_name("resume");
    let study = Study::create_or_load(&url, &name, settings(9, Duration::from_secs(1)))
        .await
        .unwrap();
    let Claim::Trial(claimed) = study.claim_trial("dead", 8).await.unwrap() else {
        panic!("no claim")
    };
    study.report(claimed.number, "dead", 0, 5.0).await.unwrap();
    optimize(
        &study,
        Arc::new(objectives::five_fold_quadratic),
        &OptimizeOptions::new(8),
        Arc::new(NoObserver),
    )
    .await
    .unwrap();
    let trials = study.trials().await.unwrap();
    assert_eq!(trials.len(), 8);
    assert_eq!(trials[0].attempts, 2);
    assert_eq!(trials[0].params, claimed.params);
    assert!(
        trials
            .iter()
            .all(|t| t.state != TrialState::Running && t.state != TrialState::Waiting)
    );

    // Same seed, one worker, fresh study: the same parameters as SQLite would give (same sampler, same streams).
    let (first, second) = (unique_name("repro"), unique_name("repro"));
    let mut sequences = Vec::new();
    for name in [first, second] {
        let s = Study::create_or_load(&url, &name, settings(21, SAFE_TIMEOUT))
            .await
            .unwrap();
        optimize(
            &s,
            Arc::new(objectives::five_fold_quadratic),
            &OptimizeOptions::new(15),
            Arc::new(NoObserver),
        )
        .await
        .unwrap();
        sequences.push(
            s.trials()
                .await
                .unwrap()
                .into_iter()
                .map(|t| (t.params, t.value))
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(sequences[0], sequences[1]);
}
