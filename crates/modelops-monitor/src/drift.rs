//! Drift check: compares a window of current data with a [`ReferenceProfile`] and produces a [`DriftReport`].
//!
//! # Which statistic decides
//! | Kind | Statistics computed | Drift when (default rule) |
//! |---|---|---|
//! | numeric | two-sample KS (D, asymptotic p), PSI, means, medians | KS p-value < `p_value_threshold` (0.05) |
//! | categorical, binary | Pearson chi-square (2 × k homogeneity), TVD = ½ Σ\|p − q\|, PSI | TVD > `tvd_threshold` (0.1) **and** chi-square p < `p_value_threshold` |
//!
//! The categorical rule needs both an effect size (TVD) and significance (chi-square), so neither a tiny but
//! significant shift on a large window nor a big swing on a handful of rows raises an alarm. Other rules can be
//! chosen in [`DriftConfig`] ([`NumericRule`], [`CategoricalRule`]); PSI is reported for every feature and
//! decides only when a rule says so (threshold `psi_threshold`, 0.2).
//!
//! Missing values (NaN, `None`) are left out of every test and reported as counts.
//! A feature with fewer than `min_rows` values on either side is *not tested* and left out of the drift share.
//! **Dataset drift** holds when `drifted / tested > drift_share_threshold` (0.5). The prediction is compared like a
//! numeric feature and reported on its own: it does not count toward the share.
//!
//! # PSI binning
//! Numeric: `psi_bins` (10) bins whose inner edges are the reference quantiles at `1/b, …, (b−1)/b`, duplicates
//! removed (point masses merge bins); bins are `(−∞, e₁], (e₁, e₂], …, (e_last, ∞)`. Categorical and binary: one
//! bin per category seen on either side. Shares below [`crate::stats::PSI_EPSILON`] count as 1e-4.
//!
//! # Reference windows
//! [`ReferenceWindow::Full`] mixes all training months (the training distribution itself).
//! [`ReferenceWindow::SameMonths`] mixes only the training months that occur in the current window's dates,
//! weighted by their training row counts, so seasonal features (school holidays, Christmas) are compared with the
//! same season.

use crate::error::MonitorError;
use crate::profile::summarise_current;
use crate::profile::{
    ColumnSet, ColumnValues, Distribution, FeatureKind, FeatureProfile, ReferenceProfile,
};
use crate::sketch::{CategoricalSummary, NumericReference, NumericSummary};
use crate::stats::{self, ChiSquareResult, KsResult};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Version of the report's JSON layout.
pub const REPORT_FORMAT_VERSION: u32 = 1;

/// Most bars a categorical chart shows; further categories are folded into one "other" bar.
const MAX_CHART_CATEGORIES: usize = 20;
/// Bins of a numeric histogram chart.
const HISTOGRAM_BINS: usize = 30;
/// A numeric feature whose values (both sides) take at most this many distinct values is charted as bars.
const MAX_DISCRETE_CHART_VALUES: usize = 24;

/// Which training rows the current window is compared with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReferenceWindow {
    /// All training rows.
    #[default]
    Full,
    /// Only training rows whose calendar month occurs in the current window.
    SameMonths,
}

impl ReferenceWindow {
    /// The CLI spelling (`full`, `same-months`).
    pub fn label(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::SameMonths => "same-months",
        }
    }
}

/// What flags a numeric feature as drifted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumericRule {
    /// KS p-value below the p-value threshold.
    #[default]
    KsPValue,
    /// PSI above the PSI threshold.
    Psi,
    /// Both of the above.
    KsPValueAndPsi,
}

/// What flags a categorical or binary feature as drifted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CategoricalRule {
    /// TVD above its threshold and chi-square p-value below the p-value threshold.
    #[default]
    TvdAndChiSquare,
    /// TVD above its threshold.
    Tvd,
    /// Chi-square p-value below the p-value threshold.
    ChiSquare,
    /// PSI above its threshold.
    Psi,
}

