//! Expanding-window time-series cross-validation and the holdout split (reference §2.3, §5), on calendar days.
//!
//! The holdout is the last [`CvConfig::holdout_days`] days of the data; CV only ever sees the days before it. Fold
//! k (1-based) validates on `[first_origin + fold_days·(k−1), … + fold_days − 1]`, where `first_origin` is the
//! first day at least `min_train_days` after the first observed day, and trains on every earlier day. A fold
//! whose window would run into the holdout stops the sequence (fewer folds). Each fold's origin is its validation
//! start: history features are recomputed there (`SalesData::forecast_set` / `training_set` at that origin).

use crate::EvalError;
use modelops_features::calendar::format_day;
use modelops_features::{Day, SalesData, is_model_row};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Fold layout settings (reference defaults: 5 folds × 42 days, ≥ 365 training days, 42-day holdout).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CvConfig {
    /// Number of validation folds.
    pub n_folds: usize,
    /// Days per validation fold.
    pub fold_days: i32,
    /// Minimum days between the first observed day and the first fold's origin.
    pub min_train_days: i32,
    /// Days at the end of the data kept out as the holdout.
    pub holdout_days: i32,
}

impl Default for CvConfig {
    fn default() -> Self {
        Self {
            n_folds: 5,
            fold_days: 42,
            min_train_days: 365,
            holdout_days: 42,
        }
    }
}

/// One forecast evaluation window: train on `[train_start, origin)`, validate on `[origin, end]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fold {
    /// 1-based fold number; 0 for the holdout.
    pub index: usize,
    /// First training day (the first observed day).
    pub train_start: Day,
    /// First validation day: the forecast origin, where history ends.
    pub origin: Day,
    /// Last validation day (inclusive).
    pub end: Day,
}

impl Fold {
    /// Whether this is the holdout window.
    pub fn is_holdout(&self) -> bool {
        self.index == 0
    }

    /// A label for tables and logs: `fold 3` or `holdout`.
    pub fn label(&self) -> String {
        if self.is_holdout() {
            "holdout".into()
        } else {
            format!("fold {}", self.index)
        }
    }
}

/// The CV folds and the holdout window of one data set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoldPlan {
    /// Validation folds, oldest first.
    pub folds: Vec<Fold>,
    /// The holdout window (the last days of the data).
    pub holdout: Fold,
}

/// Lays out expanding-window folds and the holdout over the days `first..=last`.
///
/// # Errors
/// [`EvalError::InvalidInput`] for non-positive settings, or when not even one fold fits before the holdout.
pub fn expanding_window_folds(
    first: Day,
    last: Day,
    config: &CvConfig,
) -> Result<FoldPlan, EvalError> {
    if config.n_folds == 0
        || config.fold_days <= 0
        || config.holdout_days <= 0
        || config.min_train_days < 0
    {
        return Err(EvalError::InvalidInput(format!(
            "CV settings must be positive: {config:?}; use e.g. 5 folds × 42 days, 365 training days, 42 holdout days"
        )));
    }
    let holdout_origin = last - config.holdout_days + 1;
    let holdout = Fold {
        index: 0,
        train_start: first,
        origin: holdout_origin,
        end: last,
    };
    let first_origin = first + config.min_train_days;
    let mut folds = Vec::new();
    for k in 0..config.n_folds {
        let origin = first_origin + config.fold_days * k as i32;
        let end = origin + config.fold_days - 1;
        if end >= holdout_origin {
            break;
        }
        folds.push(Fold {
            index: k + 1,
            train_start: first,
            origin,
            end,
        });
    }
    if folds.is_empty() {
        return Err(EvalError::InvalidInput(format!(
            "no {}-day fold fits between {} (+{} training days) and the holdout starting {}; the data is too short",
            config.fold_days,
            format_day(first),
            config.min_train_days,
            format_day(holdout_origin)
        )));
    }
    Ok(FoldPlan { folds, holdout })
}

