//! Parzen estimators as TPE builds them (Optuna's univariate `_ParzenEstimator`): a weighted mixture of
//! truncated normals for numbers, a weighted mixture of smoothed one-hot distributions for categoricals, each with
//! a prior component.

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

/// Mixture weights: the observations' weights plus the prior's, normalised to sum to 1.
fn mixture_weights(n_observations: usize, prior_weight: f64) -> Vec<f64> {
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

fn pick_component(weights: &[f64], rng: &mut dyn RngCore) -> usize {
    let u: f64 = rng.random();
    let mut acc = 0.0;
    for (i, w) in weights.iter().enumerate() {
        acc += w;
        if u < acc {
            return i;
        }
    }
    weights.len().saturating_sub(1)
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

/// A mixture of normals truncated to `[low, high]` in internal space.
#[derive(Debug, Clone)]
pub(crate) struct NumericParzen {
    mus: Vec<f64>,
    sigmas: Vec<f64>,
    weights: Vec<f64>,
    /// Per component, the log of its mass inside the bounds (the truncation normaliser).
    log_masses: Vec<f64>,
    bounds: NumericBounds,
}

impl NumericParzen {
    /// Builds the estimator from observations in trial-number order (internal space, inside the bounds).
    ///
    /// Bandwidths follow Optuna's univariate rule: each kernel's sigma is the larger gap to its sorted neighbours
    /// (bounds as outer neighbours, except that the outermost kernels use their inner gap when there are at least
    /// two observations), clipped to `[(high-low)/min(100, 1+kernels), high-low]` ("magic clip"). The prior kernel
    /// sits at the middle with sigma `high-low`.
    pub(crate) fn new(
        observations: &[f64],
        bounds: NumericBounds,
        prior_weight: f64,
        magic_clip: bool,
    ) -> Self {
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
        let n_kernels = n + 1;
        let min_sigma = if magic_clip {
            width / (100.0f64).min(1.0 + n_kernels as f64)
        } else {
            f64::EPSILON
        };
        let max_sigma = width;
        let mut sigmas = vec![0.0; n];
        for (rank, index) in order.iter().enumerate() {
            sigmas[*index] = sorted_sigmas[rank].clamp(min_sigma, max_sigma);
        }
        let mut mus = observations.to_vec();
        mus.push(0.5 * (low + high));
        sigmas.push(width);
        let log_masses = mus
            .iter()
            .zip(&sigmas)
            .map(|(mu, sigma)| {
                let mass = normal_cdf((high - mu) / sigma) - normal_cdf((low - mu) / sigma);
                mass.max(f64::MIN_POSITIVE).ln()
            })
            .collect();
        Self {
            mus,
            sigmas,
            weights: mixture_weights(n, prior_weight),
            log_masses,
            bounds,
        }
    }

    /// One draw: pick a kernel by weight, then draw from its truncated normal by rejection (each kernel keeps at
    /// least ~1/3 of its mass inside the bounds, since its centre is inside and sigma is at most the width).
    pub(crate) fn sample(&self, rng: &mut dyn RngCore) -> f64 {
        let k = pick_component(&self.weights, rng);
        let (mu, sigma) = (self.mus[k], self.sigmas[k]);
        for _ in 0..1000 {
            let x = mu + sigma * standard_normal(rng);
            if x >= self.bounds.low && x <= self.bounds.high {
                return x;
            }
        }
        rng.random_range(self.bounds.low..=self.bounds.high)
    }

    /// Log density at `x` (continuous), or log probability of the grid cell around `x` (stepped parameters).
    pub(crate) fn log_pdf(&self, x: f64) -> f64 {
        let terms: Vec<f64> = (0..self.mus.len())
            .map(|k| {
                let (mu, sigma) = (self.mus[k], self.sigmas[k]);
                let log_kernel = match self.bounds.step {
                    Some(step) => {
                        let upper = ((x + step / 2.0).min(self.bounds.high) - mu) / sigma;
                        let lower = ((x - step / 2.0).max(self.bounds.low) - mu) / sigma;
                        cell_mass(lower, upper).max(f64::MIN_POSITIVE).ln()
                    }
                    None => {
                        let z = (x - mu) / sigma;
                        -0.5 * z * z - sigma.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
                    }
                };
                self.weights[k].ln() + log_kernel - self.log_masses[k]
            })
            .collect();
        log_sum_exp(&terms)
    }
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

/// A mixture over `n_choices` categories: each observation contributes a distribution with weight 1 on its choice
/// plus `prior_weight / (observations + 1)` on every choice (then normalised); the prior component is uniform.
#[derive(Debug, Clone)]
pub(crate) struct CategoricalParzen {
    /// Mixture probability of each choice.
    probabilities: Vec<f64>,
}

impl CategoricalParzen {
    /// Builds the estimator from observed choice indices in trial-number order.
    pub(crate) fn new(observations: &[usize], n_choices: usize, prior_weight: f64) -> Self {
        let n = observations.len();
        let weights = mixture_weights(n, prior_weight);
        let smoothing = prior_weight / (n as f64 + 1.0);
        let mut probabilities = vec![0.0; n_choices];
        for (k, weight) in weights.iter().enumerate() {
            let observed = observations.get(k).copied().filter(|c| *c < n_choices);
            let row_total =
                smoothing * n_choices as f64 + if observed.is_some() { 1.0 } else { 0.0 };
            for (c, p) in probabilities.iter_mut().enumerate() {
                let mass = smoothing + if observed == Some(c) { 1.0 } else { 0.0 };
                let row_probability = if row_total > 0.0 {
                    mass / row_total
                } else {
                    1.0 / n_choices as f64
                };
                *p += weight * row_probability;
            }
        }
        Self { probabilities }
    }

    pub(crate) fn sample(&self, rng: &mut dyn RngCore) -> usize {
        pick_component(&self.probabilities, rng)
    }

    pub(crate) fn log_pmf(&self, choice: usize) -> f64 {
        self.probabilities
            .get(choice)
            .copied()
            .unwrap_or(0.0)
            .max(f64::MIN_POSITIVE)
            .ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

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
        let parzen = NumericParzen::new(&[1.0, 2.0, 2.5, 9.0], bounds, 1.0, true);
        let n = 20_000;
        let dx = 10.0 / n as f64;
        let integral: f64 = (0..n)
            .map(|i| parzen.log_pdf((i as f64 + 0.5) * dx).exp() * dx)
            .sum();
        assert!((integral - 1.0).abs() < 1e-3, "{integral}");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for _ in 0..1000 {
            let x = parzen.sample(&mut rng);
            assert!((0.0..=10.0).contains(&x));
        }
    }

    #[test]
    fn stepped_masses_sum_to_one() {
        let bounds = NumericBounds {
            low: 0.5,
            high: 10.5,
            step: Some(1.0),
        };
        let parzen = NumericParzen::new(&[3.0, 4.0, 9.0], bounds, 1.0, true);
        let total: f64 = (1..=10).map(|v| parzen.log_pdf(v as f64).exp()).sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
    }

    #[test]
    fn bandwidths_follow_neighbour_gaps_with_magic_clip() {
        let bounds = NumericBounds {
            low: 0.0,
            high: 1.0,
            step: None,
        };
        let parzen = NumericParzen::new(&[0.5, 0.1, 0.9], bounds, 1.0, true);
        // sorted 0.1, 0.5, 0.9 with ends 0 and 1: the outer ones use their inner gap (0.4), the middle max(0.4, 0.4).
        assert!(
            parzen.sigmas[..3].iter().all(|s| (s - 0.4).abs() < 1e-12),
            "{:?}",
            parzen.sigmas
        );
        assert_eq!(parzen.sigmas[3], 1.0);
        assert_eq!(parzen.mus[3], 0.5);
        // Two nearby points: the gap 0.001 is clipped up to width / min(100, 1 + 3 kernels) = 0.25.
        let tight = NumericParzen::new(&[0.5, 0.501], bounds, 1.0, true);
        assert!(
            tight.sigmas[..2].iter().all(|s| (s - 0.25).abs() < 1e-12),
            "{:?}",
            tight.sigmas
        );
    }

    #[test]
    fn categorical_mixture_favours_observed_choices() {
        let parzen = CategoricalParzen::new(&[2, 2, 0], 3, 1.0);
        let total: f64 = (0..3).map(|c| parzen.log_pmf(c).exp()).sum();
        assert!((total - 1.0).abs() < 1e-12);
        assert!(parzen.log_pmf(2) > parzen.log_pmf(0) && parzen.log_pmf(0) > parzen.log_pmf(1));
    }
}
