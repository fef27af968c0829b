//! Settings resolution: flag > `MODELOPS_*` environment variable > `modelops.toml` > built-in default.
//! No configuration file is needed for the defaults.

use anyhow::{Context as _, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};

use crate::cli::GlobalArgs;

/// Gate thresholds used by `validate` and `retrain`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Holdout RMSPE at or below which a version passes the gate.
    pub rmspe: f64,
    /// The `--strict` RMSPE threshold (the reference's leaderboard target).
    pub strict_rmspe: f64,
    /// MAE strictly below which a version passes the gate.
    pub mae: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            rmspe: 0.10,
            strict_rmspe: 0.09856,
            mae: 2000.0,
        }
    }
}

/// The `modelops.toml` file; every key is optional.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigFile {
    /// Data directory (raw/ and processed/ below it).
    pub data_dir: Option<PathBuf>,
    /// Configuration directory (suites, hyperparameters).
    pub config_dir: Option<PathBuf>,
    /// Output directory (reports, predictions, models).
    pub outputs_dir: Option<PathBuf>,
    /// Tracking URI.
    pub tracking_uri: Option<String>,
    /// Artifact root for the embedded store.
    pub artifact_root: Option<String>,
    /// Experiment name.
    pub experiment: Option<String>,
    /// Registered model name.
    pub model_name: Option<String>,
    /// Gate thresholds.
    pub thresholds: Option<Thresholds>,
}

/// Everything a command needs to know about where things are.
#[derive(Clone, Debug)]
pub struct Context {
    /// The project directory.
    pub project_dir: PathBuf,
    /// `<project>/data` unless configured.
    pub data_dir: PathBuf,
    /// `<project>/config` unless configured.
    pub config_dir: PathBuf,
    /// `<project>/outputs` unless configured.
    pub outputs_dir: PathBuf,
    /// Tracking URI (`sqlite:///…` made absolute against the project).
    pub tracking_uri: String,
    /// Artifact root for the embedded store.
    pub artifact_root: String,
    /// Experiment name (default `rossmann-forecasting`).
    pub experiment: String,
    /// Registered model name (default `rossmann-ensemble`).
    pub model_name: String,
    /// Gate thresholds.
    pub thresholds: Thresholds,
    /// `--quiet`.
    pub quiet: bool,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn env_f64(name: &str) -> anyhow::Result<Option<f64>> {
    match env(name) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<f64>()
            .map(Some)
            .with_context(|| format!("environment variable {name}={v:?} is not a number")),
    }
}

impl Context {
    /// Resolves the settings of this invocation.
    pub fn resolve(args: &GlobalArgs) -> anyhow::Result<Self> {
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        // Absolute, so derived paths and `sqlite:///…` URIs stay valid whatever directory a job later runs in.
        let project_dir = match &args.project_dir {
            Some(dir) => cwd.join(dir),
            None => cwd,
        };
        let config_path = args
            .config_file
            .clone()
            .unwrap_or_else(|| project_dir.join("modelops.toml"));
        let file = if config_path.exists() {
            let text = std::fs::read_to_string(&config_path)
                .with_context(|| format!("cannot read {}", config_path.display()))?;
            toml::from_str::<ConfigFile>(&text).with_context(|| {
                format!(
                    "{} is not a valid modelops.toml; see docs/configuration.md",
                    config_path.display()
                )
            })?
        } else if args.config_file.is_some() {
            bail!(
                "configuration file {} does not exist",
                config_path.display()
            );
        } else {
            ConfigFile::default()
        };
        let in_project = |p: PathBuf| {
            if p.is_absolute() {
                p
            } else {
                project_dir.join(p)
            }
        };
        let data_dir = in_project(
            env("MODELOPS_DATA_DIR")
                .map(PathBuf::from)
                .or(file.data_dir)
                .unwrap_or_else(|| "data".into()),
        );
        let config_dir = in_project(
            env("MODELOPS_CONFIG_DIR")
                .map(PathBuf::from)
                .or(file.config_dir)
                .unwrap_or_else(|| "config".into()),
        );
        let outputs_dir = in_project(
            env("MODELOPS_OUTPUTS_DIR")
                .map(PathBuf::from)
                .or(file.outputs_dir)
                .unwrap_or_else(|| "outputs".into()),
        );
        let tracking_uri = args
            .tracking_uri
            .clone()
            .or_else(|| env("MODELOPS_TRACKING_URI"))
            .or_else(|| env("MLFLOW_TRACKING_URI"))
            .or(file.tracking_uri)
            .unwrap_or_else(|| "sqlite:///mlflow.db".into());
        let tracking_uri = absolutize_sqlite_uri(&tracking_uri, &project_dir);
        let artifact_root = env("MODELOPS_ARTIFACT_ROOT")
            .or(file.artifact_root)
            .unwrap_or_else(|| project_dir.join("mlartifacts").display().to_string());
        let mut thresholds = file.thresholds.unwrap_or_default();
        if let Some(v) = env_f64("MODELOPS_THRESHOLD_RMSPE")? {
            thresholds.rmspe = v;
        }
        if let Some(v) = env_f64("MODELOPS_THRESHOLD_MAE")? {
            thresholds.mae = v;
        }
        Ok(Self {
            data_dir,
            config_dir,
            outputs_dir,
            tracking_uri,
            artifact_root,
            experiment: env("MODELOPS_EXPERIMENT")
                .or(file.experiment)
                .unwrap_or_else(|| "rossmann-forecasting".into()),
            model_name: env("MODELOPS_MODEL_NAME")
                .or(file.model_name)
                .unwrap_or_else(|| "rossmann-ensemble".into()),
            thresholds,
            quiet: args.quiet,
            project_dir,
        })
    }

    /// Where this invocation records runs and finds registered models.
    pub fn tracking_target(&self) -> modelops_pipeline::track::TrackingTarget {
        modelops_pipeline::track::TrackingTarget {
            tracking_uri: self.tracking_uri.clone(),
            artifact_root: self.artifact_root.clone(),
            experiment: self.experiment.clone(),
            parent_run_id: None,
        }
    }

    /// The data directory a command should use: its own `--data-dir` flag when given, else the project's.
    pub fn data_dir_or(&self, flag: Option<&Path>) -> PathBuf {
        match flag {
            Some(p) => p.to_path_buf(),
            None => self.data_dir.clone(),
        }
    }
}

/// `sqlite:///mlflow.db` (relative, as MLflow writes it) is resolved against the project directory so that every
/// command, wherever it runs from, records into the same file.
fn absolutize_sqlite_uri(uri: &str, project_dir: &Path) -> String {
    match uri.strip_prefix("sqlite:///") {
        Some(path) if !path.starts_with('/') && path != ":memory:" => {
            format!("sqlite://{}", project_dir.join(path).display())
        }
        _ => uri.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_sqlite_uri_is_resolved_against_the_project() {
        assert_eq!(
            absolutize_sqlite_uri("sqlite:///mlflow.db", Path::new("/p")),
            "sqlite:///p/mlflow.db"
        );
        assert_eq!(
            absolutize_sqlite_uri("sqlite:////abs/x.db", Path::new("/p")),
            "sqlite:////abs/x.db"
        );
        assert_eq!(
            absolutize_sqlite_uri("http://h:5000", Path::new("/p")),
            "http://h:5000"
        );
    }
}
