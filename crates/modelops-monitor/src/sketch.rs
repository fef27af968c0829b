//! Compact summaries of one column's distribution, and the reference CDF assembled from several of them.
//!
//! Owns [`NumericSummary`] (count, missing, mean and a [`NumericSketch`]), [`CategoricalSummary`] (counts per
//! category) and [`NumericReference`], the weighted mixture of numeric summaries that the KS test, the PSI
//! binning and the charts read (one summary for a whole-training reference, one per selected month for a
//! same-months reference).
//!
//! # Error bound of the numeric sketch
//! A column with at most [`SketchConfig::max_exact_values`] distinct values is kept **exactly** (each distinct
//! value and its count), so its empirical CDF is exact. Otherwise the sketch keeps the `K + 1` empirical quantiles
//! at probabilities `0, 1/K, …, 1` (NumPy's default linear interpolation; `K` =
//! [`SketchConfig::quantiles`], 1000 by default) and reads the CDF by linear interpolation between them. For any
//! `x`, with `j` the last quantile index whose value is ≤ `x`, both the true empirical CDF and the sketch's lie in
//! `[j/K − 1/n, (j+1)/K + 1/n]` (quantile values are stored to 7 significant digits, a negligible change), so the
//! CDF error, and therefore the error of the KS statistic and of each PSI bin
//! share, is at most `1/K + 1/n` (≈ 0.001 at the default). A mixture of summaries has at most the largest error of
//! its parts.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How precise numeric sketches are; stored in the profile so readers know the error bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SketchConfig {
    /// Columns with at most this many distinct values are stored exactly (value → count). Default 1000.
    pub max_exact_values: usize,
    /// Number of quantile intervals `K` kept otherwise (`K + 1` values). Default 1000: CDF error ≤ 1/K + 1/n.
    pub quantiles: usize,
}

impl Default for SketchConfig {
    fn default() -> Self {
        Self {
            max_exact_values: 1000,
            quantiles: 1000,
        }
    }
}

/// The shape of a numeric column: exact distinct values, or evenly spaced quantiles.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "representation", rename_all = "snake_case")]
pub enum NumericSketch {
    /// Every distinct value (ascending) with its count: the empirical CDF exactly.
    Exact {
        /// Distinct values, strictly ascending.
        values: Vec<f64>,
        /// How many rows hold each value; same length as `values`.
        counts: Vec<u64>,
    },
    /// `values[i]` is the empirical quantile at probability `i / (values.len() − 1)`; first = min, last = max.
    Quantiles {
        /// Quantile values, non-decreasing, at least two.
        values: Vec<f64>,
    },
}

/// Distribution of a numeric column: counts, mean and a sketch of its CDF.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NumericSummary {
    /// Rows with a value (NaN excluded).
    pub count: u64,
    /// Rows without a value (NaN).
    pub missing: u64,
    /// Mean of the values (0 when `count` is 0).
    pub mean: f64,
    /// The CDF sketch; `None` when `count` is 0.
    pub sketch: Option<NumericSketch>,
}

impl NumericSummary {
    /// Summarises finite values (NaN counted as missing). The caller has rejected infinities.
    pub fn from_values(values: &[f64], config: &SketchConfig) -> Self {
        let mut present: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        let missing = (values.len() - present.len()) as u64;
        let count = present.len() as u64;
        if present.is_empty() {
            return Self {
                count,
                missing,
                mean: 0.0,
                sketch: None,
            };
        }
        present.sort_by(f64::total_cmp);
        let mean = present.iter().sum::<f64>() / present.len() as f64;
        Self {
            count,
            missing,
            mean,
            sketch: Some(sketch_sorted(&present, config)),
        }
    }

    /// The smallest and largest value, if any.
    pub fn range(&self) -> Option<(f64, f64)> {
        match self.sketch.as_ref()? {
            NumericSketch::Exact { values, .. } | NumericSketch::Quantiles { values } => {
                Some((*values.first()?, *values.last()?))
            }
        }
    }

    /// Checks the invariants a deserialised summary must hold; the text names what is wrong.
    pub(crate) fn check(&self) -> Result<(), String> {
        match &self.sketch {
            None if self.count > 0 => Err("has values but no sketch".into()),
            None => Ok(()),
            Some(NumericSketch::Exact { values, counts }) => {
                if values.len() != counts.len() || values.is_empty() {
                    return Err(
                        "exact sketch: values and counts differ in length or are empty".into(),
                    );
                }
                if !values.windows(2).all(|w| w[0] < w[1]) || values.iter().any(|v| !v.is_finite())
                {
                    return Err("exact sketch: values are not finite and strictly ascending".into());
                }
                if counts.iter().sum::<u64>() != self.count {
                    return Err("exact sketch: counts do not add up to count".into());
                }
                Ok(())
            }
            Some(NumericSketch::Quantiles { values }) => {
                if values.len() < 2
                    || !values.windows(2).all(|w| w[0] <= w[1])
                    || values.iter().any(|v| !v.is_finite())
                {
                    return Err("quantile sketch: needs ≥ 2 finite, non-decreasing values".into());
                }
                Ok(())
            }
        }
    }
}

