//! A throwaway project folder with synthetic raw data, and helpers to run the binary in it and read its store.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use modelops_tracking::Store;

/// A project with `data/raw/{train,store}.csv` for 25 synthetic stores, 2014-01-01 … 2015-06-19.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn with_synthetic_data() -> Self {
        let project = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        let out = project.run(&[
            "data",
            "synth",
            "--stores",
            "25",
            "--start",
            "2014-01-01",
            "--end",
            "2015-06-19",
            "--seed",
            "3",
        ]);
        assert!(out.status.success(), "synth failed: {}", text(&out));
        project
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The binary, with the project dir set and the environment kept from leaking settings in.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_modelops"));
        cmd.arg("--project-dir").arg(self.path()).args(args);
        for (key, _) in std::env::vars() {
            if key.starts_with("MODELOPS_") || key.starts_with("MLFLOW_") {
                cmd.env_remove(key);
            }
        }
        cmd.env("NO_COLOR", "1");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    pub fn tracking_uri(&self) -> String {
        format!("sqlite://{}", self.path().join("mlflow.db").display())
    }

    /// Runs `f` against the project's tracking store.
    pub fn with_store<T>(&self, f: impl AsyncFnOnce(&dyn Store) -> T) -> T {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let store = modelops_tracking::open(&self.tracking_uri()).await.unwrap();
            f(&*store).await
        })
    }

    /// Every run of the project's experiment (`rossmann-forecasting`), up to 1000.
    pub fn runs(&self) -> Vec<modelops_tracking::Run> {
        self.with_store(async |store: &dyn Store| {
            let experiment = store
                .get_experiment_by_name("rossmann-forecasting")
                .await
                .unwrap();
            store
                .search_runs(&modelops_tracking::SearchRuns {
                    experiment_ids: vec![experiment.experiment_id],
                    max_results: Some(1000),
                    ..modelops_tracking::SearchRuns::default()
                })
                .await
                .unwrap()
                .items
        })
    }

    pub fn latest_summary(&self) -> serde_json::Value {
        let path: PathBuf = self.path().join("outputs/retrain/latest.json");
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }
}

/// stdout and stderr of a finished command, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The status of each step in a summary, in order.
pub fn step_statuses(summary: &serde_json::Value) -> Vec<(String, String)> {
    summary["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A CV layout small enough for the synthetic project: two 28-day folds after 200 days of history.
pub const SMALL_CV: [&str; 6] = [
    "--folds",
    "2",
    "--fold-days",
    "28",
    "--min-train-days",
    "200",
];
