//! Scoring forecasters over the CV folds and the holdout: two history-only baselines and any [`Fit`] model on the
//! origin-safe features.
//!
//! - **Naive last week** (the reference's baseline made origin-safe): a row's forecast is its store's Sales on the
//!   same weekday of the last week before the origin — not 7 rows earlier, which inside a 42-day window is a day
//!   the forecaster cannot know (defect D2).
//! - **Store × DayOfWeek × Promo mean**: mean Sales of the store on that weekday with that Promo flag, over all
//!   days before the origin.
//!
//! When a store has no such day (closed on that weekday last week, new store), the forecast falls back to the
//! store×weekday×promo mean, then the store's geometric mean, then the mean Sales of all training rows; the chain
//! is part of the baseline's definition, so every row gets a finite forecast. Models are fitted on
//! `ln(Sales)` of open days with Sales > 0 and scored on the same kind of rows; closed days would be predicted 0
//! (`modelops_features::zero_when_closed`) and are left out of the scores, as RMSPE ignores Sales = 0.

use crate::EvalError;
use crate::cv::{Fold, FoldPlan};
use crate::metrics::{Scores, mean_std};
use modelops_features::{
    FeatureBuilder, History, InputRow, LabelledRows, RollingOrigins, RowFilter, SalesData,
    StoreHistory,
};
use modelops_models::{Fit, Regressor, TrainProgress, TrainSet};
use serde::{Deserialize, Serialize};

/// The history-only baselines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    /// Same weekday of the last week before the origin.
    NaiveLastWeek,
    /// Store × DayOfWeek × Promo mean before the origin.
    StoreWeekdayPromoMean,
}

impl Baseline {
    /// Both baselines.
    pub const ALL: [Baseline; 2] = [Baseline::NaiveLastWeek, Baseline::StoreWeekdayPromoMean];

    /// Short name used in reports (`naive_last_week`, `store_dow_promo_mean`).
    pub fn name(self) -> &'static str {
        match self {
            Self::NaiveLastWeek => "naive_last_week",
            Self::StoreWeekdayPromoMean => "store_dow_promo_mean",
        }
    }

    /// Forecasts every row from the history at its origin; `fallback` is the last resort (mean training Sales).
    pub fn predict(self, history: &History, rows: &[InputRow], fallback: f64) -> Vec<f64> {
        rows.iter()
            .map(|row| {
                let wd = usize::from(row.day_of_week.clamp(1, 7)) - 1;
                let cell = 2 * wd + usize::from(row.promo);
                let finite = |v: f32| (v.is_finite() && v > 0.0).then_some(f64::from(v));
                let store_mean = |h: &StoreHistory| finite(h.mean_log_sales.exp());
                history
                    .get(row.store)
                    .and_then(|h| {
                        let primary = match self {
                            Self::NaiveLastWeek => finite(h.last_week_sales[wd]),
                            Self::StoreWeekdayPromoMean => None,
                        };
                        primary
                            .or_else(|| finite(h.mean_sales_by_weekday_promo[cell]))
                            .or_else(|| store_mean(h))
                    })
                    .unwrap_or(fallback)
            })
            .collect()
    }
}

/// The score of one forecaster on one window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowScore {
    /// The window.
    pub fold: Fold,
    /// Rows scored.
    pub rows: usize,
    /// Its metrics.
    pub scores: Scores,
}

/// A forecaster's scores on every CV fold and the holdout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelReport {
    /// The forecaster (`naive_last_week`, `store_dow_promo_mean`, `lightgbm_default`, …).
    pub name: String,
    /// Per-fold scores, oldest first.
    pub folds: Vec<WindowScore>,
    /// Mean RMSPE over the folds.
    pub cv_rmspe_mean: f64,
    /// Population standard deviation (ddof 0) of the fold RMSPEs.
    pub cv_rmspe_std: f64,
    /// The holdout score.
    pub holdout: WindowScore,
    /// For a trained model: its holdout model's most important features, as shares of the total gain (largest
    /// first). Empty for the history baselines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub top_features: Vec<(String, f64)>,
}

impl ModelReport {
    fn from_windows(name: &str, mut windows: Vec<WindowScore>) -> Result<Self, EvalError> {
        let holdout = windows
            .pop()
            .filter(|w| w.fold.is_holdout())
            .ok_or_else(|| {
                EvalError::InvalidInput("the evaluation produced no holdout score".into())
            })?;
        let rmspes: Vec<f64> = windows.iter().map(|w| w.scores.rmspe).collect();
        let (cv_rmspe_mean, cv_rmspe_std) = mean_std(&rmspes)?;
        Ok(Self {
            name: name.to_string(),
            folds: windows,
            cv_rmspe_mean,
            cv_rmspe_std,
            holdout,
            top_features: Vec::new(),
        })
    }

    /// Keeps the `n` largest of `importance` (any non-negative scale, e.g. gain) as shares of their total.
    pub fn set_top_features(&mut self, mut importance: Vec<(String, f64)>, n: usize) {
        let total: f64 = importance.iter().map(|(_, g)| g.max(0.0)).sum();
        importance.sort_by(|a, b| b.1.total_cmp(&a.1));
        importance.truncate(n);
        if total > 0.0 {
            for (_, g) in &mut importance {
                *g = g.max(0.0) / total;
            }
        }
        self.top_features = importance;
    }
}

