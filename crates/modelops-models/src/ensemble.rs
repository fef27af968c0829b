//! The weighted ensemble: [`EnsembleWeights`] (one non-negative weight per engine, summing to 1), [`Ensemble`]
//! (fitted models behind [`Regressor`] combined with those weights) and [`optimize_weights`], which fits the weights
//! on out-of-fold predictions by minimising RMSPE over the simplex.
//!
//! The reference blends LightGBM 0.30 + XGBoost 0.60 + CatBoost 0.10, picked by hand. Members are held as
//! `Box<dyn Regressor>`, so the ensemble does not care which engine crate built them (the CatBoost-style member is
//! our `oblivious` booster).

use crate::{Engine, FeatureMatrix, ModelError, Regressor};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How far the weights' sum may be from 1.
pub const WEIGHT_SUM_TOLERANCE: f64 = 1e-6;

/// Every engine, in the fixed order used for combining predictions (so the sum is always evaluated the same way).
pub const ENGINES: [Engine; 3] = [Engine::Lightgbm, Engine::Xgboost, Engine::Catboost];

/// One weight per engine: each in `[0, 1]`, together summing to 1 (±[`WEIGHT_SUM_TOLERANCE`]).
///
/// Written as `{"lightgbm": 0.3, "xgboost": 0.6, "catboost": 0.1}` in `weights.json` and parsed from
/// `lightgbm=0.3,xgboost=0.6,catboost=0.1` on the command line (an engine left out gets 0).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawWeights", into = "RawWeights")]
pub struct EnsembleWeights {
    lightgbm: f64,
    xgboost: f64,
    catboost: f64,
}

#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWeights {
    #[serde(default)]
    lightgbm: f64,
    #[serde(default)]
    xgboost: f64,
    #[serde(default)]
    catboost: f64,
}

impl TryFrom<RawWeights> for EnsembleWeights {
    type Error = ModelError;
    fn try_from(raw: RawWeights) -> Result<Self, ModelError> {
        Self::new(raw.lightgbm, raw.xgboost, raw.catboost)
    }
}

impl From<EnsembleWeights> for RawWeights {
    fn from(w: EnsembleWeights) -> Self {
        Self {
            lightgbm: w.lightgbm,
            xgboost: w.xgboost,
            catboost: w.catboost,
        }
    }
}

impl Default for EnsembleWeights {
    /// The reference weights: LightGBM 0.30, XGBoost 0.60, CatBoost 0.10.
    fn default() -> Self {
        Self {
            lightgbm: 0.30,
            xgboost: 0.60,
            catboost: 0.10,
        }
    }
}

impl EnsembleWeights {
    /// Checked weights.
    ///
    /// # Errors
    /// [`ModelError::InvalidConfig`] when a weight is negative or not finite, or the sum is not 1 (±1e-6).
    pub fn new(lightgbm: f64, xgboost: f64, catboost: f64) -> Result<Self, ModelError> {
        let weights = Self {
            lightgbm,
            xgboost,
            catboost,
        };
        for engine in ENGINES {
            let w = weights.get(engine);
            if !(w.is_finite() && w >= 0.0) {
                return Err(ModelError::InvalidConfig(format!(
                    "ensemble weight {}={w} must be a non-negative number",
                    engine.key()
                )));
            }
        }
        let sum = lightgbm + xgboost + catboost;
        if (sum - 1.0).abs() > WEIGHT_SUM_TOLERANCE {
            return Err(ModelError::InvalidConfig(format!(
                "ensemble weights must sum to 1.0 (±{WEIGHT_SUM_TOLERANCE}), got {sum} ({weights})"
            )));
        }
        Ok(weights)
    }

