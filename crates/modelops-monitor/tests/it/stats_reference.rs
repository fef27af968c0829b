//! Statistics against reference values computed with SciPy 1.17.1 (the test venv's
//! `.tools/pyenv/bin/python`); each block cites the call that produced its numbers.

use modelops_monitor::stats::{
    chi_square_homogeneity, chi_square_survival, kolmogorov_survival, ks_p_value,
    population_stability_index, total_variation_distance,
};
use modelops_monitor::{ColumnSet, DriftConfig, ReferenceProfile, SketchConfig, detect_drift};

fn assert_close(actual: f64, expected: f64, rel: f64, what: &str) {
    let tolerance = rel * expected.abs().max(1e-300);
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: got {actual:e}, expected {expected:e}"
    );
}

#[test]
fn kolmogorov_survival_matches_scipy_kstwobign() {
    // scipy.stats.kstwobign.sf(λ)
    let cases = [
        (0.3, 0.9999906941986655),
        (0.5, 0.9639452436648751),
        (0.8, 0.5441424115741981),
        (1.0, 0.26999967167735456),
        (1.18, 0.1234538094297657),
        (1.36, 0.049485876755377876),
        (1.5, 0.022217962616525127),
        (2.0, 0.0006709252557796953),
        (3.0, 3.045995948942526e-08),
    ];
    for (lambda, expected) in cases {
        assert_close(
            kolmogorov_survival(lambda),
            expected,
            1e-9,
            &format!("Q_KS({lambda})"),
        );
    }
}

#[test]
fn chi_square_survival_matches_scipy_chi2_sf() {
    // scipy.stats.chi2.sf(x, dof)
    let cases = [
        (3.84, 1, 0.05004352124870519),
        (0.5, 1, 0.47950012218695337),
        (10.0, 3, 0.01856613546304325),
        (25.0, 10, 0.005345505487134069),
        (100.0, 50, 3.454931382984871e-05),
        (300.0, 200, 5.924540335483916e-06),
        (1.0, 7, 0.9948285365165155),
        (60.0, 4, 2.9008631203404573e-12),
    ];
    for (x, dof, expected) in cases {
        assert_close(
            chi_square_survival(x, dof),
            expected,
            1e-9,
            &format!("chi2.sf({x}, {dof})"),
        );
    }
}

#[test]
fn chi_square_homogeneity_matches_scipy_chi2_contingency() {
    // scipy.stats.chi2_contingency(table, correction=False) → (statistic, dof, pvalue)
    // (reference row, current row, statistic, dof, p-value)
    type Case<'a> = (&'a [f64], &'a [f64], f64, u64, f64);
    let cases: [Case<'_>; 3] = [
        (
            &[90.0, 60.0, 50.0],
            &[40.0, 45.0, 15.0],
            7.747252747252746,
            2,
            0.020782866168693695,
        ),
        (
            &[388.0, 612.0],
            &[600.0, 400.0],
            89.900945736186,
            1,
            2.503872976146968e-21,
        ),
        (
            &[10.0, 20.0, 30.0, 40.0],
            &[12.0, 18.0, 33.0, 37.0],
            0.5468215994531784,
            3,
            0.9084908633713743,
        ),
    ];
    for (reference, current, statistic, dof, p) in cases {
        let result = chi_square_homogeneity(reference, current);
        assert_close(result.statistic, statistic, 1e-12, "chi-square statistic");
        assert_eq!(result.degrees_of_freedom, dof);
        assert_close(result.p_value, p, 1e-8, "chi-square p-value");
    }
}

#[test]
fn total_variation_distance_is_half_the_l1_distance() {
    // Shares (0.5, 0.3, 0.2) vs (0.3, 0.3, 0.4): Σ|p − q| = 0.4, so TVD = 0.2 (the reference reported 0.4).
    let tvd = total_variation_distance(&[50.0, 30.0, 20.0], &[30.0, 30.0, 40.0]);
    assert!((tvd - 0.2).abs() < 1e-12, "{tvd}");
    assert_eq!(total_variation_distance(&[1.0, 0.0], &[0.0, 1.0]), 1.0);
}

#[test]
fn psi_matches_the_formula_with_its_epsilon() {
    // numpy: p, q = shares; ((q − p) * log(q / p)).sum(), shares clipped below at 1e-4.
    assert_close(
        population_stability_index(&[50.0, 30.0, 20.0], &[30.0, 30.0, 40.0]),
        0.2407945608651872,
        1e-12,
        "psi",
    );
    assert_close(
        population_stability_index(&[100.0, 0.0], &[50.0, 50.0]),
        4.60431846666895,
        1e-12,
        "psi with an empty bin",
    );
}

/// Runs a numeric feature through the whole drift check with `min_rows` 1.
fn ks_through_detect_drift(reference: &[f64], current: &[f64]) -> (f64, f64) {
    let profile = ReferenceProfile::build(
        &ColumnSet::new().numeric("x", reference).unwrap(),
        &SketchConfig::default(),
    )
    .unwrap();
    let config = DriftConfig {
        min_rows: 1,
        ..DriftConfig::default()
    };
    let report = detect_drift(
        &profile,
        &ColumnSet::new().numeric("x", current).unwrap(),
        &config,
    )
    .unwrap();
    let ks = report.features[0].ks.unwrap();
    (ks.statistic, ks.p_value)
}

#[test]
fn ks_from_an_exact_profile_matches_scipy_ks_2samp() {
    // a = [(i*0.37) % 1 for i in 1..=400], b = [((i*0.61) % 1) ** 1.3 for i in 1..=300]
    // scipy.stats.ks_2samp(a, b).statistic = 0.1; kstwobign.sf(sqrt(400*300/700) * 0.1) = 0.06486426873885227.
    // (ks_2samp's own asymptotic p, 0.0610, uses kstwo with n = round(en); we use the limiting distribution.)
    let a: Vec<f64> = (1..=400).map(|i| (f64::from(i) * 0.37) % 1.0).collect();
    let b: Vec<f64> = (1..=300)
        .map(|i| ((f64::from(i) * 0.61) % 1.0).powf(1.3))
        .collect();
    let (d, p) = ks_through_detect_drift(&a, &b);
    assert_close(d, 0.1, 1e-9, "D");
    assert_close(p, 0.06486426873885227, 1e-6, "p");
    assert_close(
        ks_p_value(0.1, 400, 300),
        0.06486426873885227,
        1e-9,
        "ks_p_value",
    );
}

#[test]
fn ks_from_a_quantile_sketch_is_within_the_documented_bound() {
    // a = [(i*0.7548776662466927) % 1 for i in 1..=50000] (50,000 distinct values: a 1000-quantile sketch),
    // b = [((i*0.5698402909980532) % 1) ** 1.1 for i in 1..=2000]; ks_2samp D = 0.03548.
    let a: Vec<f64> = (1..=50_000)
        .map(|i| (f64::from(i) * 0.754_877_666_246_692_7) % 1.0)
        .collect();
    let b: Vec<f64> = (1..=2000)
        .map(|i| ((f64::from(i) * 0.569_840_290_998_053_2) % 1.0).powf(1.1))
        .collect();
    let (d, _) = ks_through_detect_drift(&a, &b);
    let bound = 1.0 / 1000.0 + 1.0 / 50_000.0;
    assert!(
        (d - 0.03548).abs() <= bound,
        "D = {d}, scipy 0.03548, bound {bound}"
    );
}
