//! The model package: save/load round trip with byte-identical predictions, the manifest, checksums.

use super::ensemble::{fit_members, weights_for};
use super::*;
use modelops_models::package::{
    DateRange, FEATURE_SPEC_FILE, LINEAGE_FILE, Lineage, MANIFEST_FILE, SaveOptions, WEIGHTS_FILE,
};
use modelops_models::{Ensemble, ModelPackage};
use serde_json::json;

fn lineage() -> Lineage {
    Lineage {
        data_fingerprints: [("train.csv".to_string(), "3f2a".to_string())].into(),
        git_commit: Some("0123abc".into()),
        hyperparameters: [("xgboost".to_string(), json!({"max_depth": 5}))].into(),
        metrics: [("ensemble_holdout_rmspe".to_string(), 0.11)].into(),
        training_date_range: Some(DateRange {
            start: chrono::NaiveDate::from_ymd_opt(2013, 1, 1).unwrap(),
            end: chrono::NaiveDate::from_ymd_opt(2015, 6, 19).unwrap(),
        }),
    }
}

fn spec() -> serde_json::Value {
    json!({"categorical_levels": {"store_type": ["a", "b", "c", "d"]}, "version": 1})
}

/// Trains the members on `data` and writes a package to `dir`.
fn write_package(data: &Synthetic, dir: &Path) -> Ensemble {
    let members = fit_members(data);
    let weights = weights_for(&members);
    let ensemble = Ensemble::new(members, weights).unwrap();
    let options = SaveOptions {
        run_id: Some("run42".into()),
        ..SaveOptions::default()
    };
    ModelPackage::save(dir, &ensemble, &spec(), &lineage(), &options).unwrap();
    ensemble
}

#[test]
fn a_saved_package_loads_and_predicts_byte_identically() {
    let data = synthetic(1200, 51);
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("model");
    let ensemble = write_package(&data, &dir);
    let loaded = ModelPackage::load(&dir).unwrap();
    let test = synthetic(400, 52);
    assert_eq!(
        bits(&ensemble.predict(&test.features).unwrap()),
        bits(&loaded.predict(&test.features).unwrap())
    );
    assert_eq!(loaded.feature_spec, spec());
    assert_eq!(loaded.lineage, lineage());
    assert_eq!(loaded.ensemble.weights(), ensemble.weights());
    assert_eq!(loaded.feature_names(), data.features.names());
    assert_eq!(loaded.manifest.run_id.as_deref(), Some("run42"));
}

#[test]
fn same_data_and_seed_give_byte_identical_package_predictions() {
    let data = synthetic(1200, 53);
    let root = tempfile::tempdir().unwrap();
    write_package(&data, &root.path().join("a"));
    write_package(&data, &root.path().join("b"));
    let a = ModelPackage::load(&root.path().join("a")).unwrap();
    let b = ModelPackage::load(&root.path().join("b")).unwrap();
    let test = synthetic(500, 54);
    assert_eq!(
        bits(&a.predict(&test.features).unwrap()),
        bits(&b.predict(&test.features).unwrap())
    );
    for member in a.ensemble.members() {
        let file = modelops_models::package::component_file(member.engine());
        assert_eq!(
            std::fs::read(root.path().join("a").join(file)).unwrap(),
            std::fs::read(root.path().join("b").join(file)).unwrap(),
            "{file} differs between two identical trainings"
        );
    }
}

#[test]
fn the_manifest_follows_the_mlflow_layout_with_our_flavor_only() {
    let data = synthetic(600, 55);
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("model");
    let ensemble = write_package(&data, &dir);
    let manifest: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(dir.join(MANIFEST_FILE)).unwrap()).unwrap();
    assert_eq!(manifest["artifact_path"].as_str(), Some("ensemble_model"));
    let flavors = manifest["flavors"].as_mapping().unwrap();
    assert_eq!(
        flavors.len(),
        1,
        "only our flavor: no python_function without a Python loader"
    );
    let flavor = &manifest["flavors"]["modelops_ensemble"];
    assert_eq!(flavor["format_version"].as_u64(), Some(1));
    let checksums = flavor["checksums"].as_mapping().unwrap();
    for member in ensemble.members() {
        let file = modelops_models::package::component_file(member.engine());
        assert!(dir.join(file).exists());
        assert!(checksums.contains_key(file), "{file} has no checksum");
        assert_eq!(
            flavor["engines"][member.engine().key()]["file"].as_str(),
            Some(file)
        );
    }
    for file in [FEATURE_SPEC_FILE, WEIGHTS_FILE, LINEAGE_FILE] {
        assert!(checksums.contains_key(file), "{file} has no checksum");
    }
    assert!(
        manifest["model_uuid"]
            .as_str()
            .is_some_and(|u| u.len() == 32)
    );
    let leftovers: Vec<_> = std::fs::read_dir(root.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "no staging directory left behind: {leftovers:?}"
    );
}

