//! `config/best_hyperparameters.json`: the tuned settings per model, in the reference's shape, read by `train` and
//! written by `tune`.
//!
//! ```json
//! { "lightgbm": {"hyperparameters": {...}, "best_rmspe": 0.1264, "run_id": "cb4e…"},
//!   "xgboost": {...}, "catboost": {...},
//!   "metadata": {"source": "...", "n_trials_per_model": 50, "cv_folds": 5, "optimization_metric": "rmspe",
//!                "best_model": "xgboost", "best_rmspe": 0.1218} }
//! ```
//!
//! Reading walks the JSON by hand instead of deriving `Deserialize`, so every error names the full key
//! (`xgboost.hyperparameters.max_depth is missing`) and the file. The engine configs come out with the reference's
//! training settings: 1,600 LightGBM rounds, 1,600 XGBoost rounds, 1,500 CatBoost iterations, seed 42, and
//! integer-valued hyperparameters cast to integers (truncated, as Python's `int()` does).

use crate::{Engine, LightGbmConfig, ModelError, XgBoostConfig};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

/// The reference's fixed LightGBM rounds.
pub const REFERENCE_LIGHTGBM_ROUNDS: u32 = 1600;
/// The reference's fixed XGBoost rounds.
pub const REFERENCE_XGBOOST_ROUNDS: u32 = 1600;
/// The reference's fixed CatBoost iterations.
pub const REFERENCE_CATBOOST_ITERATIONS: u32 = 1500;
/// The reference's seed for every model.
pub const REFERENCE_SEED: u64 = 42;

/// One model's tuning result.
#[derive(Clone, Debug, PartialEq)]
pub struct TunedModel {
    /// The best trial's hyperparameters, by the reference's names (`num_leaves`, `max_depth`, …).
    pub hyperparameters: Map<String, Value>,
    /// The best trial's cross-validated RMSPE.
    pub best_rmspe: f64,
    /// The tracking run that found it.
    pub run_id: String,
}

/// The `metadata` block.
#[derive(Clone, Debug, PartialEq)]
pub struct TuningMetadata {
    /// Who wrote the file (`optuna_hyperparameter_tuning` in the reference, `modelops_tune` for ours).
    pub source: String,
    /// Trials run per model.
    pub n_trials_per_model: u64,
    /// Cross-validation folds per trial.
    pub cv_folds: u64,
    /// The minimised metric (`rmspe`).
    pub optimization_metric: String,
    /// The engine key with the lowest `best_rmspe`.
    pub best_model: String,
    /// That model's RMSPE.
    pub best_rmspe: f64,
}

/// The whole file. Every model entry is optional (a tuning run may cover one model); the config getters say
/// which entry is missing.
#[derive(Clone, Debug, PartialEq)]
pub struct BestHyperparameters {
    /// The LightGBM entry.
    pub lightgbm: Option<TunedModel>,
    /// The XGBoost entry.
    pub xgboost: Option<TunedModel>,
    /// The CatBoost entry (for our oblivious booster).
    pub catboost: Option<TunedModel>,
    /// The metadata block.
    pub metadata: TuningMetadata,
}

/// The CatBoost entry's settings, typed, with the reference's 1,500 iterations and seed 42.
#[derive(Clone, Debug, PartialEq)]
pub struct CatboostHyperparameters {
    /// Tree depth.
    pub depth: u32,
    /// Shrinkage.
    pub learning_rate: f64,
    /// L2 regularisation of leaf values.
    pub l2_leaf_reg: f64,
    /// Split-score noise.
    pub random_strength: f64,
    /// Bayesian bootstrap temperature.
    pub bagging_temperature: f64,
    /// Borders per numeric feature.
    pub border_count: u32,
    /// Boosting iterations (reference: 1,500).
    pub iterations: u32,
    /// Random seed (reference: 42).
    pub seed: u64,
}

/// Reads fields of one JSON object, naming `file` and the key path in every error.
struct Reader<'a> {
    file: &'a Path,
}

