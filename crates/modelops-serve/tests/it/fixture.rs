//! Small generated fixtures: synthetic data (6 stores, 8 months), tiny model packages trained with the oblivious
//! engine only (catboost weight 1.0, so no native library is needed), request helpers.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::NaiveDate;
use http_body_util::BodyExt;
use modelops_data::synth::{SynthConfig, generate};
use modelops_features::calendar::{format_day, weekday};
use modelops_features::{
    FeatureBuilder, FeatureSettings, FeatureSpec, RollingOrigins, RowFilter, SalesData,
};
use modelops_models::oblivious::ObliviousConfig;
use modelops_models::package::{Lineage, SaveOptions};
use modelops_models::{
    Ensemble, EnsembleWeights, Fit, ModelPackage, NoProgress, Regressor, TrainSet,
};
use modelops_pipeline::serving::{SERVING_SPEC_VERSION, ServingSpec, TargetTransform};
use serde_json::{Value, json};
use tower::ServiceExt;

/// Stores in the synthetic data.
pub const STORES: u32 = 6;

/// Everything the tests share: one data set and two packages that predict differently.
pub struct Fixture {
    _dir: tempfile::TempDir,
    /// Package trained with seed 1.
    pub package_a: PathBuf,
    /// Package trained with seed 2 and more trees.
    pub package_b: PathBuf,
    /// The first day the packages may forecast.
    pub origin: i32,
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

/// The shared fixture, built on first use.
pub fn fixture() -> &'static Fixture {
    FIXTURE.get_or_init(build)
}

fn build() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = SynthConfig {
        stores: STORES,
        start: NaiveDate::from_ymd_opt(2014, 9, 1).unwrap(),
        end: NaiveDate::from_ymd_opt(2015, 4, 30).unwrap(),
        seed: 7,
    };
    generate(&config, &data.join("raw"), &|_, _| {}).unwrap();
    modelops_data::ingest(&data).unwrap();
    let clean = modelops_data::processed_dir(&data).join(modelops_data::TRAIN_CLEAN_FILE);
    let frame = modelops_data::read_parquet(&clean, None, "ingest first").unwrap();
    let sales = SalesData::from_clean_frame(&frame).unwrap();
    let (_, last) = sales.day_range();
    let origin = last + 1;
    let builder = FeatureBuilder::new(sales.stores(), FeatureSettings::default());
    let rows = sales
        .training_set(
            &builder,
            origin,
            &RollingOrigins::default(),
            RowFilter::ModelRows,
        )
        .unwrap();
    let target: Vec<f32> = rows
        .sales
        .iter()
        .map(|s| TargetTransform::Log1p.forward(*s))
        .collect();
    let train = TrainSet {
        features: &rows.features,
        target: &target,
        weights: None,
    };
    let spec = ServingSpec {
        format_version: SERVING_SPEC_VERSION,
        target_transform: TargetTransform::Log1p,
        features: FeatureSpec::new(
            builder.clone(),
            sales.stores().clone(),
            sales.history_at(origin),
        ),
    };
    let spec_json = serde_json::to_value(&spec).unwrap();
    let package = |name: &str, seed: u64, iterations: u32| -> PathBuf {
        let cfg = ObliviousConfig {
            depth: 4,
            iterations,
            learning_rate: 0.2,
            seed,
            threads: 1,
            ..Default::default()
        };
        let model: Box<dyn Regressor> = Box::new(cfg.fit(&train, None, &NoProgress).unwrap());
        let ensemble =
            Ensemble::new(vec![model], EnsembleWeights::new(0.0, 0.0, 1.0).unwrap()).unwrap();
        let out = dir.path().join(name);
        ModelPackage::save(
            &out,
            &ensemble,
            &spec_json,
            &Lineage::default(),
            &SaveOptions::default(),
        )
        .unwrap();
        out
    };
    let package_a = package("package-a", 1, 40);
    let package_b = package("package-b", 2, 60);
    Fixture {
        _dir: dir,
        package_a,
        package_b,
        origin,
    }
}

/// A valid request row for `store` on day `origin + offset`.
pub fn row(store: u32, day: i32, open: u8, promo: u8) -> Value {
    json!({
        "Store": store, "DayOfWeek": weekday(day), "Date": format_day(day), "Open": open, "Promo": promo,
        "StateHoliday": "0", "SchoolHoliday": 0
    })
}

/// A mixed, unsorted batch: several stores and days in scrambled order, closed days included.
pub fn mixed_rows(origin: i32) -> Vec<Value> {
    let mut out = Vec::new();
    for k in 0..30 {
        let store = (k * 5 % STORES as i32) as u32 + 1;
        let day = origin + (k * 7 % 20);
        let open = u8::from(weekday(day) != 7);
        out.push(row(store, day, open, (k % 2) as u8));
    }
    out
}

/// Writes rows as a CSV in the Kaggle test schema (with an Id column).
pub fn write_csv(path: &Path, rows: &[Value]) {
    let mut text = String::from("Id,Store,DayOfWeek,Date,Open,Promo,StateHoliday,SchoolHoliday\n");
    for (i, r) in rows.iter().enumerate() {
        text.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            i + 1,
            r["Store"],
            r["DayOfWeek"],
            r["Date"].as_str().unwrap(),
            r["Open"],
            r["Promo"],
            r["StateHoliday"].as_str().unwrap(),
            r["SchoolHoliday"]
        ));
    }
    std::fs::write(path, text).unwrap();
}

/// Sends one request to the router (no socket) and returns status and JSON body.
pub async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    body: impl Into<Body>,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        panic!(
            "{status}: body is not JSON: {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, value)
}