#[test]
fn a_modified_or_missing_file_is_reported_by_name() {
    let data = synthetic(600, 56);
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("model");
    write_package(&data, &dir);

    let weights = dir.join(WEIGHTS_FILE);
    let original = std::fs::read_to_string(&weights).unwrap();
    std::fs::write(&weights, original.replace('0', "1")).unwrap();
    let err = ModelPackage::load(&dir).unwrap_err();
    assert!(matches!(err, ModelError::ChecksumMismatch { .. }), "{err}");
    assert!(err.to_string().contains(WEIGHTS_FILE), "{err}");
    std::fs::write(&weights, original).unwrap();
    ModelPackage::load(&dir).unwrap();

    std::fs::remove_file(dir.join(LINEAGE_FILE)).unwrap();
    let err = ModelPackage::load(&dir).unwrap_err();
    assert!(
        matches!(err, ModelError::Io { .. }) && err.to_string().contains(LINEAGE_FILE),
        "{err}"
    );
}

#[test]
fn saving_into_a_non_empty_directory_is_refused() {
    let data = synthetic(300, 57);
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("keep.txt"), "x").unwrap();
    let members = fit_members(&data);
    let weights = weights_for(&members);
    let ensemble = Ensemble::new(members, weights).unwrap();
    let err = ModelPackage::save(
        root.path(),
        &ensemble,
        &spec(),
        &lineage(),
        &SaveOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
    assert!(root.path().join("keep.txt").exists());
}

#[test]
fn a_directory_without_manifest_is_not_a_package() {
    let root = tempfile::tempdir().unwrap();
    let err = ModelPackage::load(root.path()).unwrap_err();
    assert!(err.to_string().contains(MANIFEST_FILE), "{err}");
}

#[test]
fn a_reference_profile_is_listed_checksummed_and_read_without_the_models() {
    let data = synthetic(600, 57);
    let root = tempfile::tempdir().unwrap();
    let members = fit_members(&data);
    let weights = weights_for(&members);
    let ensemble = Ensemble::new(members, weights).unwrap();
    let profile = r#"{"format_version":1,"features":[]}"#;
    let with = root.path().join("with");
    let options = SaveOptions {
        reference_profile: Some(profile.into()),
        ..SaveOptions::default()
    };
    let manifest = ModelPackage::save(&with, &ensemble, &spec(), &lineage(), &options).unwrap();
    let flavor = &manifest.flavors.modelops_ensemble;
    assert_eq!(
        flavor.reference_profile.as_deref(),
        Some(modelops_models::package::REFERENCE_PROFILE_FILE)
    );
    assert!(
        flavor
            .checksums
            .contains_key(modelops_models::package::REFERENCE_PROFILE_FILE)
    );
    assert_eq!(
        ModelPackage::read_reference_profile(&with)
            .unwrap()
            .as_deref(),
        Some(profile)
    );
    ModelPackage::load(&with).unwrap();

    // A package without one reads as None and its manifest does not mention it.
    write_package(&data, &root.path().join("without"));
    assert_eq!(
        ModelPackage::read_reference_profile(&root.path().join("without")).unwrap(),
        None
    );
    let text = std::fs::read_to_string(root.path().join("without").join(MANIFEST_FILE)).unwrap();
    assert!(!text.contains("reference_profile"), "{text}");

    // A modified profile is refused by name.
    std::fs::write(
        with.join(modelops_models::package::REFERENCE_PROFILE_FILE),
        "{}",
    )
    .unwrap();
    let err = ModelPackage::read_reference_profile(&with).unwrap_err();
    assert!(err.to_string().contains("reference_profile.json"), "{err}");
}