impl Reader<'_> {
    fn error(&self, reason: String) -> ModelError {
        ModelError::Format {
            path: self.file.to_path_buf(),
            reason,
        }
    }

    fn field<'v>(
        &self,
        object: &'v Map<String, Value>,
        prefix: &str,
        key: &str,
    ) -> Result<&'v Value, ModelError> {
        object
            .get(key)
            .ok_or_else(|| self.error(format!("`{prefix}{key}` is missing")))
    }

    fn object<'v>(
        &self,
        object: &'v Map<String, Value>,
        prefix: &str,
        key: &str,
    ) -> Result<&'v Map<String, Value>, ModelError> {
        self.field(object, prefix, key)?
            .as_object()
            .ok_or_else(|| self.error(format!("`{prefix}{key}` must be an object")))
    }

    fn number(
        &self,
        object: &Map<String, Value>,
        prefix: &str,
        key: &str,
    ) -> Result<f64, ModelError> {
        let value = self.field(object, prefix, key)?;
        value
            .as_f64()
            .filter(|v| v.is_finite())
            .ok_or_else(|| self.error(format!("`{prefix}{key}` must be a number, found {value}")))
    }

    fn text(
        &self,
        object: &Map<String, Value>,
        prefix: &str,
        key: &str,
    ) -> Result<String, ModelError> {
        let value = self.field(object, prefix, key)?;
        value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| self.error(format!("`{prefix}{key}` must be a string, found {value}")))
    }

    fn count(
        &self,
        object: &Map<String, Value>,
        prefix: &str,
        key: &str,
    ) -> Result<u64, ModelError> {
        let value = self.number(object, prefix, key)?;
        if value < 0.0 {
            return Err(self.error(format!(
                "`{prefix}{key}` must not be negative, found {value}"
            )));
        }
        Ok(value as u64)
    }

    fn model(
        &self,
        root: &Map<String, Value>,
        key: &str,
    ) -> Result<Option<TunedModel>, ModelError> {
        if !root.contains_key(key) {
            return Ok(None);
        }
        let entry = self.object(root, "", key)?;
        let prefix = format!("{key}.");
        Ok(Some(TunedModel {
            hyperparameters: self.object(entry, &prefix, "hyperparameters")?.clone(),
            best_rmspe: self.number(entry, &prefix, "best_rmspe")?,
            run_id: self.text(entry, &prefix, "run_id")?,
        }))
    }
}

/// Reads tuned hyperparameters of one model with the key path in errors.
struct Hyperparameters<'a> {
    file: &'a Path,
    engine: &'static str,
    values: &'a Map<String, Value>,
}

impl Hyperparameters<'_> {
    fn error(&self, key: &str, reason: &str) -> ModelError {
        ModelError::Format {
            path: self.file.to_path_buf(),
            reason: format!("`{}.hyperparameters.{key}` {reason}", self.engine),
        }
    }

    fn float(&self, key: &str) -> Result<f64, ModelError> {
        let value = self
            .values
            .get(key)
            .ok_or_else(|| self.error(key, "is missing"))?;
        value
            .as_f64()
            .filter(|v| v.is_finite())
            .ok_or_else(|| self.error(key, &format!("must be a number, found {value}")))
    }

    /// An integer-valued hyperparameter, truncated toward zero as Python's `int()` does.
    fn integer(&self, key: &str) -> Result<i64, ModelError> {
        let value = self.float(key)?;
        if value.abs() > 2_147_483_647.0 {
            return Err(self.error(key, &format!("is out of range: {value}")));
        }
        Ok(value.trunc() as i64)
    }

    fn unsigned(&self, key: &str) -> Result<u32, ModelError> {
        let value = self.integer(key)?;
        u32::try_from(value)
            .map_err(|_| self.error(key, &format!("must not be negative, found {value}")))
    }

    /// Refuses keys this engine does not know, so a typo cannot be silently ignored.
    fn only(&self, known: &[&str]) -> Result<(), ModelError> {
        if let Some(key) = self.values.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(self.error(
                key,
                &format!(
                    "is not a {} hyperparameter; known: {}",
                    self.engine,
                    known.join(", ")
                ),
            ));
        }
        Ok(())
    }
}

