//! `modelops baseline` as a user runs it on synthetic data: the fold table and scores printed, the JSON report,
//! one tracked run per forecaster with its per-fold series, and the LightGBM holdout model's top features.

use modelops_tracking::Store;

use crate::project::{Project, SMALL_CV, text};

#[test]
fn baseline_scores_every_forecaster_and_tracks_one_run_each() {
    let project = Project::with_synthetic_data();
    let ingest = project.run(&["data", "ingest"]);
    assert!(ingest.status.success(), "{}", text(&ingest));
    let out = project.run(
        &[
            &["baseline"][..],
            &SMALL_CV,
            &[
                "--holdout-days",
                "28",
                "--lightgbm",
                "tuned",
                "--lightgbm-rounds",
                "30",
            ],
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for name in ["naive_last_week", "store_dow_promo_mean", "lightgbm_tuned"] {
        assert!(
            stdout.contains(name),
            "{name} missing from the output:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("Top 15 features of lightgbm_tuned"),
        "no importance table:\n{stdout}"
    );

    // The JSON report: three forecasters, importances only for the trained one, shares summing to at most 1.
    let metrics_dir = project.path().join("outputs/metrics");
    let report_path = std::fs::read_dir(&metrics_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("baseline_"))
        })
        .expect("a baseline_<timestamp>.json report");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    let models = report["models"].as_array().unwrap();
    assert_eq!(models.len(), 3);
    let lightgbm = models
        .iter()
        .find(|m| m["name"] == "lightgbm_tuned")
        .unwrap();
    let top = lightgbm["top_features"].as_array().unwrap();
    assert_eq!(top.len(), 15);
    let shares: Vec<f64> = top.iter().map(|t| t[1].as_f64().unwrap()).collect();
    assert!(
        shares.windows(2).all(|w| w[0] >= w[1]),
        "not sorted: {shares:?}"
    );
    assert!(
        shares.iter().sum::<f64>() <= 1.0 + 1e-9 && shares[0] > 0.0,
        "{shares:?}"
    );
    assert!(
        models
            .iter()
            .filter(|m| m["name"] != "lightgbm_tuned")
            .all(|m| m.get("top_features").is_none())
    );

    // One finished run per forecaster, with the CV summary, the holdout scores and one fold step per fold.
    let runs = project.runs();
    project.with_store(async |store: &dyn Store| {
        for name in ["naive_last_week", "store_dow_promo_mean", "lightgbm_tuned"] {
            let run = runs
                .iter()
                .find(|r| r.info.run_name == format!("baseline_{name}"))
                .unwrap_or_else(|| panic!("no run for {name}"));
            assert_eq!(run.info.status, modelops_tracking::RunStatus::Finished);
            let metric = |key: &str| {
                run.data
                    .metrics
                    .iter()
                    .find(|m| m.key == key)
                    .map(|m| m.value)
            };
            let reported = models.iter().find(|m| m["name"] == name).unwrap();
            assert_eq!(
                metric("cv_rmspe_mean"),
                reported["cv_rmspe_mean"].as_f64(),
                "{name}"
            );
            assert_eq!(
                metric("holdout_rmspe"),
                reported["holdout"]["scores"]["rmspe"].as_f64(),
                "{name}"
            );
            let history = store
                .get_metric_history(&run.info.run_id, "cv_fold_rmspe", None, None)
                .await
                .unwrap()
                .items;
            let steps: Vec<i64> = history.iter().map(|m| m.step).collect();
            assert_eq!(steps, vec![1, 2], "{name}: one step per fold");
        }
        let lightgbm = runs
            .iter()
            .find(|r| r.info.run_name == "baseline_lightgbm_tuned")
            .unwrap();
        assert!(
            lightgbm
                .data
                .params
                .iter()
                .any(|p| p.key == "lgb_rounds" && p.value == "30")
        );
        assert!(
            lightgbm
                .data
                .tags
                .iter()
                .any(|t| t.key == "modelops.top_features")
        );
    });
}
