//! The model package: the unit of deployment. A directory holding
//!
//! | File | Content |
//! |---|---|
//! | `MLmodel` | YAML manifest (MLflow convention): `artifact_path`, `flavors.modelops_ensemble` (format version, engines and their files, weights, feature names, SHA-256 of every other file), `model_uuid`, `run_id`, `utc_time_created` |
//! | `lightgbm.txt` | LightGBM's native text model |
//! | `xgboost.json` | XGBoost's native JSON model |
//! | `catboost.json` | our oblivious booster in CatBoost's JSON model format |
//! | `feature_spec.json` | the feature builder's spec (categorical levels, store profiles, …), opaque here |
//! | `weights.json` | the ensemble weights |
//! | `lineage.json` | [`Lineage`]: data fingerprints, git commit, hyperparameters, metrics, training date range |
//! | `reference_profile.json` | optional: the training distributions drift monitoring compares traffic with (written by `modelops-monitor`, opaque here; listed as `flavors.modelops_ensemble.reference_profile`) |
//!
//! There is no `python_function` flavor: no Python loader module ships with the package, so claiming one would
//! be false. Each component file loads in its own Python library.
//!
//! [`ModelPackage::save`] writes into a fresh sibling directory and renames it into place, so a half-written
//! package is never visible. [`ModelPackage::load`] verifies every checksum before loading anything: a missing
//! or modified file is an error naming it.

use crate::ensemble::{Ensemble, EnsembleWeights};
use crate::{Engine, FeatureMatrix, ModelError, Regressor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The manifest's file name (MLflow's).
pub const MANIFEST_FILE: &str = "MLmodel";
/// The feature spec's file name.
pub const FEATURE_SPEC_FILE: &str = "feature_spec.json";
/// The weights' file name.
pub const WEIGHTS_FILE: &str = "weights.json";
/// The lineage's file name.
pub const LINEAGE_FILE: &str = "lineage.json";
/// The reference profile's file name (optional; see [`SaveOptions::reference_profile`]).
pub const REFERENCE_PROFILE_FILE: &str = "reference_profile.json";
/// Our flavor's name in `MLmodel`.
pub const FLAVOR: &str = "modelops_ensemble";
/// The package layout version this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The artifact path the reference registers its model under.
pub const DEFAULT_ARTIFACT_PATH: &str = "ensemble_model";

/// The native file name of each engine's component.
pub fn component_file(engine: Engine) -> &'static str {
    match engine {
        Engine::Lightgbm => crate::lightgbm::MODEL_FILE,
        Engine::Xgboost => crate::xgboost::MODEL_FILE,
        Engine::Catboost => "catboost.json",
    }
}

/// Where a package's data and settings came from, filled by the trainer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lineage {
    /// Fingerprint of each input (e.g. `train.csv` → SHA-256), as the data crate computes them.
    pub data_fingerprints: BTreeMap<String, String>,
    /// `git rev-parse HEAD` of the code that trained, when known.
    pub git_commit: Option<String>,
    /// Settings per engine key (`lightgbm`, `xgboost`, `catboost`), as JSON.
    pub hyperparameters: BTreeMap<String, serde_json::Value>,
    /// Evaluation results (e.g. `ensemble_holdout_rmspe`).
    pub metrics: BTreeMap<String, f64>,
    /// First and last date of the training rows.
    pub training_date_range: Option<DateRange>,
}

/// An inclusive date range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DateRange {
    /// First day.
    pub start: chrono::NaiveDate,
    /// Last day.
    pub end: chrono::NaiveDate,
}

/// The `MLmodel` manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Path of the package inside its run's artifacts.
    pub artifact_path: String,
    /// Flavors; ours is the only one.
    pub flavors: Flavors,
    /// Random id of this package.
    pub model_uuid: String,
    /// The tracking run that produced it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Creation time, UTC, ISO 8601 (MLflow's format).
    pub utc_time_created: String,
}

/// The manifest's `flavors` map.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Flavors {
    /// Our flavor.
    pub modelops_ensemble: EnsembleFlavor,
}

