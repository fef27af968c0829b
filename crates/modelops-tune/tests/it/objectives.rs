//! Cheap synthetic objectives shared by the tests.

use modelops_tune::{ObjectiveError, Params, ShouldPrune, TrialInput, TrialOutcome, TrialReporter};

/// A quadratic bowl with its minimum 0 at x_i = 1.5 − 0.7·i (off-centre, so the prior alone does not find it).
pub fn shifted_quadratic(params: &Params) -> f64 {
    params
        .iter()
        .enumerate()
        .map(|(i, (_, v))| {
            let x = v.as_f64().unwrap_or(f64::NAN);
            (x - (1.5 - 0.7 * i as f64)).powi(2)
        })
        .sum()
}

/// The Rosenbrock function over x0, x1, … (minimum 0 at all ones).
pub fn rosenbrock(params: &Params) -> f64 {
    let xs: Vec<f64> = params
        .values()
        .map(|v| v.as_f64().unwrap_or(f64::NAN))
        .collect();
    xs.windows(2)
        .map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2))
        .sum()
}

/// Five "folds": reports the running mean of the quadratic plus a per-fold wobble, prunes when told.
pub fn five_fold_quadratic(
    trial: &TrialInput<'_>,
    reporter: &mut dyn TrialReporter,
) -> Result<TrialOutcome, ObjectiveError> {
    let base = shifted_quadratic(trial.params);
    let mut total = 0.0;
    for fold in 0..5u32 {
        total += base * (1.0 + 0.05 * f64::from(fold));
        let running = total / f64::from(fold + 1);
        if reporter.report(fold, running) == ShouldPrune::Prune {
            return Ok(TrialOutcome::Pruned);
        }
    }
    Ok(TrialOutcome::Complete(total / 5.0))
}
