//! Report outputs: file names and `latest` copies, JSON round trip, and HTML escaping of user-derived strings.

use chrono::{NaiveDate, TimeZone, Utc};
use modelops_monitor::report::read_report;
use modelops_monitor::{
    ColumnSet, DriftConfig, ReferenceProfile, SketchConfig, detect_drift, render_html, write_report,
};

fn labels(pattern: &[&str], rows: usize) -> Vec<Option<String>> {
    (0..rows)
        .map(|i| Some(pattern[i % pattern.len()].to_owned()))
        .collect()
}

fn report_with_hostile_strings() -> modelops_monitor::DriftReport {
    let reference = labels(&["a", "b", "c"], 300);
    let current = labels(
        &[
            "a",
            "<script>alert(1)</script>",
            "c\"><img src=x onerror=alert(2)>",
        ],
        300,
    );
    let numbers: Vec<f64> = (0..300).map(|i| f64::from(i % 50)).collect();
    let profile = ReferenceProfile::build(
        &ColumnSet::new()
            .categorical("Store<Type>", &reference)
            .unwrap()
            .numeric("x", &numbers)
            .unwrap(),
        &SketchConfig::default(),
    )
    .unwrap();
    let current_set = ColumnSet::new()
        .categorical("Store<Type>", &current)
        .unwrap()
        .numeric("x", &numbers)
        .unwrap();
    let mut report = detect_drift(&profile, &current_set, &DriftConfig::default()).unwrap();
    report.model_name = Some("rossmann-<b>ensemble</b>".into());
    report.model_version = Some("3".into());
    report.generated_at = Utc.with_ymd_and_hms(2015, 12, 31, 6, 0, 0).unwrap();
    report
}

#[test]
fn html_escapes_feature_names_categories_and_model_names() {
    let report = report_with_hostile_strings();
    let html = render_html(&report);
    assert!(
        !html.contains("<script>"),
        "a category label reached the page unescaped"
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(
        !html.contains("<img"),
        "an attribute-breaking label reached the page unescaped"
    );
    assert!(html.contains("Store&lt;Type&gt;"));
    assert!(html.contains("rossmann-&lt;b&gt;ensemble&lt;/b&gt;"));
    assert!(!html.contains("<b>"));
}

#[test]
fn html_is_self_contained_and_states_the_verdict() {
    let report = report_with_hostile_strings();
    let html = render_html(&report);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<svg"), "charts are inline SVG");
    for external in ["<script", "src=\"http", "href=\"http", "<link"] {
        assert!(
            !html.contains(external),
            "page loads something external: {external}"
        );
    }
    let drifted = report.features.iter().any(|f| f.is_drifted());
    assert!(drifted, "the categorical change must be flagged");
    assert!(html.contains("Drifted"));
}

#[test]
fn write_report_creates_dated_files_and_latest_copies() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("drift_reports");
    let report = report_with_hostile_strings();
    let written = write_report(&report, &out).unwrap();
    assert_eq!(written.json, out.join("drift_report_2015-12-31.json"));
    assert_eq!(written.html, out.join("drift_report_2015-12-31.html"));
    assert_eq!(
        std::fs::read(&written.html).unwrap(),
        std::fs::read(&written.latest_html).unwrap()
    );
    assert_eq!(
        std::fs::read(&written.json).unwrap(),
        std::fs::read(&written.latest_json).unwrap()
    );
    assert_eq!(read_report(&written.latest_json).unwrap(), report);
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
    let _ = NaiveDate::from_ymd_opt(2015, 12, 31);
}

#[test]
fn json_summary_names_the_fields_a_dashboard_reads() {
    let report = report_with_hostile_strings();
    let json: serde_json::Value = serde_json::to_value(&report).unwrap();
    for key in [
        "dataset_drift",
        "drift_share",
        "drifted_features",
        "tested_features",
        "features",
        "current",
        "reference",
    ] {
        assert!(json.get(key).is_some(), "missing {key}");
    }
    let feature = &json["features"][0];
    for key in [
        "name",
        "kind",
        "status",
        "chi_square",
        "total_variation",
        "psi",
        "chart",
    ] {
        assert!(feature.get(key).is_some(), "feature missing {key}");
    }
}