/// Thresholds and rules of the drift check.
///
/// | Name | Default | Meaning | Range |
/// |---|---|---|---|
/// | `p_value_threshold` | 0.05 | a test's p-value below this is significant | (0, 1) |
/// | `tvd_threshold` | 0.1 | total variation distance above this is a real change | [0, 1) |
/// | `psi_threshold` | 0.2 | PSI above this is a real change | ≥ 0 |
/// | `drift_share_threshold` | 0.5 | dataset drift when the drifted share of tested features exceeds this | [0, 1) |
/// | `min_rows` | 30 | fewer values than this on either side: feature not tested | ≥ 1 |
/// | `psi_bins` | 10 | numeric PSI bins (reference quantiles) | 2..=100 |
/// | `reference_window` | full | see [`ReferenceWindow`] | |
/// | `numeric_rule`, `categorical_rule` | KS p; TVD and chi-square | see [`NumericRule`], [`CategoricalRule`] | |
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DriftConfig {
    /// Significance level for KS and chi-square.
    pub p_value_threshold: f64,
    /// TVD threshold for categorical and binary features.
    pub tvd_threshold: f64,
    /// PSI threshold.
    pub psi_threshold: f64,
    /// Dataset drift when the drifted share exceeds this.
    pub drift_share_threshold: f64,
    /// Minimum values on each side for a feature to be tested.
    pub min_rows: u64,
    /// Number of numeric PSI bins.
    pub psi_bins: usize,
    /// Which training rows to compare with.
    pub reference_window: ReferenceWindow,
    /// Decision rule for numeric features.
    pub numeric_rule: NumericRule,
    /// Decision rule for categorical and binary features.
    pub categorical_rule: CategoricalRule,
}

impl Default for DriftConfig {
    fn default() -> Self {
        Self {
            p_value_threshold: 0.05,
            tvd_threshold: 0.1,
            psi_threshold: 0.2,
            drift_share_threshold: 0.5,
            min_rows: 30,
            psi_bins: 10,
            reference_window: ReferenceWindow::Full,
            numeric_rule: NumericRule::KsPValue,
            categorical_rule: CategoricalRule::TvdAndChiSquare,
        }
    }
}

impl DriftConfig {
    /// Checks every setting's range.
    ///
    /// # Errors
    /// [`MonitorError::InvalidConfig`] naming the first bad setting.
    pub fn validate(&self) -> Result<(), MonitorError> {
        let bad = |name, value: String, expected| {
            Err(MonitorError::InvalidConfig {
                name,
                value,
                expected,
            })
        };
        let p = self.p_value_threshold;
        if !(p > 0.0 && p < 1.0) {
            return bad(
                "p_value_threshold",
                p.to_string(),
                "between 0 and 1, exclusive (e.g. 0.05)",
            );
        }
        if !(0.0..1.0).contains(&self.tvd_threshold) {
            return bad(
                "tvd_threshold",
                self.tvd_threshold.to_string(),
                "in [0, 1) (e.g. 0.1)",
            );
        }
        if !(self.psi_threshold >= 0.0 && self.psi_threshold.is_finite()) {
            return bad(
                "psi_threshold",
                self.psi_threshold.to_string(),
                "a finite number ≥ 0 (e.g. 0.2)",
            );
        }
        if !(0.0..1.0).contains(&self.drift_share_threshold) {
            return bad(
                "drift_share_threshold",
                self.drift_share_threshold.to_string(),
                "in [0, 1) (e.g. 0.5)",
            );
        }
        if self.min_rows == 0 {
            return bad("min_rows", "0".into(), "at least 1 (e.g. 30)");
        }
        if !(2..=100).contains(&self.psi_bins) {
            return bad("psi_bins", self.psi_bins.to_string(), "2..=100 (e.g. 10)");
        }
        Ok(())
    }
}

/// Outcome for one feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftStatus {
    /// The decision rule fired.
    Drifted,
    /// Tested, no drift.
    Stable,
    /// Too few values to test (see `reason`).
    NotTested,
}

