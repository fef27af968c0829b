//! The LightGBM C API calls: dataset and booster handles for training, and the fitted [`LightGbmModel`].

use super::{LightGbmConfig, MODEL_FILE, check_feature_names};
use crate::{
    EarlyStopping, Engine, FeatureMatrix, Fit, ModelError, Regressor, TrainProgress, TrainSet,
};
use lightgbm3_sys as sys;
use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::path::{Path, PathBuf};
use std::ptr;

const ENGINE: &str = "lightgbm";

/// Turns a LightGBM return code into a result carrying LightGBM's own message.
fn check(code: c_int) -> Result<(), ModelError> {
    if code == 0 {
        return Ok(());
    }
    // SAFETY: LGBM_GetLastError returns a pointer to a NUL-terminated, thread-local buffer that stays valid
    // until the next LightGBM call on this thread; it is copied out at once.
    let message = unsafe { CStr::from_ptr(sys::LGBM_GetLastError()) }
        .to_string_lossy()
        .into_owned();
    Err(ModelError::Engine {
        engine: ENGINE,
        message,
    })
}

fn engine_error(error: impl std::fmt::Display) -> ModelError {
    ModelError::Engine {
        engine: ENGINE,
        message: error.to_string(),
    }
}

fn c_string(text: &str, what: &str) -> Result<CString, ModelError> {
    CString::new(text).map_err(|_| ModelError::InvalidData(format!("{what} contains a NUL byte")))
}

/// An owned LightGBM dataset, freed on drop.
struct Dataset(sys::DatasetHandle);

impl Drop for Dataset {
    fn drop(&mut self) {
        // SAFETY: the handle came from LGBM_DatasetCreateFromMat and is freed exactly once; boosters using it
        // are dropped first (declared later in `fit`).
        unsafe { sys::LGBM_DatasetFree(self.0) };
    }
}

impl Dataset {
    /// Bins `set` with `params`; `reference` makes an evaluation set share the training set's bin boundaries.
    fn from_train_set(
        set: &TrainSet<'_>,
        params: &CStr,
        reference: Option<&Dataset>,
    ) -> Result<Self, ModelError> {
        let features = set.features;
        let n_rows = i32::try_from(features.n_rows()).map_err(|_| {
            ModelError::InvalidData(format!(
                "{} rows exceed LightGBM's limit of 2^31-1",
                features.n_rows()
            ))
        })?;
        let n_cols = i32::try_from(features.n_features())
            .map_err(|_| ModelError::InvalidData("too many feature columns for LightGBM".into()))?;
        let mut handle: sys::DatasetHandle = ptr::null_mut();
        // SAFETY: `values` holds n_rows * n_cols f32 in row-major order (FeatureMatrix invariant); LightGBM copies
        // them into its bins before returning. `params` is NUL-terminated; `reference` is a live dataset or null.
        check(unsafe {
            sys::LGBM_DatasetCreateFromMat(
                features.values().as_ptr().cast::<c_void>(),
                sys::C_API_DTYPE_FLOAT32 as c_int,
                n_rows,
                n_cols,
                1,
                params.as_ptr(),
                reference.map_or(ptr::null_mut(), |r| r.0),
                &mut handle,
            )
        })?;
        let dataset = Dataset(handle);
        dataset.set_field(c"label", set.target)?;
        if let Some(weights) = set.weights {
            dataset.set_field(c"weight", weights)?;
        }
        let names: Vec<CString> = features
            .names()
            .iter()
            .map(|n| c_string(n, "a feature name"))
            .collect::<Result<_, _>>()?;
        let mut name_ptrs: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
        // SAFETY: n_cols valid C strings that outlive the call; LightGBM copies them.
        check(unsafe { sys::LGBM_DatasetSetFeatureNames(handle, name_ptrs.as_mut_ptr(), n_cols) })?;
        Ok(dataset)
    }

