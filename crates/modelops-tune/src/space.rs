//! Search spaces as data: what each hyperparameter may take (integer, float, log-scaled, categorical, optional
//! step), per model, loaded from an editable YAML file with the reference system's spaces as built-in defaults.
//!
//! Samplers work on an *internal* number per parameter ([`Distribution::to_internal`]): the value itself for
//! linear numbers, its natural log for `log: true`, the choice index for categoricals. [`Distribution::from_internal`]
//! maps back, snapping to the integer/step grid and clamping into bounds, so a sampler can never produce an
//! out-of-range value.

use crate::error::TuneError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The reference system's search spaces (REFERENCE-SYSTEM.md §6), the same text as `config/search_spaces.yaml`.
pub const BUILTIN_SEARCH_SPACES_YAML: &str = include_str!("default_search_spaces.yaml");

/// One sampled hyperparameter value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// A boolean categorical choice.
    Bool(bool),
    /// An integer (from an `int` parameter, or an integer categorical choice).
    Int(i64),
    /// A float (from a `float` parameter, or a float categorical choice).
    Float(f64),
    /// A text categorical choice.
    Text(String),
}

impl ParamValue {
    /// The value as a float (integers widen); `None` for text and booleans.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            ParamValue::Int(v) => Some(*v as f64),
            ParamValue::Float(v) => Some(*v),
            _ => None,
        }
    }

    /// The value as an integer; `None` unless it is an integer.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            ParamValue::Int(v) => Some(*v),
            _ => None,
        }
    }

    /// The value as JSON, the shape `best_hyperparameters.json` stores.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            ParamValue::Bool(v) => serde_json::Value::from(*v),
            ParamValue::Int(v) => serde_json::Value::from(*v),
            ParamValue::Float(v) => serde_json::Value::from(*v),
            ParamValue::Text(v) => serde_json::Value::from(v.as_str()),
        }
    }
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::Bool(v) => write!(f, "{v}"),
            ParamValue::Int(v) => write!(f, "{v}"),
            ParamValue::Float(v) => write!(f, "{v}"),
            ParamValue::Text(v) => f.write_str(v),
        }
    }
}

/// The sampled hyperparameters of one trial, by name (sorted, so iteration order is stable).
pub type Params = BTreeMap<String, ParamValue>;

/// The parameters as a JSON object (integers stay integers), the shape of `hyperparameters` in
/// `best_hyperparameters.json`.
pub fn params_to_json(params: &Params) -> serde_json::Map<String, serde_json::Value> {
    params
        .iter()
        .map(|(name, value)| (name.clone(), value.to_json()))
        .collect()
}

/// An integer range `[low, high]` on a grid of `step`, optionally log-scaled (then `step` must be 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntRange {
    /// Smallest value (inclusive).
    pub low: i64,
    /// Largest value (inclusive).
    pub high: i64,
    /// Grid spacing from `low`; default 1.
    #[serde(default = "default_int_step")]
    pub step: i64,
    /// Sample uniformly in log space (needs `low >= 1`).
    #[serde(default)]
    pub log: bool,
}

fn default_int_step() -> i64 {
    1
}

/// A float range `[low, high]`, optionally on a grid of `step` or log-scaled (not both).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FloatRange {
    /// Smallest value (inclusive).
    pub low: f64,
    /// Largest value (inclusive).
    pub high: f64,
    /// Optional grid spacing from `low`; `high - low` must be a multiple of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<f64>,
    /// Sample uniformly in log space (needs `low > 0`).
    #[serde(default)]
    pub log: bool,
}

/// A fixed list of choices, sampled without any notion of order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Choices {
    /// The choices; at least one, no duplicates.
    pub choices: Vec<ParamValue>,
}

/// What one hyperparameter may take. In YAML: `{type: int|float|categorical, …}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Distribution {
    /// `{type: int, low, high, step?, log?}`.
    Int(IntRange),
    /// `{type: float, low, high, step?, log?}`.
    Float(FloatRange),
    /// `{type: categorical, choices: [...]}`.
    Categorical(Choices),
}

