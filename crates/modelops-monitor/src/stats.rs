//! The drift statistics and the special functions behind their p-values.
//!
//! Owns: the two-sample Kolmogorov–Smirnov statistic and its asymptotic p-value, Pearson's chi-square test of
//! homogeneity, total variation distance (with the ½) and the population stability index (PSI).
//!
//! We implement the special functions ourselves instead of pulling in `statrs`: three short, well-known
//! algorithms are less code to audit than a large dependency, and each is checked against SciPy in the tests.
//!
//! - **Kolmogorov distribution** (`kolmogorov_survival`): `Q(λ) = 2 Σ_{k≥1} (−1)^{k−1} e^{−2k²λ²}` for λ ≥ 1.18,
//!   and `1 − (√(2π)/λ) Σ_{k≥1} e^{−(2k−1)²π²/(8λ²)}` below, where the alternating series converges slowly
//!   (Numerical Recipes, 3rd ed., §6.14, `Ksdist`). Both series are summed until the next term is below 1e-17 of
//!   the running sum; the result matches SciPy's `kstwobign.sf` to ~1e-15 absolute.
//! - **Regularised upper incomplete gamma** (`regularized_gamma_q`): series for `x < a + 1`, Lentz's continued
//!   fraction otherwise (Numerical Recipes §6.2, `gammq`), with `ln Γ` from the Lanczos approximation (g = 7,
//!   9 coefficients, relative error ~1e-15). The chi-square survival function is `Q(dof/2, x/2)`.

/// Two-sample Kolmogorov–Smirnov result: the statistic `D = sup |F_ref − F_cur|` and its two-sided p-value.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KsResult {
    /// The largest absolute gap between the two empirical CDFs, in 0..=1.
    pub statistic: f64,
    /// Asymptotic two-sided p-value: `Q_KS(√(n·m/(n+m)) · D)`, the Kolmogorov distribution's survival function.
    pub p_value: f64,
}

/// Pearson chi-square test of homogeneity between the reference and current category counts.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChiSquareResult {
    /// `Σ (observed − expected)² / expected` over the 2 × k table (no continuity correction).
    pub statistic: f64,
    /// Degrees of freedom: categories seen on either side minus one.
    pub degrees_of_freedom: u64,
    /// Upper-tail probability of the statistic under chi-square with `degrees_of_freedom`.
    pub p_value: f64,
}

/// Smallest proportion a PSI bin may count with: an empty bin on either side counts as this, so the logarithm
/// stays finite (the value Evidently uses).
pub const PSI_EPSILON: f64 = 1e-4;

/// Asymptotic two-sided p-value of a two-sample KS statistic `d` for sample sizes `n` and `m`:
/// `Q_KS(√(n·m/(n+m)) · d)`. Returns 1 when either sample is empty.
pub fn ks_p_value(d: f64, n: u64, m: u64) -> f64 {
    if n == 0 || m == 0 {
        return 1.0;
    }
    let (n, m) = (n as f64, m as f64);
    let effective = n * m / (n + m);
    kolmogorov_survival(effective.sqrt() * d)
}

/// Survival function of the Kolmogorov distribution, `P(K > λ)` (SciPy's `kstwobign.sf`).
pub fn kolmogorov_survival(lambda: f64) -> f64 {
    if lambda.is_nan() {
        return f64::NAN;
    }
    if lambda <= 0.0 {
        return 1.0;
    }
    if lambda < 1.18 {
        // P(K ≤ λ) via the Jacobi-theta form, which converges fast for small λ.
        let w = (2.0 * std::f64::consts::PI).sqrt() / lambda;
        let c = -std::f64::consts::PI * std::f64::consts::PI / (8.0 * lambda * lambda);
        let mut sum = 0.0;
        for k in 1..=64_u32 {
            let odd = f64::from(2 * k - 1);
            let term = (c * odd * odd).exp();
            sum += term;
            if term <= 1e-17 * sum {
                break;
            }
        }
        (1.0 - w * sum).clamp(0.0, 1.0)
    } else {
        let mut sum = 0.0;
        let mut sign = 1.0;
        for k in 1..=64_u32 {
            let kf = f64::from(k);
            let term = (-2.0 * kf * kf * lambda * lambda).exp();
            sum += sign * term;
            if term <= 1e-17 * sum.abs() {
                break;
            }
            sign = -sign;
        }
        (2.0 * sum).clamp(0.0, 1.0)
    }
}

/// Upper-tail probability of a chi-square variable with `dof` degrees of freedom: `P(X > x)`.
/// Returns 1 for `x ≤ 0` or `dof = 0` (no evidence of a difference).
pub fn chi_square_survival(x: f64, dof: u64) -> f64 {
    if dof == 0 || x <= 0.0 {
        return 1.0;
    }
    regularized_gamma_q(dof as f64 / 2.0, x / 2.0)
}

/// Regularised upper incomplete gamma function `Q(a, x) = Γ(a, x) / Γ(a)` for `a > 0`, `x ≥ 0`.
pub fn regularized_gamma_q(a: f64, x: f64) -> f64 {
    if x.is_nan() || a.is_nan() || a <= 0.0 {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 1.0;
    }
    if x < a + 1.0 {
        1.0 - gamma_p_series(a, x)
    } else {
        gamma_q_continued_fraction(a, x)
    }
}

/// `P(a, x)` by its power series; converges quickly for `x < a + 1`.
fn gamma_p_series(a: f64, x: f64) -> f64 {
    let mut ap = a;
    let mut term = 1.0 / a;
    let mut sum = term;
    for _ in 0..10_000 {
        ap += 1.0;
        term *= x / ap;
        sum += term;
        if term.abs() < sum.abs() * 1e-16 {
            break;
        }
    }
    (sum.ln() - x + a * x.ln() - ln_gamma(a))
        .exp()
        .clamp(0.0, 1.0)
}

