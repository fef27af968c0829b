//! Parzen estimators as TPE builds them (Optuna's `_ParzenEstimator`): a weighted mixture with one kernel per
//! observed trial plus a prior kernel. Each kernel is a product over parameters of a truncated normal (numbers, in
//! internal space) or a smoothed one-hot distribution (categoricals). With one parameter this is the univariate
//! estimator; with all of them it is Optuna's multivariate TPE.

use crate::space::NumericBounds;
use rand::{Rng, RngCore};

/// Optuna's `default_weights`: 1 for each of the last 25 observations, a linear ramp from 1/n up to 1 for older
/// ones, so stale observations count less. `n` observations in trial-number order.
pub(crate) fn observation_weights(n: usize) -> Vec<f64> {
    if n < 25 {
        return vec![1.0; n];
    }
    let ramp_len = n - 25;
    let mut weights = Vec::with_capacity(n);
    for i in 0..ramp_len {
        // numpy.linspace(1/n, 1, ramp_len)
        let t = if ramp_len == 1 {
            0.0
        } else {
            i as f64 / (ramp_len - 1) as f64
        };
        weights.push(1.0 / n as f64 + t * (1.0 - 1.0 / n as f64));
    }
    weights.extend(std::iter::repeat_n(1.0, 25));
    weights
}

/// Mixture weights: the observations' weights plus the prior's, normalised to sum to 1 (just the prior, weight 1,
/// when there are no observations).
fn mixture_weights(n_observations: usize, prior_weight: f64) -> Vec<f64> {
    if n_observations == 0 {
        return vec![1.0];
    }
    let mut weights = observation_weights(n_observations);
    weights.push(prior_weight);
    let total: f64 = weights.iter().sum();
    if total > 0.0 && total.is_finite() {
        weights.iter_mut().for_each(|w| *w /= total);
    } else {
        let n = weights.len() as f64;
        weights.iter_mut().for_each(|w| *w = 1.0 / n);
    }
    weights
}

fn pick_index(probabilities: &[f64], rng: &mut dyn RngCore) -> usize {
    let u: f64 = rng.random();
    let mut acc = 0.0;
    for (i, p) in probabilities.iter().enumerate() {
        acc += p;
        if u < acc {
            return i;
        }
    }
    probabilities.len().saturating_sub(1)
}

fn normal_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

fn log_sum_exp(values: &[f64]) -> f64 {
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return f64::NEG_INFINITY;
    }
    max + values.iter().map(|v| (v - max).exp()).sum::<f64>().ln()
}

/// `Φ(upper) − Φ(lower)`, computed on the side of the mean where it does not cancel catastrophically.
fn cell_mass(lower: f64, upper: f64) -> f64 {
    if lower > 0.0 {
        normal_cdf(-lower) - normal_cdf(-upper)
    } else {
        normal_cdf(upper) - normal_cdf(lower)
    }
}

/// A standard normal draw (Box–Muller; `rand` 0.9 has no normal distribution without `rand_distr`).
fn standard_normal(rng: &mut dyn RngCore) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// One parameter's kernels: one per observation, then the prior. No mixture weights here.
#[derive(Debug, Clone)]
pub(crate) enum DimensionKernels {
    /// Truncated normals in internal space.
    Numeric {
        mus: Vec<f64>,
        sigmas: Vec<f64>,
        /// Per kernel, the log of its mass inside the bounds (the truncation normaliser).
        log_masses: Vec<f64>,
        bounds: NumericBounds,
    },
    /// Per kernel, a probability for each choice.
    Categorical { rows: Vec<Vec<f64>> },
}