/// Internal-space bounds of a numeric distribution, as the Parzen estimator needs them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct NumericBounds {
    /// Lower bound of the internal space (already widened by half a step for grids).
    pub low: f64,
    /// Upper bound of the internal space (already widened by half a step for grids).
    pub high: f64,
    /// Grid spacing in internal space, `None` for continuous parameters.
    pub step: Option<f64>,
}

impl Distribution {
    /// Checks the definition; `key` (`model.parameter`) goes into the error.
    ///
    /// # Errors
    /// [`TuneError::InvalidSearchSpace`] naming the key and what to change.
    pub fn validate(&self, key: &str) -> Result<(), TuneError> {
        match self {
            Distribution::Int(r) => {
                if r.low >= r.high {
                    return Err(TuneError::invalid_space(
                        key,
                        format!(
                            "low ({}) must be below high ({}); for a fixed value use a one-choice categorical",
                            r.low, r.high
                        ),
                    ));
                }
                if r.step < 1 {
                    return Err(TuneError::invalid_space(
                        key,
                        format!("step must be at least 1, got {}", r.step),
                    ));
                }
                if r.log && r.step != 1 {
                    return Err(TuneError::invalid_space(
                        key,
                        "log: true cannot be combined with a step other than 1",
                    ));
                }
                if r.log && r.low < 1 {
                    return Err(TuneError::invalid_space(
                        key,
                        format!("log: true needs low >= 1, got {}", r.low),
                    ));
                }
                if (r.high - r.low) % r.step != 0 {
                    return Err(TuneError::invalid_space(
                        key,
                        format!(
                            "high - low ({}) must be a multiple of step ({})",
                            r.high - r.low,
                            r.step
                        ),
                    ));
                }
            }
            Distribution::Float(r) => {
                if !r.low.is_finite() || !r.high.is_finite() {
                    return Err(TuneError::invalid_space(
                        key,
                        "low and high must be finite numbers",
                    ));
                }
                if r.low >= r.high {
                    return Err(TuneError::invalid_space(
                        key,
                        format!(
                            "low ({}) must be below high ({}); for a fixed value use a one-choice categorical",
                            r.low, r.high
                        ),
                    ));
                }
                if r.log && r.low <= 0.0 {
                    return Err(TuneError::invalid_space(
                        key,
                        format!("log: true needs low > 0, got {}", r.low),
                    ));
                }
                if let Some(step) = r.step {
                    if r.log {
                        return Err(TuneError::invalid_space(
                            key,
                            "log: true cannot be combined with step",
                        ));
                    }
                    if !(step.is_finite() && step > 0.0) {
                        return Err(TuneError::invalid_space(
                            key,
                            format!("step must be a positive number, got {step}"),
                        ));
                    }
                    let intervals = (r.high - r.low) / step;
                    if (intervals - intervals.round()).abs() > 1e-8 * intervals.max(1.0) {
                        return Err(TuneError::invalid_space(
                            key,
                            format!(
                                "high - low ({}) must be a multiple of step ({step})",
                                r.high - r.low
                            ),
                        ));
                    }
                }
            }
            Distribution::Categorical(c) => {
                if c.choices.is_empty() {
                    return Err(TuneError::invalid_space(
                        key,
                        "choices must list at least one value",
                    ));
                }
                for (i, a) in c.choices.iter().enumerate() {
                    if let ParamValue::Float(v) = a
                        && !v.is_finite()
                    {
                        return Err(TuneError::invalid_space(
                            key,
                            format!("choice {v} is not a finite number"),
                        ));
                    }
                    if c.choices[..i].contains(a) {
                        return Err(TuneError::invalid_space(
                            key,
                            format!("choice '{a}' is listed twice"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Number of choices for a categorical, `None` for numbers.
    pub fn n_choices(&self) -> Option<usize> {
        match self {
            Distribution::Categorical(c) => Some(c.choices.len()),
            _ => None,
        }
    }

    /// Internal bounds for numeric parameters; `None` for categoricals.
    pub(crate) fn numeric_bounds(&self) -> Option<NumericBounds> {
        match self {
            Distribution::Int(r) if r.log => Some(NumericBounds {
                low: (r.low as f64 - 0.5).ln(),
                high: (r.high as f64 + 0.5).ln(),
                step: None,
            }),
            Distribution::Int(r) => {
                let half = r.step as f64 / 2.0;
                Some(NumericBounds {
                    low: r.low as f64 - half,
                    high: r.high as f64 + half,
                    step: Some(r.step as f64),
                })
            }
            Distribution::Float(r) if r.log => Some(NumericBounds {
                low: r.low.ln(),
                high: r.high.ln(),
                step: None,
            }),
            Distribution::Float(r) => match r.step {
                Some(step) => Some(NumericBounds {
                    low: r.low - step / 2.0,
                    high: r.high + step / 2.0,
                    step: Some(step),
                }),
                None => Some(NumericBounds {
                    low: r.low,
                    high: r.high,
                    step: None,
                }),
            },
            Distribution::Categorical(_) => None,
        }
    }

    /// The internal number of a value, or `None` when the value does not belong to this distribution (for example
    /// a trial recorded under an older search space); such observations are left out of the model.
    pub fn to_internal(&self, value: &ParamValue) -> Option<f64> {
        match self {
            Distribution::Int(r) => {
                let v = value.as_i64()?;
                if v < r.low || v > r.high {
                    return None;
                }
                Some(if r.log { (v as f64).ln() } else { v as f64 })
            }
            Distribution::Float(r) => {
                let v = value.as_f64()?;
                if !(v >= r.low && v <= r.high) {
                    return None;
                }
                Some(if r.log { v.ln() } else { v })
            }
            Distribution::Categorical(c) => c
                .choices
                .iter()
                .position(|choice| choice == value)
                .map(|i| i as f64),
        }
    }

    /// The value for an internal number: snapped to the grid, rounded for integers, clamped into `[low, high]`.
    pub fn from_internal(&self, internal: f64) -> ParamValue {
        match self {
            Distribution::Int(r) => {
                let raw = if r.log { internal.exp() } else { internal };
                let steps = ((raw - r.low as f64) / r.step as f64).round();
                let max_steps = ((r.high - r.low) / r.step) as f64;
                let steps = if steps.is_finite() {
                    steps.clamp(0.0, max_steps)
                } else {
                    0.0
                };
                ParamValue::Int(r.low + steps as i64 * r.step)
            }
            Distribution::Float(r) => {
                let raw = if r.log { internal.exp() } else { internal };
                let snapped = match r.step {
                    Some(step) => r.low + ((raw - r.low) / step).round() * step,
                    None => raw,
                };
                let value = if snapped.is_finite() {
                    snapped.clamp(r.low, r.high)
                } else {
                    r.low
                };
                ParamValue::Float(value)
            }
            Distribution::Categorical(c) => {
                let last = c.choices.len().saturating_sub(1);
                let index = if internal.is_finite() {
                    (internal.round().max(0.0) as usize).min(last)
                } else {
                    0
                };
                c.choices
                    .get(index)
                    .cloned()
                    .unwrap_or(ParamValue::Bool(false))
            }
        }
    }
}

/// The hyperparameters tuned for one model, by name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SearchSpace {
    /// Parameter name → distribution (sorted, so sampling order is stable).
    pub params: BTreeMap<String, Distribution>,
}

impl SearchSpace {
    /// Checks every parameter; `model` prefixes the keys in errors.
    ///
    /// # Errors
    /// [`TuneError::InvalidSearchSpace`] for the first bad parameter, or an empty space.
    pub fn validate(&self, model: &str) -> Result<(), TuneError> {
        if self.params.is_empty() {
            return Err(TuneError::invalid_space(
                model,
                "the search space lists no parameters",
            ));
        }
        for (name, distribution) in &self.params {
            distribution.validate(&format!("{model}.{name}"))?;
        }
        Ok(())
    }
}

/// Search spaces for every model, as the search-space file lists them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SearchSpaces {
    /// Model name (`lightgbm`, `xgboost`, `catboost`, …) → its space.
    pub models: BTreeMap<String, SearchSpace>,
}

impl SearchSpaces {
    /// The reference system's spaces for `lightgbm`, `xgboost` and `catboost`.
    ///
    /// # Errors
    /// Only if the compiled-in text were broken, which a unit test rules out.
    pub fn builtin() -> Result<Self, TuneError> {
        Self::parse(BUILTIN_SEARCH_SPACES_YAML, Path::new("<built-in>"))
    }

    /// Parses and validates YAML text; `origin` names the file in errors.
    ///
    /// # Errors
    /// [`TuneError::ParseSearchSpaces`] (with line and column) or [`TuneError::InvalidSearchSpace`].
    pub fn parse(text: &str, origin: &Path) -> Result<Self, TuneError> {
        let spaces: SearchSpaces =
            serde_yaml::from_str(text).map_err(|e| TuneError::ParseSearchSpaces {
                path: origin.to_path_buf(),
                message: e.to_string(),
            })?;
        for (model, space) in &spaces.models {
            space.validate(model)?;
        }
        Ok(spaces)
    }

    /// The built-in spaces, overridden model by model by the file at `path` when it exists: a model listed in the
    /// file uses the file's space (all of it), other models keep the built-in one.
    ///
    /// # Errors
    /// [`TuneError::ReadSearchSpaces`] when the file exists but cannot be read; parse and validation errors as
    /// [`SearchSpaces::parse`].
    pub fn load_or_builtin(path: &Path) -> Result<Self, TuneError> {
        let mut spaces = Self::builtin()?;
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let from_file = Self::parse(&text, path)?;
                spaces.models.extend(from_file.models);
                tracing::debug!(file = %path.display(), "loaded search spaces");
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                tracing::debug!(file = %path.display(), "no search-space file; using the built-in spaces");
            }
            Err(source) => {
                return Err(TuneError::ReadSearchSpaces {
                    path: PathBuf::from(path),
                    source,
                });
            }
        }
        Ok(spaces)
    }

    /// The space of one model.
    ///
    /// # Errors
    /// [`TuneError::UnknownModel`] listing the models that have one.
    pub fn get(&self, model: &str) -> Result<&SearchSpace, TuneError> {
        self.models
            .get(model)
            .ok_or_else(|| TuneError::UnknownModel {
                model: model.to_string(),
                known: self.models.keys().cloned().collect::<Vec<_>>().join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_spaces_match_the_reference() {
        let spaces = SearchSpaces::builtin().unwrap();
        assert_eq!(
            spaces.models.keys().collect::<Vec<_>>(),
            ["catboost", "lightgbm", "xgboost"]
        );
        let lgb = spaces.get("lightgbm").unwrap();
        assert_eq!(lgb.params.len(), 9);
        assert_eq!(
            lgb.params["learning_rate"],
            Distribution::Float(FloatRange {
                low: 0.01,
                high: 0.1,
                step: None,
                log: true
            })
        );
        assert_eq!(
            lgb.params["num_leaves"],
            Distribution::Int(IntRange {
                low: 20,
                high: 150,
                step: 1,
                log: false
            })
        );
        assert_eq!(spaces.get("xgboost").unwrap().params.len(), 8);
        assert_eq!(spaces.get("catboost").unwrap().params.len(), 6);
    }

    #[test]
    fn shipped_config_file_equals_the_builtin_spaces() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/search_spaces.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text, BUILTIN_SEARCH_SPACES_YAML,
            "keep config/search_spaces.yaml and the built-in copy identical"
        );
    }

    #[test]
    fn params_become_a_json_object_with_integers_kept() {
        let params: Params = [
            ("depth".to_string(), ParamValue::Int(8)),
            ("lr".to_string(), ParamValue::Float(0.03)),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            serde_json::Value::Object(params_to_json(&params)).to_string(),
            r#"{"depth":8,"lr":0.03}"#
        );
    }

    #[test]
    fn unknown_model_lists_the_known_ones() {
        let err = SearchSpaces::builtin()
            .unwrap()
            .get("svm")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("'svm'") && err.contains("catboost, lightgbm, xgboost"),
            "{err}"
        );
    }

    #[test]
    fn bad_definitions_name_the_key() {
        let cases = [
            (
                "m:\n  a: {type: float, low: 1.0, high: 0.5}\n",
                "m.a",
                "must be below",
            ),
            (
                "m:\n  a: {type: float, low: 0.0, high: 1.0, log: true}\n",
                "m.a",
                "low > 0",
            ),
            (
                "m:\n  b: {type: int, low: 1, high: 10, step: 4}\n",
                "m.b",
                "multiple of step",
            ),
            (
                "m:\n  c: {type: categorical, choices: []}\n",
                "m.c",
                "at least one",
            ),
            (
                "m:\n  c: {type: categorical, choices: [x, x]}\n",
                "m.c",
                "twice",
            ),
            (
                "m:\n  d: {type: float, low: 0.0, high: 1.0, step: 0.1, log: true}\n",
                "m.d",
                "log",
            ),
        ];
        for (yaml, key, needle) in cases {
            let err = SearchSpaces::parse(yaml, Path::new("f.yaml"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(&format!("'{key}'")) && err.contains(needle),
                "{yaml}: {err}"
            );
        }
    }

    #[test]
    fn unknown_fields_and_types_are_rejected_with_the_file_name() {
        for yaml in [
            "m:\n  a: {type: float, low: 0.0, high: 1.0, lgo: true}\n",
            "m:\n  a: {type: normal, low: 0, high: 1}\n",
        ] {
            let err = SearchSpaces::parse(yaml, Path::new("spaces.yaml"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("spaces.yaml"), "{err}");
        }
    }

    #[test]
    fn file_overrides_builtin_per_model() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.yaml");
        std::fs::write(
            &path,
            "lightgbm:\n  num_leaves: {type: int, low: 8, high: 16}\n",
        )
        .unwrap();
        let spaces = SearchSpaces::load_or_builtin(&path).unwrap();
        assert_eq!(spaces.get("lightgbm").unwrap().params.len(), 1);
        assert_eq!(spaces.get("xgboost").unwrap().params.len(), 8);
        let missing = SearchSpaces::load_or_builtin(&dir.path().join("none.yaml")).unwrap();
        assert_eq!(missing, SearchSpaces::builtin().unwrap());
    }

    #[test]
    fn internal_round_trip_snaps_and_clamps() {
        let int = Distribution::Int(IntRange {
            low: 10,
            high: 50,
            step: 5,
            log: false,
        });
        assert_eq!(int.from_internal(22.4), ParamValue::Int(20));
        assert_eq!(int.from_internal(1e9), ParamValue::Int(50));
        assert_eq!(int.to_internal(&ParamValue::Int(35)), Some(35.0));
        let log = Distribution::Float(FloatRange {
            low: 0.01,
            high: 0.1,
            step: None,
            log: true,
        });
        let v = log.from_internal(0.05f64.ln());
        assert!((v.as_f64().unwrap() - 0.05).abs() < 1e-12);
        assert_eq!(log.from_internal(10.0), ParamValue::Float(0.1));
        let cat = Distribution::Categorical(Choices {
            choices: vec![ParamValue::Text("a".into()), ParamValue::Int(3)],
        });
        assert_eq!(cat.to_internal(&ParamValue::Int(3)), Some(1.0));
        assert_eq!(cat.from_internal(0.0), ParamValue::Text("a".into()));
        assert_eq!(cat.to_internal(&ParamValue::Int(4)), None);
    }
}
