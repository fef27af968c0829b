//! Ingest: Kaggle quirks, the cleaned contract, and a clear error for every kind of bad input.

use modelops_data::{
    CLEAN_TRAIN_COLUMNS, CleanType, DataError, read_parquet, read_raw_store, read_raw_train,
};
use polars::prelude::*;

use crate::fixtures::*;

#[test]
fn ingest_writes_the_cleaned_contract() {
    let (_tmp, data) = tiny_project();
    let summary = modelops_data::ingest(&data).unwrap();
    assert_eq!(summary.stores, 4);
    let df = read_parquet(&summary.train_clean_path, None, "").unwrap();
    assert_eq!(df.height(), summary.train_rows);
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let expected: Vec<&str> = CLEAN_TRAIN_COLUMNS.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, expected);
    for (name, ty) in CLEAN_TRAIN_COLUMNS {
        let dt = df.column(name).unwrap().dtype().clone();
        let want = match ty {
            CleanType::Int32 => DataType::Int32,
            CleanType::Float32 => DataType::Float32,
            CleanType::Date => DataType::Date,
            CleanType::String => DataType::String,
        };
        assert_eq!(dt, want, "{name}");
    }
    // Sorted by (Store, Date) and no nulls where a fill rule applies.
    let store: Vec<i32> = df
        .column("Store")
        .unwrap()
        .i32()
        .unwrap()
        .into_no_null_iter()
        .collect();
    let dates: Vec<i32> = df
        .column("Date")
        .unwrap()
        .to_physical_repr()
        .i32()
        .unwrap()
        .into_no_null_iter()
        .collect();
    for i in 1..store.len() {
        assert!(
            (store[i - 1], dates[i - 1]) < (store[i], dates[i]),
            "row {i} out of order"
        );
    }
    for c in [
        "CompetitionDistance",
        "CompetitionOpenSinceMonth",
        "Promo2SinceWeek",
        "Promo2SinceYear",
        "PromoInterval",
    ] {
        assert_eq!(df.column(c).unwrap().null_count(), 0, "{c}");
    }
    let store_clean = read_parquet(&summary.store_clean_path, None, "").unwrap();
    assert_eq!(store_clean.height(), 4);
    assert_eq!(store_clean.width(), 10);
}

#[test]
fn kaggle_quirks_are_read_as_published() {
    let (_tmp, data) = tiny_project();
    // Unquoted 0 in StateHoliday, "Sept" and empty competition/Promo2 fields.
    edit_lines(&data, "train.csv", |l| {
        l[1] = l[1].replace(",\"0\",", ",0,")
    });
    edit_lines(&data, "store.csv", |l| {
        l[1] = "1,\"c\",\"a\",,,,1,14,2011,\"Mar,Jun,Sept,Dec\"".into();
        l[2] = "2,\"a\",\"a\",570,11,2007,0,,,\"\"".into();
    });
    let train = read_raw_train(&data.join("raw/train.csv")).unwrap();
    let holidays: Vec<Option<&str>> = train
        .column("StateHoliday")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .collect();
    assert!(
        holidays
            .iter()
            .all(|h| matches!(h, Some("0" | "a" | "b" | "c")))
    );
    let store = read_raw_store(&data.join("raw/store.csv")).unwrap();
    let cleaned = modelops_data::clean_store(&store).unwrap();
    let dist = cleaned
        .column("CompetitionDistance")
        .unwrap()
        .f32()
        .unwrap()
        .get(0);
    assert_eq!(dist, Some(100_000.0));
    assert_eq!(
        cleaned
            .column("PromoInterval")
            .unwrap()
            .str()
            .unwrap()
            .get(0),
        Some("Mar,Jun,Sept,Dec")
    );
    assert_eq!(
        cleaned
            .column("PromoInterval")
            .unwrap()
            .str()
            .unwrap()
            .get(1),
        Some("")
    );
    assert_eq!(
        cleaned
            .column("Promo2SinceWeek")
            .unwrap()
            .i32()
            .unwrap()
            .get(1),
        Some(0)
    );
    assert_eq!(
        cleaned
            .column("CompetitionOpenSinceYear")
            .unwrap()
            .i32()
            .unwrap()
            .get(0),
        Some(0)
    );
}

#[test]
fn gzip_input_reads_like_plain() {
    let (_tmp, data) = tiny_project();
    let plain = read_raw_train(&data.join("raw/train.csv")).unwrap();
    let gz = gzip_train(&data);
    let zipped = read_raw_train(&gz).unwrap();
    assert!(plain.equals_missing(&zipped));
    modelops_data::ingest(&data).unwrap();
}

fn err_of(r: Result<modelops_data::IngestSummary, DataError>) -> String {
    let e = r.expect_err("ingest should fail");
    e.to_string()
}

#[test]
fn missing_file_names_the_file_and_what_to_do() {
    let (_tmp, data) = tiny_project();
    std::fs::remove_file(data.join("raw/store.csv")).unwrap();
    let msg = err_of(modelops_data::ingest(&data));
    assert!(
        msg.contains("store.csv")
            && msg.contains("not found")
            && msg.contains("modelops data synth"),
        "{msg}"
    );
}