    fn set_field(&self, field: &CStr, values: &[f32]) -> Result<(), ModelError> {
        let len = i32::try_from(values.len())
            .map_err(|_| ModelError::InvalidData("too many rows for LightGBM".into()))?;
        // SAFETY: `values` has `len` f32 and outlives the call; LightGBM copies the field.
        check(unsafe {
            sys::LGBM_DatasetSetField(
                self.0,
                field.as_ptr(),
                values.as_ptr().cast::<c_void>(),
                len,
                sys::C_API_DTYPE_FLOAT32 as c_int,
            )
        })
    }
}

/// A booster being trained, freed on drop.
struct TrainingBooster(sys::BoosterHandle);

impl Drop for TrainingBooster {
    fn drop(&mut self) {
        // SAFETY: the handle came from LGBM_BoosterCreate and is freed exactly once.
        unsafe { sys::LGBM_BoosterFree(self.0) };
    }
}

impl TrainingBooster {
    fn new(train: &Dataset, params: &CStr) -> Result<Self, ModelError> {
        let mut handle: sys::BoosterHandle = ptr::null_mut();
        // SAFETY: `train` is a live dataset that outlives the booster (dropped after it in `fit`).
        check(unsafe { sys::LGBM_BoosterCreate(train.0, params.as_ptr(), &mut handle) })?;
        Ok(Self(handle))
    }

    fn add_valid(&self, valid: &Dataset) -> Result<(), ModelError> {
        // SAFETY: both handles are live; the dataset outlives the booster.
        check(unsafe { sys::LGBM_BoosterAddValidData(self.0, valid.0) })
    }

    /// One boosting round; true when LightGBM cannot split any further.
    fn update_one_round(&self) -> Result<bool, ModelError> {
        let mut is_finished: c_int = 0;
        // SAFETY: live handle, valid out pointer.
        check(unsafe { sys::LGBM_BoosterUpdateOneIter(self.0, &mut is_finished) })?;
        Ok(is_finished != 0)
    }

    /// The first metric (rmse) on the first validation set.
    fn valid_rmse(&self) -> Result<f64, ModelError> {
        let mut count: c_int = 0;
        // SAFETY: live handle, valid out pointer.
        check(unsafe { sys::LGBM_BoosterGetEvalCounts(self.0, &mut count) })?;
        let mut results = vec![0.0f64; usize::try_from(count).unwrap_or(0).max(1)];
        let mut len: c_int = 0;
        // SAFETY: `results` has room for `count` doubles, the number of metrics LightGBM reports.
        check(unsafe { sys::LGBM_BoosterGetEval(self.0, 1, &mut len, results.as_mut_ptr()) })?;
        if len < 1 {
            return Err(engine_error(
                "LightGBM reported no evaluation metric for the evaluation set",
            ));
        }
        Ok(results[0])
    }

    fn rollback_one_round(&self) -> Result<(), ModelError> {
        // SAFETY: live handle.
        check(unsafe { sys::LGBM_BoosterRollbackOneIter(self.0) })
    }

    /// The whole model as LightGBM's text format.
    fn model_text(&self) -> Result<String, ModelError> {
        let mut needed: i64 = 0;
        // SAFETY: a zero-length buffer only asks for the needed size.
        check(unsafe {
            sys::LGBM_BoosterSaveModelToString(
                self.0,
                0,
                -1,
                sys::C_API_FEATURE_IMPORTANCE_GAIN as c_int,
                0,
                &mut needed,
                ptr::null_mut(),
            )
        })?;
        let mut buffer = vec![0u8; usize::try_from(needed).unwrap_or(0).max(1)];
        let mut written: i64 = 0;
        // SAFETY: `buffer` has `needed` bytes, as LightGBM asked for.
        check(unsafe {
            sys::LGBM_BoosterSaveModelToString(
                self.0,
                0,
                -1,
                sys::C_API_FEATURE_IMPORTANCE_GAIN as c_int,
                buffer.len() as i64,
                &mut written,
                buffer.as_mut_ptr().cast::<c_char>(),
            )
        })?;
        let text = CStr::from_bytes_until_nul(&buffer).map_err(|_| {
            engine_error("LightGBM returned a model string without a terminating NUL")
        })?;
        text.to_str()
            .map(str::to_owned)
            .map_err(|_| engine_error("LightGBM returned a model string that is not UTF-8"))
    }
}

