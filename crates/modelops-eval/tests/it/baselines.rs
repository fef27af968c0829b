//! Baselines and the fold table on a small synthetic data set.

use crate::fixture;
use modelops_eval::{Baseline, CvConfig, FoldPlan, Silent, evaluate_baseline};
use modelops_features::SalesData;

fn data() -> SalesData {
    let (observations, stores) = fixture::observations(10, "2013-01-01", "2014-09-30");
    SalesData::new(observations, stores).unwrap()
}

#[test]
fn baselines_score_every_fold_and_the_holdout() {
    let data = data();
    let plan = FoldPlan::for_data(&data, &CvConfig::default()).unwrap();
    assert_eq!(plan.folds.len(), 5);
    let table = plan.table(&data).to_string();
    assert!(table.contains("2014-01-01..2014-02-11"), "{table}");
    assert!(table.contains("holdout"), "{table}");
    let naive = evaluate_baseline(&data, &plan, Baseline::NaiveLastWeek, &Silent).unwrap();
    let mean = evaluate_baseline(&data, &plan, Baseline::StoreWeekdayPromoMean, &Silent).unwrap();
    assert_eq!(naive.folds.len(), 5);
    for r in [&naive, &mean] {
        assert!(r.cv_rmspe_mean.is_finite() && r.cv_rmspe_mean > 0.0);
        assert!(r.holdout.rows > 0 && r.holdout.scores.rmspe.is_finite());
    }
    // The fixture alternates promo weeks (+30%): conditioning on Promo must beat last week's value, which has
    // the opposite promo state on alternate weeks.
    assert!(
        mean.cv_rmspe_mean < naive.cv_rmspe_mean,
        "{} vs {}",
        mean.cv_rmspe_mean,
        naive.cv_rmspe_mean
    );
}
