//! `modelops tune --model all --trials 10` end to end on synthetic data: three studies, the reference-shaped
//! `config/best_hyperparameters.json`, and the tracked parent and trial runs. (Studies, resumption, workers and
//! crashed workers are tested in `modelops-tune`; this is the command as a user runs it.)

use crate::project::{Project, SMALL_CV, text};

#[test]
fn tune_all_models_writes_best_parameters_and_tracks_every_trial() {
    let project = Project::with_synthetic_data();
    let out = project.run(
        &[
            &["tune", "--model", "all", "--trials", "10"][..],
            &SMALL_CV,
            &["--max-rounds", "40", "--early-stopping", "10"],
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let path = project.path().join("config/best_hyperparameters.json");
    let best: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for model in ["lightgbm", "xgboost", "catboost"] {
        let entry = &best[model];
        let rmspe = entry["best_rmspe"].as_f64().unwrap_or(f64::NAN);
        assert!(
            rmspe.is_finite() && rmspe > 0.0 && rmspe < 1.0,
            "{model}: {entry}"
        );
        assert!(
            entry["hyperparameters"]
                .as_object()
                .is_some_and(|h| !h.is_empty()),
            "{model}: {entry}"
        );
        assert!(
            entry["run_id"].as_str().is_some_and(|id| !id.is_empty()),
            "{model}: {entry}"
        );
    }
    assert_eq!(best["metadata"]["source"], "modelops_tune");
    assert_eq!(best["metadata"]["n_trials_per_model"], 10);
    assert_eq!(best["metadata"]["cv_folds"], 2);

    let runs = project.runs();
    let tag = |run: &modelops_tracking::Run, key: &str| {
        run.data
            .tags
            .iter()
            .find(|t| t.key == key)
            .map(|t| t.value.clone())
    };
    for model in ["lightgbm", "xgboost", "catboost"] {
        let parent = runs
            .iter()
            .find(|r| r.info.run_name == format!("{model}_tuning"))
            .unwrap_or_else(|| panic!("no {model}_tuning run"));
        assert_eq!(
            best[model]["run_id"].as_str(),
            Some(parent.info.run_id.0.as_str()),
            "the JSON points at the study's run"
        );
        let trials: Vec<_> = runs
            .iter()
            .filter(|r| {
                tag(r, "mlflow.parentRunId").as_deref() == Some(parent.info.run_id.0.as_str())
            })
            .collect();
        assert_eq!(trials.len(), 10, "{model}: one nested run per trial");
        let finished_with_value = trials
            .iter()
            .filter(|t| t.data.metrics.iter().any(|m| m.key == "rmspe"))
            .count();
        assert!(
            finished_with_value >= 1,
            "{model}: no trial logged rmspe (the mean over folds)"
        );
        assert!(
            parent.data.metrics.iter().any(|m| m.key == "best_rmspe"),
            "{model}: parent lacks best_rmspe"
        );
    }
}

#[test]
fn export_folds_writes_the_objectives_rows_and_tunes_nothing() {
    let project = Project::with_synthetic_data();
    let dir = project.path().join("folds");
    let out = project.run(
        &[
            &["tune", "--model", "lightgbm", "--max-rounds", "40"][..],
            &SMALL_CV,
            &["--export-folds", dir.to_str().unwrap()],
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("folds.json")).unwrap()).unwrap();
    assert_eq!(manifest["n_folds"], 2);
    assert_eq!(manifest["max_rounds"], 40);
    assert_eq!(manifest["target"], "log1p");
    let names = manifest["feature_names"].as_array().unwrap();
    assert_eq!(
        names.len(),
        manifest["feature_kinds"].as_array().unwrap().len()
    );
    assert!(manifest["search_spaces"]["lightgbm"]["num_leaves"]["type"] == "int");
    // The printed row counts are the files' row counts, and the early-stopping block ends where the scored
    // fold starts (nothing scored is trained on).
    let stdout = String::from_utf8_lossy(&out.stdout);
    use polars::prelude::{DataFrame, DataType};
    let days = |df: &DataFrame| {
        let days = df
            .column("Date")
            .unwrap()
            .as_materialized_series()
            .cast(&DataType::Int32)
            .unwrap();
        (
            days.min::<i32>().unwrap().unwrap(),
            days.max::<i32>().unwrap().unwrap(),
        )
    };
    for (k, files) in manifest["folds"].as_array().unwrap().iter().enumerate() {
        let read = |part: &str| {
            let path = dir.join(files[part].as_str().unwrap());
            modelops_data::ingest::read_parquet(&path, None, "written by --export-folds").unwrap()
        };
        let (train, stop, valid) = (read("train"), read("stop"), read("valid"));
        let line = format!(
            "fold {k}: {} training rows, {} early-stopping rows, {} scored rows",
            train.height(),
            stop.height(),
            valid.height()
        );
        assert!(stdout.contains(&line), "{line} not in {stdout}");
        assert!(days(&train).1 < days(&stop).0 && days(&stop).1 < days(&valid).0);
        for name in names {
            assert!(train.column(name.as_str().unwrap()).is_ok(), "{name}");
        }
    }
    // Nothing was tuned.
    assert!(
        !project
            .path()
            .join("config/best_hyperparameters.json")
            .exists()
    );
}