#[test]
fn wrong_delimiter_is_named() {
    let (_tmp, data) = tiny_project();
    edit_lines(&data, "train.csv", |l| {
        for x in l.iter_mut() {
            *x = x.replace(',', ";");
        }
    });
    let msg = err_of(modelops_data::ingest(&data));
    assert!(
        msg.contains("train.csv") && msg.contains("line 1") && msg.contains("';'"),
        "{msg}"
    );
}

#[test]
fn missing_and_extra_columns_are_named() {
    let (_tmp, data) = tiny_project();
    edit_lines(&data, "train.csv", |l| {
        for x in l.iter_mut() {
            let mut f: Vec<&str> = x.split(',').collect();
            f.remove(4);
            *x = f.join(",");
        }
    });
    let msg = err_of(modelops_data::ingest(&data));
    assert!(
        msg.contains("train.csv: line 1: missing column \"Customers\""),
        "{msg}"
    );

    let (_tmp, data) = tiny_project();
    edit_lines(&data, "store.csv", |l| {
        l[0].push_str(",\"Extra\"");
        for x in l.iter_mut().skip(1) {
            x.push_str(",1");
        }
    });
    let msg = err_of(modelops_data::ingest(&data));
    assert!(
        msg.contains("store.csv: line 1: unexpected column \"Extra\" (position 11)"),
        "{msg}"
    );
}

#[test]
fn non_numeric_value_names_line_and_column() {
    let (_tmp, data) = tiny_project();
    edit_lines(&data, "train.csv", |l| {
        let mut f: Vec<String> = l[5].split(',').map(str::to_string).collect();
        f[3] = "12x".into();
        l[5] = f.join(",");
    });
    let msg = err_of(modelops_data::ingest(&data));
    assert!(
        msg.contains("train.csv: line 6, column Sales: \"12x\" is not a number"),
        "{msg}"
    );
}

#[test]
fn unparseable_date_names_line_and_column() {
    let (_tmp, data) = tiny_project();
    edit_lines(&data, "train.csv", |l| {
        let mut f: Vec<String> = l[3].split(',').map(str::to_string).collect();
        f[2] = "2015-02-30".into();
        l[3] = f.join(",");
    });
    let msg = err_of(modelops_data::ingest(&data));
    assert!(
        msg.contains("line 4, column Date: \"2015-02-30\" is not a date YYYY-MM-DD"),
        "{msg}"
    );
}

#[test]
fn duplicate_rows_name_both_lines() {
    let (_tmp, data) = tiny_project();
    edit_lines(&data, "train.csv", |l| {
        let dup = l[2].clone();
        l.insert(10, dup);
    });
    let msg = err_of(modelops_data::ingest(&data));
    assert!(
        msg.contains("line 11: duplicate (Store, Date) row, same as line 3"),
        "{msg}"
    );
}

#[test]
fn empty_file_is_reported_as_empty() {
    let (_tmp, data) = tiny_project();
    std::fs::write(data.join("raw/train.csv"), "").unwrap();
    let msg = err_of(modelops_data::ingest(&data));
    assert!(msg.contains("train.csv: file is empty"), "{msg}");
}

#[test]
fn header_only_file_has_no_rows() {
    let (_tmp, data) = tiny_project();
    edit_lines(&data, "train.csv", |l| l.truncate(1));
    let msg = err_of(modelops_data::ingest(&data));
    assert!(msg.contains("no data rows"), "{msg}");
}

#[test]
fn truncated_gzip_is_reported_with_the_last_good_line() {
    let (_tmp, data) = tiny_project();
    let gz = gzip_train(&data);
    let bytes = std::fs::read(&gz).unwrap();
    std::fs::write(&gz, &bytes[..bytes.len() / 2]).unwrap();
    let msg = err_of(modelops_data::ingest(&data));
    assert!(
        msg.contains("train.csv.gz: gzip data is truncated or corrupt after line"),
        "{msg}"
    );
}

#[test]
fn ragged_line_is_named() {
    let (_tmp, data) = tiny_project();
    edit_lines(&data, "train.csv", |l| l[7].push_str(",9"));
    let msg = err_of(modelops_data::ingest(&data));
    assert!(
        msg.contains("train.csv: line 8: 10 field(s), but the header has 9"),
        "{msg}"
    );
}

#[test]
fn unknown_store_ids_only_warn_and_stay_null() {
    let (_tmp, data) = tiny_project();
    edit_lines(&data, "store.csv", |l| {
        l.remove(4);
    });
    let summary = modelops_data::ingest(&data).unwrap();
    assert!(summary.clean.rows_without_store > 0);
    let df = read_parquet(&summary.train_clean_path, None, "").unwrap();
    assert_eq!(
        df.column("StoreType").unwrap().null_count(),
        summary.clean.rows_without_store
    );
    assert_eq!(df.column("CompetitionDistance").unwrap().null_count(), 0);
}
