//! Issue 11's acceptance test on the real Rossmann data: train a (small, fast) model on the real training file,
//! register it, batch-predict the drifted Aug–Dec 2015 traffic (`batch_aug_dec_2015.csv`) — which logs every
//! prediction — and run `modelops monitor drift` over windows of that traffic.
//!
//! Asserted, as the issue asks: Promo (training open-day rate ~45%; traffic ~36% in Aug–Oct, ~60% in Nov–Dec) is
//! flagged for Nov–Dec and not for Aug–Oct; against the same-months reference, December's SchoolHoliday (training
//! Decembers ~23%, traffic ~41% after the injected noise) is flagged.
//!
//! Where the data contradicts the issue: August's SchoolHoliday is **also** flagged against the same-months
//! reference. The traffic marks every August day a school holiday (100%), but the training Augusts are not 100%:
//! 62.5% of open days over all stores, and 62.3% over the 50 stores of the traffic (2013: 56%, 2014: 71%;
//! German summer holidays are staggered by state and only partly cover August). Restricting the reference to the
//! traffic's stores therefore does not change the verdict, so no such option exists; the test asserts what is
//! true: the same-months reference shrinks August's gap a lot compared with the whole-year reference, the
//! remaining gap is the 100% vs ~62% difference, and Month (identical by construction) does not drift.
//!
//! Skips with a message when the data folder is missing (`$MODELOPS_ROSSMANN_DIR`, else
//! `<workspace>/../shared/data/rossmann`). Takes about a minute and a half in the dev profile on 2 cores.

use std::path::{Path, PathBuf};
use std::process::Command;

use modelops_monitor::{DriftReport, FeatureDrift};

const MODEL: &str = "rossmann-ensemble";

fn rossmann_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("MODELOPS_ROSSMANN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/rossmann")
        });
    ["train.csv.gz", "store.csv", "batch_aug_dec_2015.csv"]
        .iter()
        .all(|f| dir.join(f).is_file())
        .then_some(dir)
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn modelops(project: &Path, args: &[&str]) -> Run {
    // Run from the project folder, as a user would: relative --output paths land in it.
    let out = Command::new(env!("CARGO_BIN_EXE_modelops"))
        .current_dir(project)
        .arg("--project-dir")
        .arg(project)
        .args(args)
        .env_remove("MODELOPS_TRACKING_URI")
        .env_remove("MLFLOW_TRACKING_URI")
        .env_remove("MODELOPS_PREDICTION_LOG_URI")
        .env_remove("MODELOPS_MODEL_NAME")
        .env_remove("MODELOPS_OUTPUTS_DIR")
        .env_remove("MODELOPS_DATA_DIR")
        .output()
        .expect("the modelops binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn succeed(project: &Path, args: &[&str]) -> Run {
    let run = modelops(project, args);
    assert_eq!(
        run.code, 0,
        "modelops {args:?} failed\nstdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    run
}

fn feature<'a>(report: &'a DriftReport, name: &str) -> &'a FeatureDrift {
    report
        .features
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("{name} is monitored"))
}

/// Runs `monitor drift` over days predicted in `since..=until` and returns its exit code and report.
fn drift(
    project: &Path,
    name: &str,
    since: &str,
    until: &str,
    reference: &str,
) -> (i32, DriftReport) {
    let output = project.join("reports").join(name);
    let output_arg = output.display().to_string();
    let run = modelops(
        project,
        &[
            "monitor",
            "drift",
            "--since",
            since,
            "--until",
            until,
            "--window-on",
            "date",
            "--reference-window",
            reference,
            "--output",
            &output_arg,
        ],
    );
    assert!(
        run.code == 0 || run.code == 5,
        "monitor drift {name}: exit {}\nstdout:\n{}\nstderr:\n{}",
        run.code,
        run.stdout,
        run.stderr
    );
    assert!(
        run.stdout.contains("Promo"),
        "the table is printed: {}",
        run.stdout
    );
    let report = modelops_monitor::report::read_report(&output.join("latest.json")).unwrap();
    assert_eq!(
        run.code == 5,
        report.dataset_drift,
        "exit 5 exactly when dataset drift is reported"
    );
    (run.code, report)
}