    /// Weights from (engine, weight) pairs; engines not listed get 0.
    ///
    /// # Errors
    /// As [`EnsembleWeights::new`], or when an engine is listed twice.
    pub fn from_pairs(pairs: &[(Engine, f64)]) -> Result<Self, ModelError> {
        let mut values = [None; 3];
        for &(engine, w) in pairs {
            let slot = &mut values[engine_index(engine)];
            if slot.is_some() {
                return Err(ModelError::InvalidConfig(format!(
                    "ensemble weight for {} is given twice",
                    engine.key()
                )));
            }
            *slot = Some(w);
        }
        let [l, x, c] = values.map(|v| v.unwrap_or(0.0));
        Self::new(l, x, c)
    }

    /// The weight of `engine`.
    pub fn get(&self, engine: Engine) -> f64 {
        match engine {
            Engine::Lightgbm => self.lightgbm,
            Engine::Xgboost => self.xgboost,
            Engine::Catboost => self.catboost,
        }
    }

    /// (engine, weight) for every engine, in [`ENGINES`] order.
    pub fn pairs(&self) -> [(Engine, f64); 3] {
        ENGINES.map(|e| (e, self.get(e)))
    }

    /// Params for run tracking: `lightgbm_weight`, `xgboost_weight`, `catboost_weight` (the reference's names).
    pub fn to_params(&self) -> Vec<(String, String)> {
        self.pairs()
            .iter()
            .map(|(e, w)| (format!("{}_weight", e.key()), w.to_string()))
            .collect()
    }
}

fn engine_index(engine: Engine) -> usize {
    match engine {
        Engine::Lightgbm => 0,
        Engine::Xgboost => 1,
        Engine::Catboost => 2,
    }
}

fn engine_from_key(key: &str) -> Option<Engine> {
    ENGINES.into_iter().find(|e| e.key() == key)
}

impl fmt::Display for EnsembleWeights {
    /// `lightgbm=0.3,xgboost=0.6,catboost=0.1`: the form [`FromStr`] reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "lightgbm={},xgboost={},catboost={}",
            self.lightgbm, self.xgboost, self.catboost
        )
    }
}

impl FromStr for EnsembleWeights {
    type Err = ModelError;

    /// Parses `lightgbm=0.3,xgboost=0.6,catboost=0.1` (any order; an engine left out gets 0).
    fn from_str(text: &str) -> Result<Self, ModelError> {
        let mut pairs = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').ok_or_else(|| {
                ModelError::InvalidConfig(format!(
                    "ensemble weight `{part}` is not engine=weight; write e.g. lightgbm=0.3,xgboost=0.6,catboost=0.1"
                ))
            })?;
            let key = key.trim();
            let engine = engine_from_key(key).ok_or_else(|| {
                ModelError::InvalidConfig(format!(
                    "unknown engine `{key}` in ensemble weights; use lightgbm, xgboost or catboost"
                ))
            })?;
            let weight: f64 = value.trim().parse().map_err(|_| {
                ModelError::InvalidConfig(format!(
                    "ensemble weight {key}=`{}` is not a number",
                    value.trim()
                ))
            })?;
            pairs.push((engine, weight));
        }
        if pairs.is_empty() {
            return Err(ModelError::InvalidConfig(
                "no ensemble weights given; write e.g. lightgbm=0.3,xgboost=0.6,catboost=0.1"
                    .into(),
            ));
        }
        Self::from_pairs(&pairs)
    }
}

/// Fitted models combined with [`EnsembleWeights`]: `ŷ = Σ weight(engine) · model(engine)`, summed in
/// [`ENGINES`] order. Members with weight 0 may be present (they are kept, saved and loaded) but are not run.
pub struct Ensemble {
    members: Vec<Box<dyn Regressor>>,
    weights: EnsembleWeights,
}

impl fmt::Debug for Ensemble {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let engines: Vec<&str> = self.members.iter().map(|m| m.engine().key()).collect();
        f.debug_struct("Ensemble")
            .field("members", &engines)
            .field("weights", &self.weights)
            .finish()
    }
}

