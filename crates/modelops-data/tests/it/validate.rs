//! Validation: the shipped suites pass on good data and fail with row-numbered examples on bad data; unreadable
//! files are reported, not panicked on.

use modelops_data::validate::{
    Stage, SuiteResult, ValidationReport, embedded_suites, load_suites, render_table, validate,
};

use crate::fixtures::*;

fn suite<'a>(r: &'a ValidationReport, name: &str) -> &'a SuiteResult {
    r.suites
        .iter()
        .find(|s| s.suite == name)
        .unwrap_or_else(|| panic!("no suite {name}"))
}

fn failed<'a>(
    s: &'a SuiteResult,
    ty: &str,
    column: &str,
) -> &'a modelops_data::validate::ExpectationResult {
    s.results
        .iter()
        .find(|r| !r.success && r.expectation_type == ty && r.column == column)
        .unwrap_or_else(|| {
            panic!(
                "no failed {ty} on {column}: {}",
                serde_json::to_string_pretty(&s.results).unwrap()
            )
        })
}

#[test]
fn synthetic_data_passes_raw_and_processed_suites() {
    let (_tmp, data) = suite_sized_project();
    modelops_data::ingest(&data).unwrap();
    let report = validate(&data, Stage::All, &embedded_suites().unwrap()).unwrap();
    for s in &report.suites {
        if s.suite == "features_suite" {
            // Nobody built features here: a clear read error that names the command to run.
            assert!(
                s.read_error
                    .as_deref()
                    .unwrap()
                    .contains("modelops features build"),
                "{:?}",
                s.read_error
            );
            continue;
        }
        assert!(s.success, "{}", render_table(&report));
    }
    assert!(report.has_unreadable());
}

#[test]
fn bad_values_fail_with_line_numbers() {
    let (_tmp, data) = suite_sized_project();
    edit_lines(&data, "train.csv", |l| {
        let mut f: Vec<String> = l[5].split(',').map(str::to_string).collect();
        f[3] = "abc".into(); // Sales not numeric, line 6
        l[5] = f.join(",");
        let mut f: Vec<String> = l[9].split(',').map(str::to_string).collect();
        f[2] = "2015-13-01".into(); // bad date, line 10
        l[9] = f.join(",");
        let mut f: Vec<String> = l[12].split(',').map(str::to_string).collect();
        f[1] = if f[1] == "3" { "4".into() } else { "3".into() }; // DayOfWeek disagrees with Date, line 13
        f[5] = "2".into(); // Open not in {0,1}
        l[12] = f.join(",");
        let dup = l[20].clone();
        l.push(dup); // duplicate of line 21 at the end
    });
    let report = validate(&data, Stage::Raw, &embedded_suites().unwrap()).unwrap();
    assert!(!report.success && !report.has_unreadable());
    let s = suite(&report, "raw_train_suite");
    let sales = failed(s, "expect_column_values_to_be_of_type", "Sales");
    assert_eq!(
        (sales.examples[0].row, sales.examples[0].value.as_str()),
        (6, "abc")
    );
    let date = failed(s, "expect_column_values_to_be_of_type", "Date");
    assert_eq!(
        (date.examples[0].row, date.examples[0].value.as_str()),
        (10, "2015-13-01")
    );
    let dow = failed(s, "expect_day_of_week_to_match_date", "DayOfWeek, Date");
    assert_eq!(dow.examples[0].row, 13);
    let open = failed(s, "expect_column_values_to_be_in_set", "Open");
    assert_eq!(
        (open.examples[0].row, open.examples[0].value.as_str()),
        (13, "2")
    );
    let dup = failed(s, "expect_compound_columns_to_be_unique", "Store, Date");
    assert!(
        dup.examples[0].value.contains("same as line 21"),
        "{:?}",
        dup.examples
    );
    // A parse failure is not also reported as a null.
    assert!(s.results.iter().any(
        |r| r.expectation_type == "expect_column_values_to_not_be_null"
            && r.column == "Date"
            && r.success
    ));
    let table = render_table(&report);
    assert!(
        table.contains("line 6: abc") && table.contains("FAIL"),
        "{table}"
    );
}

#[test]
fn store_problems_fail_their_expectations() {
    let (_tmp, data) = suite_sized_project();
    edit_lines(&data, "store.csv", |l| {
        let mut f: Vec<String> = l[2].split(',').map(str::to_string).collect();
        f[1] = "\"z\"".into(); // StoreType outside a..d, line 3
        l[2] = f.join(",");
        l.remove(5); // store 5 disappears: train rows of store 5 now point nowhere
    });
    let report = validate(&data, Stage::Raw, &embedded_suites().unwrap()).unwrap();
    let st = failed(
        suite(&report, "raw_store_suite"),
        "expect_column_values_to_be_in_set",
        "StoreType",
    );
    assert_eq!(
        (st.examples[0].row, st.examples[0].value.as_str()),
        (3, "z")
    );
    let other = failed(
        suite(&report, "raw_train_suite"),
        "expect_column_values_to_be_in_other_dataset",
        "Store",
    );
    assert_eq!(other.examples[0].value, "5");
}

