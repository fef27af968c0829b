//! The XGBoost C API calls: DMatrix and booster handles, training, and the fitted [`XgBoostModel`].

use super::{MODEL_FILE, XgBoostConfig};
use crate::{
    EarlyStopping, Engine, FeatureMatrix, Fit, ModelError, Regressor, TrainProgress, TrainSet,
};
use std::ffi::{CStr, CString, c_char, c_int};
use std::path::{Path, PathBuf};
use std::ptr;
use xgboost_lib_sys as sys;

const ENGINE: &str = "xgboost";

/// Prediction settings: plain values from every tree, not for training.
const PREDICT_CONFIG: &CStr =
    c"{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, \"strict_shape\": false}";

/// Turns an XGBoost return code into a result carrying XGBoost's own message.
fn check(code: c_int) -> Result<(), ModelError> {
    if code == 0 {
        return Ok(());
    }
    // SAFETY: XGBGetLastError returns a NUL-terminated thread-local buffer, valid until the next XGBoost call on
    // this thread; it is copied out at once.
    let message = unsafe { CStr::from_ptr(sys::XGBGetLastError()) }
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

fn c_strings(values: &[String]) -> Result<Vec<CString>, ModelError> {
    values
        .iter()
        .map(|v| {
            CString::new(v.as_str()).map_err(|_| {
                ModelError::InvalidData(format!("feature name `{v}` contains a NUL byte"))
            })
        })
        .collect()
}

/// An owned XGBoost DMatrix, freed on drop. Created, used and dropped on one thread (XGBoost keeps per-thread
/// entries keyed by the matrix).
struct DMatrix(sys::DMatrixHandle);

impl Drop for DMatrix {
    fn drop(&mut self) {
        // SAFETY: the handle came from XGDMatrixCreateFromMat and is freed exactly once.
        unsafe { sys::XGDMatrixFree(self.0) };
    }
}

impl DMatrix {
    /// The features as a dense matrix (`NaN` = missing), with feature names.
    fn from_features(features: &FeatureMatrix) -> Result<Self, ModelError> {
        Self::from_rows(features.values(), features.n_rows(), features.names())
    }

    /// `n_rows` rows of row-major `values`, one column per name.
    fn from_rows(values: &[f32], n_rows: usize, names: &[String]) -> Result<Self, ModelError> {
        if values.len() != n_rows * names.len() {
            return Err(engine_error(format!(
                "{} values are not {n_rows} rows of {} features",
                values.len(),
                names.len()
            )));
        }
        let mut handle: sys::DMatrixHandle = ptr::null_mut();
        // SAFETY: `values` holds n_rows * n_features f32 (checked above), row-major; XGBoost copies them before
        // returning.
        check(unsafe {
            sys::XGDMatrixCreateFromMat(
                values.as_ptr(),
                n_rows as sys::bst_ulong,
                names.len() as sys::bst_ulong,
                f32::NAN,
                &mut handle,
            )
        })?;
        let matrix = DMatrix(handle);
        let names = c_strings(names)?;
        let mut name_ptrs: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
        // SAFETY: n_features valid C strings that outlive the call; XGBoost copies them.
        check(unsafe {
            sys::XGDMatrixSetStrFeatureInfo(
                handle,
                c"feature_name".as_ptr(),
                name_ptrs.as_mut_ptr(),
                name_ptrs.len() as sys::bst_ulong,
            )
        })?;
        Ok(matrix)
    }

    fn from_train_set(set: &TrainSet<'_>) -> Result<Self, ModelError> {
        let matrix = Self::from_features(set.features)?;
        matrix.set_float_info(c"label", set.target)?;
        if let Some(weights) = set.weights {
            matrix.set_float_info(c"weight", weights)?;
        }
        Ok(matrix)
    }

    fn set_float_info(&self, field: &CStr, values: &[f32]) -> Result<(), ModelError> {
        // SAFETY: `values` outlives the call; XGBoost copies the field.
        check(unsafe {
            sys::XGDMatrixSetFloatInfo(
                self.0,
                field.as_ptr(),
                values.as_ptr(),
                values.len() as sys::bst_ulong,
            )
        })
    }
}

/// An owned XGBoost booster, freed on drop.
struct Booster(sys::BoosterHandle);

impl Drop for Booster {
    fn drop(&mut self) {
        // SAFETY: the handle came from XGBoosterCreate/XGBoosterSlice and is freed exactly once.
        unsafe { sys::XGBoosterFree(self.0) };
    }
}

// SAFETY: XGBoost keeps returned buffers in thread-local maps keyed by the learner, so a booster handle has no
// thread affinity.
unsafe impl Send for Booster {}
// SAFETY: shared use is prediction only, which XGBoost supports concurrently for tree models since 1.4 (prediction
// caches and output buffers are thread-local; configuration is guarded inside the learner). Mutating calls
// (`set_param`, `update`, `set_feature_names`) happen in `fit` and in `XgBoostModel::from_model_bytes` before the
// booster is shared.
unsafe impl Sync for Booster {}

impl Booster {
    /// A new booster caching predictions for `matrices` (training first, then evaluation).
    fn new(matrices: &[&DMatrix]) -> Result<Self, ModelError> {
        let handles: Vec<sys::DMatrixHandle> = matrices.iter().map(|m| m.0).collect();
        let mut handle: sys::BoosterHandle = ptr::null_mut();
        // SAFETY: `handles` are live matrices; XGBoost holds its own references to them.
        check(unsafe {
            sys::XGBoosterCreate(
                handles.as_ptr(),
                handles.len() as sys::bst_ulong,
                &mut handle,
            )
        })?;
        Ok(Self(handle))
    }

    /// A booster read from a JSON or UBJSON model.
    fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        let booster = Self::new(&[])?;
        // SAFETY: `bytes` is a valid buffer of the given length; XGBoost parses and copies it.
        check(unsafe {
            sys::XGBoosterLoadModelFromBuffer(
                booster.0,
                bytes.as_ptr().cast(),
                bytes.len() as sys::bst_ulong,
            )
        })?;
        Ok(booster)
    }

    fn set_param(&self, name: &str, value: &str) -> Result<(), ModelError> {
        let (name_c, value_c) = match (CString::new(name), CString::new(value)) {
            (Ok(n), Ok(v)) => (n, v),
            _ => {
                return Err(ModelError::InvalidConfig(format!(
                    "xgboost parameter {name} contains a NUL byte"
                )));
            }
        };
        // SAFETY: live handle, NUL-terminated strings.
        check(unsafe { sys::XGBoosterSetParam(self.0, name_c.as_ptr(), value_c.as_ptr()) })
    }

    fn set_feature_names(&self, names: &[String]) -> Result<(), ModelError> {
        let names = c_strings(names)?;
        let mut ptrs: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
        // SAFETY: valid C strings that outlive the call; XGBoost copies them.
        check(unsafe {
            sys::XGBoosterSetStrFeatureInfo(
                self.0,
                c"feature_name".as_ptr(),
                ptrs.as_mut_ptr(),
                ptrs.len() as sys::bst_ulong,
            )
        })
    }

    fn feature_names(&self) -> Result<Vec<String>, ModelError> {
        let mut len: sys::bst_ulong = 0;
        let mut out: *mut *const c_char = ptr::null_mut();
        // SAFETY: live handle; XGBoost returns `len` C strings in a thread-local buffer, copied out at once.
        check(unsafe {
            sys::XGBoosterGetStrFeatureInfo(self.0, c"feature_name".as_ptr(), &mut len, &mut out)
        })?;
        if len == 0 || out.is_null() {
            return Ok(Vec::new());
        }
        // SAFETY: XGBoost reports `len` valid pointers at `out`.
        let ptrs = unsafe { std::slice::from_raw_parts(out, len as usize) };
        // SAFETY: each pointer is a NUL-terminated string owned by XGBoost until the next call.
        Ok(ptrs
            .iter()
            .map(|p| unsafe { CStr::from_ptr(*p) }.to_string_lossy().into_owned())
            .collect())
    }

    fn update(&self, round: i32, train: &DMatrix) -> Result<(), ModelError> {
        // SAFETY: live handles.
        check(unsafe { sys::XGBoosterUpdateOneIter(self.0, round, train.0) })
    }

    fn predict(&self, matrix: &DMatrix) -> Result<Vec<f32>, ModelError> {
        let mut shape: *const sys::bst_ulong = ptr::null();
        let mut dims: sys::bst_ulong = 0;
        let mut result: *const f32 = ptr::null();
        // SAFETY: live handles, NUL-terminated config; outputs point into thread-local buffers copied out below.
        check(unsafe {
            sys::XGBoosterPredictFromDMatrix(
                self.0,
                matrix.0,
                PREDICT_CONFIG.as_ptr(),
                &mut shape,
                &mut dims,
                &mut result,
            )
        })?;
        let mut len = 1usize;
        if !shape.is_null() {
            // SAFETY: XGBoost reports `dims` entries at `shape`.
            for &d in unsafe { std::slice::from_raw_parts(shape, dims as usize) } {
                len *= d as usize;
            }
        }
        if result.is_null() || len == 0 {
            return Ok(Vec::new());
        }
        // SAFETY: `result` holds the product of the shape's entries as f32.
        Ok(unsafe { std::slice::from_raw_parts(result, len) }.to_vec())
    }

    /// The first `rounds` boosting rounds as a new booster.
    fn slice(&self, rounds: usize) -> Result<Self, ModelError> {
        let end = i32::try_from(rounds).map_err(|_| engine_error("too many rounds to slice"))?;
        let mut out: sys::BoosterHandle = ptr::null_mut();
        // SAFETY: live handle, valid out pointer; end >= 1 (a round was recorded before slicing).
        check(unsafe { sys::XGBoosterSlice(self.0, 0, end, 1, &mut out) })?;
        Ok(Self(out))
    }

    fn boosted_rounds(&self) -> Result<usize, ModelError> {
        let mut rounds: c_int = 0;
        // SAFETY: live handle, valid out pointer.
        check(unsafe { sys::XGBoosterBoostedRounds(self.0, &mut rounds) })?;
        Ok(usize::try_from(rounds).unwrap_or(0))
    }

    /// The model as XGBoost's JSON format.
    fn to_json(&self) -> Result<Vec<u8>, ModelError> {
        let mut len: sys::bst_ulong = 0;
        let mut out: *const c_char = ptr::null();
        // SAFETY: live handle; the buffer is thread-local to XGBoost and copied out at once.
        check(unsafe {
            sys::XGBoosterSaveModelToBuffer(
                self.0,
                c"{\"format\": \"json\"}".as_ptr(),
                &mut len,
                &mut out,
            )
        })?;
        if out.is_null() {
            return Err(engine_error("XGBoost returned an empty model buffer"));
        }
        // SAFETY: XGBoost reports `len` bytes at `out`.
        Ok(unsafe { std::slice::from_raw_parts(out.cast::<u8>(), len as usize) }.to_vec())
    }

    /// Total gain per feature name (features never split on are absent).
    fn total_gain(&self) -> Result<Vec<(String, f64)>, ModelError> {
        let mut n_features: sys::bst_ulong = 0;
        let mut names: *mut *const c_char = ptr::null_mut();
        let mut dims: sys::bst_ulong = 0;
        let mut shape: *const sys::bst_ulong = ptr::null();
        let mut scores: *const f32 = ptr::null();
        // SAFETY: live handle, NUL-terminated config; outputs are thread-local buffers copied out below.
        check(unsafe {
            sys::XGBoosterFeatureScore(
                self.0,
                c"{\"importance_type\": \"total_gain\", \"feature_map\": \"\"}".as_ptr(),
                &mut n_features,
                &mut names,
                &mut dims,
                &mut shape,
                &mut scores,
            )
        })?;
        if n_features == 0 || names.is_null() || scores.is_null() {
            return Ok(Vec::new());
        }
        // SAFETY: XGBoost reports `n_features` names and (single target) `n_features` scores.
        let name_ptrs = unsafe { std::slice::from_raw_parts(names, n_features as usize) };
        // SAFETY: as above.
        let values = unsafe { std::slice::from_raw_parts(scores, n_features as usize) };
        Ok(name_ptrs
            .iter()
            .zip(values)
            // SAFETY: each name is a NUL-terminated string owned by XGBoost until the next call.
            .map(|(p, s)| {
                (
                    unsafe { CStr::from_ptr(*p) }.to_string_lossy().into_owned(),
                    f64::from(*s),
                )
            })
            .collect())
    }
}