impl Ensemble {
    /// Combines `members` (at most one per engine) with `weights`.
    ///
    /// # Errors
    /// [`ModelError::InvalidConfig`] when an engine appears twice or an engine with a positive weight has no model.
    pub fn new(
        members: Vec<Box<dyn Regressor>>,
        weights: EnsembleWeights,
    ) -> Result<Self, ModelError> {
        for (i, member) in members.iter().enumerate() {
            if members[..i].iter().any(|m| m.engine() == member.engine()) {
                return Err(ModelError::InvalidConfig(format!(
                    "the ensemble has two {} models",
                    member.engine().key()
                )));
            }
        }
        for (engine, weight) in weights.pairs() {
            if weight > 0.0 && !members.iter().any(|m| m.engine() == engine) {
                return Err(ModelError::InvalidConfig(format!(
                    "ensemble weight {}={weight} but no {} model was given; train it or set its weight to 0",
                    engine.key(),
                    engine.key()
                )));
            }
        }
        Ok(Self { members, weights })
    }

    /// The weights.
    pub fn weights(&self) -> EnsembleWeights {
        self.weights
    }

    /// The member models.
    pub fn members(&self) -> &[Box<dyn Regressor>] {
        &self.members
    }

    /// The member for `engine`, if any.
    pub fn member(&self, engine: Engine) -> Option<&dyn Regressor> {
        self.members
            .iter()
            .find(|m| m.engine() == engine)
            .map(|m| &**m)
    }

    /// Consumes the ensemble, giving back its members.
    pub fn into_members(self) -> Vec<Box<dyn Regressor>> {
        self.members
    }

    /// Each member's predictions (members with weight 0 included), in [`ENGINES`] order.
    ///
    /// # Errors
    /// The first member's error.
    pub fn predict_members(
        &self,
        features: &FeatureMatrix,
    ) -> Result<Vec<(Engine, Vec<f64>)>, ModelError> {
        ENGINES
            .iter()
            .filter_map(|&e| self.member(e).map(|m| (e, m)))
            .map(|(e, m)| Ok((e, m.predict(features)?)))
            .collect()
    }

    /// The weighted predictions, one per row.
    ///
    /// # Errors
    /// The first member's error (e.g. [`ModelError::InvalidData`] when columns do not match).
    pub fn predict(&self, features: &FeatureMatrix) -> Result<Vec<f64>, ModelError> {
        let mut combined = vec![0.0f64; features.n_rows()];
        for (engine, weight) in self.weights.pairs() {
            if weight == 0.0 {
                continue;
            }
            let Some(member) = self.member(engine) else {
                continue;
            };
            let predictions = member.predict(features)?;
            if predictions.len() != combined.len() {
                return Err(ModelError::Engine {
                    engine: engine.key(),
                    message: format!(
                        "{} predictions for {} rows",
                        predictions.len(),
                        combined.len()
                    ),
                });
            }
            for (sum, p) in combined.iter_mut().zip(&predictions) {
                *sum += weight * p;
            }
        }
        Ok(combined)
    }
}

/// Combines per-engine predictions (e.g. from [`Ensemble::predict_members`] or out-of-fold runs) with `weights`,
/// in [`ENGINES`] order. Engines with weight 0 may be absent.
///
/// # Errors
/// [`ModelError::InvalidData`] when an engine with positive weight is missing or lengths differ.
pub fn combine_predictions(
    weights: &EnsembleWeights,
    predictions: &[(Engine, &[f64])],
) -> Result<Vec<f64>, ModelError> {
    let n = predictions.first().map_or(0, |(_, p)| p.len());
    let mut combined = vec![0.0f64; n];
    for (engine, weight) in weights.pairs() {
        if weight == 0.0 {
            continue;
        }
        let (_, p) = predictions
            .iter()
            .find(|(e, _)| *e == engine)
            .ok_or_else(|| {
                ModelError::InvalidData(format!(
                    "no {} predictions for weight {weight}",
                    engine.key()
                ))
            })?;
        if p.len() != n {
            return Err(ModelError::InvalidData(format!(
                "{} has {} predictions, expected {n}",
                engine.key(),
                p.len()
            )));
        }
        for (sum, v) in combined.iter_mut().zip(p.iter()) {
            *sum += weight * v;
        }
    }
    Ok(combined)
}

