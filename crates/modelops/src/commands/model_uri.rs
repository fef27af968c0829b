//! Turning a `--model` argument (package path or registry URI) into a local package directory and a label for
//! prediction metadata.

use anyhow::{Context as _, bail};
use modelops_pipeline::predict::ModelLabel;
use modelops_pipeline::registry::RegistryClient;
use std::path::PathBuf;

use crate::context::Context;

/// Resolves `models:/…`, `runs:/…` through the registry (downloading into `outputs/model-cache/` when the package
/// is not on this machine) and plain paths directly.
pub fn resolve(uri: &str, ctx: &Context) -> anyhow::Result<(PathBuf, ModelLabel)> {
    if uri.starts_with("models:/") || uri.starts_with("runs:/") {
        let target = ctx.tracking_target();
        let registry = RegistryClient::open(&target).with_context(|| {
            format!(
                "cannot open the tracking store {} to resolve {uri}",
                ctx.tracking_uri
            )
        })?;
        return Ok(registry.resolve_local(uri, &ctx.outputs_dir.join("model-cache"))?);
    }
    let path = PathBuf::from(uri);
    let path = if path.is_absolute() {
        path
    } else {
        ctx.project_dir.join(path)
    };
    if !path.join("MLmodel").exists() {
        bail!(
            "{}: not a model package (no MLmodel file); pass a directory written by `modelops train`",
            path.display()
        );
    }
    Ok((
        path,
        ModelLabel {
            model_uri: uri.to_string(),
            ..ModelLabel::default()
        },
    ))
}
