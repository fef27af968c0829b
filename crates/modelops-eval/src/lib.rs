//! Forecast evaluation: metrics (RMSPE and friends), expanding-window time-series folds, the holdout split and
//! baselines.
