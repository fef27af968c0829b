//! `modelops registry list|show`: the registered models, their versions, stages, aliases, lineage tags and the
//! audit trail of stage changes, as readable tables. Wiring only: the registry lives in `modelops-tracking`.

use crate::context::Context;
use anyhow::Context as _;
use clap::{Args, Subcommand};
use modelops_tracking::registry::{AuditEntry, ModelVersion, SearchRegistry};
use modelops_tracking::{Store, StoreError};
use std::sync::Arc;

/// Inspect the model registry.
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// List registered models with their latest version per stage.
    List,
    /// Show one model: versions, stages, aliases, lineage tags and the audit trail.
    Show(ShowArgs),
}

/// `modelops registry show` arguments.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Registered model (default: the configured model name, rossmann-ensemble).
    pub name: Option<String>,
    /// Show only this version (its lineage tags and audit trail).
    #[arg(long, value_name = "N")]
    pub version: Option<i64>,
}

/// Runs a registry subcommand.
pub fn exec(command: RegistryCommand, ctx: &Context) -> anyhow::Result<u8> {
    let runtime = runtime()?;
    runtime.block_on(async {
        let store = open_store(ctx).await?;
        match command {
            RegistryCommand::List => list(&store).await,
            RegistryCommand::Show(args) => {
                let name = args.name.unwrap_or_else(|| ctx.model_name.clone());
                show(&store, &name, args.version).await
            }
        }
    })?;
    Ok(super::EXIT_OK)
}

/// A small single-threaded runtime for one command's store calls.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Opens the tracking store named by the context.
pub(crate) async fn open_store(ctx: &Context) -> anyhow::Result<Arc<dyn Store>> {
    modelops_tracking::open(&ctx.tracking_uri)
        .await
        .with_context(|| {
            format!(
                "cannot open tracking store {}; check --tracking-uri",
                ctx.tracking_uri
            )
        })
}

/// `2026-11-26 20:15:30` (UTC) from ms since the epoch.
pub(crate) fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// Prints rows as left-aligned columns separated by two spaces.
pub(crate) fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row.clone());
    }
}

async fn list(store: &Arc<dyn Store>) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    let mut token = None;
    loop {
        let request = SearchRegistry {
            max_results: Some(1000),
            page_token: token,
            ..Default::default()
        };
        let page = store
            .search_registered_models(&request)
            .await
            .context("cannot list registered models")?;
        for model in page.items {
            let stage_of = |stage: &str| {
                model
                    .latest_versions
                    .iter()
                    .find(|v| v.current_stage.as_str() == stage)
                    .map_or_else(|| "-".to_string(), |v| v.version.to_string())
            };
            let aliases: Vec<String> = model
                .aliases
                .iter()
                .map(|a| format!("{}→{}", a.alias, a.version))
                .collect();
            rows.push(vec![
                model.name.clone(),
                stage_of("Production"),
                stage_of("Staging"),
                stage_of("None"),
                if aliases.is_empty() {
                    "-".into()
                } else {
                    aliases.join(", ")
                },
                when(model.last_updated_timestamp),
            ]);
        }
        match page.next_page_token {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    if rows.is_empty() {
        println!("No registered models. `modelops train` registers one.");
        return Ok(());
    }
    print_table(
        &[
            "MODEL",
            "PRODUCTION",
            "STAGING",
            "NEWEST (None)",
            "ALIASES",
            "UPDATED (UTC)",
        ],
        &rows,
    );
    Ok(())
}

async fn versions_of(store: &Arc<dyn Store>, name: &str) -> Result<Vec<ModelVersion>, StoreError> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let request = SearchRegistry {
            filter: format!("name = '{}'", name.replace('\'', "''")),
            order_by: vec!["version_number DESC".into()],
            page_token: token,
            ..Default::default()
        };
        let page = store.search_model_versions(&request).await?;
        out.extend(page.items);
        match page.next_page_token {
            Some(next) => token = Some(next),
            None => return Ok(out),
        }
    }
}

async fn show(store: &Arc<dyn Store>, name: &str, version: Option<i64>) -> anyhow::Result<()> {
    let model = store.get_registered_model(name).await.with_context(|| {
        format!("cannot show registered model '{name}'; `modelops registry list` shows the registered names")
    })?;
    println!(
        "Model {}  (created {}, updated {} UTC)",
        model.name,
        when(model.creation_timestamp),
        when(model.last_updated_timestamp)
    );
    if !model.description.is_empty() {
        println!("Description: {}", model.description);
    }
    for tag in &model.tags {
        println!("Tag: {} = {}", tag.key, tag.value);
    }
    let versions = match version {
        Some(v) => vec![
            store
                .get_model_version(name, v)
                .await
                .with_context(|| format!("cannot show version {v}"))?,
        ],
        None => versions_of(store, name)
            .await
            .with_context(|| format!("cannot list the versions of '{name}'"))?,
    };
    println!();
    if versions.is_empty() {
        println!("No versions.");
    } else {
        let rows: Vec<Vec<String>> = versions
            .iter()
            .map(|v| {
                vec![
                    v.version.to_string(),
                    v.current_stage.to_string(),
                    if v.aliases.is_empty() {
                        "-".into()
                    } else {
                        v.aliases.join(", ")
                    },
                    when(v.creation_timestamp),
                    v.run_id.clone().unwrap_or_else(|| "-".into()),
                    v.source.clone(),
                ]
            })
            .collect();
        print_table(
            &[
                "VERSION",
                "STAGE",
                "ALIASES",
                "CREATED (UTC)",
                "RUN",
                "SOURCE",
            ],
            &rows,
        );
    }
    if let Some(selected) = versions.first() {
        println!();
        println!("Lineage of version {} (tags):", selected.version);
        if selected.tags.is_empty() {
            println!("  (none)");
        }
        for tag in &selected.tags {
            println!("  {} = {}", tag.key, tag.value);
        }
        if !selected.description.is_empty() {
            println!("  description: {}", selected.description);
        }
    }
    println!();
    match store.audit_trail(name, version).await {
        Ok(trail) => print_audit(&trail),
        Err(err) => println!("Audit trail unavailable: {err}"),
    }
    Ok(())
}

/// Prints audit entries as a table.
pub(crate) fn print_audit(trail: &[AuditEntry]) {
    if trail.is_empty() {
        println!("Audit trail: no stage changes yet.");
        return;
    }
    println!("Audit trail:");
    let rows: Vec<Vec<String>> = trail
        .iter()
        .map(|e| {
            let metrics: Vec<String> = e
                .metrics
                .iter()
                .map(|m| format!("{}={}", m.key, m.value))
                .collect();
            vec![
                when(e.timestamp),
                e.version.to_string(),
                format!("{} → {}", e.from_stage, e.to_stage),
                e.action.clone(),
                if e.actor.is_empty() {
                    "-".into()
                } else {
                    e.actor.clone()
                },
                e.source.as_str().to_string(),
                if e.reason.is_empty() {
                    "-".into()
                } else {
                    e.reason.clone()
                },
                if metrics.is_empty() {
                    "-".into()
                } else {
                    metrics.join(" ")
                },
            ]
        })
        .collect();
    print_table(
        &[
            "WHEN (UTC)",
            "VERSION",
            "CHANGE",
            "ACTION",
            "BY",
            "VIA",
            "REASON",
            "METRICS",
        ],
        &rows,
    );
}
