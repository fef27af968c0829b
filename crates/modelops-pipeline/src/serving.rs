//! The serving contract a package carries in `feature_spec.json`: the feature spec (how to turn raw rows into the
//! model's columns) plus the target transform (how to turn the model's output back into sales). Training writes it;
//! batch prediction and the prediction service read it, so both sides of the contract live in one place.

use modelops_features::{FeatureSpec, InputRow, zero_when_closed};
use modelops_models::{Engine, Ensemble, FeatureMatrix, LoadedPackage};
use serde::{Deserialize, Serialize};

use crate::PipelineError;

/// How the models' target relates to sales.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetTransform {
    /// Models predict sales directly.
    Identity,
    /// Models predict `ln(1 + sales)`; predictions are mapped back with `exp(x) − 1`.
    Log1p,
}

impl TargetTransform {
    /// Sales → model target.
    pub fn forward(self, sales: f32) -> f32 {
        match self {
            Self::Identity => sales,
            Self::Log1p => sales.ln_1p(),
        }
    }

    /// Model output → sales (never negative).
    pub fn inverse(self, value: f64) -> f64 {
        match self {
            Self::Identity => value.max(0.0),
            Self::Log1p => value.exp_m1().max(0.0),
        }
    }
}

/// What `feature_spec.json` of a modelops package holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServingSpec {
    /// Layout version of this file.
    pub format_version: u32,
    /// Target transform of every component model.
    pub target_transform: TargetTransform,
    /// The feature builder's spec: settings, categorical levels, store table, history at the origin.
    pub features: FeatureSpec,
}

/// The layout version [`ServingSpec`] writes.
pub const SERVING_SPEC_VERSION: u32 = 1;

impl ServingSpec {
    /// Reads the spec out of a loaded package.
    ///
    /// # Errors
    /// [`PipelineError::Invalid`] when the package's `feature_spec.json` is not a modelops serving spec.
    pub fn from_package(package: &LoadedPackage) -> Result<Self, PipelineError> {
        Self::checked(serde_json::from_value(package.feature_spec.clone()))
    }

    /// Reads the spec out of the bytes of a package's `feature_spec.json`
    /// ([`modelops_models::ModelPackage::read_feature_spec`]).
    ///
    /// # Errors
    /// As [`ServingSpec::from_package`].
    pub fn from_json(bytes: &[u8]) -> Result<Self, PipelineError> {
        Self::checked(serde_json::from_slice(bytes))
    }

    fn checked(parsed: Result<Self, serde_json::Error>) -> Result<Self, PipelineError> {
        let spec = parsed.map_err(|e| {
            PipelineError::Invalid(format!(
                "the package's feature_spec.json is not a modelops serving spec ({e}); retrain the model with this \
                 version of modelops"
            ))
        })?;
        if spec.format_version != SERVING_SPEC_VERSION {
            return Err(PipelineError::Invalid(format!(
                "the package's feature_spec.json has layout version {}, this modelops reads {SERVING_SPEC_VERSION}",
                spec.format_version
            )));
        }
        Ok(spec)
    }
}

/// Predicted sales per engine and for the weighted ensemble, for rows already turned into features.
///
/// The ensemble is the weighted mean of the engines' *sales* predictions (each mapped back through the target
/// transform first), exactly as the weights are documented; closed rows are 0.
///
/// # Errors
/// Model errors (e.g. columns that do not match the training columns).
pub fn predict_sales(
    ensemble: &Ensemble,
    transform: TargetTransform,
    features: &FeatureMatrix,
    rows: &[InputRow],
) -> Result<SalesPredictions, PipelineError> {
    if rows.len() != features.n_rows() {
        return Err(PipelineError::Invalid(format!(
            "{} input rows for {} feature rows",
            rows.len(),
            features.n_rows()
        )));
    }
    // Closed rows are 0 whatever the engines say, so only open rows go through them (the reference batch has one
    // closed row in seven).
    let open: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].open).collect();
    let stores: Vec<u32> = open.iter().map(|&i| rows[i].store).collect();
    let groups = store_runs(&stores);
    let all_open = open.len() == features.n_rows();
    let selected;
    let matrix = if all_open && groups.is_none() {
        features
    } else {
        let mut rows = features.select_rows(&open);
        if let Some(ends) = groups {
            rows.set_row_groups(ends)?;
        }
        selected = rows;
        &selected
    };
    let mut members = ensemble.predict_members(matrix)?;
    if !all_open {
        for (_, raw) in &mut members {
            let mut all = vec![0.0; features.n_rows()];
            for (&i, &v) in open.iter().zip(raw.iter()) {
                all[i] = v;
            }
            *raw = all;
        }
    }
    let mut per_engine = Vec::with_capacity(members.len());
    for (engine, raw) in members {
        let mut sales: Vec<f64> = raw.into_iter().map(|v| transform.inverse(v)).collect();
        zero_when_closed(rows, &mut sales);
        per_engine.push((engine, sales));
    }
    let views: Vec<(Engine, &[f64])> = per_engine.iter().map(|(e, p)| (*e, p.as_slice())).collect();
    let ensemble = modelops_models::ensemble::combine_predictions(&ensemble.weights(), &views)?;
    Ok(SalesPredictions {
        per_engine,
        ensemble,
    })
}

/// Where each run of consecutive rows of one store ends, when some run is long enough to get blocks of its own
/// ([`FeatureMatrix::set_row_groups`]); `None` when none is (a request across many stores).
fn store_runs(stores: &[u32]) -> Option<Vec<usize>> {
    let ends: Vec<usize> = (1..=stores.len())
        .filter(|&i| i == stores.len() || stores[i] != stores[i - 1])
        .collect();
    let longest = ends
        .iter()
        .scan(0, |start, &end| Some(end - std::mem::replace(start, end)));
    (longest.max()? >= modelops_models::GROUP_BLOCK_MIN_ROWS).then_some(ends)
}

/// Sales predictions of one batch.
#[derive(Clone, Debug)]
pub struct SalesPredictions {
    /// Each engine's own predictions.
    pub per_engine: Vec<(Engine, Vec<f64>)>,
    /// The weighted ensemble.
    pub ensemble: Vec<f64>,
}
