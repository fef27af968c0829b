//! `modelops retrain` end to end, and its failure drills: bad raw data, a failed gate, an overlapping run, a crash
//! mid-training followed by a clean rerun.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use modelops_tracking::registry::{SearchRegistry, Stage};
use modelops_tracking::{RunId, RunStatus, SearchRuns, Store, StoreError};

use crate::project::{Project, step_statuses, text};

const MODEL: &str = "rossmann-ensemble";
/// Few rounds keep the tests quick; the generous threshold keeps the gate's verdict about the pipeline, not about
/// how good a 40-round model on 25 stores is.
const QUICK: [&str; 4] = ["--rounds", "40,40,40", "--threshold", "0.3"];

fn statuses(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

async fn versions(store: &dyn Store) -> Vec<(i64, Stage)> {
    let page = store
        .search_model_versions(&SearchRegistry {
            filter: format!("name = '{MODEL}'"),
            ..SearchRegistry::default()
        })
        .await
        .unwrap();
    let mut found: Vec<(i64, Stage)> = page
        .items
        .iter()
        .map(|v| (v.version, v.current_stage))
        .collect();
    found.sort_by_key(|(v, _)| *v);
    found
}

async fn runs_with_parent(store: &dyn Store, parent: &str) -> Vec<String> {
    let experiment = store
        .get_experiment_by_name("rossmann-forecasting")
        .await
        .unwrap();
    let page = store
        .search_runs(&SearchRuns {
            experiment_ids: vec![experiment.experiment_id],
            max_results: Some(1000),
            ..SearchRuns::default()
        })
        .await
        .unwrap();
    page.items
        .iter()
        .filter(|r| {
            r.data
                .tags
                .iter()
                .any(|t| t.key == "mlflow.parentRunId" && t.value == parent)
        })
        .map(|r| {
            r.data
                .tags
                .iter()
                .find(|t| t.key == "modelops.job")
                .map(|t| t.value.clone())
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn retrain_reaches_staging_then_skips_fresh_data_and_reports_a_failed_gate() {
    let project = Project::with_synthetic_data();
    let out = project.run(&[
        "retrain",
        QUICK[0],
        QUICK[1],
        QUICK[2],
        QUICK[3],
        "--test-inference",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "modelops promote --version 1 --stage Production --approver NAME --reason TEXT"
        ),
        "{stdout}"
    );
    let summary = project.latest_summary();
    assert_eq!(
        step_statuses(&summary),
        statuses(&[
            ("validate_data", "succeeded"),
            ("features", "succeeded"),
            ("train", "succeeded"),
            ("register", "succeeded"),
            ("gate", "succeeded"),
            ("test_inference", "succeeded"),
        ])
    );
    assert_eq!(summary["exit_code"], 0);
    assert_eq!(summary["model_version"], 1);
    assert_eq!(summary["stage"], "Staging");
    assert!(summary["metrics"]["gate_rmspe"].as_f64().unwrap() <= 0.3);
    assert!(
        summary["fingerprints"]["raw/train.csv"]
            .as_str()
            .is_some_and(|h| h.len() == 64),
        "{summary}"
    );
    let parent = summary["parent_run_id"].as_str().unwrap().to_string();
    let (found, children, parent_status) = project.with_store(async |store: &dyn Store| {
        let parent_run = store.get_run(&RunId(parent.clone())).await.unwrap();
        (
            versions(store).await,
            runs_with_parent(store, &parent).await,
            parent_run.info.status,
        )
    });
    assert_eq!(found, vec![(1, Stage::Staging)]);
    assert_eq!(parent_status, RunStatus::Finished);
    for job in [
        "validate_data",
        "features",
        "train",
        "validate",
        "test_inference",
    ] {
        assert!(
            children.iter().any(|c| c == job),
            "no {job} child run in {children:?}"
        );
    }
    // Never Production: that is the human step.
    assert!(!stdout.contains("is now in Production"));

    // Second run: same raw data, so the data steps are skipped; an impossible threshold fails the gate honestly.
    let out = project.run(&["retrain", QUICK[0], QUICK[1], "--threshold", "0.001"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let summary = project.latest_summary();
    assert_eq!(
        step_statuses(&summary),
        statuses(&[
            ("validate_data", "succeeded"),
            ("features", "skipped"),
            ("train", "succeeded"),
            ("register", "succeeded"),
            ("gate", "failed"),
            ("test_inference", "not_run"),
        ])
    );
    assert_eq!(summary["outcome"], "failed at gate");
    let found = project.with_store(async |store: &dyn Store| versions(store).await);
    assert_eq!(found, vec![(1, Stage::Staging), (2, Stage::None)]);
}

#[test]
fn corrupted_raw_data_stops_at_step_one_with_nothing_registered() {
    let project = Project::with_synthetic_data();
    let train = project.path().join("data/raw/train.csv");
    let text_in = std::fs::read_to_string(&train).unwrap();
    let mut lines: Vec<String> = text_in.lines().map(str::to_string).collect();
    // Promo is column 7 of the Kaggle layout; 7 is not a valid flag.
    let mut cells: Vec<String> = lines[100].split(',').map(str::to_string).collect();
    cells[6] = "7".into();
    lines[100] = cells.join(",");
    std::fs::write(&train, lines.join("\n") + "\n").unwrap();

    let out = project.run(&["retrain", QUICK[0], QUICK[1], QUICK[2], QUICK[3]]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Promo"),
        "the report names the column: {stdout}"
    );
    let summary = project.latest_summary();
    assert_eq!(summary["outcome"], "failed at validate_data");
    assert!(summary.get("model_version").is_none());
    assert!(!project.path().join("outputs/models").exists());
    let registered = project
        .with_store(async |store: &dyn Store| store.get_registered_model(MODEL).await.map(|_| ()));
    assert!(
        matches!(registered, Err(StoreError::NotFound(_))),
        "{registered:?}"
    );
}

#[test]
fn a_second_retrain_is_refused_while_one_holds_the_lock() {
    let project = Project::with_synthetic_data();
    let lock =
        modelops_pipeline::retrain::RetrainLock::acquire(&project.path().join("outputs/retrain"))
            .unwrap();
    let out = project.run(&["retrain", QUICK[0], QUICK[1], QUICK[2], QUICK[3]]);
    assert_eq!(out.status.code(), Some(9), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("pid {}", std::process::id())),
        "names the holder: {stderr}"
    );
    drop(lock);
}

#[test]
fn a_crash_mid_training_leaves_no_version_and_the_next_run_resumes_cleanly() {
    let project = Project::with_synthetic_data();
    // Long enough training that the kill lands inside it.
    let mut child = project
        .command(&["retrain", "--rounds", "20000,20000,20000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut seen = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("[3/6] train") || Instant::now() > deadline {
            break;
        }
    }
    assert!(
        seen.contains("[3/6] train"),
        "training never started:\n{seen}"
    );
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();

    let (found, running_parents) = project.with_store(async |store: &dyn Store| {
        let experiment = store
            .get_experiment_by_name("rossmann-forecasting")
            .await
            .unwrap();
        let page = store
            .search_runs(&SearchRuns {
                experiment_ids: vec![experiment.experiment_id],
                filter: "attributes.status = 'RUNNING'".into(),
                ..SearchRuns::default()
            })
            .await
            .unwrap();
        let ids: Vec<String> = page
            .items
            .iter()
            .filter(|r| {
                r.data
                    .tags
                    .iter()
                    .any(|t| t.key == "modelops.job" && t.value == "retrain")
            })
            .map(|r| r.info.run_id.0.clone())
            .collect();
        (versions(store).await, ids)
    });
    assert!(found.is_empty(), "a killed run registered {found:?}");
    assert_eq!(
        running_parents.len(),
        1,
        "the killed pipeline's run is left RUNNING"
    );

    // The rerun takes the lock the kernel released, closes the abandoned run and finishes.
    let out = project.run(&["retrain", QUICK[0], QUICK[1], QUICK[2], QUICK[3]]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Closed 1 run(s) left RUNNING"));
    let summary = project.latest_summary();
    assert_eq!(summary["model_version"], 1);
    let abandoned = running_parents[0].clone();
    let (found, status, tagged) = project.with_store(async |store: &dyn Store| {
        let run = store.get_run(&RunId(abandoned.clone())).await.unwrap();
        let tagged = run.data.tags.iter().any(|t| t.key == "modelops.abandoned");
        (versions(store).await, run.info.status, tagged)
    });
    assert_eq!(found, vec![(1, Stage::Staging)]);
    assert_eq!(status, RunStatus::Failed);
    assert!(tagged);
}
