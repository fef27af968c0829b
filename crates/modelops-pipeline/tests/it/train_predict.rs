use std::path::{Path, PathBuf};

use modelops_data::synth::{SynthConfig, generate};
use modelops_models::EnsembleWeights;
use modelops_pipeline::Silent;
use modelops_pipeline::gate::{GateThresholds, evaluate};
use modelops_pipeline::predict::{ModelLabel, PREDICTION_COLUMN, predict_file, read_input};
use modelops_pipeline::serving::TargetTransform;
use modelops_pipeline::train::{Rounds, TrainPlan, train};

fn synth(dir: &Path, stores: u32, start: (i32, u32, u32), end: (i32, u32, u32), seed: u64) {
    let config = SynthConfig {
        stores,
        start: chrono::NaiveDate::from_ymd_opt(start.0, start.1, start.2).unwrap(),
        end: chrono::NaiveDate::from_ymd_opt(end.0, end.1, end.2).unwrap(),
        seed,
    };
    generate(&config, dir, &|_, _| {}).unwrap();
}

trait PipeStrings {
    fn pipe_strings(self) -> Vec<String>;
}

impl PipeStrings for polars::prelude::StringChunked {
    fn pipe_strings(self) -> Vec<String> {
        (0..self.len())
            .map(|i| self.get(i).unwrap_or_default().to_string())
            .collect()
    }
}

fn plan(project: &Path, run_name: &str) -> TrainPlan {
    TrainPlan {
        data_dir: project.join("data"),
        hyperparameters_file: project.join("config/best_hyperparameters.json"),
        weights: EnsembleWeights::default(),
        optimize_weights: false,
        holdout_days: 42,
        early_stopping_rounds: None,
        rounds: Some(Rounds {
            lightgbm: 60,
            xgboost: 60,
            catboost: 60,
        }),
        threads: 2,
        target: TargetTransform::Log1p,
        packages_dir: project.join("outputs/models"),
        run_name: run_name.into(),
        git_commit: None,
    }
}

/// Writes the Kaggle-test-schema rows of the 42 days after the data, shuffled, with an Id column.
fn future_batch(project: &Path) -> PathBuf {
    let future = project.join("future");
    synth(&future, 6, (2014, 7, 1), (2014, 8, 11), 7);
    let text = std::fs::read_to_string(future.join("train.csv")).unwrap();
    let mut lines: Vec<&str> = text.lines().skip(1).collect();
    // A deterministic shuffle, so "input order" is not date order.
    lines.sort_by_key(|l| (l.len() * 7919 + l.bytes().map(usize::from).sum::<usize>()) % 97);
    let mut out = String::from("Id,Store,DayOfWeek,Date,Open,Promo,StateHoliday,SchoolHoliday\n");
    for (i, line) in lines.iter().enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        // Store,DayOfWeek,Date,Sales,Customers,Open,Promo,StateHoliday,SchoolHoliday
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            i + 1,
            f[0],
            f[1],
            f[2],
            f[5],
            f[6],
            f[7],
            f[8]
        ));
    }
    let path = project.join("batch.csv");
    std::fs::write(&path, out).unwrap();
    path
}

#[test]
fn train_then_predict_keeps_input_order_and_is_reproducible() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path();
    synth(&project.join("data/raw"), 6, (2013, 1, 1), (2014, 6, 30), 7);

    let first = train(&plan(project, "run-a"), &Silent).expect("training works on synthetic data");
    assert!(first.train_rows > 1000, "{first:?}");
    let holdout = first.ensemble_holdout.expect("a 42-day holdout is scored");
    assert!(
        holdout.rmspe.is_finite() && holdout.rmspe < 0.5,
        "ensemble holdout RMSPE {}",
        holdout.rmspe
    );
    assert_eq!(first.engines.len(), 3);
    assert!(first.package_dir.join("MLmodel").is_file());

    // Same data and seed: the same predictions, byte for byte.
    let second = train(&plan(project, "run-b"), &Silent).unwrap();
    let batch = future_batch(project);
    let out_a = project.join("out/a.csv");
    let out_b = project.join("out/b.parquet");
    let report = predict_file(
        &first.package_dir,
        ModelLabel::default(),
        &batch,
        &out_a,
        &Silent,
    )
    .unwrap();
    predict_file(
        &second.package_dir,
        ModelLabel::default(),
        &batch,
        &out_b,
        &Silent,
    )
    .unwrap();
    let a = read_input(&out_a).unwrap();
    let b = read_input(&out_b).unwrap();
    let pa: Vec<f64> = a
        .column(PREDICTION_COLUMN)
        .unwrap()
        .cast(&polars::prelude::DataType::Float64)
        .unwrap()
        .f64()
        .unwrap()
        .into_no_null_iter()
        .collect();
    let pb: Vec<f64> = b
        .column(PREDICTION_COLUMN)
        .unwrap()
        .f64()
        .unwrap()
        .into_no_null_iter()
        .collect();
    assert_eq!(pa.len(), report.n_predictions);
    assert_eq!(
        pa.iter().map(|v| format!("{v}")).collect::<Vec<_>>(),
        pb.iter().map(|v| format!("{v}")).collect::<Vec<_>>()
    );

    // Output = input columns in input order, plus the prediction; closed rows predict 0.
    let input = read_input(&batch).unwrap();
    let names: Vec<String> = a.get_column_names().iter().map(|s| s.to_string()).collect();
    assert_eq!(
        names,
        [
            "Id",
            "Store",
            "DayOfWeek",
            "Date",
            "Open",
            "Promo",
            "StateHoliday",
            "SchoolHoliday",
            PREDICTION_COLUMN
        ]
    );
    let ids_in: Vec<String> = input
        .column("Id")
        .unwrap()
        .str()
        .unwrap()
        .clone()
        .pipe_strings();
    let ids_out: Vec<String> = a
        .column("Id")
        .unwrap()
        .cast(&polars::prelude::DataType::String)
        .unwrap()
        .str()
        .unwrap()
        .clone()
        .pipe_strings();
    assert_eq!(ids_in, ids_out);
    let open: Vec<String> = a
        .column("Open")
        .unwrap()
        .cast(&polars::prelude::DataType::String)
        .unwrap()
        .str()
        .unwrap()
        .clone()
        .pipe_strings();
    for (o, p) in open.iter().zip(&pa) {
        if o == "0" {
            assert_eq!(*p, 0.0);
        } else {
            assert!(*p > 0.0);
        }
    }
    assert!(project.join("out/a_metadata.json").is_file());

    // The gate scores the 42 days after the training data.
    let gate = evaluate(
        &first.package_dir,
        &project.join("data"),
        42,
        GateThresholds {
            rmspe: 0.10,
            mae: 2000.0,
        },
        &Silent,
    )
    .unwrap();
    assert_eq!(gate.rows, first.holdout_rows);
    assert!(
        (gate.scores.rmspe - holdout.rmspe).abs() < 1e-9,
        "gate {} vs train {}",
        gate.scores.rmspe,
        holdout.rmspe
    );
    assert_eq!(
        gate.passed,
        gate.scores.rmspe <= 0.10 && gate.scores.mae < 2000.0
    );
}

