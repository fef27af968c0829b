//! Forecast accuracy metrics, as the reference defines them (§5), with its defects fixed: MAPE is zero-masked on
//! every path, and an empty input (or one whose actuals are all zero, for the masked metrics) is an error instead
//! of `NaN`.

use crate::EvalError;
use serde::{Deserialize, Serialize};

fn check_lengths(actual: &[f64], predicted: &[f64]) -> Result<(), EvalError> {
    if actual.len() != predicted.len() {
        return Err(EvalError::InvalidInput(format!(
            "{} actual values but {} predictions",
            actual.len(),
            predicted.len()
        )));
    }
    if actual.is_empty() {
        return Err(EvalError::InvalidInput("no rows to score".into()));
    }
    if let Some(i) = actual.iter().chain(predicted).position(|v| !v.is_finite()) {
        let which = if i < actual.len() {
            "actual"
        } else {
            "predicted"
        };
        return Err(EvalError::InvalidInput(format!(
            "{which} value of row {} is not finite",
            i % actual.len()
        )));
    }
    Ok(())
}

/// Mean of `f(actual, predicted)` over rows with actual ≠ 0.
fn masked_mean(
    actual: &[f64],
    predicted: &[f64],
    f: impl Fn(f64, f64) -> f64,
) -> Result<f64, EvalError> {
    check_lengths(actual, predicted)?;
    let (mut sum, mut n) = (0.0, 0usize);
    for (&y, &p) in actual.iter().zip(predicted) {
        if y != 0.0 {
            sum += f(y, p);
            n += 1;
        }
    }
    if n == 0 {
        return Err(EvalError::InvalidInput(
            "every actual value is 0; percentage errors are undefined (score open days only)"
                .into(),
        ));
    }
    Ok(sum / n as f64)
}

/// Root mean squared percentage error, `sqrt(mean(((y − ŷ)/y)²))` over rows with y ≠ 0 (the headline metric).
///
/// # Errors
/// [`EvalError::InvalidInput`] for different lengths, no rows, non-finite values or all-zero actuals.
///
/// ```
/// let score = modelops_eval::metrics::rmspe(&[100.0, 0.0, 200.0], &[110.0, 5.0, 180.0]).unwrap();
/// assert!((score - 0.1).abs() < 1e-12);
/// ```
pub fn rmspe(actual: &[f64], predicted: &[f64]) -> Result<f64, EvalError> {
    masked_mean(actual, predicted, |y, p| ((y - p) / y).powi(2)).map(f64::sqrt)
}

/// Root mean squared error over all rows.
///
/// # Errors
/// [`EvalError::InvalidInput`] for different lengths, no rows or non-finite values.
pub fn rmse(actual: &[f64], predicted: &[f64]) -> Result<f64, EvalError> {
    check_lengths(actual, predicted)?;
    let sum: f64 = actual
        .iter()
        .zip(predicted)
        .map(|(y, p)| (y - p).powi(2))
        .sum();
    Ok((sum / actual.len() as f64).sqrt())
}

/// Mean absolute error over all rows.
///
/// # Errors
/// [`EvalError::InvalidInput`] for different lengths, no rows or non-finite values.
pub fn mae(actual: &[f64], predicted: &[f64]) -> Result<f64, EvalError> {
    check_lengths(actual, predicted)?;
    let sum: f64 = actual
        .iter()
        .zip(predicted)
        .map(|(y, p)| (y - p).abs())
        .sum();
    Ok(sum / actual.len() as f64)
}

/// Mean absolute percentage error in percent, `100·mean(|(y − ŷ)/y|)` over rows with y ≠ 0.
///
/// # Errors
/// As [`rmspe`].
pub fn mape(actual: &[f64], predicted: &[f64]) -> Result<f64, EvalError> {
    masked_mean(actual, predicted, |y, p| ((y - p) / y).abs()).map(|m| 100.0 * m)
}

/// All four metrics of one prediction set.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// RMSPE (fraction, not percent).
    pub rmspe: f64,
    /// RMSE in sales units.
    pub rmse: f64,
    /// MAE in sales units.
    pub mae: f64,
    /// MAPE in percent.
    pub mape: f64,
}

impl Scores {
    /// Scores `predicted` against `actual`.
    ///
    /// # Errors
    /// As [`rmspe`].
    pub fn compute(actual: &[f64], predicted: &[f64]) -> Result<Self, EvalError> {
        Ok(Self {
            rmspe: rmspe(actual, predicted)?,
            rmse: rmse(actual, predicted)?,
            mae: mae(actual, predicted)?,
            mape: mape(actual, predicted)?,
        })
    }
}

/// Mean and population standard deviation (ddof 0, as the reference's fold statistics).
///
/// # Errors
/// [`EvalError::InvalidInput`] for an empty slice.
pub fn mean_std(values: &[f64]) -> Result<(f64, f64), EvalError> {
    if values.is_empty() {
        return Err(EvalError::InvalidInput("no values to summarise".into()));
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    Ok((mean, var.sqrt()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rmspe_skips_zero_actuals() {
        let r = rmspe(&[0.0, 100.0], &[50.0, 90.0]).unwrap();
        assert!((r - 0.1).abs() < 1e-12);
    }

    #[test]
    fn empty_input_is_an_error_not_nan() {
        assert!(rmspe(&[], &[]).is_err());
        assert!(rmse(&[], &[]).is_err());
        assert!(mae(&[], &[]).is_err());
        assert!(mape(&[], &[]).is_err());
    }

    #[test]
    fn all_zero_actuals_are_an_error_for_percentage_metrics() {
        assert!(rmspe(&[0.0, 0.0], &[1.0, 2.0]).is_err());
        assert!(mape(&[0.0], &[1.0]).is_err());
        assert_eq!(rmse(&[0.0, 0.0], &[3.0, 4.0]).unwrap(), (12.5f64).sqrt());
    }

    #[test]
    fn mismatched_lengths_and_non_finite_values_are_rejected() {
        assert!(mae(&[1.0], &[1.0, 2.0]).is_err());
        assert!(rmse(&[1.0], &[f64::NAN]).is_err());
    }

    #[test]
    fn known_values() {
        let s = Scores::compute(&[100.0, 200.0], &[110.0, 150.0]).unwrap();
        assert!((s.mae - 30.0).abs() < 1e-12);
        assert!((s.rmse - (1300.0f64).sqrt()).abs() < 1e-9);
        assert!((s.mape - 17.5).abs() < 1e-9);
        assert!((s.rmspe - ((0.01 + 0.0625) / 2.0f64).sqrt()).abs() < 1e-12);
        let (m, sd) = mean_std(&[1.0, 3.0]).unwrap();
        assert_eq!((m, sd), (2.0, 1.0));
    }
}