/// A fitted XGBoost model: the native JSON model plus the loaded booster that predicts with it.
pub struct XgBoostModel {
    booster: Booster,
    /// The trees compiled for block prediction, when the model is in the evaluator's scope.
    forest: Option<super::forest::Forest>,
    model_json: Vec<u8>,
    feature_names: Vec<String>,
    importance: Vec<(String, f64)>,
    n_rounds: usize,
}

impl std::fmt::Debug for XgBoostModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XgBoostModel")
            .field("n_features", &self.feature_names.len())
            .field("n_rounds", &self.n_rounds)
            .finish_non_exhaustive()
    }
}

impl XgBoostModel {
    /// Reads a native XGBoost JSON (or UBJSON) model.
    ///
    /// # Errors
    /// [`ModelError::Io`] when the file cannot be read, [`ModelError::Format`] when it is not an XGBoost model
    /// or carries no feature names.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_model_bytes(bytes).map_err(|err| ModelError::Format {
            path: path.to_path_buf(),
            reason: err.to_string(),
        })
    }

    /// Builds a model from XGBoost's JSON (or UBJSON) format.
    ///
    /// # Errors
    /// [`ModelError::Engine`] when XGBoost rejects the bytes or the model has no feature names.
    pub fn from_model_bytes(bytes: Vec<u8>) -> Result<Self, ModelError> {
        let booster = Booster::from_bytes(&bytes)?;
        let feature_names = booster.feature_names()?;
        if feature_names.is_empty() {
            return Err(engine_error(
                "the model stores no feature names; modelops matches columns by name, so re-save it with names",
            ));
        }
        let gains = booster.total_gain()?;
        let importance = feature_names
            .iter()
            .map(|name| {
                let gain = gains
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or(0.0, |(_, g)| *g);
                (name.clone(), gain)
            })
            .collect();
        let n_rounds = booster.boosted_rounds()?;
        // One thread per call: `predict` parallelises over row blocks itself (see `predict_in_blocks`).
        booster.set_param("nthread", "1")?;
        // A UBJSON model (e.g. saved by Python as `.ubj`) is kept as JSON, the package's format.
        let is_json = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        let model_json = if is_json { bytes } else { booster.to_json()? };
        let forest = super::forest::Forest::compile(&model_json).map_err(engine_error)?;
        Ok(Self {
            booster,
            forest,
            model_json,
            feature_names,
            importance,
            n_rounds,
        })
    }

    /// Predicts with XGBoost's own predictor (what [`Regressor::predict`] uses for models the compiled forest does
    /// not cover; tests and benchmarks compare the two).
    ///
    /// # Errors
    /// [`ModelError::InvalidData`] for columns that differ from the model's; [`ModelError::Engine`] from XGBoost.
    pub fn predict_with_library(&self, features: &FeatureMatrix) -> Result<Vec<f64>, ModelError> {
        features.check_columns(&self.feature_names)?;
        if features.n_rows() == 0 {
            return Ok(Vec::new());
        }
        features.predict_in_blocks(|block| {
            let rows = block.n_rows;
            let matrix = DMatrix::from_rows(block.values, rows, &self.feature_names)?;
            let predicted = self.booster.predict(&matrix)?;
            if predicted.len() != rows {
                return Err(engine_error(format!(
                    "XGBoost returned {} predictions for {rows} rows",
                    predicted.len()
                )));
            }
            Ok(predicted.into_iter().map(f64::from).collect())
        })
    }

    /// Whether predictions come from the compiled forest (bit-identical to XGBoost's) rather than the library.
    pub fn is_compiled(&self) -> bool {
        self.forest.is_some()
    }

    /// The native model bytes, exactly as [`Regressor::save`] writes them.
    pub fn model_bytes(&self) -> &[u8] {
        &self.model_json
    }

    /// Feature names stored in the model, in column order.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }
}

