//! Drift decisions on seeded synthetic data: shifts are flagged, same-distribution samples are not, and the
//! same-months reference compares a season with the same season.

use chrono::{Datelike, Duration, NaiveDate};
use modelops_monitor::{
    ColumnSet, DriftConfig, DriftStatus, MonitorError, ReferenceProfile, ReferenceWindow,
    SketchConfig, detect_drift,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Columns of a synthetic population; shares and means are parameters so tests can shift them.
struct Population {
    dates: Vec<NaiveDate>,
    distance: Vec<f64>,
    promo: Vec<f64>,
    store_type: Vec<Option<String>>,
    prediction: Vec<f64>,
}

struct Shape {
    distance_mean: f64,
    promo_rate: f64,
    /// Shares of store types a, b, c, d.
    store_types: [f64; 4],
    prediction_mean: f64,
}

const BASE: Shape = Shape {
    distance_mean: 5000.0,
    promo_rate: 0.4,
    store_types: [0.5, 0.1, 0.2, 0.2],
    prediction_mean: 6000.0,
};

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    // Box–Muller: two uniforms → one standard normal.
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn population(rows: usize, first_day: NaiveDate, shape: &Shape, seed: u64) -> Population {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut p = Population {
        dates: vec![],
        distance: vec![],
        promo: vec![],
        store_type: vec![],
        prediction: vec![],
    };
    for i in 0..rows {
        p.dates.push(first_day + Duration::days((i % 365) as i64));
        p.distance
            .push((shape.distance_mean + 1500.0 * normal(&mut rng)).max(20.0));
        p.promo.push(if rng.random::<f64>() < shape.promo_rate {
            1.0
        } else {
            0.0
        });
        let u: f64 = rng.random();
        let mut acc = 0.0;
        let mut label = "d";
        for (share, name) in shape.store_types.iter().zip(["a", "b", "c", "d"]) {
            acc += share;
            if u < acc {
                label = name;
                break;
            }
        }
        p.store_type.push(Some(label.to_owned()));
        p.prediction
            .push(shape.prediction_mean + 1200.0 * normal(&mut rng));
    }
    p
}

fn columns(p: &Population) -> ColumnSet<'_> {
    ColumnSet::new()
        .with_dates(&p.dates)
        .and_then(|s| s.numeric("CompetitionDistance", &p.distance))
        .and_then(|s| s.binary("Promo", &p.promo))
        .and_then(|s| s.categorical("StoreType", &p.store_type))
        .and_then(|s| s.prediction(&p.prediction))
        .unwrap()
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn training_profile() -> ReferenceProfile {
    let training = population(20_000, day(2014, 1, 1), &BASE, 7);
    ReferenceProfile::build(&columns(&training), &SketchConfig::default()).unwrap()
}

#[test]
fn a_sample_from_the_training_distribution_is_not_flagged() {
    let profile = training_profile();
    let live = population(3_000, day(2015, 1, 1), &BASE, 11);
    let report = detect_drift(&profile, &columns(&live), &DriftConfig::default()).unwrap();
    for feature in report.features.iter().chain(report.prediction.as_ref()) {
        assert_eq!(
            feature.status,
            DriftStatus::Stable,
            "{}: {}",
            feature.name,
            feature.reason
        );
    }
    assert!(!report.dataset_drift);
    assert!(!report.any_drift());
    assert_eq!(report.tested_features, 3);
    assert_eq!(report.drift_share, 0.0);
}

#[test]
fn shifted_features_and_predictions_are_flagged_and_the_dataset_drifts() {
    let profile = training_profile();
    let shifted = Shape {
        distance_mean: 5600.0,             // +0.4 σ
        promo_rate: 0.6,                   // TVD 0.2
        store_types: [0.3, 0.1, 0.3, 0.3], // TVD 0.2
        prediction_mean: 6600.0,           // +0.5 σ
    };
    let live = population(2_000, day(2015, 1, 1), &shifted, 13);
    let report = detect_drift(&profile, &columns(&live), &DriftConfig::default()).unwrap();
    assert_eq!(
        report.drifted_feature_names(),
        ["CompetitionDistance", "Promo", "StoreType"]
    );
    assert!(report.dataset_drift);
    assert_eq!(report.drift_share, 1.0);
    let prediction = report.prediction.as_ref().unwrap();
    assert!(prediction.is_drifted(), "{}", prediction.reason);
    let promo = report.features.iter().find(|f| f.name == "Promo").unwrap();
    let tvd = promo.total_variation.unwrap();
    assert!(
        (tvd - 0.2).abs() < 0.04,
        "TVD with the ½ should be ≈ 0.2, got {tvd}"
    );
}

#[test]
fn drift_share_threshold_is_configurable() {
    let profile = training_profile();
    // Only Promo shifts: one of three features drifts.
    let live = population(
        2_000,
        day(2015, 1, 1),
        &Shape {
            promo_rate: 0.65,
            ..BASE
        },
        17,
    );
    let default = detect_drift(&profile, &columns(&live), &DriftConfig::default()).unwrap();
    assert_eq!(default.drifted_feature_names(), ["Promo"]);
    assert!(!default.dataset_drift, "1/3 is not over 0.5");
    let strict = DriftConfig {
        drift_share_threshold: 0.3,
        ..DriftConfig::default()
    };
    assert!(
        detect_drift(&profile, &columns(&live), &strict)
            .unwrap()
            .dataset_drift
    );
}

/// Training years where school holidays cover 55% of August and 25% of December, 5% of other months.
fn seasonal_school_holidays(
    years: &[i32],
    august: f64,
    december: f64,
    seed: u64,
) -> (Vec<NaiveDate>, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut dates = Vec::new();
    let mut flags = Vec::new();
    for &year in years {
        let mut d = day(year, 1, 1);
        while d.year() == year {
            let rate = match d.month() {
                8 => august,
                12 => december,
                _ => 0.05,
            };
            for _store in 0..20 {
                dates.push(d);
                flags.push(if rng.random::<f64>() < rate { 1.0 } else { 0.0 });
            }
            d += Duration::days(1);
        }
    }
    (dates, flags)
}

fn month_window(year: i32, month: u32, rate: f64, seed: u64) -> (Vec<NaiveDate>, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut dates, mut flags) = (Vec::new(), Vec::new());
    let mut d = day(year, month, 1);
    while d.month() == month {
        for _store in 0..50 {
            dates.push(d);
            flags.push(if rng.random::<f64>() < rate { 1.0 } else { 0.0 });
        }
        d += Duration::days(1);
    }
    (dates, flags)
}