impl DimensionKernels {
    /// Kernels for observations in trial-number order (internal space, inside the bounds).
    ///
    /// Bandwidths follow Optuna: each kernel's sigma is the larger gap to its sorted neighbours (bounds as outer
    /// neighbours, except that the outermost kernels use their inner gap when there are at least two
    /// observations), clipped to `[(high-low)/min(100, 1+kernels), high-low]` ("magic clip"). The prior kernel
    /// sits at the middle with sigma `high-low`.
    pub(crate) fn numeric(observations: &[f64], bounds: NumericBounds, magic_clip: bool) -> Self {
        let (low, high) = (bounds.low, bounds.high);
        let width = high - low;
        let n = observations.len();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|a, b| observations[*a].total_cmp(&observations[*b]));
        let mut with_ends = Vec::with_capacity(n + 2);
        with_ends.push(low);
        with_ends.extend(order.iter().map(|i| observations[*i]));
        with_ends.push(high);
        let mut sorted_sigmas: Vec<f64> = (1..=n)
            .map(|i| (with_ends[i] - with_ends[i - 1]).max(with_ends[i + 1] - with_ends[i]))
            .collect();
        if with_ends.len() >= 4 {
            sorted_sigmas[0] = with_ends[2] - with_ends[1];
            sorted_sigmas[n - 1] = with_ends[n] - with_ends[n - 1];
        }
        let min_sigma = if magic_clip {
            width / (100.0f64).min(1.0 + (n + 1) as f64)
        } else {
            1e-12
        };
        let mut sigmas = vec![0.0; n];
        for (rank, index) in order.iter().enumerate() {
            sigmas[*index] = sorted_sigmas[rank].clamp(min_sigma, width);
        }
        let mut mus = observations.to_vec();
        mus.push(0.5 * (low + high));
        sigmas.push(width);
        let log_masses = mus
            .iter()
            .zip(&sigmas)
            .map(|(mu, sigma)| {
                cell_mass((low - mu) / sigma, (high - mu) / sigma)
                    .max(f64::MIN_POSITIVE)
                    .ln()
            })
            .collect();
        DimensionKernels::Numeric {
            mus,
            sigmas,
            log_masses,
            bounds,
        }
    }

    /// Kernels for observed choice indices in trial-number order: each observation's row puts 1 on its choice plus
    /// `prior_weight / kernels` on every choice (then normalised); the prior's row is uniform.
    pub(crate) fn categorical(observations: &[usize], n_choices: usize, prior_weight: f64) -> Self {
        let n_choices = n_choices.max(1);
        let uniform = vec![1.0 / n_choices as f64; n_choices];
        let n_kernels = observations.len() + 1;
        let smoothing = prior_weight / n_kernels as f64;
        let mut rows: Vec<Vec<f64>> = observations
            .iter()
            .map(|observed| {
                let mut row = vec![smoothing; n_choices];
                if let Some(cell) = row.get_mut(*observed) {
                    *cell += 1.0;
                }
                let total: f64 = row.iter().sum();
                if total > 0.0 {
                    row.iter().map(|v| v / total).collect()
                } else {
                    uniform.clone()
                }
            })
            .collect();
        rows.push(uniform);
        DimensionKernels::Categorical { rows }
    }

    /// A draw from kernel `k` (internal value; a choice index for categoricals). Truncated normals are drawn by
    /// rejection: each kernel's centre is inside the bounds and sigma at most the width, so at least ~1/3 of its
    /// mass is inside.
    fn sample_kernel(&self, k: usize, rng: &mut dyn RngCore) -> f64 {
        match self {
            DimensionKernels::Numeric {
                mus,
                sigmas,
                bounds,
                ..
            } => {
                let (mu, sigma) = (mus[k], sigmas[k]);
                for _ in 0..1000 {
                    let x = mu + sigma * standard_normal(rng);
                    if x >= bounds.low && x <= bounds.high {
                        return x;
                    }
                }
                rng.random_range(bounds.low..=bounds.high)
            }
            DimensionKernels::Categorical { rows } => pick_index(&rows[k], rng) as f64,
        }
    }

    /// Log density of kernel `k` at `x` (continuous), or log probability of `x`'s grid cell (stepped numbers) or
    /// choice (categoricals).
    fn log_kernel(&self, k: usize, x: f64) -> f64 {
        match self {
            DimensionKernels::Numeric {
                mus,
                sigmas,
                log_masses,
                bounds,
            } => {
                let (mu, sigma) = (mus[k], sigmas[k]);
                let log_density = match bounds.step {
                    Some(step) => {
                        let upper = ((x + step / 2.0).min(bounds.high) - mu) / sigma;
                        let lower = ((x - step / 2.0).max(bounds.low) - mu) / sigma;
                        cell_mass(lower, upper).max(f64::MIN_POSITIVE).ln()
                    }
                    None => {
                        let z = (x - mu) / sigma;
                        -0.5 * z * z - sigma.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
                    }
                };
                log_density - log_masses[k]
            }
            DimensionKernels::Categorical { rows } => {
                let choice = if x.is_finite() && x >= 0.0 {
                    x as usize
                } else {
                    usize::MAX
                };
                rows[k]
                    .get(choice)
                    .copied()
                    .unwrap_or(0.0)
                    .max(f64::MIN_POSITIVE)
                    .ln()
            }
        }
    }
}

/// A weighted mixture of product kernels over one or more parameters.
#[derive(Debug, Clone)]
pub(crate) struct ParzenMixture {
    weights: Vec<f64>,
    dimensions: Vec<DimensionKernels>,
}

impl ParzenMixture {
    /// `dimensions` must each hold `n_observations + 1` kernels (observations, then the prior); with no
    /// observations the single prior kernel gets weight 1.
    pub(crate) fn new(
        n_observations: usize,
        prior_weight: f64,
        dimensions: Vec<DimensionKernels>,
    ) -> Self {
        Self {
            weights: mixture_weights(n_observations, prior_weight),
            dimensions,
        }
    }

    /// One joint draw: pick a kernel by weight, then every dimension from that kernel.
    pub(crate) fn sample(&self, rng: &mut dyn RngCore) -> Vec<f64> {
        let k = pick_index(&self.weights, rng);
        self.dimensions
            .iter()
            .map(|d| d.sample_kernel(k, rng))
            .collect()
    }

