//! `modelops server`: the MLflow-compatible tracking server and the web UI. Wiring only: resolve flags, open the
//! store, the artifact root and the prediction log, serve until Ctrl-C or SIGTERM (the library lives in
//! `modelops-server`). The prediction log is read here, through `modelops_serve::log::PredictionLog`, and handed
//! to the UI as a [`PredictionSource`], because `modelops-server` must not depend on the serving crate.

use crate::context::Context;
use anyhow::Context as _;
use clap::Args;
use modelops_serve::log::{PredictionLog, log_uri_for_tracking};
use modelops_server::ui::monitoring::{
    LoggedActual, LoggedPrediction, PredictionSource, SourceFuture,
};
use modelops_server::ui::{AuthToken, UiOptions};
use std::net::SocketAddr;
use std::sync::Arc;

/// Serve the MLflow REST API (tracking and registry), the artifact proxy and the web UI.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", env = "MODELOPS_SERVER_HOST")]
    pub host: String,
    /// Port to listen on.
    #[arg(long, default_value_t = 5000, env = "MODELOPS_SERVER_PORT")]
    pub port: u16,
    /// Where runs are stored: sqlite:///mlflow.db (relative to the project), sqlite:////abs/path.db or
    /// postgresql://user:pass@host/db. Default: the global tracking URI when it is a database, else
    /// sqlite:///mlflow.db.
    #[arg(long, value_name = "URI")]
    pub backend_store_uri: Option<String>,
    /// Folder (or s3://bucket/prefix) that mlflow-artifacts:/ locations resolve to. Default: the configured
    /// artifact root (<project>/mlartifacts).
    #[arg(long, value_name = "URI")]
    pub default_artifact_root: Option<String>,
    /// Require this token for the web UI (login form) and for the API's write endpoints (`Authorization: Bearer
    /// TOKEN`, or basic auth with the token as password). Off by default; set it whenever --host is not a
    /// loopback address. At least 8 characters.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "MODELOPS_AUTH_TOKEN",
        hide_env_values = true
    )]
    pub auth_token: Option<String>,
}

/// The prediction log, read for the UI's monitoring page.
struct LogSource(PredictionLog);

impl PredictionSource for LogSource {
    fn predictions_since(&self, since_ms: i64) -> SourceFuture<'_, Vec<LoggedPrediction>> {
        Box::pin(async move {
            let since = chrono::DateTime::from_timestamp_millis(since_ms);
            let records = self.0.predictions_since(since).await?;
            Ok(records
                .into_iter()
                .map(|r| LoggedPrediction {
                    batch_id: r.batch_id,
                    logged_at_ms: r.logged_at.timestamp_millis(),
                    model_version: r.label.model_version,
                    store: r.store_id,
                    date: r.date,
                    prediction: r.prediction,
                    response_time_ms: r.response_time_ms,
                })
                .collect())
        })
    }

    fn actuals(&self) -> SourceFuture<'_, Vec<LoggedActual>> {
        Box::pin(async move {
            let actuals = self.0.actuals().await?;
            Ok(actuals
                .into_iter()
                .map(|a| LoggedActual {
                    store: a.store,
                    date: modelops_features::calendar::format_day(a.date),
                    sales: a.sales,
                })
                .collect())
        })
    }
}

/// Runs the server until it is stopped.
pub fn exec(args: ServerArgs, ctx: &Context) -> anyhow::Result<u8> {
    let backend = match args.backend_store_uri {
        Some(uri) => absolutize_sqlite(&uri, &ctx.project_dir),
        None if !ctx.tracking_uri.starts_with("http") => ctx.tracking_uri.clone(),
        None => absolutize_sqlite("sqlite:///mlflow.db", &ctx.project_dir),
    };
    let artifact_root = match args.default_artifact_root {
        Some(root) if root.contains("://") => root,
        Some(root) => ctx.project_dir.join(root).display().to_string(),
        None => ctx.artifact_root.clone(),
    };
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
    let auth = match args
        .auth_token
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        Some(token) => {
            Some(AuthToken::new(token).map_err(|e| anyhow::anyhow!("--auth-token: {e}"))?)
        }
        None => None,
    };
    if auth.is_none() && !address.ip().is_loopback() {
        eprintln!(
            "warning: serving on {address} without authentication: anyone who can reach it can change runs and \
             approve models. Set --auth-token (or MODELOPS_AUTH_TOKEN)."
        );
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let state = modelops_server::AppState::open(&backend, &artifact_root)
            .await
            .with_context(|| format!("cannot open the backend store {backend}; check --backend-store-uri"))?;
        let predictions: Option<Arc<dyn PredictionSource>> = match log_uri_for_tracking(&backend) {
            Some(uri) => match PredictionLog::open(&uri).await {
                Ok(log) => Some(Arc::new(LogSource(log))),
                Err(e) => {
                    eprintln!("warning: the monitoring page cannot read the prediction log: {e}");
                    None
                }
            },
            None => None,
        };
        let options = UiOptions { auth, predictions };
        if !ctx.quiet {
            eprintln!(
                "Serving the web UI and the MLflow tracking API on http://{address} (store {backend}, artifacts \
                 {artifact_root}{})",
                if options.auth.is_some() { ", login required" } else { "" }
            );
        }
        modelops_server::serve_with_ui(address, state, options)
            .await
            .with_context(|| format!("the server on {address} failed (is the port already in use?)"))
    })?;
    Ok(super::EXIT_OK)
}

/// `sqlite:///relative.db` is relative to the project directory, as for the global `--tracking-uri`.
fn absolutize_sqlite(uri: &str, project_dir: &std::path::Path) -> String {
    match uri.strip_prefix("sqlite:///") {
        Some(path) if !path.starts_with('/') && path != ":memory:" => {
            format!("sqlite://{}", project_dir.join(path).display())
        }
        _ => uri.to_string(),
    }
}
