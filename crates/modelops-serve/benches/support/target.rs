//! What a serving benchmark runs against and sends, shared by `load.rs` and `inference.rs`: the tests' small
//! fixture package by default, or `LOAD_PACKAGE=DIR` with `LOAD_ORIGIN=YYYY-MM-DD` (the package's first forecast
//! day) and `LOAD_STORES` (default 1115), e.g. a package `modelops train` wrote from the real data.

use std::path::PathBuf;

use serde_json::Value;

use super::fixture;

/// The package under test and the stores and days its requests use.
pub struct Target {
    pub package: PathBuf,
    pub origin: i32,
    pub stores: u32,
}

impl Target {
    /// From the environment (see the module doc); builds the fixture package when `LOAD_PACKAGE` is unset.
    pub fn from_env() -> Self {
        match std::env::var("LOAD_PACKAGE") {
            Ok(package) => {
                let origin = std::env::var("LOAD_ORIGIN")
                    .expect("LOAD_ORIGIN=YYYY-MM-DD goes with LOAD_PACKAGE");
                let origin = modelops_features::calendar::parse_day(&origin)
                    .expect("LOAD_ORIGIN is YYYY-MM-DD");
                let stores = std::env::var("LOAD_STORES")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1115);
                Self {
                    package: package.into(),
                    origin,
                    stores,
                }
            }
            Err(_) => {
                eprintln!("building the fixture package …");
                let fix = fixture::fixture();
                Self {
                    package: fix.package_a.clone(),
                    origin: fix.origin,
                    stores: fixture::STORES,
                }
            }
        }
    }

    /// `n` open-day request rows cycling over the stores, then over the first 40 forecast days.
    pub fn rows(&self, n: usize) -> Vec<Value> {
        (0..n)
            .map(|k| {
                fixture::row(
                    (k as u32 % self.stores) + 1,
                    self.origin + (k as i32 / self.stores as i32) % 40,
                    1,
                    (k % 2) as u8,
                )
            })
            .collect()
    }
}