#[test]
fn missing_and_extra_columns_fail_the_column_list() {
    let (_tmp, data) = suite_sized_project();
    edit_lines(&data, "train.csv", |l| {
        for x in l.iter_mut() {
            let mut f: Vec<&str> = x.split(',').collect();
            f.remove(4);
            *x = f.join(",");
        }
        l[0].push_str(",\"Extra\"");
        for x in l.iter_mut().skip(1) {
            x.push_str(",1");
        }
    });
    let report = validate(&data, Stage::Raw, &embedded_suites().unwrap()).unwrap();
    let s = suite(&report, "raw_train_suite");
    let cols = failed(s, "expect_table_columns_to_match_ordered_list", "");
    assert!(
        cols.observed.contains("missing [\"Customers\"]")
            && cols.observed.contains("unexpected [\"Extra\"]"),
        "{}",
        cols.observed
    );
    let cust = failed(s, "expect_column_values_to_be_between", "Customers");
    assert!(cust.observed.contains("does not exist"));
}

#[test]
fn unreadable_files_are_read_errors_naming_file_and_line() {
    type Corrupt = Box<dyn Fn(&std::path::Path)>;
    let cases: Vec<(&str, Corrupt, &str)> = vec![
        (
            "missing",
            Box::new(|d| std::fs::remove_file(d.join("raw/train.csv")).unwrap()),
            "file not found",
        ),
        (
            "empty",
            Box::new(|d| std::fs::write(d.join("raw/train.csv"), "").unwrap()),
            "file is empty",
        ),
        (
            "delimiter",
            Box::new(|d| {
                edit_lines(d, "train.csv", |l| {
                    l.iter_mut().for_each(|x| *x = x.replace(',', "\t"))
                });
            }),
            "line 1: the header is separated by '\\t'",
        ),
        (
            "ragged",
            Box::new(|d| {
                edit_lines(d, "train.csv", |l| l[3] = "1,2,3".into());
            }),
            "line 4: 3 field(s), but the header has 9",
        ),
        (
            "truncated gzip",
            Box::new(|d| {
                let gz = gzip_train(d);
                let b = std::fs::read(&gz).unwrap();
                std::fs::write(&gz, &b[..b.len() - 100]).unwrap();
            }),
            "gzip data is truncated or corrupt after line",
        ),
    ];
    for (name, corrupt, expected) in cases {
        let (_tmp, data) = tiny_project();
        corrupt(&data);
        let report = validate(&data, Stage::Raw, &embedded_suites().unwrap()).unwrap();
        assert!(report.has_unreadable(), "{name}");
        let err = suite(&report, "raw_train_suite")
            .read_error
            .clone()
            .unwrap();
        assert!(
            err.contains("train.csv") && err.contains(expected),
            "{name}: {err}"
        );
        // The other raw file is still validated.
        assert!(
            suite(&report, "raw_store_suite").read_error.is_none(),
            "{name}"
        );
    }
}

#[test]
fn project_suites_replace_the_embedded_ones() {
    let (tmp, data) = tiny_project();
    let config = tmp.path().join("config");
    std::fs::create_dir_all(config.join("suites")).unwrap();
    std::fs::write(
        config.join("suites/tiny.json"),
        r#"{"expectation_suite_name": "tiny", "dataset": "raw_train",
            "expectations": [{"expectation_type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1, "max_value": 5}}]}"#,
    )
    .unwrap();
    let suites = load_suites(Some(&config)).unwrap();
    assert_eq!(suites.len(), 1);
    let report = validate(&data, Stage::Raw, &suites).unwrap();
    assert!(!report.success);
    assert!(report.suites[0].results[0].observed.ends_with("rows"));
    // Without the folder, the embedded suites are used.
    assert_eq!(
        load_suites(Some(&tmp.path().join("nowhere")))
            .unwrap()
            .len(),
        4
    );
}

#[test]
fn processed_stage_checks_the_parquet_contract() {
    let (_tmp, data) = suite_sized_project();
    modelops_data::ingest(&data).unwrap();
    let report = validate(&data, Stage::Processed, &embedded_suites().unwrap()).unwrap();
    assert!(report.success, "{}", render_table(&report));
    assert_eq!(report.suites[0].row_numbering, "row");
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["suites"][0]["suite"], "processed_data_suite");
}
