//! Live RMSPE/MAE per model version per ISO week, and alerts.

use chrono::NaiveDate;
use modelops_monitor::{
    PerformanceThresholds, ScoredPrediction, performance_alerts, weekly_performance,
};

fn row(date: (i32, u32, u32), prediction: f64, actual: f64, version: &str) -> ScoredPrediction {
    ScoredPrediction {
        date: NaiveDate::from_ymd_opt(date.0, date.1, date.2).unwrap(),
        store: 1,
        prediction,
        actual,
        model_version: version.to_owned(),
    }
}

#[test]
fn rmspe_and_mae_are_grouped_by_version_and_iso_week() {
    let rows = [
        // 2015-12-28 (Mon) .. 2016-01-03 (Sun) is ISO week 2015-W53.
        row((2015, 12, 28), 110.0, 100.0, "2"),
        row((2016, 1, 3), 180.0, 200.0, "2"),
        row((2016, 1, 3), 5.0, 0.0, "2"), // closed day: no RMSPE term, MAE 5
        row((2016, 1, 4), 100.0, 100.0, "2"),
        row((2016, 1, 4), 90.0, 100.0, "10"),
    ];
    let weeks = weekly_performance(&rows).unwrap();
    assert_eq!(weeks.len(), 3);
    let w53 = &weeks[0];
    assert_eq!(
        (w53.model_version.as_str(), w53.iso_year, w53.iso_week),
        ("2", 2015, 53)
    );
    assert_eq!(
        w53.week_start,
        NaiveDate::from_ymd_opt(2015, 12, 28).unwrap()
    );
    assert_eq!((w53.rows, w53.rmspe_rows), (3, 2));
    // sqrt(((0.1)² + (0.1)²) / 2) = 0.1; MAE (10 + 20 + 5) / 3.
    assert!((w53.rmspe.unwrap() - 0.1).abs() < 1e-12);
    assert!((w53.mae - 35.0 / 3.0).abs() < 1e-12);
    assert_eq!(
        (
            weeks[1].model_version.as_str(),
            weeks[1].iso_week,
            weeks[1].rmspe
        ),
        ("2", 1, Some(0.0))
    );
    assert_eq!(weeks[2].model_version, "10", "versions sort numerically");
}

#[test]
fn alerts_name_the_version_week_and_metric() {
    let rows = [
        row((2016, 1, 4), 80.0, 100.0, "3"),
        row((2016, 1, 11), 99.0, 100.0, "3"),
    ];
    let weeks = weekly_performance(&rows).unwrap();
    let alerts = performance_alerts(
        &weeks,
        &PerformanceThresholds {
            rmspe: 0.1,
            mae: Some(15.0),
        },
    );
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert_eq!(alerts[0].metric, "rmspe");
    assert!(
        alerts[0].message.contains("version 3") && alerts[0].message.contains("2016-W01"),
        "{}",
        alerts[0].message
    );
    assert_eq!(alerts[1].metric, "mae");
    assert!(
        performance_alerts(
            &weeks,
            &PerformanceThresholds {
                rmspe: 0.5,
                mae: None
            }
        )
        .is_empty()
    );
}

#[test]
fn a_non_finite_actual_is_rejected_with_its_row() {
    let rows = [
        row((2016, 1, 4), 80.0, 100.0, "3"),
        row((2016, 1, 5), 80.0, f64::NAN, "3"),
    ];
    let err = weekly_performance(&rows).unwrap_err().to_string();
    assert!(err.contains("row 2") && err.contains("actual"), "{err}");
}