/// `flavors.modelops_ensemble`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnsembleFlavor {
    /// Package layout version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// Version of the `modelops-models` crate that wrote it.
    pub modelops_version: String,
    /// Component per engine key.
    pub engines: BTreeMap<String, ComponentEntry>,
    /// Weight per engine key (the same as `weights.json`).
    pub weights: BTreeMap<String, f64>,
    /// The model's input columns, in order.
    pub feature_names: Vec<String>,
    /// The feature spec file.
    pub feature_spec: String,
    /// The weights file.
    pub weights_file: String,
    /// The lineage file.
    pub lineage: String,
    /// The reference profile file for drift monitoring, when the package has one (packages written before it
    /// existed have none, and still load).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_profile: Option<String>,
    /// SHA-256 (hex) of every file except `MLmodel`, by file name.
    pub checksums: BTreeMap<String, String>,
}

/// One engine's component file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComponentEntry {
    /// File name inside the package.
    pub file: String,
    /// The file's format (`lightgbm_text`, `xgboost_json`, `catboost_json`).
    pub format: String,
    /// Boosting rounds kept.
    pub rounds: usize,
}

fn component_format(engine: Engine) -> &'static str {
    match engine {
        Engine::Lightgbm => "lightgbm_text",
        Engine::Xgboost => "xgboost_json",
        Engine::Catboost => "catboost_json",
    }
}

/// Options for [`ModelPackage::save`].
#[derive(Clone, Debug)]
pub struct SaveOptions {
    /// `artifact_path` in the manifest (default `ensemble_model`, the reference's).
    pub artifact_path: String,
    /// The tracking run, when known.
    pub run_id: Option<String>,
    /// The reference profile (JSON text, produced by `modelops-monitor`), stored as
    /// [`REFERENCE_PROFILE_FILE`] and covered by the checksums; `None` writes none.
    pub reference_profile: Option<String>,
}

impl Default for SaveOptions {
    fn default() -> Self {
        Self {
            artifact_path: DEFAULT_ARTIFACT_PATH.into(),
            run_id: None,
            reference_profile: None,
        }
    }
}

/// A package read back by [`ModelPackage::load`]: everything needed to predict.
#[derive(Debug)]
pub struct LoadedPackage {
    /// The manifest.
    pub manifest: Manifest,
    /// The models and weights.
    pub ensemble: Ensemble,
    /// The feature spec, as the feature builder wrote it.
    pub feature_spec: serde_json::Value,
    /// The lineage.
    pub lineage: Lineage,
}

impl LoadedPackage {
    /// Weighted ensemble predictions, one per row.
    ///
    /// # Errors
    /// As [`Ensemble::predict`].
    pub fn predict(&self, features: &FeatureMatrix) -> Result<Vec<f64>, ModelError> {
        self.ensemble.predict(features)
    }

    /// The model's input columns, in order.
    pub fn feature_names(&self) -> &[String] {
        &self.manifest.flavors.modelops_ensemble.feature_names
    }
}

/// Saving and loading model packages.
#[derive(Debug)]
pub struct ModelPackage;

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ModelError + '_ {
    move |source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<(), ModelError> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| ModelError::Format {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    text.push('\n');
    std::fs::write(path, text).map_err(io_error(path))
}

impl ModelPackage {
    /// Writes `ensemble`, `feature_spec` and `lineage` as a package at `dir`, which must not exist or be empty.
    ///
    /// # Errors
    /// [`ModelError::InvalidData`] when `dir` holds files, the ensemble is empty or its members disagree on the
    /// input columns; [`ModelError::Io`] when writing fails.
    pub fn save(
        dir: &Path,
        ensemble: &Ensemble,
        feature_spec: &serde_json::Value,
        lineage: &Lineage,
        options: &SaveOptions,
    ) -> Result<Manifest, ModelError> {
        if dir.exists() {
            let mut entries = std::fs::read_dir(dir).map_err(io_error(dir))?;
            if entries.next().is_some() {
                return Err(ModelError::InvalidData(format!(
                    "{} already exists and is not empty; choose a new directory for the package",
                    dir.display()
                )));
            }
        }
        let feature_names = match ensemble.members().first() {
            Some(first) => member_feature_names(&**first),
            None => {
                return Err(ModelError::InvalidData(
                    "the ensemble has no models to package".into(),
                ));
            }
        };
        let staging = staging_dir(dir)?;
        let result = Self::write_contents(
            &staging,
            ensemble,
            feature_spec,
            lineage,
            options,
            feature_names,
        );
        let manifest = match result {
            Ok(manifest) => manifest,
            Err(err) => {
                let _ = std::fs::remove_dir_all(&staging);
                return Err(err);
            }
        };
        if dir.exists() {
            std::fs::remove_dir(dir).map_err(io_error(dir))?;
        }
        if let Err(source) = std::fs::rename(&staging, dir) {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(ModelError::Io {
                path: dir.to_path_buf(),
                source,
            });
        }
        tracing::info!(path = %dir.display(), "model package written");
        Ok(manifest)
    }

