//! The registry pages (models, a model's versions, a version's lineage and audit trail) and the human step:
//! Approve to Production, Reject, Roll back.
//!
//! The actions call [`modelops_tracking::registry::lifecycle`] — the same [`promote`] and [`rollback`] that
//! `modelops promote` / `modelops rollback` call — with [`TransitionSource::Ui`], so they follow the same rules and
//! land in the same audit log. Reject is a promote to Archived of a Staging version, its reason prefixed
//! `Rejected:`. Every action is a POST with a CSRF token, an approver and a reason.

use crate::AppState;
use crate::ui::UiOptions;
use crate::ui::layout::{self, Nav};
use crate::ui::security::{CsrfToken, logout_token};
use crate::ui::{Params, UiError, UiResult, encode_segment, format_time, query_string};
use axum::Extension;
use axum::extract::{Form, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use modelops_tracking::artifacts::proxied_path;
use modelops_tracking::registry::{
    AuditEntry, ModelVersion, PromoteRequest, SearchRegistry, Stage, TransitionSource,
    VALIDATION_TAG_PREFIX, promote, rollback,
};
use modelops_tracking::validation::encode_offset_token;
use modelops_tracking::{RunId, StoreError};
use serde::Deserialize;

/// Registered models per page.
const MODELS_PER_PAGE: i64 = 50;
/// Audit entries shown on a model page.
const AUDIT_ROWS: usize = 100;

fn model_link(name: &str) -> String {
    format!("/models/{}", encode_segment(name))
}

fn version_link(name: &str, version: i64) -> String {
    format!("/models/{}/versions/{version}", encode_segment(name))
}

/// `GET /models`.
pub async fn models_page(
    State(app): State<AppState>,
    Extension(csrf): Extension<CsrfToken>,
    Extension(ui): Extension<UiOptions>,
    RawQuery(query): RawQuery,
) -> UiResult {
    let params = Params::parse(query.as_deref());
    let page = params.positive("page", 1, 1_000_000)?;
    let result = app
        .store
        .search_registered_models(&SearchRegistry {
            max_results: Some(MODELS_PER_PAGE),
            order_by: vec!["name ASC".into()],
            page_token: (page > 1).then(|| encode_offset_token((page - 1) * MODELS_PER_PAGE)),
            ..Default::default()
        })
        .await?;
    let body = html! {
        h1 { "Registered models" }
        @if result.items.is_empty() {
            p.empty { "No registered models yet. " code { "modelops train" } " registers a version; " code { "modelops validate" } " moves it to Staging." }
        } @else {
            div.table-wrap {
                table.data {
                    thead { tr { th { "Model" } th { "Latest versions" } th { "Aliases" } th { "Last updated (UTC)" } th { "Description" } } }
                    tbody {
                        @for model in &result.items {
                            tr {
                                td { a href=(model_link(&model.name)) { (model.name) } }
                                td {
                                    @for v in &model.latest_versions {
                                        a.version-chip href=(version_link(&model.name, v.version)) { "v" (v.version) " " (layout::stage_badge(v.current_stage)) }
                                    }
                                }
                                td { @for a in &model.aliases { span.alias { "@" (a.alias) " → v" (a.version) } } }
                                td.nowrap { (format_time(model.last_updated_timestamp)) }
                                td { (model.description) }
                            }
                        }
                    }
                }
            }
            (layout::pager(page, result.next_page_token.is_some(), |p| format!("/models?page={p}")))
        }
    };
    Ok(layout::page("Models", Nav::Models, logout_token(&ui, &csrf), body).into_response())
}

/// Every live version of a model, newest first.
async fn all_versions(app: &AppState, name: &str) -> Result<Vec<ModelVersion>, UiError> {
    let quote = if !name.contains('\'') {
        '\''
    } else if !name.contains('"') {
        '"'
    } else {
        return Err(UiError::bad_request(format!(
            "The model name {name:?} holds both quote characters; the registry search cannot express it"
        )));
    };
    let mut versions = Vec::new();
    let mut token = None;
    loop {
        let page = app
            .store
            .search_model_versions(&SearchRegistry {
                filter: format!("name = {quote}{name}{quote}"),
                max_results: Some(1000),
                order_by: vec!["version_number DESC".into()],
                page_token: token,
            })
            .await?;
        versions.extend(page.items);
        match page.next_page_token {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    versions.sort_by_key(|v| std::cmp::Reverse(v.version));
    Ok(versions)
}

fn audit_table(entries: &[AuditEntry], model: &str) -> Markup {
    html! {
        @if entries.is_empty() {
            p.muted { "No stage changes recorded yet." }
        } @else {
            div.table-wrap {
                table.data.audit {
                    thead { tr { th { "When (UTC)" } th { "Version" } th { "Change" } th { "Action" } th { "Who" } th { "Reason" } th { "From" } th { "Validation metrics" } } }
                    tbody {
                        @for e in entries.iter().rev().take(AUDIT_ROWS) {
                            tr {
                                td.nowrap { (format_time(e.timestamp)) }
                                td { a href=(version_link(model, e.version)) { "v" (e.version) } }
                                td.nowrap { (layout::stage_badge(e.from_stage)) " → " (layout::stage_badge(e.to_stage)) }
                                td { (e.action) }
                                td { (if e.actor.is_empty() { "—" } else { &e.actor }) }
                                td { (e.reason) }
                                td { (e.source.as_str()) }
                                td.small { @for m in &e.metrics { span.metric-chip { (m.key) " " (m.value) } } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn action_forms(
    model: &str,
    version: &ModelVersion,
    csrf: &str,
    has_archived_production: bool,
) -> Markup {
    let action = |path: &str| format!("{}{path}", version_link(model, version.version));
    html! {
        @match version.current_stage {
            Stage::Staging => {
                div.actions {
                    form.card.action-card method="post" action=(action("/approve")) #approve-form {
                        h3 { "Approve to Production" }
                        p.muted { "Archives the current Production version. Recorded in the audit log." }
                        input type="hidden" name="csrf_token" value=(csrf);
                        label for="approve-approver" { "Approver" }
                        input #approve-approver name="approver" required placeholder="your name";
                        label for="approve-reason" { "Reason" }
                        textarea #approve-reason name="reason" required rows="2" placeholder="why this version should serve" {}
                        button.primary.approve type="submit" { "Approve to Production" }
                    }
                    form.card.action-card method="post" action=(action("/reject")) #reject-form {
                        h3 { "Reject" }
                        p.muted { "Moves this version to Archived." }
                        input type="hidden" name="csrf_token" value=(csrf);
                        label for="reject-approver" { "Reviewer" }
                        input #reject-approver name="approver" required placeholder="your name";
                        label for="reject-reason" { "Reason" }
                        textarea #reject-reason name="reason" required rows="2" {}
                        button.danger type="submit" { "Reject" }
                    }
                }
            }
            Stage::Production => {
                @if has_archived_production {
                    (rollback_form(model, csrf))
                } @else {
                    p.muted { "No earlier Production version to roll back to." }
                }
            }
            _ => {}
        }
    }
}

fn rollback_form(model: &str, csrf: &str) -> Markup {
    html! {
        form.card.action-card method="post" action=(format!("{}/rollback", model_link(model))) #rollback-form {
            h3 { "Roll back Production" }
            p.muted { "Re-promotes the most recent archived former Production version." }
            input type="hidden" name="csrf_token" value=(csrf);
            label for="rollback-approver" { "Approver" }
            input #rollback-approver name="approver" required placeholder="your name";
            label for="rollback-reason" { "Reason" }
            textarea #rollback-reason name="reason" required rows="2" {}
            button.danger type="submit" { "Roll back" }
        }
    }
}

fn has_rollback_target(trail: &[AuditEntry], versions: &[ModelVersion]) -> bool {
    trail.iter().any(|e| {
        e.from_stage == Stage::Production
            && e.to_stage == Stage::Archived
            && versions
                .iter()
                .any(|v| v.version == e.version && v.current_stage == Stage::Archived)
    })
}

fn flash(params: &Params) -> Markup {
    html! {
        @if let Some(done) = params.get("done") {
            p.flash { (match done {
                "approved" => "Approved: the version is in Production.",
                "rejected" => "Rejected: the version is Archived.",
                "rolledback" => "Rolled back: the previous Production version is serving again.",
                _ => "Done.",
            }) }
        }
    }
}

async fn load_model(
    app: &AppState,
    name: &str,
) -> Result<modelops_tracking::registry::RegisteredModel, UiError> {
    app.store
        .get_registered_model(name)
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) | StoreError::InvalidParameter(_) => {
                UiError::not_found(format!("No registered model named '{name}'"))
            }
            other => other.into(),
        })
}

/// `GET /models/{name}`: versions with stages and aliases, the rollback action and the audit trail.
pub async fn model_page(
    State(app): State<AppState>,
    Extension(csrf): Extension<CsrfToken>,
    Extension(ui): Extension<UiOptions>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> UiResult {
    let params = Params::parse(query.as_deref());
    let model = load_model(&app, &name).await?;
    let versions = all_versions(&app, &name).await?;
    let trail = app.store.audit_trail(&name, None).await?;
    let in_production = versions
        .iter()
        .any(|v| v.current_stage == Stage::Production);
    let body = html! {
        nav.crumbs { a href="/models" { "Models" } " / " span { (model.name) } }
        h1 { (model.name) }
        (flash(&params))
        @if !model.description.is_empty() { p { (model.description) } }
        @if !model.aliases.is_empty() {
            p { "Aliases: " @for a in &model.aliases { span.alias { "@" (a.alias) " → " a href=(version_link(&name, a.version)) { "v" (a.version) } } } }
        }
        h2 { "Versions" }
        @if versions.is_empty() {
            p.muted { "No versions registered." }
        } @else {
            div.table-wrap {
                table.data.versions {
                    thead { tr { th { "Version" } th { "Stage" } th { "Aliases" } th { "Validation" } th { "Training run" } th { "Registered (UTC)" } th { "Description" } } }
                    tbody {
                        @for v in &versions {
                            tr {
                                td { a href=(version_link(&name, v.version)) { "Version " (v.version) } }
                                td { (layout::stage_badge(v.current_stage)) }
                                td { @for a in &v.aliases { span.alias { "@" (a) } } }
                                td.small { @for t in v.tags.iter().filter(|t| t.key.starts_with(VALIDATION_TAG_PREFIX)) { span.metric-chip { (t.key.trim_start_matches(VALIDATION_TAG_PREFIX)) " " (t.value) } } }
                                td { @if let Some(run) = &v.run_id { a href=(format!("/runs/{}", encode_segment(run))) { code { (run.chars().take(8).collect::<String>()) } } } @else { "—" } }
                                td.nowrap { (format_time(v.creation_timestamp)) }
                                td { (v.description) }
                            }
                        }
                    }
                }
            }
        }
        @if in_production && has_rollback_target(&trail, &versions) {
            (rollback_form(&name, &csrf.value))
        }
        h2 { "Audit trail" }
        (audit_table(&trail, &name))
    };
    Ok(layout::page(&model.name, Nav::Models, logout_token(&ui, &csrf), body).into_response())
}

fn parse_version(raw: &str) -> Result<i64, UiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| UiError::not_found(format!("'{raw}' is not a version number")))
}

/// Param keys that hold hyperparameters (the engines' prefixes, as `modelops train` logs them).
fn is_hyperparameter(key: &str) -> bool {
    ["lgb_", "xgb_", "cb_"].iter().any(|p| key.starts_with(p))
}

/// `GET /models/{name}/versions/{version}`: the version, its lineage, its audit trail and the actions.
pub async fn version_page(
    State(app): State<AppState>,
    Extension(csrf): Extension<CsrfToken>,
    Extension(ui): Extension<UiOptions>,
    Path((name, version)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> UiResult {
    let params = Params::parse(query.as_deref());
    render_version(
        &app,
        &ui,
        &csrf,
        &name,
        &version,
        &params,
        None,
        StatusCode::OK,
    )
    .await
}

#[allow(clippy::too_many_arguments)] // one page, many inputs; a struct would only rename them
async fn render_version(
    app: &AppState,
    ui: &UiOptions,
    csrf: &CsrfToken,
    name: &str,
    version: &str,
    params: &Params,
    error: Option<String>,
    status: StatusCode,
) -> UiResult {
    let number = parse_version(version)?;
    load_model(app, name).await?;
    let mv = app
        .store
        .get_model_version(name, number)
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) | StoreError::InvalidParameter(_) => {
                UiError::not_found(format!("'{name}' has no version {number}"))
            }
            other => other.into(),
        })?;
    let trail = app.store.audit_trail(name, Some(number)).await?;
    let all_trail = app.store.audit_trail(name, None).await?;
    let versions = all_versions(app, name).await?;
    let run = match &mv.run_id {
        Some(id) => app.store.get_run(&RunId(id.clone())).await.ok(),
        None => None,
    };
    let lineage = package_lineage(app, &mv).await;
    let (mut hyper, mut fingerprints, mut weights, mut other) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut git_commit = None;
    if let Some(run) = &run {
        let mut params_sorted = run.data.params.clone();
        params_sorted.sort_by(|a, b| a.key.cmp(&b.key));
        for p in params_sorted {
            if is_hyperparameter(&p.key) {
                hyper.push(p);
            } else if p.key.starts_with("data_hash.") || p.key == "data_fingerprint" {
                fingerprints.push(p);
            } else if p.key.contains("weight") {
                weights.push(p);
            } else if p.key == "git_commit_hash" {
                git_commit = Some(p.value);
            } else {
                other.push(p);
            }
        }
    }
    let validation: Vec<_> = mv
        .tags
        .iter()
        .filter(|t| t.key.starts_with(VALIDATION_TAG_PREFIX))
        .collect();
    let body = html! {
        nav.crumbs { a href="/models" { "Models" } " / " a href=(model_link(name)) { (name) } " / " span { "Version " (number) } }
        div.title-row {
            h1 { (name) " · version " (number) }
            (layout::stage_badge(mv.current_stage))
            @for a in &mv.aliases { span.alias { "@" (a) } }
        }
        (flash(params))
        @if let Some(message) = &error { p.error-box #action-error { (message) } }
        (action_forms(name, &mv, &csrf.value, has_rollback_target(&all_trail, &versions)))
        div.cards {
            div.card.info {
                dl {
                    dt { "Training run" }
                    dd { @if let Some(id) = &mv.run_id { a href=(format!("/runs/{}", encode_segment(id))) { code { (id) } } } @else { "—" } }
                    dt { "Source" } dd { code { (mv.source) } }
                    dt { "Registered" } dd { (format_time(mv.creation_timestamp)) " UTC" @if !mv.user_id.is_empty() { " by " (mv.user_id) } }
                    dt { "Git commit" } dd { @if let Some(c) = &git_commit { code { (c) } } @else { "—" } }
                    @if !mv.description.is_empty() { dt { "Description" } dd { (mv.description) } }
                }
            }
        }
        h2 { "Validation metrics" }
        (layout::key_value_table(("Metric", "Value"), validation.iter().map(|t| (t.key.trim_start_matches(VALIDATION_TAG_PREFIX), html! { (t.value) })), "No validation recorded (modelops validate tags validation.* on the version)."))
        @if let Some(run) = &run {
            h2 { "Training metrics" }
            (layout::key_value_table(("Metric", "Value"), run.data.metrics.iter().map(|m| (m.key.as_str(), html! { (crate::ui::format_value(m.value)) })), "No metrics logged."))
        }
        h2 { "Lineage" }
        @if run.is_none() { p.muted { "The training run is unknown or deleted, so its parameters cannot be shown." } }
        h3 { "Data fingerprints" }
        (layout::key_value_table(("Input", "Fingerprint"), fingerprints.iter().map(|p| (p.key.as_str(), html! { code { (p.value) } })), "None recorded."))
        h3 { "Hyperparameters" }
        (layout::key_value_table(("Parameter", "Value"), hyper.iter().map(|p| (p.key.as_str(), html! { (p.value) })), "None recorded."))
        h3 { "Ensemble weights" }
        (layout::key_value_table(("Parameter", "Value"), weights.iter().map(|p| (p.key.as_str(), html! { (p.value) })), "None recorded."))
        @if !other.is_empty() {
            h3 { "Other parameters" }
            (layout::key_value_table(("Parameter", "Value"), other.iter().map(|p| (p.key.as_str(), html! { (p.value) })), ""))
        }
        @if let Some(lineage) = &lineage {
            h3 { "Package lineage (lineage.json)" }
            pre.preview { (lineage) }
        }
        h2 { "Tags" }
        (layout::key_value_table(("Tag", "Value"), mv.tags.iter().map(|t| (t.key.as_str(), html! { (t.value) })), "No tags."))
        h2 { "Audit trail" }
        (audit_table(&trail, name))
    };
    let title = format!("{name} v{number}");
    Ok((
        status,
        layout::page(&title, Nav::Models, logout_token(ui, csrf), body),
    )
        .into_response())
}

/// The package's `lineage.json`, pretty-printed, when the version's files are in this server's artifact store.
async fn package_lineage(app: &AppState, version: &ModelVersion) -> Option<String> {
    let base = proxied_path(&version.source)?;
    let bytes = app
        .artifacts
        .read(&format!("{}/lineage.json", base.trim_end_matches('/')))
        .await
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    serde_json::to_string_pretty(&value).ok()
}

/// Fields of the approve, reject and rollback forms.
#[derive(Debug, Deserialize)]
pub struct ActionForm {
    csrf_token: Option<String>,
    #[serde(default)]
    approver: String,
    #[serde(default)]
    reason: String,
}

fn done_link(path: String, done: &str) -> Response {
    Redirect::to(&format!("{path}?{}", query_string([("done", done)]))).into_response()
}

fn require_fields(form: &ActionForm) -> Result<(), String> {
    if form.approver.trim().is_empty() {
        return Err("Name the approver: who takes this decision?".into());
    }
    if form.reason.trim().is_empty() {
        return Err("Give a reason: it is recorded in the audit log.".into());
    }
    Ok(())
}

/// The version page an action was posted from, to answer a refused action with it.
struct ActionPage<'a> {
    app: &'a AppState,
    ui: &'a UiOptions,
    csrf: &'a CsrfToken,
    name: &'a str,
    version: &'a str,
}

impl ActionPage<'_> {
    /// The version page showing `message`, with `status`.
    async fn refuse(&self, message: String, status: StatusCode) -> UiResult {
        let params = Params::default();
        let (app, ui, csrf) = (self.app, self.ui, self.csrf);
        render_version(
            app,
            ui,
            csrf,
            self.name,
            self.version,
            &params,
            Some(message),
            status,
        )
        .await
    }
}

/// `POST /models/{name}/versions/{version}/approve`: Staging → Production through [`promote`].
pub async fn approve(
    State(app): State<AppState>,
    Extension(csrf): Extension<CsrfToken>,
    Extension(ui): Extension<UiOptions>,
    Path((name, version)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> UiResult {
    csrf.verify(form.csrf_token.as_deref())?;
    let number = parse_version(&version)?;
    let page = ActionPage {
        app: &app,
        ui: &ui,
        csrf: &csrf,
        name: &name,
        version: &version,
    };
    if let Err(message) = require_fields(&form) {
        return page.refuse(message, StatusCode::BAD_REQUEST).await;
    }
    let request = PromoteRequest {
        name: name.clone(),
        version: number,
        stage: Stage::Production,
        approver: form.approver.trim().to_string(),
        reason: form.reason.trim().to_string(),
        force: false,
        source: TransitionSource::Ui,
    };
    match promote(&*app.store, &request).await {
        Ok(_) => {
            tracing::info!(model = %name, version = number, approver = %request.approver, "approved to Production in the UI");
            Ok(done_link(version_link(&name, number), "approved"))
        }
        Err(StoreError::InvalidParameter(message)) => {
            page.refuse(message, StatusCode::CONFLICT).await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /models/{name}/versions/{version}/reject`: Staging → Archived through [`promote`].
pub async fn reject(
    State(app): State<AppState>,
    Extension(csrf): Extension<CsrfToken>,
    Extension(ui): Extension<UiOptions>,
    Path((name, version)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> UiResult {
    csrf.verify(form.csrf_token.as_deref())?;
    let number = parse_version(&version)?;
    let page = ActionPage {
        app: &app,
        ui: &ui,
        csrf: &csrf,
        name: &name,
        version: &version,
    };
    if let Err(message) = require_fields(&form) {
        return page.refuse(message, StatusCode::BAD_REQUEST).await;
    }
    let current = app
        .store
        .get_model_version(&name, number)
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => {
                UiError::not_found(format!("'{name}' has no version {number}"))
            }
            other => other.into(),
        })?;
    if current.current_stage != Stage::Staging {
        let message = format!(
            "Only a Staging version can be rejected; version {number} is {}.",
            current.current_stage
        );
        return page.refuse(message, StatusCode::CONFLICT).await;
    }
    let request = PromoteRequest {
        name: name.clone(),
        version: number,
        stage: Stage::Archived,
        approver: form.approver.trim().to_string(),
        reason: format!("Rejected: {}", form.reason.trim()),
        force: false,
        source: TransitionSource::Ui,
    };
    promote(&*app.store, &request).await?;
    tracing::info!(model = %name, version = number, "rejected in the UI");
    Ok(done_link(version_link(&name, number), "rejected"))
}

/// `POST /models/{name}/rollback`: re-promotes the previous Production version through [`rollback`].
pub async fn rollback_action(
    State(app): State<AppState>,
    Extension(csrf): Extension<CsrfToken>,
    Path(name): Path<String>,
    Form(form): Form<ActionForm>,
) -> UiResult {
    csrf.verify(form.csrf_token.as_deref())?;
    load_model(&app, &name).await?;
    if let Err(message) = require_fields(&form) {
        return Err(UiError::bad_request(message));
    }
    match rollback(
        &*app.store,
        &name,
        &form.approver,
        form.reason.trim(),
        TransitionSource::Ui,
    )
    .await
    {
        Ok(restored) => {
            tracing::info!(model = %name, version = restored.version, "rolled back in the UI");
            Ok(done_link(
                version_link(&name, restored.version),
                "rolledback",
            ))
        }
        Err(StoreError::InvalidParameter(message)) => Err(UiError::bad_request(message)),
        Err(e) => Err(e.into()),
    }
}