/// Numbers drawn in a feature's chart: shares of rows per bin or category, reference vs current.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Chart {
    /// Equal-width bins between `edges` (len = bins + 1); values beyond the ends fall in the end bins.
    Histogram {
        /// Bin edges, ascending.
        edges: Vec<f64>,
        /// Reference share per bin.
        reference: Vec<f64>,
        /// Current share per bin.
        current: Vec<f64>,
    },
    /// One pair of bars per category (or per distinct value of a discrete numeric feature).
    Bars {
        /// Bar labels (user data: escape before display).
        categories: Vec<String>,
        /// Reference share per category.
        reference: Vec<f64>,
        /// Current share per category.
        current: Vec<f64>,
    },
}

/// Statistics and verdict for one feature (or the prediction).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureDrift {
    /// Feature name.
    pub name: String,
    /// How it was compared.
    pub kind: FeatureKind,
    /// The verdict.
    pub status: DriftStatus,
    /// Why, in words (e.g. "KS p-value 3.2e-9 < 0.05").
    pub reason: String,
    /// Reference values used (missing excluded).
    pub reference_count: u64,
    /// Current values (missing excluded).
    pub current_count: u64,
    /// Current rows without a value.
    pub current_missing: u64,
    /// KS result (numeric only).
    pub ks: Option<KsResult>,
    /// Chi-square result (categorical and binary only).
    pub chi_square: Option<ChiSquareResult>,
    /// Total variation distance with the ½ (categorical and binary only).
    pub total_variation: Option<f64>,
    /// Population stability index.
    pub psi: Option<f64>,
    /// Reference mean (numeric only).
    pub reference_mean: Option<f64>,
    /// Current mean (numeric only).
    pub current_mean: Option<f64>,
    /// Reference median (numeric only).
    pub reference_median: Option<f64>,
    /// Current median (numeric only).
    pub current_median: Option<f64>,
    /// Chart data; `None` when a side is empty.
    pub chart: Option<Chart>,
}

impl FeatureDrift {
    /// True when the feature drifted.
    pub fn is_drifted(&self) -> bool {
        self.status == DriftStatus::Drifted
    }
}

/// The current window's extent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurrentWindow {
    /// First date among the current rows (when dates were given).
    pub start: Option<NaiveDate>,
    /// Last date among the current rows.
    pub end: Option<NaiveDate>,
    /// Current rows.
    pub rows: u64,
    /// Calendar months present (ascending; empty without dates).
    pub months: Vec<u32>,
}

/// The reference actually used.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReferenceSelection {
    /// Full or same-months.
    pub window: ReferenceWindow,
    /// Training months mixed in (ascending; empty for an unpartitioned profile).
    pub months: Vec<u32>,
    /// Current months with no training rows (same-months only); they are compared with nothing.
    pub months_without_reference: Vec<u32>,
    /// Training rows in the selection.
    pub rows: u64,
}

/// Result of a drift check: the JSON summary, and everything the HTML report draws.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    /// [`REPORT_FORMAT_VERSION`].
    pub format_version: u32,
    /// When the check ran (UTC).
    pub generated_at: DateTime<Utc>,
    /// Registered model name, if the caller sets it.
    pub model_name: Option<String>,
    /// Model version, if the caller sets it.
    pub model_version: Option<String>,
    /// The current window.
    pub current: CurrentWindow,
    /// The reference used.
    pub reference: ReferenceSelection,
    /// Thresholds and rules applied.
    pub config: DriftConfig,
    /// True when the drifted share exceeds `config.drift_share_threshold`.
    pub dataset_drift: bool,
    /// Drifted features / tested features (0 when none tested).
    pub drift_share: f64,
    /// Features flagged.
    pub drifted_features: usize,
    /// Features tested (not counting "not tested").
    pub tested_features: usize,
    /// Per-feature results, in profile order.
    pub features: Vec<FeatureDrift>,
    /// Prediction drift, when both sides have predictions.
    pub prediction: Option<FeatureDrift>,
}

impl DriftReport {
    /// Names of the drifted features, in profile order.
    pub fn drifted_feature_names(&self) -> Vec<&str> {
        self.features
            .iter()
            .filter(|f| f.is_drifted())
            .map(|f| f.name.as_str())
            .collect()
    }

    /// True when the dataset or the prediction drifted: what a cron job should alert on.
    pub fn any_drift(&self) -> bool {
        self.dataset_drift
            || self
                .prediction
                .as_ref()
                .is_some_and(FeatureDrift::is_drifted)
    }
}