impl BestHyperparameters {
    /// The reference's committed file (values from its Optuna studies).
    pub fn reference() -> Self {
        let object = |v: Value| v.as_object().cloned().unwrap_or_default();
        Self {
            lightgbm: Some(TunedModel {
                hyperparameters: object(json!({"reg_lambda": 0.5548869964298921, "max_depth": 14,
                    "learning_rate": 0.09907767405402476, "bagging_freq": 9, "feature_fraction": 0.7638691330886829,
                    "bagging_fraction": 0.846994779649261, "reg_alpha": 0.874002054470144, "num_leaves": 112,
                    "min_child_samples": 47})),
                best_rmspe: 0.12647224038805377,
                run_id: "cb4e1c94c6d343ad9df5c4e790b27c8d".into(),
            }),
            xgboost: Some(TunedModel {
                hyperparameters: object(json!({"reg_lambda": 0.2629301632630104, "max_depth": 15,
                    "learning_rate": 0.030794654216388606, "min_child_weight": 10, "gamma": 0.35822958859053944,
                    "colsample_bytree": 0.855766511682563, "reg_alpha": 0.4844786966814199,
                    "subsample": 0.7030572357656915})),
                best_rmspe: 0.12182958424091339,
                run_id: "8427167be3f6435e899a67b2b349b567".into(),
            }),
            catboost: Some(TunedModel {
                hyperparameters: object(json!({"learning_rate": 0.060279781584468055,
                    "bagging_temperature": 0.6628074422804099, "random_strength": 0.07720203612333576, "depth": 10,
                    "border_count": 226, "l2_leaf_reg": 5.843952578300897})),
                best_rmspe: 0.12998103857627044,
                run_id: "ea442bdce609459fbac2a44dadddc5b9".into(),
            }),
            metadata: TuningMetadata {
                source: "optuna_hyperparameter_tuning".into(),
                n_trials_per_model: 50,
                cv_folds: 5,
                optimization_metric: "rmspe".into(),
                best_model: "xgboost".into(),
                best_rmspe: 0.12182958424091339,
            },
        }
    }

