//! The leakage test of the forecasting contract: features of predicted rows must not change when every Sales
//! and Customers value on or after the origin changes, and a training row's features must not contain its own
//! target.

use crate::common::{bit_identical, data};
use modelops_features::calendar::parse_day;
use modelops_features::{
    FeatureBuilder, FeatureSettings, Observation, RollingOrigins, RowFilter, SalesData,
};

fn scrambled(data: &SalesData, from: i32) -> SalesData {
    let observations: Vec<Observation> = data
        .observations()
        .iter()
        .map(|o| {
            let mut o = *o;
            if o.input.date >= from {
                // Deterministic but wildly different values, zeros included.
                let k = (o.input.store as f32) * 31.0 + (o.input.date % 97) as f32;
                o.sales = if k as i32 % 5 == 0 {
                    0.0
                } else {
                    10.0 * k + 1.0e5
                };
                o.customers = (k * 3.0) % 7.0;
            }
            o
        })
        .collect();
    SalesData::new(observations, data.stores().clone()).unwrap()
}

#[test]
fn features_never_read_sales_on_or_after_the_origin() {
    let original = data();
    let origin = parse_day("2014-01-15").unwrap();
    let changed = scrambled(&original, origin);
    let builder = FeatureBuilder::new(original.stores(), FeatureSettings::default());
    let end = origin + 60;
    let a = original
        .forecast_set(&builder, origin, end, RowFilter::AllRows)
        .unwrap();
    let b = changed
        .forecast_set(&builder, origin, end, RowFilter::AllRows)
        .unwrap();
    assert!(
        a.len() > 12 * 50,
        "the window should hold every store-day, got {}",
        a.len()
    );
    assert_eq!(a.rows, b.rows);
    assert!(
        bit_identical(a.features.values(), b.features.values()),
        "predicted rows' features changed"
    );
    // The sales did change, so the test can fail.
    assert_ne!(a.sales, b.sales);
    // Training rows for this origin are untouched as well.
    let plan = RollingOrigins::default();
    let ta = original
        .training_set(&builder, origin, &plan, RowFilter::AllRows)
        .unwrap();
    let tb = changed
        .training_set(&builder, origin, &plan, RowFilter::AllRows)
        .unwrap();
    assert!(bit_identical(ta.features.values(), tb.features.values()));
}

#[test]
fn a_training_row_never_sees_its_own_target() {
    let original = data();
    let origin = parse_day("2014-03-01").unwrap();
    let builder = FeatureBuilder::new(original.stores(), FeatureSettings::default());
    let plan = RollingOrigins::default();
    let starts = original.block_origins(origin, &plan);
    let last_block = *starts.last().unwrap();
    // Scramble the last training block's own sales (and everything after): its rows' features must not move.
    let changed = scrambled(&original, last_block);
    let a = original
        .training_set(&builder, origin, &plan, RowFilter::AllRows)
        .unwrap();
    let b = changed
        .training_set(&builder, origin, &plan, RowFilter::AllRows)
        .unwrap();
    assert!(bit_identical(a.features.values(), b.features.values()));
    let in_last_block = a.origins.iter().filter(|o| **o == last_block).count();
    assert!(in_last_block > 0);
    assert_ne!(a.sales, b.sales);
}

#[test]
fn rolling_blocks_tile_the_days_before_the_origin() {
    let data = data();
    let origin = parse_day("2014-03-01").unwrap();
    let plan = RollingOrigins::default();
    let starts = data.block_origins(origin, &plan);
    assert_eq!(*starts.last().unwrap(), origin - 42);
    assert!(starts.windows(2).all(|w| w[1] - w[0] == 42));
    let builder = FeatureBuilder::new(data.stores(), FeatureSettings::default());
    let set = data
        .training_set(&builder, origin, &plan, RowFilter::ModelRows)
        .unwrap();
    let horizon = set
        .features
        .names()
        .iter()
        .position(|n| n == "DaysSinceOrigin")
        .unwrap();
    for i in 0..set.len() {
        let h = set.features.row(i)[horizon];
        assert!((1.0..=42.0).contains(&h), "row {i} has horizon {h}");
        assert!(set.rows[i].date < origin && set.rows[i].date >= set.origins[i]);
        assert!(set.rows[i].open && set.sales[i] > 0.0);
    }
}
