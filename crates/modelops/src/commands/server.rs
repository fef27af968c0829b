//! `modelops server`: the MLflow-compatible tracking server. Wiring only: resolve flags, open the store and the
//! artifact root, serve until Ctrl-C or SIGTERM (the library lives in `modelops-server`).

use crate::context::Context;
use anyhow::Context as _;
use clap::Args;
use std::net::SocketAddr;

/// Serve the MLflow REST API (tracking) and the artifact proxy.
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
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let state = modelops_server::AppState::open(&backend, &artifact_root)
            .await
            .with_context(|| format!("cannot open the backend store {backend}; check --backend-store-uri"))?;
        if !ctx.quiet {
            eprintln!("Serving the MLflow tracking API on http://{address} (store {backend}, artifacts {artifact_root})");
        }
        modelops_server::serve(address, state)
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