    fn write_contents(
        staging: &Path,
        ensemble: &Ensemble,
        feature_spec: &serde_json::Value,
        lineage: &Lineage,
        options: &SaveOptions,
        feature_names: Vec<String>,
    ) -> Result<Manifest, ModelError> {
        let mut engines = BTreeMap::new();
        for member in ensemble.members() {
            let engine = member.engine();
            let names = member_feature_names(&**member);
            if names != feature_names {
                return Err(ModelError::InvalidData(format!(
                    "the {} model was trained on different columns than the other models; train all on one matrix",
                    engine.key()
                )));
            }
            let written = member.save(staging)?;
            let expected = staging.join(component_file(engine));
            if written != expected {
                return Err(ModelError::Format {
                    path: written,
                    reason: format!(
                        "the {} model must be saved as {}",
                        engine.key(),
                        component_file(engine)
                    ),
                });
            }
            engines.insert(
                engine.key().to_string(),
                ComponentEntry {
                    file: component_file(engine).into(),
                    format: component_format(engine).into(),
                    rounds: member.n_rounds(),
                },
            );
        }
        write_json(&staging.join(FEATURE_SPEC_FILE), feature_spec)?;
        write_json(&staging.join(WEIGHTS_FILE), &ensemble.weights())?;
        write_json(&staging.join(LINEAGE_FILE), lineage)?;
        if let Some(profile) = &options.reference_profile {
            let path = staging.join(REFERENCE_PROFILE_FILE);
            std::fs::write(&path, profile).map_err(io_error(&path))?;
        }

        let mut checksums = BTreeMap::new();
        let mut files: Vec<String> = engines.values().map(|c| c.file.clone()).collect();
        files.extend([FEATURE_SPEC_FILE, WEIGHTS_FILE, LINEAGE_FILE].map(String::from));
        if options.reference_profile.is_some() {
            files.push(REFERENCE_PROFILE_FILE.into());
        }
        for file in files {
            let path = staging.join(&file);
            let bytes = std::fs::read(&path).map_err(io_error(&path))?;
            checksums.insert(file, sha256_hex(&bytes));
        }
        let manifest = Manifest {
            artifact_path: options.artifact_path.clone(),
            flavors: Flavors {
                modelops_ensemble: EnsembleFlavor {
                    format_version: FORMAT_VERSION,
                    modelops_version: env!("CARGO_PKG_VERSION").into(),
                    engines,
                    weights: ensemble
                        .weights()
                        .pairs()
                        .iter()
                        .map(|(e, w)| (e.key().to_string(), *w))
                        .collect(),
                    feature_names,
                    feature_spec: FEATURE_SPEC_FILE.into(),
                    weights_file: WEIGHTS_FILE.into(),
                    lineage: LINEAGE_FILE.into(),
                    reference_profile: options
                        .reference_profile
                        .is_some()
                        .then(|| REFERENCE_PROFILE_FILE.into()),
                    checksums,
                },
            },
            model_uuid: uuid::Uuid::new_v4().simple().to_string(),
            run_id: options.run_id.clone(),
            utc_time_created: chrono::Utc::now()
                .format("%Y-%m-%d %H:%M:%S%.6f")
                .to_string(),
        };
        let path = staging.join(MANIFEST_FILE);
        let yaml = serde_yaml::to_string(&manifest).map_err(|e| ModelError::Format {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        std::fs::write(&path, yaml).map_err(io_error(&path))?;
        Ok(manifest)
    }

    /// Reads the manifest at `dir` without loading any model (e.g. to list a package).
    ///
    /// # Errors
    /// [`ModelError::Io`] when `dir/MLmodel` cannot be read; [`ModelError::Format`] when it is not our manifest.
    pub fn read_manifest(dir: &Path) -> Result<Manifest, ModelError> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(io_error(&path))?;
        let manifest: Manifest = serde_yaml::from_str(&text).map_err(|e| ModelError::Format {
            path: path.clone(),
            reason: format!("not a modelops package manifest (needs flavor `{FLAVOR}`): {e}"),
        })?;
        let version = manifest.flavors.modelops_ensemble.format_version;
        if version != FORMAT_VERSION {
            return Err(ModelError::Format {
                path,
                reason: format!(
                    "package format version {version}; this modelops reads version {FORMAT_VERSION}"
                ),
            });
        }
        Ok(manifest)
    }

    /// Reads the package's reference profile (JSON text) after verifying its checksum, without loading any model
    /// (monitoring needs only this file). `Ok(None)` when the package has no profile.
    ///
    /// # Errors
    /// As [`ModelPackage::read_manifest`]; [`ModelError::Io`] when the listed file is missing,
    /// [`ModelError::ChecksumMismatch`] when it was modified, [`ModelError::Format`] when it has no checksum.
    pub fn read_reference_profile(dir: &Path) -> Result<Option<String>, ModelError> {
        let manifest = Self::read_manifest(dir)?;
        let flavor = &manifest.flavors.modelops_ensemble;
        let Some(file) = &flavor.reference_profile else {
            return Ok(None);
        };
        let (path, bytes) = read_verified(dir, file, checksum(dir, flavor, file)?)?;
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|e| ModelError::Format {
                path,
                reason: format!("not UTF-8 text: {e}"),
            })
    }

