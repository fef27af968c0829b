//! The drift check on the real Rossmann data (open days): training days as the reference, the drifted Aug–Dec
//! 2015 traffic (`batch_aug_dec_2015.csv`) as current windows. Skips with a message when the data is absent.
//!
//! Expectations from issue 11 that hold on the data: Promo (open-day rate 44.8% in training, ~36% in Aug–Oct,
//! ~60% in Nov–Dec) is flagged for Nov–Dec and not for Aug–Oct; against the same-months reference, December's
//! SchoolHoliday (training Decembers ~25%, traffic ~49%) is flagged. The issue also expects August's
//! SchoolHoliday not to be flagged, but training Augusts have 55% school-holiday days, not 100%, so a TVD of
//! ~0.37 remains; we check instead that the same-months reference shrinks the seasonal gap.

use crate::rossmann_data::{read_open_rows, real_data_dir};
use modelops_monitor::{
    DriftConfig, DriftReport, ReferenceProfile, ReferenceWindow, SketchConfig, detect_drift,
};

fn feature<'a>(report: &'a DriftReport, name: &str) -> &'a modelops_monitor::FeatureDrift {
    report.features.iter().find(|f| f.name == name).unwrap()
}

#[test]
fn real_traffic_flags_the_injected_promo_and_school_holiday_drift() {
    let Some(dir) = real_data_dir() else {
        eprintln!(
            "skipping: real Rossmann data not found (set MODELOPS_ROSSMANN_DIR or put it in ../shared/data/rossmann)"
        );
        return;
    };
    let train = read_open_rows(&dir, "train.csv.gz");
    let traffic = read_open_rows(&dir, "batch_aug_dec_2015.csv");
    assert_eq!(
        traffic.dates.len(),
        6_300,
        "open rows of the 7,650-row batch"
    );
    let profile = ReferenceProfile::build(&train.columns(), &SketchConfig::default()).unwrap();
    let full = DriftConfig::default();
    let same_months = DriftConfig {
        reference_window: ReferenceWindow::SameMonths,
        ..DriftConfig::default()
    };
    let check = |months: &[u32], config: &DriftConfig| {
        let window = traffic.in_months(months);
        detect_drift(&profile, &window.columns(), config).unwrap()
    };

    let aug_oct = check(&[8, 9, 10], &full);
    let promo = feature(&aug_oct, "Promo");
    assert!(!promo.is_drifted(), "Aug–Oct Promo: {}", promo.reason);
    let nov_dec = check(&[11, 12], &full);
    let promo = feature(&nov_dec, "Promo");
    assert!(promo.is_drifted(), "Nov–Dec Promo: {}", promo.reason);

    let december = check(&[12], &same_months);
    assert_eq!(december.reference.months, vec![12]);
    let school = feature(&december, "SchoolHoliday");
    assert!(
        school.is_drifted(),
        "December SchoolHoliday, same months: {}",
        school.reason
    );

    let august_same = check(&[8], &same_months);
    let august_full = check(&[8], &full);
    let (same, whole) = (
        feature(&august_same, "SchoolHoliday")
            .total_variation
            .unwrap(),
        feature(&august_full, "SchoolHoliday")
            .total_variation
            .unwrap(),
    );
    assert!(
        same < whole - 0.3,
        "same-months TVD {same:.3} should be far below the full-year TVD {whole:.3}"
    );
    // Month compared with training Augusts only is identical by construction.
    assert!(!feature(&august_same, "Month").is_drifted());
}