#[test]
fn bad_prediction_input_names_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("bad.csv");
    std::fs::write(
        &path,
        "Store,DayOfWeek,Date,Open,Promo,StateHoliday,SchoolHoliday\n1,5,2015-08-07,1,0,0,0\n1,4,2015-08-07,1,2,x,0\nz,1,2015-13-01,1,0,0,0\n",
    )
    .unwrap();
    let frame = read_input(&path).unwrap();
    let err = modelops_pipeline::predict::parse_input_rows(&frame, &path)
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 3, column DayOfWeek"), "{err}");
    assert!(err.contains("line 3, column Promo"), "{err}");
    assert!(err.contains("line 3, column StateHoliday"), "{err}");
    assert!(err.contains("line 4, column Store"), "{err}");
    assert!(err.contains("line 4, column Date"), "{err}");

    std::fs::write(&path, "Store,Date\n1,2015-08-07\n").unwrap();
    let frame = read_input(&path).unwrap();
    let err = modelops_pipeline::predict::parse_input_rows(&frame, &path)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("missing column(s) DayOfWeek, Open, Promo, StateHoliday, SchoolHoliday"),
        "{err}"
    );
}

#[test]
fn optimized_weights_come_from_out_of_fold_blocks_and_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path();
    synth(&project.join("data/raw"), 6, (2013, 1, 1), (2014, 6, 30), 7);
    let mut plan = plan(project, "blend");
    plan.optimize_weights = true;
    plan.rounds = Some(Rounds {
        lightgbm: 40,
        xgboost: 40,
        catboost: 40,
    });
    let report = train(&plan, &Silent).unwrap();
    let sum: f64 = report.weights.values().sum();
    assert!((sum - 1.0).abs() < 1e-6, "{:?}", report.weights);
    assert!(report.weights.values().all(|w| *w >= 0.0));
    let param = |key: &str| {
        report
            .params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(param("weights_optimized").as_deref(), Some("true"));
    assert_eq!(param("weights_oof_folds").as_deref(), Some("3"));
    // The blocks end the day before the holdout starts: the holdout never shapes the weights.
    let window = param("weights_oof_window").unwrap();
    let holdout_start = &report.holdout_range.as_ref().unwrap().0;
    let window_end = window.split("..").nth(1).unwrap();
    assert!(
        window_end < holdout_start.as_str(),
        "{window} vs holdout {holdout_start}"
    );
    let oof = report
        .metrics
        .iter()
        .find(|(k, _)| k == "weights_oof_rmspe")
        .map(|(_, v)| *v)
        .unwrap();
    assert!(oof.is_finite() && oof > 0.0 && oof < 0.5, "{oof}");

    // Too little data before the holdout for three blocks plus training: a clear error, not a panic.
    let short = tempfile::tempdir().unwrap();
    synth(
        &short.path().join("data/raw"),
        3,
        (2014, 1, 1),
        (2014, 6, 30),
        7,
    );
    let mut plan = self::plan(short.path(), "short");
    plan.optimize_weights = true;
    let err = train(&plan, &Silent).unwrap_err().to_string();
    assert!(err.contains("--optimize-weights needs"), "{err}");
}