fn rmse(predictions: &[f32], target: &[f32]) -> f64 {
    let sum: f64 = predictions
        .iter()
        .zip(target)
        .map(|(p, y)| (f64::from(*p) - f64::from(*y)).powi(2))
        .sum();
    (sum / target.len().max(1) as f64).sqrt()
}

impl Fit for XgBoostConfig {
    type Model = XgBoostModel;

    fn fit(
        &self,
        train: &TrainSet<'_>,
        eval: Option<&TrainSet<'_>>,
        progress: &dyn TrainProgress,
    ) -> Result<XgBoostModel, ModelError> {
        self.validate()?;
        train.check()?;
        if let Some(eval) = eval {
            eval.check()?;
            eval.features.check_columns(train.features.names())?;
        }
        let train_matrix = DMatrix::from_train_set(train)?;
        let eval_matrix = eval.map(DMatrix::from_train_set).transpose()?;
        let mut cached = vec![&train_matrix];
        cached.extend(eval_matrix.as_ref());
        let booster = Booster::new(&cached)?;
        for (name, value) in self.native_parameters() {
            booster.set_param(name, &value)?;
        }
        booster.set_feature_names(train.features.names())?;
        tracing::debug!(rows = train.features.n_rows(), "training xgboost");

        let total = self.rounds as usize;
        let mut stopping = match (self.early_stopping_rounds, &eval_matrix) {
            (Some(patience), Some(_)) => Some(EarlyStopping::new(patience as usize)),
            _ => None,
        };
        for round in 1..=total {
            booster.update(i32::try_from(round - 1).unwrap_or(i32::MAX), &train_matrix)?;
            let score = match (&eval_matrix, eval) {
                // Predictions on a matrix cached at booster creation are updated incrementally by XGBoost.
                (Some(matrix), Some(set)) => Some(rmse(&booster.predict(matrix)?, set.target)),
                _ => None,
            };
            progress.on_round(round, total, score);
            if let (Some(stopping), Some(score)) = (stopping.as_mut(), score)
                && stopping.should_stop(round, score)
            {
                break;
            }
        }
        let json = match stopping.as_ref().and_then(EarlyStopping::best_rounds) {
            Some(best) if best < booster.boosted_rounds()? => {
                tracing::debug!(best_rounds = best, "xgboost: kept the best iteration");
                let sliced = booster.slice(best)?;
                sliced.set_feature_names(train.features.names())?;
                sliced.to_json()?
            }
            _ => booster.to_json()?,
        };
        drop(booster);
        XgBoostModel::from_model_bytes(json)
    }
}

impl Regressor for XgBoostModel {
    fn engine(&self) -> Engine {
        Engine::Xgboost
    }

    fn predict(&self, features: &FeatureMatrix) -> Result<Vec<f64>, ModelError> {
        features.check_columns(&self.feature_names)?;
        if features.n_rows() == 0 {
            return Ok(Vec::new());
        }
        // The library path checks XGBoost's row count per block; the forest returns one value per row.
        match &self.forest {
            Some(forest) => features.predict_in_blocks(|block| Ok(forest.predict(block))),
            None => self.predict_with_library(features),
        }
    }

    fn save(&self, dir: &Path) -> Result<PathBuf, ModelError> {
        let path = dir.join(MODEL_FILE);
        std::fs::write(&path, &self.model_json).map_err(|source| ModelError::Io {
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