    /// Reads the file.
    ///
    /// # Errors
    /// [`ModelError::Io`] when it cannot be read; [`ModelError::Format`] naming the file and the missing or
    /// invalid key otherwise.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json_str(&text, path)
    }

    /// Reads the file when it exists, else the reference's tuned values (what `train`, `tune` and `baseline` use
    /// when no file was written yet).
    ///
    /// # Errors
    /// As [`BestHyperparameters::load`] for a file that exists.
    pub fn load_or_reference(path: &Path) -> Result<Self, ModelError> {
        if path.exists() {
            Self::load(path)
        } else {
            tracing::info!(file = %path.display(), "no hyperparameter file; using the reference's tuned values");
            Ok(Self::reference())
        }
    }

    /// Parses the file's content; `path` only labels errors.
    ///
    /// # Errors
    /// [`ModelError::Format`] naming the missing or invalid key.
    pub fn from_json_str(text: &str, path: &Path) -> Result<Self, ModelError> {
        let reader = Reader { file: path };
        let root: Value =
            serde_json::from_str(text).map_err(|e| reader.error(format!("not valid JSON: {e}")))?;
        let root = root
            .as_object()
            .ok_or_else(|| reader.error("the top level must be an object".into()))?;
        if let Some(key) = root
            .keys()
            .find(|k| !["lightgbm", "xgboost", "catboost", "metadata"].contains(&k.as_str()))
        {
            return Err(reader.error(format!(
                "unknown top-level key `{key}`; expected lightgbm, xgboost, catboost and metadata"
            )));
        }
        let metadata = reader.object(root, "", "metadata")?;
        let p = "metadata.";
        Ok(Self {
            lightgbm: reader.model(root, "lightgbm")?,
            xgboost: reader.model(root, "xgboost")?,
            catboost: reader.model(root, "catboost")?,
            metadata: TuningMetadata {
                source: reader.text(metadata, p, "source")?,
                n_trials_per_model: reader.count(metadata, p, "n_trials_per_model")?,
                cv_folds: reader.count(metadata, p, "cv_folds")?,
                optimization_metric: reader.text(metadata, p, "optimization_metric")?,
                best_model: reader.text(metadata, p, "best_model")?,
                best_rmspe: reader.number(metadata, p, "best_rmspe")?,
            },
        })
    }

    /// The file's JSON, in the reference's shape.
    pub fn to_json(&self) -> Value {
        let mut root = Map::new();
        for (key, model) in [
            ("lightgbm", &self.lightgbm),
            ("xgboost", &self.xgboost),
            ("catboost", &self.catboost),
        ] {
            if let Some(model) = model {
                root.insert(
                    key.into(),
                    json!({"hyperparameters": model.hyperparameters, "best_rmspe": model.best_rmspe, "run_id": model.run_id}),
                );
            }
        }
        let m = &self.metadata;
        root.insert(
            "metadata".into(),
            json!({"source": m.source, "n_trials_per_model": m.n_trials_per_model, "cv_folds": m.cv_folds,
                "optimization_metric": m.optimization_metric, "best_model": m.best_model, "best_rmspe": m.best_rmspe}),
        );
        Value::Object(root)
    }

    /// Writes the file (pretty JSON, trailing newline), creating the parent folder.
    ///
    /// # Errors
    /// [`ModelError::Io`] when the file cannot be written.
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        let io = |source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut text =
            serde_json::to_string_pretty(&self.to_json()).map_err(|e| ModelError::Format {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        text.push('\n');
        std::fs::write(path, text).map_err(io)
    }

    /// Replaces one model's entry and recomputes `metadata.best_model` / `best_rmspe` over all entries.
    pub fn set_model(&mut self, engine: Engine, model: TunedModel) {
        match engine {
            Engine::Lightgbm => self.lightgbm = Some(model),
            Engine::Xgboost => self.xgboost = Some(model),
            Engine::Catboost => self.catboost = Some(model),
        }
        let best = [
            (Engine::Lightgbm, &self.lightgbm),
            (Engine::Xgboost, &self.xgboost),
            (Engine::Catboost, &self.catboost),
        ]
        .into_iter()
        .filter_map(|(e, m)| m.as_ref().map(|m| (e, m.best_rmspe)))
        .min_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((engine, rmspe)) = best {
            self.metadata.best_model = engine.key().into();
            self.metadata.best_rmspe = rmspe;
        }
    }

    fn entry(&self, engine: Engine, file: &Path) -> Result<&TunedModel, ModelError> {
        let model = match engine {
            Engine::Lightgbm => &self.lightgbm,
            Engine::Xgboost => &self.xgboost,
            Engine::Catboost => &self.catboost,
        };
        model.as_ref().ok_or_else(|| ModelError::Format {
            path: file.to_path_buf(),
            reason: format!(
                "`{}` is missing; tune it first or train with default settings",
                engine.key()
            ),
        })
    }

    /// The LightGBM config: tuned values, 1,600 rounds, seed 42. `file` labels errors.
    ///
    /// # Errors
    /// [`ModelError::Format`] naming a missing, unknown or invalid key; [`ModelError::InvalidConfig`] when a value
    /// is out of range.
    pub fn lightgbm_config(&self, file: &Path) -> Result<LightGbmConfig, ModelError> {
        let h = Hyperparameters {
            file,
            engine: "lightgbm",
            values: &self.entry(Engine::Lightgbm, file)?.hyperparameters,
        };
        h.only(&[
            "num_leaves",
            "max_depth",
            "learning_rate",
            "feature_fraction",
            "bagging_fraction",
            "bagging_freq",
            "min_child_samples",
            "reg_alpha",
            "reg_lambda",
        ])?;
        let config = LightGbmConfig {
            num_leaves: h.unsigned("num_leaves")?,
            max_depth: i32::try_from(h.integer("max_depth")?)
                .map_err(|_| h.error("max_depth", "is out of range"))?,
            learning_rate: h.float("learning_rate")?,
            feature_fraction: h.float("feature_fraction")?,
            bagging_fraction: h.float("bagging_fraction")?,
            bagging_freq: h.unsigned("bagging_freq")?,
            min_child_samples: h.unsigned("min_child_samples")?,
            reg_alpha: h.float("reg_alpha")?,
            reg_lambda: h.float("reg_lambda")?,
            rounds: REFERENCE_LIGHTGBM_ROUNDS,
            seed: REFERENCE_SEED,
            ..LightGbmConfig::default()
        };
        config.validate()?;
        Ok(config)
    }

    /// The XGBoost config: tuned values, 1,600 rounds, seed 42. `file` labels errors.
    ///
    /// # Errors
    /// As [`BestHyperparameters::lightgbm_config`].
    pub fn xgboost_config(&self, file: &Path) -> Result<XgBoostConfig, ModelError> {
        let h = Hyperparameters {
            file,
            engine: "xgboost",
            values: &self.entry(Engine::Xgboost, file)?.hyperparameters,
        };
        h.only(&[
            "max_depth",
            "learning_rate",
            "subsample",
            "colsample_bytree",
            "min_child_weight",
            "reg_alpha",
            "reg_lambda",
            "gamma",
        ])?;
        let config = XgBoostConfig {
            max_depth: h.unsigned("max_depth")?,
            learning_rate: h.float("learning_rate")?,
            subsample: h.float("subsample")?,
            colsample_bytree: h.float("colsample_bytree")?,
            min_child_weight: h.integer("min_child_weight")? as f64,
            reg_alpha: h.float("reg_alpha")?,
            reg_lambda: h.float("reg_lambda")?,
            gamma: h.float("gamma")?,
            rounds: REFERENCE_XGBOOST_ROUNDS,
            seed: REFERENCE_SEED,
            ..XgBoostConfig::default()
        };
        config.validate()?;
        Ok(config)
    }

    /// The CatBoost entry, typed, with 1,500 iterations and seed 42 (for the oblivious booster's config).
    /// `file` labels errors.
    ///
    /// # Errors
    /// [`ModelError::Format`] naming a missing, unknown or invalid key.
    pub fn catboost_hyperparameters(
        &self,
        file: &Path,
    ) -> Result<CatboostHyperparameters, ModelError> {
        let h = Hyperparameters {
            file,
            engine: "catboost",
            values: &self.entry(Engine::Catboost, file)?.hyperparameters,
        };
        h.only(&[
            "depth",
            "learning_rate",
            "l2_leaf_reg",
            "random_strength",
            "bagging_temperature",
            "border_count",
        ])?;
        Ok(CatboostHyperparameters {
            depth: h.unsigned("depth")?,
            learning_rate: h.float("learning_rate")?,
            l2_leaf_reg: h.float("l2_leaf_reg")?,
            random_strength: h.float("random_strength")?,
            bagging_temperature: h.float("bagging_temperature")?,
            border_count: h.unsigned("border_count")?,
            iterations: REFERENCE_CATBOOST_ITERATIONS,
            seed: REFERENCE_SEED,
        })
    }
}

