//! Data layer: raw Kaggle-schema ingest, the synthetic Rossmann generator, expectation suites and dataset
//! fingerprints (the manifest that plays DVC's role).
//!
//! Does not own feature engineering (`modelops-features`) or anything about models.