fn files_named(dir: &Path, name: &str) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let path = e.path();
            if path.is_dir() {
                files_named(&path, name)
            } else {
                usize::from(path.file_name().is_some_and(|n| n == name))
            }
        })
        .sum()
}

#[test]
fn drift_on_real_traffic_flags_the_injected_promo_and_school_holiday_changes() {
    let Some(data) = rossmann_dir() else {
        eprintln!(
            "skipping: real Rossmann data not found (set MODELOPS_ROSSMANN_DIR or put it in ../shared/data/rossmann)"
        );
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path();
    std::fs::create_dir_all(project.join("data/raw")).unwrap();
    for file in ["train.csv.gz", "store.csv"] {
        std::fs::copy(data.join(file), project.join("data/raw").join(file)).unwrap();
    }

    // A small, fast model: the profile comes from the real training rows, accuracy does not matter here.
    let trained = succeed(
        project,
        &[
            "train",
            "--holdout-days",
            "0",
            "--rounds",
            "3,3,3",
            "--threads",
            "2",
        ],
    );
    let run_id = trained
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Tracked: run "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("train prints the run id: {}", trained.stdout))
        .to_string();
    let target = modelops_pipeline::track::TrackingTarget {
        tracking_uri: format!("sqlite://{}", project.join("mlflow.db").display()),
        artifact_root: project.join("mlartifacts").display().to_string(),
        experiment: "rossmann-forecasting".into(),
        parent_run_id: None,
    };
    let registry = modelops_pipeline::registry::RegistryClient::open(&target).unwrap();
    let version = match registry.version(MODEL, 1) {
        Ok(v) => v.version, // `train` registered it itself
        Err(_) => {
            registry
                .register(MODEL, &run_id, &[], "drift acceptance test")
                .unwrap()
                .version
        }
    };
    let model_uri = format!("models:/{MODEL}/{version}");

    // Batch predictions are logged (7,650 rows); --no-log writes predictions without logging.
    let batch = data.join("batch_aug_dec_2015.csv").display().to_string();
    let predicted = succeed(
        project,
        &[
            "predict",
            "--model",
            &model_uri,
            "--input",
            &batch,
            "--output",
            "outputs/predictions/batch.csv",
        ],
    );
    assert!(
        predicted
            .stdout
            .contains("Prediction log: 7650 predictions recorded"),
        "{}",
        predicted.stdout
    );
    let unlogged = succeed(
        project,
        &[
            "predict",
            "--model",
            &model_uri,
            "--input",
            &batch,
            "--output",
            "outputs/predictions/again.csv",
            "--no-log",
        ],
    );
    assert!(
        unlogged.stdout.contains("not recorded (--no-log)"),
        "{}",
        unlogged.stdout
    );

    // Promo: stable in Aug–Oct (36% vs 45%), drifted in Nov–Dec (60%).
    let (_, aug_oct) = drift(project, "aug-oct", "2015-08-01", "2015-10-31", "all");
    assert_eq!(
        aug_oct.current.rows, 3900,
        "open days of Aug–Oct, logged once despite the --no-log run"
    );
    assert_eq!(
        aug_oct.model_version.as_deref(),
        Some(version.to_string().as_str())
    );
    let promo = feature(&aug_oct, "Promo");
    assert!(!promo.is_drifted(), "Aug–Oct Promo: {}", promo.reason);
    let (_, nov_dec) = drift(project, "nov-dec", "2015-11-01", "2015-12-31", "all");
    let promo = feature(&nov_dec, "Promo");
    assert!(promo.is_drifted(), "Nov–Dec Promo: {}", promo.reason);
    assert!(
        nov_dec.prediction.is_some(),
        "prediction drift is checked too"
    );

    // Same-months reference: December's SchoolHoliday is flagged.
    let (_, december) = drift(
        project,
        "december",
        "2015-12-01",
        "2015-12-31",
        "same-months",
    );
    assert_eq!(december.reference.months, vec![12]);
    let school = feature(&december, "SchoolHoliday");
    assert!(
        school.is_drifted(),
        "December SchoolHoliday, same months: {}",
        school.reason
    );

    // August: 100% school holidays in the traffic vs ~62% in the training Augusts (see the module doc).
    let (_, august) = drift(project, "august", "2015-08-01", "2015-08-31", "same-months");
    let (_, august_all) = drift(project, "august-all", "2015-08-01", "2015-08-31", "all");
    let same = feature(&august, "SchoolHoliday").total_variation.unwrap();
    let whole = feature(&august_all, "SchoolHoliday")
        .total_variation
        .unwrap();
    assert!(
        (0.33..0.42).contains(&same),
        "same-months TVD {same:.3}: the 100% of the traffic vs the ~62% of the training Augusts"
    );
    assert!(
        whole > same + 0.3,
        "the whole-year reference is far further off: {whole:.3} vs {same:.3}"
    );
    assert!(!feature(&august, "Month").is_drifted());

    // Errors exit 1 and say what to do: an empty window, a version that served none of it.
    let empty = modelops(
        project,
        &[
            "monitor",
            "drift",
            "--since",
            "2014-01-01",
            "--until",
            "2014-01-31",
            "--window-on",
            "date",
        ],
    );
    assert_eq!(empty.code, 1, "{}", empty.stderr);
    assert!(
        empty.stderr.contains("widen the window"),
        "{}",
        empty.stderr
    );
    let unknown = modelops(
        project,
        &[
            "monitor",
            "drift",
            "--since",
            "2015-08-01",
            "--window-on",
            "date",
            "--model-version",
            "99",
        ],
    );
    assert_eq!(unknown.code, 1, "{}", unknown.stderr);
    assert!(unknown.stderr.contains("version 99"), "{}", unknown.stderr);

    for (name, report) in [
        ("Aug–Oct, all months", &aug_oct),
        ("Nov–Dec, all months", &nov_dec),
        ("December, same months", &december),
        ("August, same months", &august),
        ("August, all months", &august_all),
    ] {
        eprintln!("{name}: {}", summary(report));
    }

    // Every check is a run in rossmann-monitoring with the names the web UI reads.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let runs = runtime.block_on(async {
        let store = modelops_tracking::open(&target.tracking_uri).await.unwrap();
        let experiment = store
            .get_experiment_by_name("rossmann-monitoring")
            .await
            .unwrap();
        store
            .search_runs(&modelops_tracking::SearchRuns {
                experiment_ids: vec![experiment.experiment_id],
                ..Default::default()
            })
            .await
            .unwrap()
            .items
    });
    assert_eq!(runs.len(), 5, "one run per drift check");
    for run in &runs {
        let tag = |k: &str| {
            run.data
                .tags
                .iter()
                .find(|t| t.key == k)
                .map(|t| t.value.clone())
        };
        assert_eq!(tag("modelops.kind").as_deref(), Some("drift"));
        let metric = |k: &str| {
            run.data
                .metrics
                .iter()
                .find(|m| m.key == k)
                .map(|m| m.value)
        };
        for key in [
            "drift_share",
            "n_drifted_features",
            "dataset_drift",
            "drift.Promo.tvd",
            "drift.DayOfWeek.ks_p_value",
        ] {
            assert!(
                metric(key).is_some(),
                "run {} lacks metric {key}",
                run.info.run_id.0
            );
        }
    }
    assert_eq!(
        files_named(&project.join("mlartifacts"), "drift_report.html"),
        5
    );
    assert_eq!(
        files_named(&project.join("mlartifacts"), "drift_report.json"),
        5
    );

    // The HTML report is a self-contained page with a chart per feature.
    let html_path = project.join("reports/nov-dec/latest.html");
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") || html.starts_with("<!doctype html>"));
    assert!(html.contains("<svg") && html.contains("SchoolHoliday") && !html.contains("<script"));
    screenshot(&html_path);

    live_performance(project, &version.to_string());
}