/// Compares `current` with `profile` under `config`.
///
/// Every feature of the profile must be present in `current` with the same kind; extra current columns are
/// ignored. Same-months needs dates in `current` and a month-partitioned profile.
///
/// # Errors
/// [`MonitorError::InvalidConfig`], [`MonitorError::CorruptProfile`], [`MonitorError::FeatureMismatch`],
/// [`MonitorError::ReferenceWindow`].
///
/// ```
/// use modelops_monitor::{detect_drift, ColumnSet, DriftConfig, ReferenceProfile, SketchConfig};
/// let train: Vec<f64> = (0..1000).map(|i| f64::from(i % 2)).collect();
/// let live: Vec<f64> = (0..200).map(|i| if i % 10 < 8 { 1.0 } else { 0.0 }).collect();
/// let profile = ReferenceProfile::build(&ColumnSet::new().binary("Promo", &train)?, &SketchConfig::default())?;
/// let report = detect_drift(&profile, &ColumnSet::new().binary("Promo", &live)?, &DriftConfig::default())?;
/// assert_eq!(report.drifted_feature_names(), ["Promo"]);
/// # Ok::<(), modelops_monitor::MonitorError>(())
/// ```
pub fn detect_drift(
    profile: &ReferenceProfile,
    current: &ColumnSet<'_>,
    config: &DriftConfig,
) -> Result<DriftReport, MonitorError> {
    config.validate()?;
    profile.check()?;
    let current_window = current_window(current);
    let reference = select_reference(profile, &current_window, config.reference_window)?;
    let in_selection = |month: Option<u32>| match (config.reference_window, month) {
        (ReferenceWindow::Full, _) | (_, None) => true,
        (ReferenceWindow::SameMonths, Some(m)) => reference.months.contains(&m),
    };

    let mut features = Vec::with_capacity(profile.features.len());
    for feature in &profile.features {
        let column = current.column(&feature.name).ok_or_else(|| MonitorError::FeatureMismatch {
            feature: feature.name.clone(),
            problem: "monitored by the reference profile but absent from the current data; add the column".into(),
        })?;
        if column.values.kind() != feature.kind {
            return Err(MonitorError::FeatureMismatch {
                feature: feature.name.clone(),
                problem: format!(
                    "the profile holds it as {} but the current data gives it as {}; pass it with the same kind",
                    feature.kind.label(),
                    column.values.kind().label()
                ),
            });
        }
        features.push(compare_feature(
            feature,
            &column.values,
            &in_selection,
            profile,
            config,
        ));
    }
    for column in current.columns() {
        if profile.feature(column.name).is_none() {
            tracing::warn!(
                feature = column.name,
                "current column is not in the reference profile; ignored"
            );
        }
    }
    let prediction = match (&profile.prediction, current.predictions()) {
        (Some(reference), Some(values)) => Some(compare_feature(
            reference,
            &ColumnValues::Numeric(values),
            &in_selection,
            profile,
            config,
        )),
        _ => None,
    };

    let tested = features
        .iter()
        .filter(|f| f.status != DriftStatus::NotTested)
        .count();
    let drifted = features.iter().filter(|f| f.is_drifted()).count();
    let drift_share = if tested == 0 {
        0.0
    } else {
        drifted as f64 / tested as f64
    };
    let dataset_drift = tested > 0 && drift_share > config.drift_share_threshold;
    tracing::info!(
        tested,
        drifted,
        drift_share,
        dataset_drift,
        "drift check done"
    );
    Ok(DriftReport {
        format_version: REPORT_FORMAT_VERSION,
        generated_at: Utc::now(),
        model_name: None,
        model_version: None,
        current: current_window,
        reference,
        config: config.clone(),
        dataset_drift,
        drift_share,
        drifted_features: drifted,
        tested_features: tested,
        features,
        prediction,
    })
}

