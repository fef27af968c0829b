//! `modelops serve`: the prediction service (port 8000). Wiring only: resolve flags into a
//! [`modelops_serve::ServeConfig`], start the service, serve until Ctrl-C or SIGTERM (the library lives in
//! `modelops-serve`).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use modelops_serve::{ModelChoice, ModelKey, ServeConfig};
use modelops_tracking::registry::{ModelUri, parse_model_uri};

use crate::context::Context;

/// Serve predictions over HTTP: the reference API (/predict, /health, /model/info, /model/load) plus MLflow's
/// /invocations, with hot reload of the registry stage and a prediction log.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", env = "MODELOPS_SERVE_HOST")]
    pub host: String,
    /// Port to listen on.
    #[arg(long, default_value_t = 8000, env = "MODELOPS_SERVE_PORT")]
    pub port: u16,
    /// Serve the registered model's version in this stage (Production, Staging) or a version number; the stage
    /// is polled and a new version swapped in without downtime. Default: Production (when --model is not given).
    #[arg(long, value_name = "STAGE", conflicts_with = "model")]
    pub model_stage: Option<String>,
    /// Serve this model instead: a package folder, or a URI (models:/name/Production, models:/name/3).
    #[arg(long, value_name = "PATH|URI")]
    pub model: Option<String>,
    /// Largest request body accepted, in bytes (larger ones get 413).
    #[arg(long, value_name = "N", default_value_t = modelops_serve::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Seconds between registry polls for a new version of the served stage.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub reload_interval: u64,
    /// Database of the prediction log (sqlite:///…, postgresql://…). Default: the tracking store's database
    /// (no log when the tracking URI is http://… and this is not given).
    #[arg(long, value_name = "URI", env = "MODELOPS_PREDICTION_LOG_URI")]
    pub prediction_log_uri: Option<String>,
    /// Do not log predictions.
    #[arg(long, conflicts_with = "prediction_log_uri")]
    pub no_prediction_log: bool,
}

/// Resolves the model flags into what the service loads.
fn model_choice(args: &ServeArgs, ctx: &Context) -> anyhow::Result<ModelChoice> {
    let registry = |model_name: String, key: ModelKey| ModelChoice::Registry {
        tracking_uri: ctx.tracking_uri.clone(),
        model_name,
        key,
        artifact_root: ctx.artifact_root.clone(),
        cache_dir: ctx.outputs_dir.join("serving-cache"),
    };
    if let Some(model) = &args.model {
        return match parse_model_uri(model).with_context(|| format!("--model {model}"))? {
            ModelUri::Path(path) => {
                let path = if path.is_absolute() {
                    path
                } else {
                    ctx.project_dir.join(path)
                };
                Ok(ModelChoice::Path(path))
            }
            ModelUri::Stage { name, stage } => Ok(registry(name, ModelKey::parse(stage.as_str())?)),
            ModelUri::Version { name, version } => Ok(registry(name, ModelKey::Version(version))),
            ModelUri::Alias { .. } | ModelUri::Run { .. } => {
                bail!(
                    "--model {model}: serve a stage (models:/name/Production), a version (models:/name/3) or a folder"
                )
            }
        };
    }
    let stage = args.model_stage.as_deref().unwrap_or("Production");
    let key = ModelKey::parse(stage).with_context(|| format!("--model-stage {stage}"))?;
    Ok(registry(ctx.model_name.clone(), key))
}

fn log_uri(args: &ServeArgs, ctx: &Context) -> Option<String> {
    if args.no_prediction_log {
        return None;
    }
    match &args.prediction_log_uri {
        Some(uri) => Some(absolutize_sqlite(uri, &ctx.project_dir)),
        None => {
            let uri = modelops_serve::log_uri_for_tracking(&ctx.tracking_uri);
            if uri.is_none() {
                tracing::warn!(
                    tracking_uri = %ctx.tracking_uri,
                    "the tracking store is remote; predictions are not logged (give --prediction-log-uri)"
                );
            }
            uri
        }
    }
}

/// Runs the service until it is stopped.
pub fn exec(args: ServeArgs, ctx: &Context) -> anyhow::Result<u8> {
    let address: SocketAddr = format!("{}:{}", args.host, args.port)
        .parse()
        .or_else(|_| {
            std::net::ToSocketAddrs::to_socket_addrs(&(args.host.as_str(), args.port))
                .ok()
                .and_then(|mut addrs| addrs.next())
                .ok_or(())
        })
        .map_err(|()| {
            anyhow::anyhow!("cannot resolve --host {} --port {}", args.host, args.port)
        })?;
    let config = ServeConfig {
        address,
        model: model_choice(&args, ctx)?,
        log_uri: log_uri(&args, ctx),
        max_body_bytes: args.max_body_bytes,
        reload_interval: Duration::from_secs(args.reload_interval.max(1)),
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let state = modelops_serve::start(&config).await.map_err(|e| anyhow::anyhow!(e)).with_context(|| {
            match &config.model {
                ModelChoice::Path(dir) => format!("cannot serve the model package {}", dir.display()),
                ModelChoice::Registry { model_name, key, tracking_uri, .. } => format!(
                    "cannot serve {model_name} ({key:?}) from {tracking_uri}; register and promote a version first \
                     (modelops promote) or pass --model PATH"
                ),
            }
        })?;
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address} (is the port already in use?)"))?;
        if !ctx.quiet {
            let model = state.models().current();
            let version = model.as_ref().and_then(|m| m.identity.version.clone()).unwrap_or_else(|| "-".into());
            let uri = model.as_ref().map(|m| m.identity.uri.clone()).unwrap_or_default();
            eprintln!(
                "Serving {uri} (version {version}) on http://{address} — POST /predict, /invocations; docs at \
                 /openapi.json; prediction log: {}",
                config.log_uri.as_deref().unwrap_or("off")
            );
        }
        modelops_serve::serve_on(listener, state, config.reload_interval, modelops_server::shutdown_signal())
            .await
            .map_err(|e| anyhow::anyhow!(e))
            .with_context(|| format!("the service on {address} failed"))
    })?;
    Ok(super::EXIT_OK)
}

/// `sqlite:///relative.db` is relative to the project directory, as for the global `--tracking-uri`.
pub(crate) fn absolutize_sqlite(uri: &str, project_dir: &std::path::Path) -> String {
    match uri.strip_prefix("sqlite:///") {
        Some(path) if !path.starts_with('/') && path != ":memory:" => {
            format!("sqlite://{}", project_dir.join(path).display())
        }
        _ => uri.to_string(),
    }
}