/// `Q(a, x)` by Lentz's continued fraction; converges quickly for `x ≥ a + 1`.
fn gamma_q_continued_fraction(a: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut b = x + 1.0 - a;
    let mut c = 1.0 / TINY;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..10_000_u32 {
        let i = f64::from(i);
        let an = -i * (i - a);
        b += 2.0;
        d = an * d + b;
        if d.abs() < TINY {
            d = TINY;
        }
        c = b + an / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < 1e-16 {
            break;
        }
    }
    ((-x + a * x.ln() - ln_gamma(a)).exp() * h).clamp(0.0, 1.0)
}

/// Natural logarithm of the gamma function for `x > 0` (Lanczos, g = 7, n = 9).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const COEFFICIENTS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection keeps the approximation in its accurate range.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = COEFFICIENTS[0];
    for (i, coefficient) in COEFFICIENTS.iter().enumerate().skip(1) {
        sum += coefficient / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// Pearson chi-square test of homogeneity for two rows of counts over the same categories (a 2 × k table).
/// Categories empty on both sides are ignored; with fewer than two categories left, or an empty side, the
/// statistic is 0 with p-value 1.
pub fn chi_square_homogeneity(reference: &[f64], current: &[f64]) -> ChiSquareResult {
    let pairs: Vec<(f64, f64)> = reference
        .iter()
        .zip(current)
        .map(|(&r, &c)| (r, c))
        .filter(|&(r, c)| r + c > 0.0)
        .collect();
    let n_ref: f64 = pairs.iter().map(|p| p.0).sum();
    let n_cur: f64 = pairs.iter().map(|p| p.1).sum();
    let total = n_ref + n_cur;
    if pairs.len() < 2 || n_ref <= 0.0 || n_cur <= 0.0 {
        return ChiSquareResult {
            statistic: 0.0,
            degrees_of_freedom: 0,
            p_value: 1.0,
        };
    }
    let mut statistic = 0.0;
    for &(r, c) in &pairs {
        let column = r + c;
        let expected_ref = column * n_ref / total;
        let expected_cur = column * n_cur / total;
        statistic +=
            (r - expected_ref).powi(2) / expected_ref + (c - expected_cur).powi(2) / expected_cur;
    }
    let degrees_of_freedom = pairs.len() as u64 - 1;
    ChiSquareResult {
        statistic,
        degrees_of_freedom,
        p_value: chi_square_survival(statistic, degrees_of_freedom),
    }
}

/// Total variation distance between two distributions given as counts (or proportions) over the same
/// categories: `½ Σ |p − q|` after normalising each side, in 0..=1. Returns 0 when either side is empty.
pub fn total_variation_distance(reference: &[f64], current: &[f64]) -> f64 {
    let n_ref: f64 = reference.iter().sum();
    let n_cur: f64 = current.iter().sum();
    if n_ref <= 0.0 || n_cur <= 0.0 {
        return 0.0;
    }
    0.5 * reference
        .iter()
        .zip(current)
        .map(|(r, c)| (r / n_ref - c / n_cur).abs())
        .sum::<f64>()
}

/// Population stability index over bins given as counts (or proportions) on each side:
/// `Σ (q − p) · ln(q / p)`, p the reference share and q the current share of a bin, each at least
/// [`PSI_EPSILON`]. Returns 0 when either side is empty.
pub fn population_stability_index(reference: &[f64], current: &[f64]) -> f64 {
    let n_ref: f64 = reference.iter().sum();
    let n_cur: f64 = current.iter().sum();
    if n_ref <= 0.0 || n_cur <= 0.0 {
        return 0.0;
    }
    reference
        .iter()
        .zip(current)
        .map(|(r, c)| {
            let p = (r / n_ref).max(PSI_EPSILON);
            let q = (c / n_cur).max(PSI_EPSILON);
            (q - p) * (q / p).ln()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_gamma_matches_factorials() {
        for (n, factorial) in [(1.0, 1.0_f64), (2.0, 1.0), (5.0, 24.0), (11.0, 3_628_800.0)] {
            assert!((ln_gamma(n) - factorial.ln()).abs() < 1e-12, "ln Γ({n})");
        }
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    }

    #[test]
    fn chi_square_with_two_degrees_of_freedom_is_exponential() {
        // χ²(2) has survival e^{−x/2} exactly.
        for x in [0.1, 1.0, 5.991_464_547_107_979, 20.0] {
            assert!(
                (chi_square_survival(x, 2) - (-x / 2.0).exp()).abs() < 1e-14,
                "x = {x}"
            );
        }
    }

    #[test]
    fn kolmogorov_branches_agree_at_the_switch_point() {
        let below = kolmogorov_survival(1.18 - 1e-12);
        let above = kolmogorov_survival(1.18);
        assert!((below - above).abs() < 1e-10, "{below} vs {above}");
    }

    #[test]
    fn total_variation_distance_carries_the_half() {
        // Disjoint supports: the distance is 1, not 2.
        assert_eq!(total_variation_distance(&[10.0, 0.0], &[0.0, 5.0]), 1.0);
        assert!((total_variation_distance(&[3.0, 7.0], &[5.0, 5.0]) - 0.2).abs() < 1e-15);
    }

    #[test]
    fn psi_is_zero_for_identical_shares_and_positive_otherwise() {
        assert_eq!(
            population_stability_index(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]),
            0.0
        );
        assert!(population_stability_index(&[1.0, 1.0], &[1.0, 3.0]) > 0.0);
    }
}