/// One line per check: the drifted features with their statistic, for the test log (and the docs' figures).
fn summary(report: &DriftReport) -> String {
    let features: Vec<String> = report
        .features
        .iter()
        .chain(report.prediction.as_ref())
        .map(|f| {
            let stat = match (f.total_variation, f.ks) {
                (Some(tvd), _) => format!("TVD {tvd:.3}"),
                (_, Some(ks)) => format!("D {:.3}", ks.statistic),
                _ => "-".into(),
            };
            format!("{}{} {stat}", f.name, if f.is_drifted() { "*" } else { "" })
        })
        .collect();
    format!(
        "{} rows, share {:.2}, dataset drift {}; {}",
        report.current.rows,
        report.drift_share,
        report.dataset_drift,
        features.join(", ")
    )
}

/// `monitor actuals` then `monitor performance`: week 32 of 2015 recorded exactly as predicted (RMSPE 0), week 33
/// at twice the prediction (RMSPE 0.5, above the 0.10 gate: an alert and exit 6).
fn live_performance(project: &Path, version: &str) {
    let predictions =
        std::fs::read_to_string(project.join("outputs/predictions/batch.csv")).unwrap();
    let mut lines = predictions.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (store, date, open, predicted) = (
        col("Store"),
        col("Date"),
        col("Open"),
        col("Predicted_Sales"),
    );
    let mut actuals = String::from("Store,Date,Sales\n");
    let mut weeks = [0usize; 2];
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let day = f[date];
        let factor = if ("2015-08-03".."2015-08-10").contains(&day) {
            weeks[0] += 1;
            1.0
        } else if ("2015-08-10".."2015-08-17").contains(&day) {
            weeks[1] += 1;
            2.0
        } else {
            continue;
        };
        if f[open] != "1" {
            continue;
        }
        let p: f64 = f[predicted].parse().unwrap();
        actuals.push_str(&format!("{},{day},{}\n", f[store], p * factor));
    }
    assert!(weeks[0] > 0 && weeks[1] > 0);
    std::fs::write(project.join("actuals.csv"), actuals).unwrap();
    succeed(project, &["monitor", "actuals", "--input", "actuals.csv"]);
    let run = modelops(project, &["monitor", "performance"]);
    assert_eq!(
        run.code, 6,
        "an alert exits 6\n{}\n{}",
        run.stdout, run.stderr
    );
    let week = |w: &str| {
        run.stdout
            .lines()
            .find(|l| l.starts_with(version) && l.contains(w))
            .unwrap_or_else(|| panic!("no row for {w}: {}", run.stdout))
            .to_string()
    };
    assert!(week("2015-W32").contains("0.0000"), "{}", run.stdout);
    assert!(week("2015-W33").contains("0.5000"), "{}", run.stdout);
    let alerts: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("ALERT"))
        .collect();
    assert_eq!(alerts.len(), 1, "{}", run.stdout);
    assert!(alerts[0].contains("W33"), "{}", alerts[0]);
}

/// Screenshots the report with headless Chromium when it is installed (target/monitoring-acceptance/).
fn screenshot(html: &Path) {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists());
    let Some(chromium) = chromium else {
        eprintln!("no chromium: the report is not screenshotted");
        return;
    };
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("monitoring-acceptance");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(html, dir.join("drift_report.html")).unwrap();
    let png = dir.join("drift_report.png");
    let _ = std::fs::remove_file(&png);
    let status = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1280,2400",
        ])
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(
        png.is_file() && std::fs::metadata(&png).unwrap().len() > 10_000,
        "chromium wrote no screenshot: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    eprintln!("screenshot: {}", png.display());
}