fn current_window(current: &ColumnSet<'_>) -> CurrentWindow {
    let rows = current.rows().unwrap_or(0) as u64;
    match current.dates() {
        None => CurrentWindow {
            start: None,
            end: None,
            rows,
            months: Vec::new(),
        },
        Some(dates) => {
            let mut months: Vec<u32> = dates.iter().map(|d| d.month()).collect();
            months.sort_unstable();
            months.dedup();
            CurrentWindow {
                start: dates.iter().min().copied(),
                end: dates.iter().max().copied(),
                rows,
                months,
            }
        }
    }
}

fn select_reference(
    profile: &ReferenceProfile,
    current: &CurrentWindow,
    window: ReferenceWindow,
) -> Result<ReferenceSelection, MonitorError> {
    let training_months: Vec<u32> = (1..=12)
        .filter(|m| profile.rows_by_month[(m - 1) as usize] > 0)
        .collect();
    match window {
        ReferenceWindow::Full => Ok(ReferenceSelection {
            window,
            months: training_months,
            months_without_reference: Vec::new(),
            rows: profile.rows,
        }),
        ReferenceWindow::SameMonths => {
            let fail = |reason: String| MonitorError::ReferenceWindow {
                window: "same-months",
                reason,
            };
            if !profile.partitioned_by_month {
                return Err(fail(
                    "the reference profile was built without dates; rebuild it with dates or use the full reference"
                        .into(),
                ));
            }
            if current.months.is_empty() {
                return Err(fail(
                    "the current data has no dates; pass the rows' dates".into(),
                ));
            }
            let (months, missing): (Vec<u32>, Vec<u32>) = current
                .months
                .iter()
                .partition(|m| training_months.contains(m));
            if months.is_empty() {
                return Err(fail(format!(
                    "training has no rows in the current months {missing:?}; use the full reference"
                )));
            }
            if !missing.is_empty() {
                tracing::warn!(
                    ?missing,
                    "current months without training rows: compared with the other months"
                );
            }
            let rows = months
                .iter()
                .map(|m| profile.rows_by_month[(m - 1) as usize])
                .sum();
            Ok(ReferenceSelection {
                window,
                months,
                months_without_reference: missing,
                rows,
            })
        }
    }
}

fn compare_feature(
    feature: &FeatureProfile,
    current: &ColumnValues<'_>,
    in_selection: &dyn Fn(Option<u32>) -> bool,
    profile: &ReferenceProfile,
    config: &DriftConfig,
) -> FeatureDrift {
    let selected = feature.partitions.iter().filter(|p| in_selection(p.month));
    match current {
        ColumnValues::Numeric(values) => {
            let parts: Vec<&NumericSummary> = selected
                .filter_map(|p| match &p.distribution {
                    Distribution::Numeric(s) => Some(s),
                    Distribution::Categorical(_) => None,
                })
                .collect();
            let missing = values.iter().filter(|v| v.is_nan()).count() as u64;
            compare_numeric(
                &feature.name,
                &NumericReference::new(parts),
                values,
                missing,
                config,
            )
        }
        ColumnValues::Binary(_) | ColumnValues::Categorical(_) => {
            let mut reference = CategoricalSummary::default();
            for p in selected {
                if let Distribution::Categorical(s) = &p.distribution {
                    reference.merge(s);
                }
            }
            let current = match summarise_current(current, &profile.sketch) {
                Distribution::Categorical(summary) => summary,
                Distribution::Numeric(_) => CategoricalSummary::default(),
            };
            compare_categorical(&feature.name, feature.kind, &reference, &current, config)
        }
    }
}

fn not_tested(
    name: &str,
    kind: FeatureKind,
    reason: String,
    reference: u64,
    current: u64,
    missing: u64,
) -> FeatureDrift {
    FeatureDrift {
        name: name.to_owned(),
        kind,
        status: DriftStatus::NotTested,
        reason,
        reference_count: reference,
        current_count: current,
        current_missing: missing,
        ks: None,
        chi_square: None,
        total_variation: None,
        psi: None,
        reference_mean: None,
        current_mean: None,
        reference_median: None,
        current_median: None,
        chart: None,
    }
}

fn too_few(reference: u64, current: u64, min_rows: u64) -> Option<String> {
    if reference < min_rows || current < min_rows {
        Some(format!(
            "too few values to test (reference {reference}, current {current}; need ≥ {min_rows} each)"
        ))
    } else {
        None
    }
}