/// `lightgbm3::Booster` holds a raw handle, so it is neither `Send` nor `Sync` on its own.
struct SendBooster(lightgbm3::Booster);

// SAFETY: a LightGBM booster handle has no thread affinity (the C API takes it from any thread; errors are kept
// per thread).
unsafe impl Send for SendBooster {}
// SAFETY: shared use is prediction only: LightGBM's `Booster::Predict` takes the booster's lock in shared mode and
// builds its predictor and buffers per call, so concurrent predictions are supported by the library. The only
// mutating calls (training, rollback) happen on the training booster before a `LightGbmModel` exists.
unsafe impl Sync for SendBooster {}

/// A fitted LightGBM model: the native text model plus the loaded booster that predicts with it.
pub struct LightGbmModel {
    booster: SendBooster,
    /// The trees compiled for block prediction, when the model is in the evaluator's scope.
    forest: Option<super::forest::Forest>,
    model_text: String,
    feature_names: Vec<String>,
    importance: Vec<(String, f64)>,
    n_rounds: usize,
}

impl std::fmt::Debug for LightGbmModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LightGbmModel")
            .field("n_features", &self.feature_names.len())
            .field("n_rounds", &self.n_rounds)
            .finish_non_exhaustive()
    }
}

impl LightGbmModel {
    /// Reads a native LightGBM text model.
    ///
    /// # Errors
    /// [`ModelError::Io`] when the file cannot be read, [`ModelError::Format`] when it is not a LightGBM model.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_model_text(text).map_err(|err| ModelError::Format {
            path: path.to_path_buf(),
            reason: err.to_string(),
        })
    }

    /// Builds a model from LightGBM's text format.
    ///
    /// # Errors
    /// [`ModelError::Engine`] when LightGBM rejects the text.
    pub fn from_model_text(text: String) -> Result<Self, ModelError> {
        if text.contains('\0') {
            return Err(engine_error("the model text contains a NUL byte"));
        }
        let booster = lightgbm3::Booster::from_string(&text).map_err(engine_error)?;
        let feature_names = feature_names_from_model_text(&text)?;
        let n_features = usize::try_from(booster.num_features()).unwrap_or(0);
        if n_features != feature_names.len() {
            return Err(engine_error(format!(
                "the model has {n_features} features but its feature_names line lists {}",
                feature_names.len()
            )));
        }
        let gains = booster
            .feature_importance(lightgbm3::ImportanceType::Gain)
            .map_err(engine_error)?;
        let importance = feature_names.iter().cloned().zip(gains).collect();
        let n_rounds = usize::try_from(booster.num_iterations()).unwrap_or(0);
        let forest = super::forest::Forest::compile(&text).map_err(engine_error)?;
        Ok(Self {
            booster: SendBooster(booster),
            forest,
            model_text: text,
            feature_names,
            importance,
            n_rounds,
        })
    }

    /// Predicts with LightGBM's own predictor (what [`Regressor::predict`] uses for models the compiled forest does
    /// not cover; tests and benchmarks compare the two).
    ///
    /// # Errors
    /// [`ModelError::InvalidData`] for columns that differ from the model's; [`ModelError::Engine`] from LightGBM.
    pub fn predict_with_library(&self, features: &FeatureMatrix) -> Result<Vec<f64>, ModelError> {
        features.check_columns(&self.feature_names)?;
        if features.n_rows() == 0 {
            return Ok(Vec::new());
        }
        let n_features = i32::try_from(features.n_features())
            .map_err(|_| ModelError::InvalidData("too many feature columns for LightGBM".into()))?;
        features.predict_in_blocks(|block| {
            self.booster
                .0
                .predict_with_params(block.values, n_features, true, "num_threads=1")
                .map_err(engine_error)
        })
    }

    /// Whether predictions come from the compiled forest (bit-identical to LightGBM's) rather than the library.
    pub fn is_compiled(&self) -> bool {
        self.forest.is_some()
    }

    /// The native text model, exactly as [`Regressor::save`] writes it.
    pub fn model_text(&self) -> &str {
        &self.model_text
    }

    /// Feature names stored in the model, in column order.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }
}