/// Weights fitted by [`optimize_weights`], with the RMSPE they reach on the rows they were fitted on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FittedWeights {
    /// The weights.
    pub weights: EnsembleWeights,
    /// RMSPE of the weighted out-of-fold predictions.
    pub rmspe: f64,
}

/// Fits non-negative, sum-to-one weights minimising RMSPE of the blended predictions against `actual`.
///
/// `oof` holds each engine's **out-of-fold** predictions for the same rows as `actual` (every row predicted by a
/// model that did not train on it), on the scale RMSPE is measured on (sales, not log-sales). Never pass
/// predictions for the fold being scored: weights fitted there would leak it. Rows with `actual == 0` are ignored,
/// as RMSPE does. Engines not in `oof` get weight 0.
///
/// Minimising mean((1 − Σₖ wₖ·pₖ/y)²) over the simplex is a small convex quadratic programme: the k×k moments are
/// accumulated in one pass over the rows, then solved by projected gradient descent (step 1/L, Euclidean
/// projection onto the simplex) to a tolerance of 1e-12. Deterministic.
///
/// # Errors
/// [`ModelError::InvalidData`] when `oof` is empty, an engine appears twice, lengths differ, a value is not finite,
/// or no row has a positive `actual`.
pub fn optimize_weights(
    oof: &[(Engine, &[f64])],
    actual: &[f64],
) -> Result<FittedWeights, ModelError> {
    if oof.is_empty() {
        return Err(ModelError::InvalidData(
            "no out-of-fold predictions to fit ensemble weights on".into(),
        ));
    }
    for (i, (engine, p)) in oof.iter().enumerate() {
        if oof[..i].iter().any(|(e, _)| e == engine) {
            return Err(ModelError::InvalidData(format!(
                "{} out-of-fold predictions given twice",
                engine.key()
            )));
        }
        if p.len() != actual.len() {
            return Err(ModelError::InvalidData(format!(
                "{} has {} out-of-fold predictions for {} actual values",
                engine.key(),
                p.len(),
                actual.len()
            )));
        }
        if let Some(row) = p.iter().position(|v| !v.is_finite()) {
            return Err(ModelError::InvalidData(format!(
                "{} out-of-fold prediction of row {row} is not finite",
                engine.key()
            )));
        }
    }
    let k = oof.len();
    // Moments of the ratios r_k = p_k / y over rows with y > 0: A = mean(r rᵀ), b = mean(r).
    let mut a = vec![0.0f64; k * k];
    let mut b = vec![0.0f64; k];
    let mut n = 0usize;
    let mut r = vec![0.0f64; k];
    for (row, &y) in actual.iter().enumerate() {
        if !y.is_finite() {
            return Err(ModelError::InvalidData(format!(
                "actual value of row {row} is not finite"
            )));
        }
        if y <= 0.0 {
            continue;
        }
        n += 1;
        for (j, (_, p)) in oof.iter().enumerate() {
            r[j] = p[row] / y;
        }
        for j in 0..k {
            b[j] += r[j];
            for l in 0..k {
                a[j * k + l] += r[j] * r[l];
            }
        }
    }
    if n == 0 {
        return Err(ModelError::InvalidData(
            "no row has a positive actual value; RMSPE is undefined".into(),
        ));
    }
    let scale = 1.0 / n as f64;
    a.iter_mut().for_each(|v| *v *= scale);
    b.iter_mut().for_each(|v| *v *= scale);
    let objective = |w: &[f64]| -> f64 {
        let mut quad = 0.0;
        for j in 0..k {
            for l in 0..k {
                quad += w[j] * a[j * k + l] * w[l];
            }
        }
        let lin: f64 = w.iter().zip(&b).map(|(wj, bj)| wj * bj).sum();
        (1.0 - 2.0 * lin + quad).max(0.0)
    };
    // Lipschitz constant of the gradient 2(Aw − b): 2·λmax(A) ≤ 2·max row sum (Gershgorin).
    let lipschitz = (0..k)
        .map(|j| (0..k).map(|l| a[j * k + l].abs()).sum::<f64>())
        .fold(0.0, f64::max)
        * 2.0;
    let mut w = vec![1.0 / k as f64; k];
    if lipschitz > 0.0 {
        let step = 1.0 / lipschitz;
        let mut next = vec![0.0f64; k];
        for _ in 0..200_000 {
            for j in 0..k {
                let grad: f64 = 2.0 * ((0..k).map(|l| a[j * k + l] * w[l]).sum::<f64>() - b[j]);
                next[j] = w[j] - step * grad;
            }
            project_onto_simplex(&mut next);
            let moved: f64 = next.iter().zip(&w).map(|(x, y)| (x - y).abs()).sum();
            w.copy_from_slice(&next);
            if moved < 1e-12 {
                break;
            }
        }
    }
    let rmspe = objective(&w).sqrt();
    let pairs: Vec<(Engine, f64)> = oof.iter().map(|(e, _)| *e).zip(w).collect();
    let weights = EnsembleWeights::from_pairs(&pairs)?;
    tracing::debug!(%weights, rmspe, rows = n, "fitted ensemble weights on out-of-fold predictions");
    Ok(FittedWeights { weights, rmspe })
}

