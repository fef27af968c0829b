//! Categorical features: CatBoost's CTRs (counter-based target statistics) and one-hot levels.
//!
//! Each categorical column with more than `one_hot_max_size` levels becomes a few numeric CTR features:
//! - `Borders` CTR, one per prior `p`: the target is binarized at its median (CatBoost: one `MinEntropy` border),
//!   and the CTR of a level is `(good + p) / (total + 1)` scaled to `[0, scale]`, where `good` counts rows of the
//!   level with target above the border and `total` counts all its rows.
//! - `Counter` CTR: `count / max_count`, the level's frequency (no target, so no leakage).
//!
//! At training time `Borders` CTRs are *ordered* target statistics: rows are visited in a random permutation and
//! each row only sees the rows before it, so its own target never leaks into its feature (CatBoost's core idea; we
//! use one permutation, CatBoost several). At prediction time the statistics of the whole training set are used,
//! exactly as CatBoost's exported tables do. Missing or unseen levels have zero counts (the CTR is the prior).
//!
//! Values are computed in `f32` in CatBoost's order of operations (`((good + prior) / (total + denom) + shift) *
//! scale`), so a model evaluated by CatBoost from our JSON takes exactly the same branches.

use super::hash::SplitMix64;

/// Which CatBoost CTR a feature is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum CtrKind {
    /// Share of rows with target above the binarization border, with prior numerator `prior`.
    Borders {
        /// Prior numerator (denominator is 1).
        prior: f32,
    },
    /// Level frequency relative to the most frequent level.
    Counter,
}

/// Full-training-set statistics of one categorical column.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LevelStats {
    /// Rows per level with target at or below the border (class 0) and above it (class 1).
    pub(crate) class_counts: Vec<[u32; 2]>,
    /// The largest level count (CatBoost's `counter_denominator`).
    pub(crate) max_count: u32,
}

/// One CTR feature: its kind, source column and the statistics used at prediction time.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CtrFeature {
    /// Index into the model's categorical columns.
    pub(crate) cat_index: usize,
    /// Which statistic.
    pub(crate) kind: CtrKind,
    /// Values are multiplied by this (CatBoost `scale`); `shift` is always 0.
    pub(crate) scale: f32,
    /// Borders on the scaled value, strictly ascending.
    pub(crate) borders: Vec<f32>,
}

/// The prior denominator of every CTR (CatBoost's default).
pub(crate) const PRIOR_DENOMINATOR: f32 = 1.0;

impl CtrFeature {
    /// The CTR value for a level with the given statistics, exactly as CatBoost computes it.
    #[inline]
    pub(crate) fn value(&self, counts: [u32; 2], max_count: u32) -> f32 {
        let (numerator, denominator, prior) = match self.kind {
            CtrKind::Borders { prior } => (counts[1] as f32, (counts[0] + counts[1]) as f32, prior),
            CtrKind::Counter => ((counts[0] + counts[1]) as f32, max_count as f32, 0.0),
        };
        let ctr = (numerator + prior) / (denominator + PRIOR_DENOMINATOR);
        (ctr + 0.0) * self.scale
    }
}

/// Uniform CTR borders over `[0, scale]`.
pub(crate) fn uniform_borders(count: u32, scale: f32) -> Vec<f32> {
    (1..=count)
        .map(|k| scale * k as f32 / (count + 1) as f32)
        .collect()
}

/// A level code from a matrix value: `None` for NaN, negative, fractional or out-of-range values.
#[inline]
pub(crate) fn level_of(value: f32, levels: u32) -> Option<u32> {
    if value.is_finite() && value >= 0.0 && value.fract() == 0.0 && value < levels as f32 {
        Some(value as u32)
    } else {
        None
    }
}

/// The target border: its median (rows above it are class 1).
pub(crate) fn target_border(target: &[f32]) -> f32 {
    let mut sorted: Vec<f32> = target.to_vec();
    let mid = sorted.len() / 2;
    sorted.select_nth_unstable_by(mid, f32::total_cmp);
    sorted[mid]
}

/// Full-data statistics of a categorical column.
pub(crate) fn level_stats(
    codes: &[Option<u32>],
    target: &[f32],
    border: f32,
    levels: u32,
) -> LevelStats {
    let mut class_counts = vec![[0u32; 2]; levels as usize];
    for (code, &y) in codes.iter().zip(target) {
        if let Some(c) = code {
            class_counts[*c as usize][usize::from(y > border)] += 1;
        }
    }
    let max_count = class_counts.iter().map(|c| c[0] + c[1]).max().unwrap_or(0);
    LevelStats {
        class_counts,
        max_count,
    }
}

/// Training-time values of a CTR: ordered statistics on one random permutation for `Borders`, full-data counts
/// for `Counter` (which does not look at the target).
pub(crate) fn training_values(
    ctr: &CtrFeature,
    codes: &[Option<u32>],
    target: &[f32],
    border: f32,
    stats: &LevelStats,
    seed: u64,
) -> Vec<f32> {
    match ctr.kind {
        CtrKind::Counter => codes
            .iter()
            .map(|c| {
                ctr.value(
                    c.map_or([0, 0], |c| stats.class_counts[c as usize]),
                    stats.max_count,
                )
            })
            .collect(),
        CtrKind::Borders { .. } => {
            let n = codes.len();
            let mut permutation: Vec<usize> = (0..n).collect();
            let mut rng = SplitMix64::from_parts(&[seed, 0x0063_7472, ctr.cat_index as u64]);
            for i in (1..n).rev() {
                permutation.swap(i, rng.next_below(i + 1));
            }
            let mut running = vec![[0u32; 2]; stats.class_counts.len()];
            let mut values = vec![0.0f32; n];
            for &row in &permutation {
                match codes[row] {
                    Some(c) => {
                        let seen = &mut running[c as usize];
                        values[row] = ctr.value(*seen, stats.max_count);
                        seen[usize::from(target[row] > border)] += 1;
                    }
                    None => values[row] = ctr.value([0, 0], stats.max_count),
                }
            }
            values
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_statistics_never_see_the_row_itself() {
        // One level, every target above the border: the first row in the permutation sees nothing.
        let codes = vec![Some(0); 5];
        let target = vec![10.0; 5];
        let ctr = CtrFeature {
            cat_index: 0,
            kind: CtrKind::Borders { prior: 0.0 },
            scale: 1.0,
            borders: vec![],
        };
        let stats = level_stats(&codes, &target, 0.0, 1);
        let mut values = training_values(&ctr, &codes, &target, 0.0, &stats, 3);
        values.sort_by(f32::total_cmp);
        assert_eq!(values, vec![0.0, 0.5, 2.0 / 3.0, 0.75, 0.8]);
        // Prediction uses all five rows.
        assert_eq!(ctr.value(stats.class_counts[0], stats.max_count), 5.0 / 6.0);
    }

    #[test]
    fn unseen_levels_get_the_prior() {
        let ctr = CtrFeature {
            cat_index: 0,
            kind: CtrKind::Borders { prior: 0.5 },
            scale: 15.0,
            borders: vec![],
        };
        assert_eq!(ctr.value([0, 0], 9), 7.5);
        assert_eq!(level_of(3.0, 3), None);
        assert_eq!(level_of(f32::NAN, 3), None);
        assert_eq!(level_of(2.0, 3), Some(2));
    }

    #[test]
    fn counter_is_relative_frequency() {
        let ctr = CtrFeature {
            cat_index: 0,
            kind: CtrKind::Counter,
            scale: 15.0,
            borders: vec![],
        };
        assert_eq!(ctr.value([3, 1], 4), 15.0 * 4.0 / 5.0);
    }
}