/// Builds the sketch of sorted, finite, non-empty values.
fn sketch_sorted(sorted: &[f64], config: &SketchConfig) -> NumericSketch {
    let mut values: Vec<f64> = Vec::new();
    let mut counts: Vec<u64> = Vec::new();
    for &v in sorted {
        match values.last() {
            Some(&last) if last == v => {
                if let Some(c) = counts.last_mut() {
                    *c += 1;
                }
            }
            _ => {
                if values.len() == config.max_exact_values {
                    return quantile_sketch(sorted, config.quantiles.max(1));
                }
                values.push(v);
                counts.push(1);
            }
        }
    }
    NumericSketch::Exact { values, counts }
}

fn quantile_sketch(sorted: &[f64], k: usize) -> NumericSketch {
    let last = (sorted.len() - 1) as f64;
    let values = (0..=k)
        .map(|i| {
            let h = last * i as f64 / k as f64;
            let lo = h.floor() as usize;
            let hi = (lo + 1).min(sorted.len() - 1);
            round_significant(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
        })
        .collect();
    NumericSketch::Quantiles { values }
}

/// Rounds to 7 significant digits, which halves the JSON size of a quantile sketch. The relative change (≤ 5e-8)
/// is far below the sketch's rank error and keeps the values non-decreasing.
fn round_significant(v: f64) -> f64 {
    format!("{v:.6e}").parse().unwrap_or(v)
}

/// Counts per category of a categorical or binary column.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CategoricalSummary {
    /// Rows per category value.
    pub counts: BTreeMap<String, u64>,
    /// Rows without a value.
    pub missing: u64,
}

impl CategoricalSummary {
    /// Counts the values of a column (`None` counted as missing).
    pub fn from_values<S: AsRef<str>>(values: impl IntoIterator<Item = Option<S>>) -> Self {
        let mut summary = Self::default();
        for value in values {
            match value {
                // Look up before inserting: most rows repeat a known category, so no allocation.
                Some(v) => match summary.counts.get_mut(v.as_ref()) {
                    Some(n) => *n += 1,
                    None => {
                        summary.counts.insert(v.as_ref().to_owned(), 1);
                    }
                },
                None => summary.missing += 1,
            }
        }
        summary
    }

    /// Rows with a value.
    pub fn count(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Adds another summary's counts into this one.
    pub fn merge(&mut self, other: &Self) {
        for (category, n) in &other.counts {
            *self.counts.entry(category.clone()).or_insert(0) += n;
        }
        self.missing += other.missing;
    }
}

/// One summary prepared for fast CDF reads (cumulative shares computed once).
#[derive(Clone, Debug)]
struct PreparedPart<'a> {
    summary: &'a NumericSummary,
    /// For an exact sketch: share of values ≤ `values[i]`; empty for a quantile sketch.
    cumulative: Vec<f64>,
}

impl PreparedPart<'_> {
    fn knots(&self) -> &[f64] {
        match &self.summary.sketch {
            None => &[],
            Some(NumericSketch::Exact { values, .. } | NumericSketch::Quantiles { values }) => {
                values
            }
        }
    }

    /// `F(x)` when `inclusive`, else `F(x−)`.
    fn cdf(&self, x: f64, inclusive: bool) -> f64 {
        let position = |values: &[f64]| {
            if inclusive {
                values.partition_point(|&v| v <= x)
            } else {
                values.partition_point(|&v| v < x)
            }
        };
        match &self.summary.sketch {
            None => 0.0,
            Some(NumericSketch::Exact { values, .. }) => match position(values) {
                0 => 0.0,
                j => self.cumulative[j - 1],
            },
            Some(NumericSketch::Quantiles { values }) => {
                let k = (values.len() - 1) as f64;
                match position(values) {
                    0 => 0.0,
                    j if j == values.len() => 1.0,
                    j => {
                        let (lo, hi) = (values[j - 1], values[j]);
                        ((j - 1) as f64 + (x - lo) / (hi - lo)) / k
                    }
                }
            }
        }
    }
}

/// The reference CDF of one numeric feature: a mixture of summaries weighted by their counts.
#[derive(Clone, Debug)]
pub struct NumericReference<'a> {
    parts: Vec<PreparedPart<'a>>,
    count: u64,
}

impl<'a> NumericReference<'a> {
    /// Mixes the summaries (e.g. the selected months); their counts are the weights.
    pub fn new(parts: impl IntoIterator<Item = &'a NumericSummary>) -> Self {
        let parts: Vec<PreparedPart<'a>> = parts
            .into_iter()
            .filter(|p| p.count > 0)
            .map(|summary| {
                let cumulative = match &summary.sketch {
                    Some(NumericSketch::Exact { counts, .. }) => {
                        let mut running = 0_u64;
                        counts
                            .iter()
                            .map(|c| {
                                running += c;
                                running as f64 / summary.count as f64
                            })
                            .collect()
                    }
                    _ => Vec::new(),
                };
                PreparedPart {
                    summary,
                    cumulative,
                }
            })
            .collect();
        let count = parts.iter().map(|p| p.summary.count).sum();
        Self { parts, count }
    }