/// Told about each window as it is scored; the binary turns this into progress output.
pub trait EvalProgress: Sync {
    /// `score` of the forecaster `name` on `fold` is known.
    fn window_scored(&self, name: &str, fold: &Fold, score: &WindowScore);
}

/// Progress that goes nowhere.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl EvalProgress for Silent {
    fn window_scored(&self, _: &str, _: &Fold, _: &WindowScore) {}
}

fn score_window(fold: &Fold, actual: &[f32], predicted: &[f64]) -> Result<WindowScore, EvalError> {
    let actual: Vec<f64> = actual.iter().map(|&v| f64::from(v)).collect();
    let scores = Scores::compute(&actual, predicted)
        .map_err(|e| EvalError::InvalidInput(format!("{}: {e}", fold.label())))?;
    Ok(WindowScore {
        fold: *fold,
        rows: actual.len(),
        scores,
    })
}

/// Scores a baseline on every fold and the holdout; history is taken at each window's origin.
///
/// # Errors
/// [`EvalError::InvalidInput`] when a window has no rows to score.
pub fn evaluate_baseline(
    data: &SalesData,
    plan: &FoldPlan,
    baseline: Baseline,
    progress: &dyn EvalProgress,
) -> Result<ModelReport, EvalError> {
    let mut windows = Vec::new();
    for fold in plan.windows() {
        let history = data.history_at(fold.origin);
        let training: Vec<f64> = data
            .between(fold.train_start, fold.origin)
            .iter()
            .filter(|o| modelops_features::is_model_row(o))
            .map(|o| f64::from(o.sales))
            .collect();
        let fallback = if training.is_empty() {
            0.0
        } else {
            training.iter().sum::<f64>() / training.len() as f64
        };
        let rows: Vec<_> = data
            .between(fold.origin, fold.end + 1)
            .iter()
            .filter(|o| modelops_features::is_model_row(o))
            .copied()
            .collect();
        let inputs: Vec<InputRow> = rows.iter().map(|o| o.input).collect();
        let predicted = baseline.predict(&history, &inputs, fallback);
        let actual: Vec<f32> = rows.iter().map(|o| o.sales).collect();
        let score = score_window(fold, &actual, &predicted)?;
        progress.window_scored(baseline.name(), fold, &score);
        windows.push(score);
    }
    ModelReport::from_windows(baseline.name(), windows)
}

/// How a model is trained and scored on the features.
#[derive(Clone, Debug)]
pub struct ModelEvaluation<'a> {
    /// Report name, e.g. `lightgbm_default`.
    pub name: &'a str,
    /// The feature builder (fixed category levels).
    pub builder: &'a FeatureBuilder,
    /// Rolling-origin layout of each window's training rows.
    pub rolling: RollingOrigins,
    /// Fit on `ln(Sales)` and predict `exp(ŷ)` (true), or on Sales directly.
    pub log_target: bool,
}

/// Trains `fit` once per window on the rolling-origin rows before the window's origin and scores its forecasts
/// of the window. Returns the report and the model fitted for the holdout (for feature importances).
///
/// # Errors
/// Feature, model or metric errors, naming the window.
pub fn evaluate_model<F: Fit>(
    data: &SalesData,
    plan: &FoldPlan,
    fit: &F,
    how: &ModelEvaluation<'_>,
    train_progress: &dyn TrainProgress,
    progress: &dyn EvalProgress,
) -> Result<(ModelReport, F::Model), EvalError> {
    let mut windows = Vec::new();
    let mut last_model = None;
    for fold in plan.windows() {
        let train =
            data.training_set(how.builder, fold.origin, &how.rolling, RowFilter::ModelRows)?;
        let valid =
            data.forecast_set(how.builder, fold.origin, fold.end + 1, RowFilter::ModelRows)?;
        let (model, predicted) =
            fit_and_predict(fit, &train, &valid, how.log_target, train_progress)
                .map_err(|e| EvalError::InvalidInput(format!("{}: {e}", fold.label())))?;
        let score = score_window(fold, &valid.sales, &predicted)?;
        tracing::info!(window = %fold.label(), rmspe = score.scores.rmspe, rows = score.rows, "window scored");
        progress.window_scored(how.name, fold, &score);
        windows.push(score);
        last_model = Some(model);
    }
    let report = ModelReport::from_windows(how.name, windows)?;
    let model =
        last_model.ok_or_else(|| EvalError::InvalidInput("no window was evaluated".into()))?;
    Ok((report, model))
}

/// Fits on `train` and forecasts `valid` (Sales scale).
///
/// # Errors
/// Model errors.
pub fn fit_and_predict<F: Fit>(
    fit: &F,
    train: &LabelledRows,
    valid: &LabelledRows,
    log_target: bool,
    progress: &dyn TrainProgress,
) -> Result<(F::Model, Vec<f64>), modelops_models::ModelError> {
    let target: Vec<f32> = if log_target {
        train.sales.iter().map(|s| s.ln()).collect()
    } else {
        train.sales.clone()
    };
    let set = TrainSet {
        features: &train.features,
        target: &target,
        weights: None,
    };
    let model = fit.fit(&set, None, progress)?;
    let raw = model.predict(&valid.features)?;
    let predicted = if log_target {
        raw.iter().map(|p| p.exp()).collect()
    } else {
        raw
    };
    Ok((model, predicted))
}
