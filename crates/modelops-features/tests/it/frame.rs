//! Reading the cleaned-table layout (`train_clean.parquet`'s 18 columns) through Polars, and the features file.

use polars::prelude::*;

fn clean_frame() -> DataFrame {
    df!(
        "Store" => [1i32, 1, 1, 2],
        "DayOfWeek" => [4i32, 5, 6, 4],
        "Date" => ["2015-01-01", "2015-01-02", "2015-01-03", "2015-01-01"],
        "Sales" => [0.0f32, 5000.0, 4000.0, 7000.0],
        "Customers" => [0.0f32, 500.0, 420.0, 650.0],
        "Open" => [0i32, 1, 1, 1],
        "Promo" => [0i32, 1, 0, 1],
        "StateHoliday" => ["a", "0", "0", "a"],
        "SchoolHoliday" => [1i32, 1, 0, 1],
        "StoreType" => ["c", "c", "c", "a"],
        "Assortment" => ["a", "a", "a", "c"],
        "CompetitionDistance" => [1270.0f32, 1270.0, 1270.0, 100000.0],
        "CompetitionOpenSinceMonth" => [9i32, 9, 9, 0],
        "CompetitionOpenSinceYear" => [2008i32, 2008, 2008, 0],
        "Promo2" => [0i32, 0, 0, 1],
        "Promo2SinceWeek" => [0i32, 0, 0, 13],
        "Promo2SinceYear" => [0i32, 0, 0, 2010],
        "PromoInterval" => ["", "", "", "Jan,Apr,Jul,Oct"]
    )
    .unwrap()
}

#[test]
fn the_cleaned_layout_reads_into_sales_data() {
    let mut df = clean_frame();
    // The cleaned parquet stores Date as a Polars Date (days since 1970); text works too.
    let days: Vec<i32> = ["2015-01-01", "2015-01-02", "2015-01-03", "2015-01-01"]
        .iter()
        .map(|d| modelops_features::calendar::parse_day(d).unwrap())
        .collect();
    let dates = Series::new("Date".into(), days)
        .cast(&DataType::Date)
        .unwrap();
    df.with_column(Column::from(dates)).unwrap();
    let data = modelops_features::SalesData::from_clean_frame(&df).unwrap();
    let from_text = modelops_features::SalesData::from_clean_frame(&clean_frame()).unwrap();
    assert_eq!(data.observations(), from_text.observations());
    assert_eq!(data.observations().len(), 4);
    assert_eq!(data.stores().stores().len(), 2);
    assert_eq!(data.stores().get(2).unwrap().competition_distance, None);
    let h = data.history_at(modelops_features::calendar::parse_day("2015-01-04").unwrap());
    assert_eq!(h.get(1).unwrap().n_sales_days, 2);
}

#[test]
fn a_missing_column_is_named() {
    let df = clean_frame().drop("Promo").unwrap();
    let err = modelops_features::SalesData::from_clean_frame(&df)
        .unwrap_err()
        .to_string();
    assert!(err.contains("'Promo'"), "{err}");
}

#[test]
fn the_features_file_keeps_keys_and_features() {
    use modelops_features::{FeatureBuilder, FeatureSettings, RowFilter};
    let data = crate::fixture::data();
    let origin = modelops_features::calendar::parse_day("2014-05-01").unwrap();
    let builder = FeatureBuilder::new(data.stores(), FeatureSettings::default());
    let set = data
        .forecast_set(&builder, origin, origin + 31, RowFilter::AllRows)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("train_features.parquet");
    let rows = modelops_features::io::write_features_parquet(&path, &[&set], origin).unwrap();
    assert_eq!(rows, set.len());
    let back = ParquetReader::new(std::fs::File::open(&path).unwrap())
        .finish()
        .unwrap();
    assert_eq!(back.height(), set.len());
    for name in [
        "Store",
        "Date",
        "Sales",
        "Year",
        "Month",
        "Week",
        "DayOfWeek",
        "HistLogSales",
    ] {
        assert!(back.column(name).is_ok(), "{name} missing");
    }
    assert_eq!(back.column("Date").unwrap().dtype(), &DataType::Date);
    assert_eq!(back.column("Week").unwrap().dtype(), &DataType::Int32);
}