#[test]
fn same_months_reference_compares_a_season_with_the_same_season() {
    let (dates, flags) = seasonal_school_holidays(&[2013, 2014], 0.55, 0.25, 3);
    let training = ColumnSet::new()
        .with_dates(&dates)
        .unwrap()
        .binary("SchoolHoliday", &flags)
        .unwrap();
    let profile = ReferenceProfile::build(&training, &SketchConfig::default()).unwrap();
    let same_months = DriftConfig {
        reference_window: ReferenceWindow::SameMonths,
        ..DriftConfig::default()
    };

    // An ordinary December: drift against the whole year (≈ 0.08 holidays), none against training Decembers.
    let (dec_dates, dec_flags) = month_window(2015, 12, 0.25, 5);
    let december = ColumnSet::new()
        .with_dates(&dec_dates)
        .unwrap()
        .binary("SchoolHoliday", &dec_flags)
        .unwrap();
    let full = detect_drift(&profile, &december, &DriftConfig::default()).unwrap();
    assert!(full.features[0].is_drifted(), "{}", full.features[0].reason);
    let seasonal = detect_drift(&profile, &december, &same_months).unwrap();
    assert!(
        !seasonal.features[0].is_drifted(),
        "{}",
        seasonal.features[0].reason
    );
    assert_eq!(seasonal.reference.months, vec![12]);
    assert_eq!(seasonal.reference.rows, 2 * 31 * 20);
    assert_eq!(seasonal.features[0].reference_count, 2 * 31 * 20);

    // A December with twice the usual holidays is flagged against training Decembers too.
    let (noisy_dates, noisy_flags) = month_window(2015, 12, 0.5, 9);
    let noisy = ColumnSet::new()
        .with_dates(&noisy_dates)
        .unwrap()
        .binary("SchoolHoliday", &noisy_flags)
        .unwrap();
    let seasonal = detect_drift(&profile, &noisy, &same_months).unwrap();
    assert!(
        seasonal.features[0].is_drifted(),
        "{}",
        seasonal.features[0].reason
    );
}

#[test]
fn same_months_needs_a_partitioned_profile() {
    let flags = vec![0.0; 100];
    let unpartitioned = ReferenceProfile::build(
        &ColumnSet::new().binary("Promo", &flags).unwrap(),
        &SketchConfig::default(),
    )
    .unwrap();
    let dates = vec![day(2015, 8, 1); 100];
    let current = ColumnSet::new()
        .with_dates(&dates)
        .unwrap()
        .binary("Promo", &flags)
        .unwrap();
    let config = DriftConfig {
        reference_window: ReferenceWindow::SameMonths,
        ..DriftConfig::default()
    };
    let err = detect_drift(&unpartitioned, &current, &config).unwrap_err();
    assert!(matches!(err, MonitorError::ReferenceWindow { .. }), "{err}");
    assert!(err.to_string().contains("without dates"), "{err}");
}

#[test]
fn a_monitored_feature_missing_from_the_current_data_is_named() {
    let profile = training_profile();
    let promo = vec![1.0; 50];
    let err = detect_drift(
        &profile,
        &ColumnSet::new().binary("Promo", &promo).unwrap(),
        &DriftConfig::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("'CompetitionDistance'"), "{err}");
}

#[test]
fn too_few_current_rows_are_not_tested_and_do_not_count() {
    let profile = training_profile();
    let live = population(10, day(2015, 1, 1), &BASE, 19);
    let report = detect_drift(&profile, &columns(&live), &DriftConfig::default()).unwrap();
    assert!(
        report
            .features
            .iter()
            .all(|f| f.status == DriftStatus::NotTested)
    );
    assert_eq!(report.tested_features, 0);
    assert!(!report.dataset_drift);
}

#[test]
fn a_profile_survives_the_model_package_round_trip() {
    let profile = training_profile();
    let json = profile.to_json().unwrap();
    assert!(json.len() < 300_000, "profile JSON is {} bytes", json.len());
    let back = ReferenceProfile::from_json(&json).unwrap();
    let live = population(2_000, day(2015, 1, 1), &BASE, 23);
    let a = detect_drift(&profile, &columns(&live), &DriftConfig::default()).unwrap();
    let b = detect_drift(&back, &columns(&live), &DriftConfig::default()).unwrap();
    assert_eq!(a.features, b.features);
}