    /// Reference rows with a value.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Weighted mean of the parts.
    pub fn mean(&self) -> f64 {
        self.weighted(|p| p.summary.mean)
    }

    /// `F(x)`: reference share of values ≤ `x`.
    pub fn cdf(&self, x: f64) -> f64 {
        self.weighted(|p| p.cdf(x, true))
    }

    /// `F(x−)`: reference share of values < `x`.
    pub fn cdf_left(&self, x: f64) -> f64 {
        self.weighted(|p| p.cdf(x, false))
    }

    fn weighted(&self, f: impl Fn(&PreparedPart<'_>) -> f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        self.parts
            .iter()
            .map(|p| f(p) * p.summary.count as f64)
            .sum::<f64>()
            / self.count as f64
    }

    /// True when every part is stored exactly (the CDF is a step function with no approximation).
    pub fn is_exact(&self) -> bool {
        self.parts
            .iter()
            .all(|p| !matches!(p.summary.sketch, Some(NumericSketch::Quantiles { .. })))
    }

    /// All values where some part's CDF bends or jumps, ascending and distinct.
    pub fn knots(&self) -> Vec<f64> {
        let mut knots: Vec<f64> = self
            .parts
            .iter()
            .flat_map(|p| p.knots().iter().copied())
            .collect();
        knots.sort_by(f64::total_cmp);
        knots.dedup();
        knots
    }

    /// Smallest and largest reference value.
    pub fn range(&self) -> Option<(f64, f64)> {
        self.parts
            .iter()
            .filter_map(|p| p.summary.range())
            .fold(None, |acc, (lo, hi)| match acc {
                None => Some((lo, hi)),
                Some((a, b)) => Some((a.min(lo), b.max(hi))),
            })
    }

    /// The reference quantile at probability `p` (inverse of [`Self::cdf`]), `None` when empty.
    pub fn quantile(&self, p: f64) -> Option<f64> {
        let knots = self.knots();
        let first = *knots.first()?;
        if p <= 0.0 {
            return Some(first);
        }
        let idx = knots.partition_point(|&x| self.cdf(x) < p);
        let Some(&at) = knots.get(idx) else {
            return knots.last().copied();
        };
        if idx == 0 {
            return Some(at);
        }
        // Between the previous knot and this one the mixture is linear (or flat): invert it there.
        let prev = knots[idx - 1];
        let (f_prev, f_left) = (self.cdf(prev), self.cdf_left(at));
        if p <= f_left && f_left > f_prev {
            Some(prev + (p - f_prev) / (f_left - f_prev) * (at - prev))
        } else {
            Some(at)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_distinct_values_are_kept_exactly() {
        let values = [3.0, 1.0, 1.0, 2.0, f64::NAN];
        let summary = NumericSummary::from_values(&values, &SketchConfig::default());
        assert_eq!(summary.count, 4);
        assert_eq!(summary.missing, 1);
        assert_eq!(
            summary.sketch,
            Some(NumericSketch::Exact {
                values: vec![1.0, 2.0, 3.0],
                counts: vec![2, 1, 1]
            })
        );
        let reference = NumericReference::new([&summary]);
        assert_eq!(reference.cdf(1.0), 0.5);
        assert_eq!(reference.cdf_left(1.0), 0.0);
        assert_eq!(reference.cdf(2.5), 0.75);
    }

    #[test]
    fn quantile_sketch_cdf_is_within_its_error_bound() {
        let config = SketchConfig {
            max_exact_values: 10,
            quantiles: 100,
        };
        let values: Vec<f64> = (0..10_000)
            .map(|i| ((i * 7919) % 10_000) as f64 / 10.0)
            .collect();
        let summary = NumericSummary::from_values(&values, &config);
        assert!(matches!(
            summary.sketch,
            Some(NumericSketch::Quantiles { .. })
        ));
        let reference = NumericReference::new([&summary]);
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        for x in [-1.0, 0.0, 12.34, 250.0, 500.05, 999.9, 2000.0] {
            let exact = sorted.partition_point(|&v| v <= x) as f64 / sorted.len() as f64;
            let bound = 1.0 / 100.0 + 1.0 / 10_000.0;
            assert!(
                (reference.cdf(x) - exact).abs() <= bound,
                "x = {x}: {} vs {exact}",
                reference.cdf(x)
            );
        }
    }

    #[test]
    fn mixture_weights_parts_by_count_and_inverts() {
        let config = SketchConfig::default();
        let a = NumericSummary::from_values(&[0.0; 30], &config);
        let b = NumericSummary::from_values(&[10.0; 10], &config);
        let mix = NumericReference::new([&a, &b]);
        assert_eq!(mix.count(), 40);
        assert_eq!(mix.cdf(5.0), 0.75);
        assert_eq!(mix.quantile(0.5), Some(0.0));
        assert_eq!(mix.quantile(0.9), Some(10.0));
        assert!((mix.mean() - 2.5).abs() < 1e-12);
    }
}