/// The `feature_names=` header line of a LightGBM text model.
fn feature_names_from_model_text(text: &str) -> Result<Vec<String>, ModelError> {
    text.lines()
        .take_while(|line| !line.starts_with("Tree="))
        .find_map(|line| line.strip_prefix("feature_names="))
        .map(|names| names.split(' ').map(str::to_owned).collect())
        .ok_or_else(|| engine_error("the model text has no feature_names line"))
}

impl Fit for LightGbmConfig {
    type Model = LightGbmModel;

    fn fit(
        &self,
        train: &TrainSet<'_>,
        eval: Option<&TrainSet<'_>>,
        progress: &dyn TrainProgress,
    ) -> Result<LightGbmModel, ModelError> {
        self.validate()?;
        train.check()?;
        check_feature_names(train.features)?;
        if let Some(eval) = eval {
            eval.check()?;
            eval.features.check_columns(train.features.names())?;
        }
        let params_text = self.native_parameters(&train.features.categorical_columns());
        tracing::debug!(params = %params_text, rows = train.features.n_rows(), "training lightgbm");
        let params = c_string(&params_text, "the LightGBM parameter string")?;

        let train_set = Dataset::from_train_set(train, &params, None)?;
        let valid_set = eval
            .map(|e| Dataset::from_train_set(e, &params, Some(&train_set)))
            .transpose()?;
        let booster = TrainingBooster::new(&train_set, &params)?;
        if let Some(valid) = &valid_set {
            booster.add_valid(valid)?;
        }

        let total = self.rounds as usize;
        let mut stopping = match (self.early_stopping_rounds, &valid_set) {
            (Some(patience), Some(_)) => Some(EarlyStopping::new(patience as usize)),
            _ => None,
        };
        let mut rounds_done = 0usize;
        for round in 1..=total {
            let finished = booster.update_one_round()?;
            if finished {
                // Nothing could be split: LightGBM did not add a tree this round.
                tracing::debug!(round, "lightgbm: no further splits possible");
                break;
            }
            rounds_done = round;
            let score = if valid_set.is_some() {
                Some(booster.valid_rmse()?)
            } else {
                None
            };
            progress.on_round(round, total, score);
            if let (Some(stopping), Some(score)) = (stopping.as_mut(), score)
                && stopping.should_stop(round, score)
            {
                break;
            }
        }
        if let Some(best) = stopping.as_ref().and_then(EarlyStopping::best_rounds) {
            for _ in best..rounds_done {
                booster.rollback_one_round()?;
            }
            tracing::debug!(
                best_rounds = best,
                rounds_done,
                "lightgbm: kept the best iteration"
            );
        }
        let text = booster.model_text()?;
        drop(booster);
        LightGbmModel::from_model_text(text)
    }
}

impl Regressor for LightGbmModel {
    fn engine(&self) -> Engine {
        Engine::Lightgbm
    }

    fn predict(&self, features: &FeatureMatrix) -> Result<Vec<f64>, ModelError> {
        features.check_columns(&self.feature_names)?;
        if features.n_rows() == 0 {
            return Ok(Vec::new());
        }
        match &self.forest {
            Some(forest) => features.predict_in_blocks(|block| Ok(forest.predict(block))),
            None => self.predict_with_library(features),
        }
    }

    fn save(&self, dir: &Path) -> Result<PathBuf, ModelError> {
        let path = dir.join(MODEL_FILE);
        std::fs::write(&path, &self.model_text).map_err(|source| ModelError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }

    fn feature_importance(&self) -> Vec<(String, f64)> {
        self.importance.clone()
    }

    fn n_rounds(&self) -> usize {
        self.n_rounds
    }
}