impl BestHyperparameters {
    /// The oblivious booster's config from the CatBoost entry: tuned values, 1,500 iterations, seed 42, the
    /// booster's defaults otherwise. `file` labels errors.
    ///
    /// # Errors
    /// As [`BestHyperparameters::catboost_hyperparameters`]; [`ModelError::InvalidConfig`] when a value is out of
    /// the booster's range.
    pub fn oblivious_config(
        &self,
        file: &Path,
    ) -> Result<crate::oblivious::ObliviousConfig, ModelError> {
        let tuned = self.catboost_hyperparameters(file)?;
        let config = crate::oblivious::ObliviousConfig {
            depth: tuned.depth,
            learning_rate: tuned.learning_rate,
            l2_leaf_reg: tuned.l2_leaf_reg,
            random_strength: tuned.random_strength,
            bagging_temperature: tuned.bagging_temperature,
            border_count: tuned.border_count,
            iterations: tuned.iterations,
            seed: tuned.seed,
            ..crate::oblivious::ObliviousConfig::default()
        };
        config.validate()?;
        Ok(config)
    }
}

/// Where the file lives inside a project: `<project>/config/best_hyperparameters.json`.
pub fn default_path(project_dir: &Path) -> PathBuf {
    project_dir.join("config").join("best_hyperparameters.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "config/best_hyperparameters.json";

    #[test]
    fn reference_maps_to_the_reference_engine_configs() {
        let best = BestHyperparameters::reference();
        let file = Path::new(FILE);
        assert_eq!(
            best.lightgbm_config(file).unwrap(),
            LightGbmConfig::reference()
        );
        assert_eq!(
            best.xgboost_config(file).unwrap(),
            XgBoostConfig::reference()
        );
        let cat = best.catboost_hyperparameters(file).unwrap();
        assert_eq!(
            (cat.depth, cat.border_count, cat.iterations, cat.seed),
            (10, 226, 1500, 42)
        );
    }

    #[test]
    fn the_committed_file_is_the_reference() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/best_hyperparameters.json");
        let committed = BestHyperparameters::load(&path).unwrap();
        assert_eq!(committed, BestHyperparameters::reference());
        let cat = committed.oblivious_config(&path).unwrap();
        assert_eq!(
            (cat.depth, cat.border_count, cat.iterations, cat.seed),
            (10, 226, 1500, 42)
        );
        assert_eq!(cat.random_strength, 0.07720203612333576);
        assert_eq!(cat.l2_leaf_reg, 5.843952578300897);
    }

    #[test]
    fn json_round_trips() {
        let best = BestHyperparameters::reference();
        let text = serde_json::to_string(&best.to_json()).unwrap();
        assert_eq!(
            BestHyperparameters::from_json_str(&text, Path::new(FILE)).unwrap(),
            best
        );
    }

    #[test]
    fn missing_and_invalid_keys_are_named_with_their_path() {
        let mut value = BestHyperparameters::reference().to_json();
        value["xgboost"]["hyperparameters"]
            .as_object_mut()
            .unwrap()
            .remove("max_depth");
        let best = BestHyperparameters::from_json_str(&value.to_string(), Path::new(FILE)).unwrap();
        let err = best
            .xgboost_config(Path::new(FILE))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`xgboost.hyperparameters.max_depth` is missing") && err.contains(FILE),
            "{err}"
        );

        let mut value = BestHyperparameters::reference().to_json();
        value["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("best_model");
        let err = BestHyperparameters::from_json_str(&value.to_string(), Path::new(FILE))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`metadata.best_model` is missing"), "{err}");

        let mut value = BestHyperparameters::reference().to_json();
        value["lightgbm"]["best_rmspe"] = json!("low");
        let err = BestHyperparameters::from_json_str(&value.to_string(), Path::new(FILE))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`lightgbm.best_rmspe` must be a number"),
            "{err}"
        );

        let mut value = BestHyperparameters::reference().to_json();
        value["lightgbm"]["hyperparameters"]["num_leafs"] = json!(3);
        let best = BestHyperparameters::from_json_str(&value.to_string(), Path::new(FILE)).unwrap();
        let err = best
            .lightgbm_config(Path::new(FILE))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("num_leafs") && err.contains("not a lightgbm hyperparameter"),
            "{err}"
        );
    }

    #[test]
    fn integer_hyperparameters_are_truncated_like_python_int() {
        let mut value = BestHyperparameters::reference().to_json();
        value["lightgbm"]["hyperparameters"]["num_leaves"] = json!(112.9);
        let best = BestHyperparameters::from_json_str(&value.to_string(), Path::new(FILE)).unwrap();
        assert_eq!(
            best.lightgbm_config(Path::new(FILE)).unwrap().num_leaves,
            112
        );
    }

    #[test]
    fn set_model_updates_the_best_model() {
        let mut best = BestHyperparameters::reference();
        let mut better = best.catboost.clone().unwrap();
        better.best_rmspe = 0.1;
        best.set_model(Engine::Catboost, better);
        assert_eq!(best.metadata.best_model, "catboost");
        assert_eq!(best.metadata.best_rmspe, 0.1);
    }
}
