//! The feature spec: one code path for training and serving, fixed category codes, a JSON round trip, long
//! horizons.

use crate::common::{bit_identical, data};
use modelops_features::calendar::{parse_day, weekday};
use modelops_features::{
    FeatureBuilder, FeatureSettings, FeatureSpec, InputRow, RowFilter, StateHoliday,
};
use modelops_models::FeatureMatrix;

#[test]
fn the_spec_builds_the_same_features_as_the_evaluation_path() {
    let data = data();
    let origin = parse_day("2014-02-01").unwrap();
    let builder = FeatureBuilder::new(data.stores(), FeatureSettings::default());
    let eval = data
        .forecast_set(&builder, origin, origin + 42, RowFilter::AllRows)
        .unwrap();
    let spec = FeatureSpec::new(builder, data.stores().clone(), data.history_at(origin));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feature_spec.json");
    spec.save(&path).unwrap();
    let loaded = FeatureSpec::load(&path).unwrap();
    // Debug output compares NaN fields too (NaN != NaN under PartialEq).
    assert_eq!(format!("{loaded:?}"), format!("{spec:?}"));
    // Serving receives raw rows in any order; reverse them and compare row by row.
    let mut rows = eval.rows.clone();
    rows.reverse();
    let served = loaded.build(&rows).unwrap();
    assert_reversed(&eval.features, &served);
}

/// The feature spec of the test data at `origin`.
fn spec_at(origin: &str) -> FeatureSpec {
    let data = data();
    let builder = FeatureBuilder::new(data.stores(), FeatureSettings::default());
    FeatureSpec::new(
        builder,
        data.stores().clone(),
        data.history_at(parse_day(origin).unwrap()),
    )
}

/// `reversed` holds the rows of `forward` in reverse order, bit for bit.
fn assert_reversed(forward: &FeatureMatrix, reversed: &FeatureMatrix) {
    let n = forward.n_rows();
    assert_eq!(reversed.n_rows(), n);
    for i in 0..n {
        assert!(
            bit_identical(forward.row(i), reversed.row(n - 1 - i)),
            "row {i} differs"
        );
    }
}

fn row(store: u32, date: &str, holiday: StateHoliday) -> InputRow {
    let date = parse_day(date).unwrap();
    InputRow {
        store,
        date,
        day_of_week: weekday(date),
        open: true,
        promo: false,
        state_holiday: holiday,
        school_holiday: false,
    }
}

#[test]
fn category_codes_do_not_depend_on_the_batch() {
    let spec = spec_at("2014-04-01");
    let col = spec.names.iter().position(|n| n == "StateHoliday").unwrap();
    // A batch whose only holiday value is `a` still encodes it as 1, as in training (defect D5).
    let only_a = spec
        .build(&[row(3, "2014-04-21", StateHoliday::Public)])
        .unwrap();
    assert_eq!(only_a.row(0)[col], 1.0);
    let mixed = spec
        .build(&[
            row(3, "2014-04-21", StateHoliday::Public),
            row(4, "2014-04-22", StateHoliday::None),
        ])
        .unwrap();
    assert_eq!(mixed.row(0)[col], 1.0);
    assert_eq!(mixed.row(1)[col], 0.0);
}

#[test]
fn long_horizons_degrade_gracefully() {
    let spec = spec_at("2014-04-01");
    // Five months ahead, store 2, every day.
    let rows: Vec<InputRow> = (0..150)
        .map(|_| row(2, "2014-04-01", StateHoliday::None))
        .enumerate()
        .map(|(k, mut r)| {
            r.date += k as i32;
            r.day_of_week = weekday(r.date);
            r
        })
        .collect();
    let m = spec.build(&rows).unwrap();
    let horizon = spec
        .names
        .iter()
        .position(|n| n == "DaysSinceOrigin")
        .unwrap();
    let level = spec.names.iter().position(|n| n == "HistLogSales").unwrap();
    assert_eq!(m.row(149)[horizon], 150.0);
    assert!(
        m.row(149)[level].is_finite(),
        "history features stay defined far beyond the origin"
    );
}

#[test]
fn rows_before_the_origin_and_unknown_stores_are_refused() {
    let spec = spec_at("2014-04-01");
    let err = spec
        .build(&[row(1, "2014-03-31", StateHoliday::None)])
        .unwrap_err()
        .to_string();
    assert!(err.contains("before the forecast origin"), "{err}");
    let err = spec
        .build(&[row(999, "2014-04-02", StateHoliday::None)])
        .unwrap_err()
        .to_string();
    assert!(err.contains("store 999"), "{err}");
    // Among several unknown stores, the first one's row is named.
    let err = spec
        .build(&[
            row(1, "2014-04-02", StateHoliday::None),
            row(999, "2014-04-02", StateHoliday::None),
            row(998, "2014-04-02", StateHoliday::None),
        ])
        .unwrap_err()
        .to_string();
    assert!(err.contains("row 1: store 999"), "{err}");
}

#[test]
fn a_batch_of_many_blocks_keeps_every_row_in_place() {
    // More rows than one parallel build block (8,192): each row's features land in its own place whatever the
    // batch's order, so the rows built in reverse match row for row.
    let spec = spec_at("2014-04-01");
    let stores: Vec<u32> = spec.stores.stores().iter().map(|s| s.store).collect();
    let rows: Vec<InputRow> = (0..20_000)
        .map(|k| {
            let mut r = row(stores[k % stores.len()], "2014-04-01", StateHoliday::None);
            r.date += (k / stores.len()) as i32 % 200;
            r.day_of_week = weekday(r.date);
            r.promo = k % 3 == 0;
            r
        })
        .collect();
    let forward = spec.build(&rows).unwrap();
    let mut reversed_rows = rows.clone();
    reversed_rows.reverse();
    let reversed = spec.build(&reversed_rows).unwrap();
    assert_reversed(&forward, &reversed);
    // And differ from their neighbours (the check above compares real rows, not one repeated row).
    assert!(!bit_identical(forward.row(0), forward.row(1)));
}