fn compare_numeric(
    name: &str,
    reference: &NumericReference<'_>,
    current_values: &[f64],
    current_missing: u64,
    config: &DriftConfig,
) -> FeatureDrift {
    let mut current: Vec<f64> = current_values
        .iter()
        .copied()
        .filter(|v| !v.is_nan())
        .collect();
    current.sort_by(f64::total_cmp);
    let (n_ref, n_cur) = (reference.count(), current.len() as u64);
    if let Some(reason) = too_few(n_ref, n_cur, config.min_rows) {
        return not_tested(
            name,
            FeatureKind::Numeric,
            reason,
            n_ref,
            n_cur,
            current_missing,
        );
    }
    let ecdf = |x: f64, inclusive: bool| {
        let k = if inclusive {
            current.partition_point(|&v| v <= x)
        } else {
            current.partition_point(|&v| v < x)
        };
        k as f64 / current.len() as f64
    };

    // KS: the sup of |F_ref − F_cur| is reached at a knot of the reference or a value of the current sample,
    // from the right or from the left (between those points one side is constant and the other monotone).
    let mut candidates = reference.knots();
    candidates.extend(current.iter().copied());
    candidates.sort_by(f64::total_cmp);
    candidates.dedup();
    let statistic = candidates
        .iter()
        .map(|&x| {
            let right = (reference.cdf(x) - ecdf(x, true)).abs();
            let left = (reference.cdf_left(x) - ecdf(x, false)).abs();
            right.max(left)
        })
        .fold(0.0, f64::max);
    let ks = KsResult {
        statistic,
        p_value: stats::ks_p_value(statistic, n_ref, n_cur),
    };

    // PSI over reference-quantile bins (−∞, e₁], (e₁, e₂], …, (e_last, ∞).
    let mut edges: Vec<f64> = (1..config.psi_bins)
        .filter_map(|i| reference.quantile(i as f64 / config.psi_bins as f64))
        .collect();
    edges.dedup();
    let shares = |cdf: &dyn Fn(f64) -> f64| {
        let mut previous = 0.0;
        let mut out: Vec<f64> = edges
            .iter()
            .map(|&e| {
                let at = cdf(e);
                let share = at - previous;
                previous = at;
                share
            })
            .collect();
        out.push(1.0 - previous);
        out
    };
    let psi = stats::population_stability_index(
        &shares(&|x| reference.cdf(x)),
        &shares(&|x| ecdf(x, true)),
    );

    let (is_drift, reason) = decide_numeric(&ks, psi, config);
    let median = |v: &[f64]| {
        let mid = v.len() / 2;
        if v.len() % 2 == 1 {
            v[mid]
        } else {
            (v[mid - 1] + v[mid]) / 2.0
        }
    };
    FeatureDrift {
        name: name.to_owned(),
        kind: FeatureKind::Numeric,
        status: if is_drift {
            DriftStatus::Drifted
        } else {
            DriftStatus::Stable
        },
        reason,
        reference_count: n_ref,
        current_count: n_cur,
        current_missing,
        ks: Some(ks),
        chi_square: None,
        total_variation: None,
        psi: Some(psi),
        reference_mean: Some(reference.mean()),
        current_mean: Some(current.iter().sum::<f64>() / current.len() as f64),
        reference_median: reference.quantile(0.5),
        current_median: Some(median(&current)),
        chart: Some(numeric_chart(reference, &current, &ecdf)),
    }
}

fn decide_numeric(ks: &KsResult, psi: f64, config: &DriftConfig) -> (bool, String) {
    let alpha = config.p_value_threshold;
    let ks_fires = ks.p_value < alpha;
    let psi_fires = psi > config.psi_threshold;
    let ks_text = format!(
        "KS p-value {} {} {alpha}",
        fmt_p(ks.p_value),
        if ks_fires { "<" } else { "≥" }
    );
    let psi_text = format!(
        "PSI {psi:.3} {} {}",
        if psi_fires { ">" } else { "≤" },
        config.psi_threshold
    );
    match config.numeric_rule {
        NumericRule::KsPValue => (ks_fires, ks_text),
        NumericRule::Psi => (psi_fires, psi_text),
        NumericRule::KsPValueAndPsi => (ks_fires && psi_fires, format!("{ks_text}; {psi_text}")),
    }
}