/// Euclidean projection onto {w ≥ 0, Σw = 1} (sort-based, Duchi et al. 2008).
fn project_onto_simplex(v: &mut [f64]) {
    let mut sorted = v.to_vec();
    sorted.sort_by(|x, y| y.total_cmp(x));
    let mut cumulative = 0.0;
    let mut theta = 0.0;
    for (j, u) in sorted.iter().enumerate() {
        cumulative += u;
        let candidate = (cumulative - 1.0) / (j + 1) as f64;
        if u - candidate > 0.0 {
            theta = candidate;
        }
    }
    v.iter_mut().for_each(|x| *x = (*x - theta).max(0.0));
    // Remove the last rounding error so the sum is 1 to machine precision.
    let sum: f64 = v.iter().sum();
    if sum > 0.0 {
        v.iter_mut().for_each(|x| *x /= sum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_weights_are_the_reference_blend() {
        let w = EnsembleWeights::default();
        assert_eq!(
            (
                w.get(Engine::Lightgbm),
                w.get(Engine::Xgboost),
                w.get(Engine::Catboost)
            ),
            (0.3, 0.6, 0.1)
        );
        assert_eq!(w.to_string().parse::<EnsembleWeights>().unwrap(), w);
    }

    #[test]
    fn weights_that_do_not_sum_to_one_are_refused_with_the_sum() {
        let err = "lightgbm=0.3,xgboost=0.5,catboost=0.1"
            .parse::<EnsembleWeights>()
            .unwrap_err()
            .to_string();
        assert!(err.contains("sum to 1.0") && err.contains("0.9"), "{err}");
        assert!(
            EnsembleWeights::new(-0.1, 1.0, 0.1)
                .unwrap_err()
                .to_string()
                .contains("lightgbm")
        );
        assert!(EnsembleWeights::new(0.3, 0.6, 0.1 + 5e-7).is_ok());
    }

    #[test]
    fn parsing_reports_unknown_engines_duplicates_and_bad_numbers() {
        assert!("xgboost=1".parse::<EnsembleWeights>().is_ok());
        let unknown = "catbost=1"
            .parse::<EnsembleWeights>()
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("catbost"), "{unknown}");
        let twice = "xgboost=0.5,xgboost=0.5"
            .parse::<EnsembleWeights>()
            .unwrap_err()
            .to_string();
        assert!(twice.contains("twice"), "{twice}");
        let nan = "xgboost=abc"
            .parse::<EnsembleWeights>()
            .unwrap_err()
            .to_string();
        assert!(nan.contains("`abc`"), "{nan}");
        assert!("xgboost".parse::<EnsembleWeights>().is_err());
    }

    #[test]
    fn weights_json_round_trips_and_is_validated() {
        let json = serde_json::to_string(&EnsembleWeights::default()).unwrap();
        assert_eq!(json, r#"{"lightgbm":0.3,"xgboost":0.6,"catboost":0.1}"#);
        assert!(
            serde_json::from_str::<EnsembleWeights>(r#"{"lightgbm":0.5,"xgboost":0.6}"#).is_err()
        );
    }

    #[test]
    fn simplex_projection_gives_non_negative_weights_summing_to_one() {
        let mut v = vec![0.9, 0.8, -3.0];
        project_onto_simplex(&mut v);
        assert!((v.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        assert!(
            (v[0] - 0.55).abs() < 1e-12 && (v[1] - 0.45).abs() < 1e-12 && v[2] == 0.0,
            "{v:?}"
        );
    }

    #[test]
    fn optimizer_finds_the_blend_that_generated_the_target() {
        // y = 0.2·a + 0.8·b exactly, c is noise: the optimum is (0.2, 0.8, 0) with RMSPE 0.
        let n = 500;
        let a: Vec<f64> = (0..n)
            .map(|i| 100.0 + (i as f64 * 0.37).sin() * 30.0)
            .collect();
        let b: Vec<f64> = (0..n)
            .map(|i| 120.0 + (i as f64 * 0.91).cos() * 25.0)
            .collect();
        let c: Vec<f64> = (0..n)
            .map(|i| 80.0 + (i as f64 * 2.3).sin() * 60.0)
            .collect();
        let y: Vec<f64> = a.iter().zip(&b).map(|(x, z)| 0.2 * x + 0.8 * z).collect();
        let fit = optimize_weights(
            &[
                (Engine::Lightgbm, &a),
                (Engine::Xgboost, &b),
                (Engine::Catboost, &c),
            ],
            &y,
        )
        .unwrap();
        assert!(
            (fit.weights.get(Engine::Lightgbm) - 0.2).abs() < 1e-4,
            "{:?}",
            fit.weights
        );
        assert!(
            (fit.weights.get(Engine::Xgboost) - 0.8).abs() < 1e-4,
            "{:?}",
            fit.weights
        );
        assert!(
            fit.weights.get(Engine::Catboost) < 1e-4,
            "{:?}",
            fit.weights
        );
        assert!(fit.rmspe < 1e-3, "{}", fit.rmspe);
    }

    #[test]
    fn optimizer_ignores_zero_actuals_and_gives_missing_engines_zero() {
        let p = [10.0, 5.0, 7.0];
        let y = [10.0, 0.0, 7.0];
        let fit = optimize_weights(&[(Engine::Xgboost, &p)], &y).unwrap();
        assert_eq!(fit.weights.get(Engine::Xgboost), 1.0);
        assert_eq!(fit.weights.get(Engine::Lightgbm), 0.0);
        assert!(fit.rmspe < 1e-12);
        assert!(optimize_weights(&[(Engine::Xgboost, &p)], &[0.0; 3]).is_err());
        assert!(optimize_weights(&[(Engine::Xgboost, &p[..2])], &y).is_err());
    }

    #[test]
    fn combine_uses_the_weights() {
        let w = EnsembleWeights::default();
        let (l, x, c) = ([1.0, 2.0], [3.0, 4.0], [5.0, 6.0]);
        let out = combine_predictions(
            &w,
            &[
                (Engine::Catboost, &c),
                (Engine::Lightgbm, &l),
                (Engine::Xgboost, &x),
            ],
        )
        .unwrap();
        assert!((out[0] - (0.3 + 1.8 + 0.5)).abs() < 1e-12);
        assert!(combine_predictions(&w, &[(Engine::Lightgbm, &l)]).is_err());
    }
}