impl FoldPlan {
    /// The plan for a data set's observed days.
    ///
    /// # Errors
    /// As [`expanding_window_folds`].
    pub fn for_data(data: &SalesData, config: &CvConfig) -> Result<Self, EvalError> {
        let (first, last) = data.day_range();
        expanding_window_folds(first, last, config)
    }

    /// Folds then the holdout.
    pub fn windows(&self) -> impl Iterator<Item = &Fold> {
        self.folds.iter().chain(std::iter::once(&self.holdout))
    }

    /// The fold table with row counts (open days with Sales > 0) from `data`.
    pub fn table(&self, data: &SalesData) -> FoldTable {
        let rows = self
            .windows()
            .map(|fold| {
                let count = |from: Day, to_exclusive: Day| {
                    data.between(from, to_exclusive)
                        .iter()
                        .filter(|o| is_model_row(o))
                        .count()
                };
                FoldRow {
                    fold: *fold,
                    train_rows: count(fold.train_start, fold.origin),
                    validation_rows: count(fold.origin, fold.end + 1),
                }
            })
            .collect();
        FoldTable { rows }
    }
}

/// One line of the fold table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoldRow {
    /// The window.
    pub fold: Fold,
    /// Model rows (open, Sales > 0) before the origin.
    pub train_rows: usize,
    /// Model rows in the validation window.
    pub validation_rows: usize,
}

/// The printable fold table: dates and sizes per fold and for the holdout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoldTable {
    /// One row per fold, holdout last.
    pub rows: Vec<FoldRow>,
}

impl fmt::Display for FoldTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<8} {:<23} {:<23} {:>10} {:>10}",
            "window", "train", "validation (origin..)", "train rows", "val rows"
        )?;
        for r in &self.rows {
            writeln!(
                f,
                "{:<8} {:<23} {:<23} {:>10} {:>10}",
                r.fold.label(),
                format!(
                    "{}..{}",
                    format_day(r.fold.train_start),
                    format_day(r.fold.origin - 1)
                ),
                format!("{}..{}", format_day(r.fold.origin), format_day(r.fold.end)),
                r.train_rows,
                r.validation_rows
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use modelops_features::calendar::parse_day;

    #[test]
    fn reference_layout_on_the_kaggle_dates() {
        let first = parse_day("2013-01-01").unwrap();
        let last = parse_day("2015-06-19").unwrap();
        let plan = expanding_window_folds(first, last, &CvConfig::default()).unwrap();
        assert_eq!(plan.folds.len(), 5);
        assert_eq!(format_day(plan.folds[0].origin), "2014-01-01");
        assert_eq!(format_day(plan.folds[0].end), "2014-02-11");
        assert_eq!(format_day(plan.folds[4].origin), "2014-06-18");
        assert_eq!(format_day(plan.folds[4].end), "2014-07-29");
        // The last 42 days of a file ending 2015-06-19 start on 05-09 (the README says 05-08, which is 43 days).
        assert_eq!(format_day(plan.holdout.origin), "2015-05-09");
        assert_eq!(format_day(plan.holdout.end), "2015-06-19");
    }

    #[test]
    fn folds_never_reach_into_the_holdout() {
        let plan = expanding_window_folds(
            0,
            500,
            &CvConfig {
                n_folds: 10,
                ..CvConfig::default()
            },
        )
        .unwrap();
        assert!(plan.folds.iter().all(|f| f.end < plan.holdout.origin));
        assert_eq!(plan.folds.len(), 2); // 365..406, 407..448; the third would end at 490 ≥ 459
    }

    #[test]
    fn too_short_data_is_an_error() {
        assert!(expanding_window_folds(0, 100, &CvConfig::default()).is_err());
        assert!(
            expanding_window_folds(
                0,
                1000,
                &CvConfig {
                    n_folds: 0,
                    ..CvConfig::default()
                }
            )
            .is_err()
        );
    }
}