fn compare_categorical(
    name: &str,
    kind: FeatureKind,
    reference: &CategoricalSummary,
    current: &CategoricalSummary,
    config: &DriftConfig,
) -> FeatureDrift {
    let (n_ref, n_cur) = (reference.count(), current.count());
    if let Some(reason) = too_few(n_ref, n_cur, config.min_rows) {
        return not_tested(name, kind, reason, n_ref, n_cur, current.missing);
    }
    let mut categories: Vec<&String> = reference
        .counts
        .keys()
        .chain(current.counts.keys())
        .collect();
    categories.sort();
    categories.dedup();
    let count = |s: &CategoricalSummary, c: &String| s.counts.get(c).copied().unwrap_or(0) as f64;
    let ref_counts: Vec<f64> = categories.iter().map(|c| count(reference, c)).collect();
    let cur_counts: Vec<f64> = categories.iter().map(|c| count(current, c)).collect();
    let chi_square = stats::chi_square_homogeneity(&ref_counts, &cur_counts);
    let tvd = stats::total_variation_distance(&ref_counts, &cur_counts);
    let psi = stats::population_stability_index(&ref_counts, &cur_counts);
    let (is_drift, reason) = decide_categorical(&chi_square, tvd, psi, config);
    FeatureDrift {
        name: name.to_owned(),
        kind,
        status: if is_drift {
            DriftStatus::Drifted
        } else {
            DriftStatus::Stable
        },
        reason,
        reference_count: n_ref,
        current_count: n_cur,
        current_missing: current.missing,
        ks: None,
        chi_square: Some(chi_square),
        total_variation: Some(tvd),
        psi: Some(psi),
        reference_mean: None,
        current_mean: None,
        reference_median: None,
        current_median: None,
        chart: Some(category_chart(&categories, &ref_counts, &cur_counts)),
    }
}

fn decide_categorical(
    chi: &ChiSquareResult,
    tvd: f64,
    psi: f64,
    config: &DriftConfig,
) -> (bool, String) {
    let alpha = config.p_value_threshold;
    let chi_fires = chi.p_value < alpha;
    let tvd_fires = tvd > config.tvd_threshold;
    let psi_fires = psi > config.psi_threshold;
    let chi_text = format!(
        "chi-square p-value {} {} {alpha}",
        fmt_p(chi.p_value),
        if chi_fires { "<" } else { "≥" }
    );
    let tvd_text = format!(
        "TVD {tvd:.3} {} {}",
        if tvd_fires { ">" } else { "≤" },
        config.tvd_threshold
    );
    let psi_text = format!(
        "PSI {psi:.3} {} {}",
        if psi_fires { ">" } else { "≤" },
        config.psi_threshold
    );
    match config.categorical_rule {
        CategoricalRule::TvdAndChiSquare => {
            (tvd_fires && chi_fires, format!("{tvd_text}; {chi_text}"))
        }
        CategoricalRule::Tvd => (tvd_fires, tvd_text),
        CategoricalRule::ChiSquare => (chi_fires, chi_text),
        CategoricalRule::Psi => (psi_fires, psi_text),
    }
}

/// A p-value for humans: fixed notation down to 0.001, scientific below.
pub(crate) fn fmt_p(p: f64) -> String {
    if p >= 0.001 {
        format!("{p:.3}")
    } else if p > 0.0 {
        format!("{p:.1e}")
    } else {
        "< 1e-300".into()
    }
}