    /// Log density (or probability, for grid and categorical dimensions) of the point `x`.
    pub(crate) fn log_pdf(&self, x: &[f64]) -> f64 {
        let terms: Vec<f64> = self
            .weights
            .iter()
            .enumerate()
            .map(|(k, w)| {
                w.ln()
                    + self
                        .dimensions
                        .iter()
                        .zip(x)
                        .map(|(d, xi)| d.log_kernel(k, *xi))
                        .sum::<f64>()
            })
            .collect();
        log_sum_exp(&terms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn one_dim(observations: &[f64], bounds: NumericBounds) -> ParzenMixture {
        ParzenMixture::new(
            observations.len(),
            1.0,
            vec![DimensionKernels::numeric(observations, bounds, true)],
        )
    }

    fn sigmas(kernels: &DimensionKernels) -> Vec<f64> {
        match kernels {
            DimensionKernels::Numeric { sigmas, .. } => sigmas.clone(),
            DimensionKernels::Categorical { .. } => Vec::new(),
        }
    }

    #[test]
    fn weights_ramp_for_old_observations() {
        assert_eq!(observation_weights(3), vec![1.0; 3]);
        let w = observation_weights(30);
        assert_eq!(w.len(), 30);
        assert!((w[0] - 1.0 / 30.0).abs() < 1e-12);
        assert!((w[4] - 1.0).abs() < 1e-12);
        assert!(w[5..].iter().all(|v| *v == 1.0));
    }

    #[test]
    fn numeric_density_integrates_to_one_and_samples_stay_inside() {
        let bounds = NumericBounds {
            low: 0.0,
            high: 10.0,
            step: None,
        };
        let parzen = one_dim(&[1.0, 2.0, 2.5, 9.0], bounds);
        let n = 20_000;
        let dx = 10.0 / n as f64;
        let integral: f64 = (0..n)
            .map(|i| parzen.log_pdf(&[(i as f64 + 0.5) * dx]).exp() * dx)
            .sum();
        assert!((integral - 1.0).abs() < 1e-3, "{integral}");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for _ in 0..1000 {
            let x = parzen.sample(&mut rng)[0];
            assert!((0.0..=10.0).contains(&x));
        }
    }

    #[test]
    fn prior_alone_is_used_without_observations() {
        let bounds = NumericBounds {
            low: 0.0,
            high: 4.0,
            step: None,
        };
        let parzen = one_dim(&[], bounds);
        let n = 4000;
        let dx = 4.0 / n as f64;
        let integral: f64 = (0..n)
            .map(|i| parzen.log_pdf(&[(i as f64 + 0.5) * dx]).exp() * dx)
            .sum();
        assert!((integral - 1.0).abs() < 1e-3, "{integral}");
    }

    #[test]
    fn stepped_masses_sum_to_one() {
        let bounds = NumericBounds {
            low: 0.5,
            high: 10.5,
            step: Some(1.0),
        };
        let parzen = one_dim(&[3.0, 4.0, 9.0], bounds);
        let total: f64 = (1..=10).map(|v| parzen.log_pdf(&[v as f64]).exp()).sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
    }

    #[test]
    fn joint_masses_sum_to_one() {
        let numeric = DimensionKernels::numeric(
            &[2.0, 3.0],
            NumericBounds {
                low: 0.5,
                high: 4.5,
                step: Some(1.0),
            },
            true,
        );
        let categorical = DimensionKernels::categorical(&[1, 0], 3, 1.0);
        let parzen = ParzenMixture::new(2, 1.0, vec![numeric, categorical]);
        let total: f64 = (1..=4)
            .flat_map(|a| (0..3).map(move |c| (a, c)))
            .map(|(a, c)| parzen.log_pdf(&[a as f64, c as f64]).exp())
            .sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
    }

    #[test]
    fn bandwidths_follow_neighbour_gaps_with_magic_clip() {
        let bounds = NumericBounds {
            low: 0.0,
            high: 1.0,
            step: None,
        };
        // sorted 0.1, 0.5, 0.9 with ends 0 and 1: the outer ones use their inner gap (0.4), the middle max(0.4, 0.4);
        // the prior is last with sigma = width.
        let s = sigmas(&DimensionKernels::numeric(&[0.5, 0.1, 0.9], bounds, true));
        assert!(s[..3].iter().all(|v| (v - 0.4).abs() < 1e-12), "{s:?}");
        assert_eq!(s[3], 1.0);
        // Two nearby points: the gap 0.001 is clipped up to width / min(100, 1 + 3 kernels) = 0.25.
        let tight = sigmas(&DimensionKernels::numeric(&[0.5, 0.501], bounds, true));
        assert!(
            tight[..2].iter().all(|v| (v - 0.25).abs() < 1e-12),
            "{tight:?}"
        );
    }

    #[test]
    fn categorical_mixture_favours_observed_choices() {
        let parzen = ParzenMixture::new(
            3,
            1.0,
            vec![DimensionKernels::categorical(&[2, 2, 0], 3, 1.0)],
        );
        let p = |c: usize| parzen.log_pdf(&[c as f64]);
        let total: f64 = (0..3).map(|c| p(c).exp()).sum();
        assert!((total - 1.0).abs() < 1e-12);
        assert!(p(2) > p(0) && p(0) > p(1));
    }
}
