//! `modelops promote` and `modelops rollback`: the human steps of the registry lifecycle. Promoting to Staging or
//! Production archives the previous holder; Production needs an approver and comes only from Staging unless
//! `--force`; rollback re-promotes the most recent archived former Production version. Every change lands in the
//! audit log (`modelops registry show`). The rules live in `modelops_tracking::registry::lifecycle`.

use super::registry::{open_store, print_audit, runtime};
use crate::context::Context;
use anyhow::Context as _;
use clap::Args;
use modelops_tracking::registry::{PromoteRequest, Stage, TransitionSource, promote, rollback};

/// `modelops promote` arguments.
#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// Registered model (default: the configured model name, rossmann-ensemble).
    #[arg(long, value_name = "NAME")]
    pub model_name: Option<String>,
    /// The version to promote.
    #[arg(long, value_name = "N")]
    pub version: i64,
    /// Target stage: Staging, Production or Archived.
    #[arg(long, value_name = "STAGE", value_parser = parse_stage)]
    pub stage: Stage,
    /// Who approves this change (required for Production).
    #[arg(long, value_name = "NAME")]
    pub approver: Option<String>,
    /// Why (recorded in the audit log).
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub reason: String,
    /// Allow Production from a stage other than Staging.
    #[arg(long)]
    pub force: bool,
}

/// `modelops rollback` arguments.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Registered model (default: the configured model name, rossmann-ensemble).
    #[arg(long, value_name = "NAME")]
    pub model_name: Option<String>,
    /// Who approves the rollback.
    #[arg(long, value_name = "NAME")]
    pub approver: String,
    /// Why (recorded in the audit log).
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub reason: String,
}

fn parse_stage(s: &str) -> Result<Stage, String> {
    match Stage::parse(s) {
        Ok(Stage::None) => {
            Err("a version cannot be promoted to None; use Staging, Production or Archived".into())
        }
        Ok(stage) => Ok(stage),
        Err(e) => Err(e.to_string()),
    }
}

/// Promotes a version.
pub fn exec_promote(args: PromoteArgs, ctx: &Context) -> anyhow::Result<u8> {
    let name = args.model_name.unwrap_or_else(|| ctx.model_name.clone());
    let approver = args.approver.unwrap_or_default();
    if args.stage == Stage::Production && approver.trim().is_empty() {
        anyhow::bail!(
            "promoting to Production is a human decision: name the approver with --approver NAME (and say why with \
             --reason TEXT)"
        );
    }
    let request = PromoteRequest {
        name: name.clone(),
        version: args.version,
        stage: args.stage,
        approver,
        reason: args.reason,
        force: args.force,
        source: TransitionSource::Cli,
    };
    runtime()?.block_on(async {
        let store = open_store(ctx).await?;
        let moved = promote(&*store, &request).await.with_context(|| {
            format!(
                "cannot promote '{name}' version {} to {}",
                args.version, args.stage
            )
        })?;
        println!(
            "Promoted {} version {} to {}.",
            moved.name, moved.version, moved.current_stage
        );
        report_changes(&*store, &name, moved.last_updated_timestamp).await;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(super::EXIT_OK)
}

/// Rolls Production back to the previous Production version.
pub fn exec_rollback(args: RollbackArgs, ctx: &Context) -> anyhow::Result<u8> {
    let name = args.model_name.unwrap_or_else(|| ctx.model_name.clone());
    runtime()?.block_on(async {
        let store = open_store(ctx).await?;
        let restored = rollback(
            &*store,
            &name,
            &args.approver,
            &args.reason,
            TransitionSource::Cli,
        )
        .await
        .with_context(|| format!("cannot roll back '{name}'"))?;
        println!(
            "Rolled back {}: version {} is in Production again.",
            restored.name, restored.version
        );
        report_changes(&*store, &name, restored.last_updated_timestamp).await;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(super::EXIT_OK)
}

/// Prints the audit entries written by the change that finished at `at` (ms).
async fn report_changes(store: &dyn modelops_tracking::Store, name: &str, at: i64) {
    match store.audit_trail(name, None).await {
        Ok(trail) => {
            let recent: Vec<_> = trail.into_iter().filter(|e| e.timestamp == at).collect();
            print_audit(&recent);
        }
        Err(err) => {
            tracing::warn!(error = %err, "the change is done but the audit trail could not be read")
        }
    }
}