    /// The package's feature spec file (`feature_spec.json`), its checksum verified: what a batch needs to build
    /// features while the engines load.
    ///
    /// # Errors
    /// As [`ModelPackage::load`] for that file.
    pub fn read_feature_spec(dir: &Path) -> Result<Vec<u8>, ModelError> {
        let manifest = Self::read_manifest(dir)?;
        let flavor = &manifest.flavors.modelops_ensemble;
        let file = &flavor.feature_spec;
        Ok(read_verified(dir, file, checksum(dir, flavor, file)?)?.1)
    }

    /// Loads the package at `dir` after verifying every file's checksum.
    ///
    /// # Errors
    /// [`ModelError::Io`] for a missing file, [`ModelError::ChecksumMismatch`] for a modified one,
    /// [`ModelError::Format`] for an invalid manifest or file, [`ModelError::EngineNotBuilt`] when a component's
    /// engine is not in this binary.
    pub fn load(dir: &Path) -> Result<LoadedPackage, ModelError> {
        let manifest = Self::read_manifest(dir)?;
        let flavor = &manifest.flavors.modelops_ensemble;
        // One file after another, and below one engine after another: loading them in parallel saved 0.1 s but
        // left the parsers' transient memory in each thread's allocator arena (a serving process grew from 255 to
        // 400 MiB).
        for (file, expected) in &flavor.checksums {
            read_verified(dir, file, expected)?;
        }
        let listed = |file: &str| -> Result<PathBuf, ModelError> {
            checksum(dir, flavor, file)?;
            safe_join(dir, file)
        };

        let weights_path = listed(&flavor.weights_file)?;
        let weights: EnsembleWeights = read_json(&weights_path)?;
        for (engine, weight) in weights.pairs() {
            let in_manifest = flavor.weights.get(engine.key()).copied().unwrap_or(0.0);
            if in_manifest != weight {
                return Err(ModelError::Format {
                    path: dir.join(MANIFEST_FILE),
                    reason: format!(
                        "weight of {} is {in_manifest} in the manifest but {weight} in weights.json",
                        engine.key()
                    ),
                });
            }
        }
        let feature_spec: serde_json::Value = read_json(&listed(&flavor.feature_spec)?)?;
        let lineage: Lineage = read_json(&listed(&flavor.lineage)?)?;

        let mut members: Vec<Box<dyn Regressor>> = Vec::new();
        for (key, entry) in &flavor.engines {
            let engine = crate::ensemble::ENGINES
                .into_iter()
                .find(|e| e.key() == key)
                .ok_or_else(|| ModelError::Format {
                    path: dir.join(MANIFEST_FILE),
                    reason: format!("unknown engine `{key}`"),
                })?;
            let path = listed(&entry.file)?;
            let model = load_component(engine, &path)?;
            if member_feature_names(&*model) != flavor.feature_names {
                return Err(ModelError::Format {
                    path,
                    reason: "the model's columns differ from the manifest's feature_names".into(),
                });
            }
            members.push(model);
        }
        let ensemble = Ensemble::new(members, weights)?;
        Ok(LoadedPackage {
            manifest,
            ensemble,
            feature_spec,
            lineage,
        })
    }
}