fn category_chart(categories: &[&String], reference: &[f64], current: &[f64]) -> Chart {
    let (n_ref, n_cur) = (reference.iter().sum::<f64>(), current.iter().sum::<f64>());
    let mut rows: Vec<(String, f64, f64)> = categories
        .iter()
        .zip(reference.iter().zip(current))
        .map(|(c, (r, k))| ((*c).clone(), r / n_ref, k / n_cur))
        .collect();
    // Labels like "0"/"1" or months read best in natural order; long lists are easier by reference share.
    if rows.len() > MAX_CHART_CATEGORIES {
        rows.sort_by(|a, b| (b.1 + b.2).total_cmp(&(a.1 + a.2)));
        let rest = rows.split_off(MAX_CHART_CATEGORIES - 1);
        let label = format!("other ({})", rest.len());
        rows.push((
            label,
            rest.iter().map(|r| r.1).sum(),
            rest.iter().map(|r| r.2).sum(),
        ));
    }
    Chart::Bars {
        categories: rows.iter().map(|r| r.0.clone()).collect(),
        reference: rows.iter().map(|r| r.1).collect(),
        current: rows.iter().map(|r| r.2).collect(),
    }
}

fn numeric_chart(
    reference: &NumericReference<'_>,
    current: &[f64],
    ecdf: &dyn Fn(f64, bool) -> f64,
) -> Chart {
    // Discrete features (day of week, month, flags declared numeric) read best as one bar per value.
    if reference.is_exact() {
        let mut values = reference.knots();
        values.extend(current.iter().copied());
        values.sort_by(f64::total_cmp);
        values.dedup();
        if values.len() <= MAX_DISCRETE_CHART_VALUES {
            return Chart::Bars {
                categories: values.iter().map(|v| fmt_value(*v)).collect(),
                reference: values
                    .iter()
                    .map(|&v| reference.cdf(v) - reference.cdf_left(v))
                    .collect(),
                current: values
                    .iter()
                    .map(|&v| ecdf(v, true) - ecdf(v, false))
                    .collect(),
            };
        }
    }
    // Range: the central 99.8% of both sides, so one outlier does not squash the picture; tails fold into the
    // end bins.
    let cur_q = |p: f64| current[((current.len() - 1) as f64 * p).round() as usize];
    let lo = reference
        .quantile(0.001)
        .unwrap_or(cur_q(0.0))
        .min(cur_q(0.001));
    let hi = reference
        .quantile(0.999)
        .unwrap_or(cur_q(1.0))
        .max(cur_q(0.999));
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, lo + 0.5)
    };
    let width = (hi - lo) / HISTOGRAM_BINS as f64;
    let edges: Vec<f64> = (0..=HISTOGRAM_BINS)
        .map(|i| lo + width * i as f64)
        .collect();
    let bin_shares = |left: &dyn Fn(f64) -> f64| {
        (0..HISTOGRAM_BINS)
            .map(|i| {
                let start = if i == 0 { 0.0 } else { left(edges[i]) };
                let end = if i + 1 == HISTOGRAM_BINS {
                    1.0
                } else {
                    left(edges[i + 1])
                };
                (end - start).max(0.0)
            })
            .collect::<Vec<f64>>()
    };
    Chart::Histogram {
        reference: bin_shares(&|x| reference.cdf_left(x)),
        current: bin_shares(&|x| ecdf(x, false)),
        edges,
    }
}

/// A number for labels: integers without decimals, others with up to 4 significant decimals.
pub(crate) fn fmt_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 1000.0 {
        format!("{v:.1}")
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sketch::SketchConfig;

    #[test]
    fn default_config_is_valid_and_bad_values_are_named() {
        assert!(DriftConfig::default().validate().is_ok());
        let bad = DriftConfig {
            p_value_threshold: 1.5,
            ..DriftConfig::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("p_value_threshold")
        );
    }

    #[test]
    fn exact_reference_gives_the_exact_ks_statistic() {
        // Reference {1,2,3,4}, current {3,4,5,6}: the ECDFs differ by 0.5 at x = 2.
        let config = DriftConfig {
            min_rows: 1,
            ..DriftConfig::default()
        };
        let summary = NumericSummary::from_values(&[1.0, 2.0, 3.0, 4.0], &SketchConfig::default());
        let reference = NumericReference::new([&summary]);
        let drift = compare_numeric("x", &reference, &[3.0, 4.0, 5.0, 6.0], 0, &config);
        assert_eq!(drift.ks.map(|k| k.statistic), Some(0.5));
    }

    #[test]
    fn p_values_print_readably() {
        assert_eq!(fmt_p(0.5), "0.500");
        assert_eq!(fmt_p(3.2e-9), "3.2e-9");
    }
}
