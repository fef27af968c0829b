//! Numeric feature quantization: choosing borders once per feature and mapping values to `u8` bins.
//!
//! Borders come from an *adaptive equal-frequency grid* over the distinct values of (a sample of at most
//! [`BORDER_SAMPLE_ROWS`] rows of) the column: walking the sorted distinct values, a border is placed after a value
//! once the rows seen reach the next target count, and the target is re-aimed at the remaining rows after every
//! border, so heavily repeated values do not waste borders. This is a quantile grid, not CatBoost's default
//! `GreedyLogSum`; it is simpler and gives comparable accuracy on tabular data. Borders lie strictly between two
//! distinct values, so a value's bin never depends on float rounding.
//!
//! A column with missing values gets an extra first border at `f32::MIN`: missing values (and `-f32::MAX`) fall in
//! bin 0, below everything else. That is CatBoost's `nan_mode = Min`, and its JSON exports it the same way.

use super::hash::SplitMix64;

/// Rows sampled (deterministically) to choose borders; CatBoost samples 200 000 too.
pub(crate) const BORDER_SAMPLE_ROWS: usize = 200_000;

/// The border CatBoost uses to separate missing values (`nan_mode = Min`).
pub(crate) const NAN_BORDER: f32 = f32::MIN;

/// Borders of one numeric column, strictly ascending; splits are `value > border`.
pub(crate) fn choose_borders(column: &[f32], max_borders: usize, seed: u64) -> (Vec<f32>, bool) {
    let has_nans = column.iter().any(|v| v.is_nan());
    let mut sample: Vec<f32> = if column.len() > BORDER_SAMPLE_ROWS {
        let mut rng = SplitMix64::from_parts(&[seed, 0x626f_7264]);
        (0..BORDER_SAMPLE_ROWS)
            .map(|_| column[rng.next_below(column.len())])
            .filter(|v| !v.is_nan())
            .collect()
    } else {
        column.iter().copied().filter(|v| !v.is_nan()).collect()
    };
    sample.sort_unstable_by(f32::total_cmp);
    let mut distinct: Vec<(f32, usize)> = Vec::new();
    for v in sample {
        match distinct.last_mut() {
            Some((last, count)) if *last == v => *count += 1,
            _ => distinct.push((v, 1)),
        }
    }
    let mut borders = Vec::new();
    if has_nans {
        borders.push(NAN_BORDER);
    }
    if distinct.len() > 1 {
        let total: usize = distinct.iter().map(|(_, c)| c).sum();
        let wanted = max_borders.min(distinct.len() - 1);
        let mut seen = 0usize;
        let mut placed = 0usize;
        let mut target = total as f64 / (wanted + 1) as f64;
        for pair in distinct.windows(2) {
            let (value, count) = pair[0];
            seen += count;
            let remaining_values = distinct.len() - 1 - placed;
            let must_place = wanted - placed >= remaining_values;
            if placed < wanted && (seen as f64 >= target || must_place) {
                let border = between(value, pair[1].0);
                if border > NAN_BORDER || !has_nans {
                    borders.push(border);
                }
                placed += 1;
                let left = wanted - placed;
                target = seen as f64 + (total - seen) as f64 / (left + 1) as f64;
            }
        }
    }
    borders.dedup();
    (borders, has_nans)
}

/// A border strictly between `low < high` such that `low > border` is false and `high > border` is true.
fn between(low: f32, high: f32) -> f32 {
    let mid = (f64::from(low) + f64::from(high)) / 2.0;
    let mid = mid as f32;
    if mid >= high || mid < low { low } else { mid }
}

/// The bin of `value`: the number of borders below it (NaN → 0).
#[inline]
pub(crate) fn bin_of(borders: &[f32], value: f32) -> u8 {
    if value.is_nan() {
        return 0;
    }
    borders.partition_point(|b| *b < value) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_distinct_values_get_a_border_between_each() {
        let col = [1.0, 2.0, 2.0, 3.0, 1.0];
        let (b, nans) = choose_borders(&col, 10, 0);
        assert!(!nans);
        assert_eq!(b.len(), 2);
        assert_eq!(bin_of(&b, 1.0), 0);
        assert_eq!(bin_of(&b, 2.0), 1);
        assert_eq!(bin_of(&b, 3.0), 2);
    }

    #[test]
    fn nans_get_their_own_lowest_bin() {
        let col = [f32::NAN, -5.0, 0.0, 5.0];
        let (b, nans) = choose_borders(&col, 10, 0);
        assert!(nans);
        assert_eq!(b[0], NAN_BORDER);
        assert_eq!(bin_of(&b, f32::NAN), 0);
        assert_eq!(bin_of(&b, -5.0), 1);
        assert!(bin_of(&b, 5.0) > bin_of(&b, 0.0));
    }

    #[test]
    fn many_values_respect_the_border_budget_and_balance_bins() {
        let col: Vec<f32> = (0..10_000).map(|i| (i as f32).sqrt()).collect();
        let (b, _) = choose_borders(&col, 15, 0);
        assert_eq!(b.len(), 15);
        assert!(b.windows(2).all(|w| w[0] < w[1]));
        let mut counts = [0usize; 16];
        for v in &col {
            counts[bin_of(&b, *v) as usize] += 1;
        }
        assert!(counts.iter().all(|c| (500..=800).contains(c)), "{counts:?}");
    }

    #[test]
    fn heavy_ties_do_not_waste_borders() {
        let mut col = vec![0.0f32; 9000];
        col.extend((1..=1000).map(|i| i as f32));
        let (b, _) = choose_borders(&col, 10, 0);
        assert_eq!(b.len(), 10);
    }
}