/// The manifest's checksum of `file` in the package at `dir`.
///
/// # Errors
/// [`ModelError::Format`] when the manifest lists no checksum for it.
fn checksum<'a>(dir: &Path, flavor: &'a EnsembleFlavor, file: &str) -> Result<&'a str, ModelError> {
    flavor
        .checksums
        .get(file)
        .map(String::as_str)
        .ok_or_else(|| ModelError::Format {
            path: dir.join(MANIFEST_FILE),
            reason: format!("{file} has no checksum in the manifest"),
        })
}

/// Reads `file` of the package at `dir` and checks its SHA-256 against `expected`: its path and bytes.
///
/// # Errors
/// [`ModelError::Io`] when it cannot be read, [`ModelError::ChecksumMismatch`] when it was modified.
fn read_verified(dir: &Path, file: &str, expected: &str) -> Result<(PathBuf, Vec<u8>), ModelError> {
    let path = safe_join(dir, file)?;
    let bytes = std::fs::read(&path).map_err(io_error(&path))?;
    let actual = sha256_hex(&bytes);
    if actual != expected {
        return Err(ModelError::ChecksumMismatch {
            path,
            expected: expected.to_string(),
            actual,
        });
    }
    Ok((path, bytes))
}

/// Loads one component in its engine's native format.
fn load_component(engine: Engine, path: &Path) -> Result<Box<dyn Regressor>, ModelError> {
    match engine {
        Engine::Lightgbm => crate::lightgbm::load(path),
        Engine::Xgboost => crate::xgboost::load(path),
        Engine::Catboost => Ok(Box::new(crate::oblivious::ObliviousModel::load(path)?)),
    }
}

/// A member's input columns: the names its importance is reported for (every engine lists every column).
fn member_feature_names(model: &dyn Regressor) -> Vec<String> {
    model
        .feature_importance()
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

/// `dir/file`, refusing names that would leave the package (a manifest is data, not trusted code).
fn safe_join(dir: &Path, file: &str) -> Result<PathBuf, ModelError> {
    let is_plain = !file.is_empty()
        && Path::new(file).components().count() == 1
        && matches!(
            Path::new(file).components().next(),
            Some(std::path::Component::Normal(_))
        );
    if !is_plain {
        return Err(ModelError::Format {
            path: dir.join(MANIFEST_FILE),
            reason: format!("file name `{file}` must be a plain name inside the package"),
        });
    }
    Ok(dir.join(file))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ModelError> {
    let text = std::fs::read_to_string(path).map_err(io_error(path))?;
    serde_json::from_str(&text).map_err(|e| ModelError::Format {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// A new, empty directory next to `dir` to write the package into before renaming it into place.
fn staging_dir(dir: &Path) -> Result<PathBuf, ModelError> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(io_error(&parent))?;
    let name = dir
        .file_name()
        .map_or_else(|| "package".into(), |n| n.to_string_lossy().into_owned());
    let staging = parent.join(format!(".{name}.partial-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir(&staging).map_err(io_error(&staging))?;
    Ok(staging)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_file_names_must_stay_inside_the_package() {
        let dir = Path::new("/pkg");
        assert!(safe_join(dir, "xgboost.json").is_ok());
        for bad in ["../x", "/etc/passwd", "a/b", "", ".."] {
            assert!(safe_join(dir, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lineage_round_trips_through_json() {
        let lineage = Lineage {
            data_fingerprints: [("train.csv".to_string(), "ab12".to_string())].into(),
            git_commit: Some("deadbeef".into()),
            hyperparameters: [("xgboost".to_string(), serde_json::json!({"max_depth": 15}))].into(),
            metrics: [("ensemble_holdout_rmspe".to_string(), 0.1)].into(),
            training_date_range: Some(DateRange {
                start: chrono::NaiveDate::from_ymd_opt(2013, 1, 1).unwrap(),
                end: chrono::NaiveDate::from_ymd_opt(2015, 6, 19).unwrap(),
            }),
        };
        let text = serde_json::to_string(&lineage).unwrap();
        assert!(text.contains("\"2015-06-19\""), "{text}");
        assert_eq!(serde_json::from_str::<Lineage>(&text).unwrap(), lineage);
    }
}
