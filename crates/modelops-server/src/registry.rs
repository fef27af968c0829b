//! Handlers for the MLflow model-registry RPCs (registered models, model versions, stages, aliases, tags,
//! download URIs), plus modelops' audit-trail route. Fields in, one [`Registry`] call, JSON out; mounted by
//! [`crate::router`] under both API prefixes through [`routes`].
//!
//! The transition endpoint keeps MLflow's semantics (archives other holders only with
//! `archive_existing_versions`). modelops clients may add `modelops_actor`, `modelops_reason`,
//! `modelops_source`, `modelops_action` and `modelops_require_current_stage`, which land in the audit log and
//! are checked inside the store's transaction; the stock MLflow client never sends them.
//!
//! [`Registry`]: modelops_tracking::Registry

use crate::AppState;
use crate::error::ApiError;
use crate::request::Fields;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::{delete, get, patch, post};
use modelops_tracking::Tag;
use modelops_tracking::registry::remote::AUDIT_ROUTE;
use modelops_tracking::registry::wire::{
    audit_entry_json, model_version_json, registered_model_json,
};
use modelops_tracking::registry::{
    AuditContext, CreateModelVersion, SearchRegistry, Stage, Transition, TransitionSource,
    parse_version,
};
use serde_json::{Map, Value, json};

type ApiResult = Result<Json<Value>, ApiError>;

/// The registry routes, relative to an API prefix (`/api/2.0/mlflow`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/registered-models/create", post(create_registered_model))
        .route("/registered-models/get", get(get_registered_model))
        .route("/registered-models/rename", post(rename_registered_model))
        .route("/registered-models/update", patch(update_registered_model))
        .route("/registered-models/delete", delete(delete_registered_model))
        .route("/registered-models/search", get(search_registered_models))
        .route(
            "/registered-models/get-latest-versions",
            post(get_latest_versions).get(get_latest_versions),
        )
        .route("/registered-models/set-tag", post(set_registered_model_tag))
        .route(
            "/registered-models/delete-tag",
            delete(delete_registered_model_tag),
        )
        .route(
            "/registered-models/alias",
            post(set_alias).delete(delete_alias).get(get_by_alias),
        )
        .route("/model-versions/create", post(create_model_version))
        .route("/model-versions/get", get(get_model_version))
        .route("/model-versions/update", patch(update_model_version))
        .route("/model-versions/delete", delete(delete_model_version))
        .route("/model-versions/search", get(search_model_versions))
        .route("/model-versions/transition-stage", post(transition_stage))
        .route("/model-versions/set-tag", post(set_model_version_tag))
        .route(
            "/model-versions/delete-tag",
            delete(delete_model_version_tag),
        )
        .route("/model-versions/get-download-uri", get(get_download_uri))
        .route(&format!("/{AUDIT_ROUTE}"), get(audit_trail))
}

fn empty() -> ApiResult {
    Ok(Json(json!({})))
}

fn version(f: &Fields) -> Result<i64, ApiError> {
    Ok(parse_version(&f.req_str("version")?)?)
}

fn search_request(f: &Fields) -> Result<SearchRegistry, ApiError> {
    Ok(SearchRegistry {
        filter: f.opt_str("filter")?.unwrap_or_default(),
        max_results: f.opt_i64("max_results")?,
        order_by: f.str_list("order_by")?,
        page_token: f.opt_str("page_token")?,
    })
}

fn page(key: &str, items: Vec<Value>, token: Option<String>) -> Value {
    let mut out = Map::new();
    if !items.is_empty() {
        out.insert(key.into(), Value::Array(items));
    }
    if let Some(token) = token {
        out.insert("next_page_token".into(), Value::String(token));
    }
    Value::Object(out)
}

fn tag(f: &Fields) -> Result<Tag, ApiError> {
    Ok(Tag {
        key: f.req_str("key")?,
        value: f.opt_str_allow_empty("value")?.unwrap_or_default(),
    })
}

/// `POST registered-models/create`.
pub async fn create_registered_model(State(app): State<AppState>, f: Fields) -> ApiResult {
    let name = f.req_str("name")?;
    let tags = f.tags("tags")?;
    let description = f.opt_str("description")?;
    let model = app
        .store
        .create_registered_model(&name, &tags, description.as_deref())
        .await?;
    Ok(Json(
        json!({ "registered_model": registered_model_json(&model) }),
    ))
}

/// `GET registered-models/get`.
pub async fn get_registered_model(State(app): State<AppState>, f: Fields) -> ApiResult {
    let model = app.store.get_registered_model(&f.req_str("name")?).await?;
    Ok(Json(
        json!({ "registered_model": registered_model_json(&model) }),
    ))
}

/// `POST registered-models/rename`.
pub async fn rename_registered_model(State(app): State<AppState>, f: Fields) -> ApiResult {
    let model = app
        .store
        .rename_registered_model(&f.req_str("name")?, &f.req_str("new_name")?)
        .await?;
    Ok(Json(
        json!({ "registered_model": registered_model_json(&model) }),
    ))
}

/// `PATCH registered-models/update`.
pub async fn update_registered_model(State(app): State<AppState>, f: Fields) -> ApiResult {
    let description = f.opt_str_allow_empty("description")?.unwrap_or_default();
    let model = app
        .store
        .update_registered_model(&f.req_str("name")?, &description)
        .await?;
    Ok(Json(
        json!({ "registered_model": registered_model_json(&model) }),
    ))
}

/// `DELETE registered-models/delete`.
pub async fn delete_registered_model(State(app): State<AppState>, f: Fields) -> ApiResult {
    app.store
        .delete_registered_model(&f.req_str("name")?)
        .await?;
    empty()
}

/// `GET registered-models/search`.
pub async fn search_registered_models(State(app): State<AppState>, f: Fields) -> ApiResult {
    let result = app
        .store
        .search_registered_models(&search_request(&f)?)
        .await?;
    let items = result.items.iter().map(registered_model_json).collect();
    Ok(Json(page(
        "registered_models",
        items,
        result.next_page_token,
    )))
}

/// `POST|GET registered-models/get-latest-versions`.
pub async fn get_latest_versions(State(app): State<AppState>, f: Fields) -> ApiResult {
    let name = f.req_str("name")?;
    let stages = f
        .str_list("stages")?
        .iter()
        .map(|s| Stage::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let versions = app.store.get_latest_versions(&name, &stages).await?;
    Ok(Json(page(
        "model_versions",
        versions.iter().map(model_version_json).collect(),
        None,
    )))
}

/// `POST registered-models/set-tag`.
pub async fn set_registered_model_tag(State(app): State<AppState>, f: Fields) -> ApiResult {
    app.store
        .set_registered_model_tag(&f.req_str("name")?, &tag(&f)?)
        .await?;
    empty()
}

/// `DELETE registered-models/delete-tag`.
pub async fn delete_registered_model_tag(State(app): State<AppState>, f: Fields) -> ApiResult {
    app.store
        .delete_registered_model_tag(&f.req_str("name")?, &f.req_str("key")?)
        .await?;
    empty()
}

/// `POST registered-models/alias`.
pub async fn set_alias(State(app): State<AppState>, f: Fields) -> ApiResult {
    app.store
        .set_registered_model_alias(&f.req_str("name")?, &f.req_str("alias")?, version(&f)?)
        .await?;
    empty()
}

/// `DELETE registered-models/alias`.
pub async fn delete_alias(State(app): State<AppState>, f: Fields) -> ApiResult {
    app.store
        .delete_registered_model_alias(&f.req_str("name")?, &f.req_str("alias")?)
        .await?;
    empty()
}

/// `GET registered-models/alias`.
pub async fn get_by_alias(State(app): State<AppState>, f: Fields) -> ApiResult {
    let version = app
        .store
        .get_model_version_by_alias(&f.req_str("name")?, &f.req_str("alias")?)
        .await?;
    Ok(Json(
        json!({ "model_version": model_version_json(&version) }),
    ))
}

/// `POST model-versions/create`.
pub async fn create_model_version(State(app): State<AppState>, f: Fields) -> ApiResult {
    let request = CreateModelVersion {
        name: f.req_str("name")?,
        source: f.req_str("source")?,
        run_id: f.opt_str("run_id")?,
        tags: f.tags("tags")?,
        run_link: f.opt_str("run_link")?,
        description: f.opt_str("description")?,
        user_id: None,
    };
    let version = app.store.create_model_version(&request).await?;
    Ok(Json(
        json!({ "model_version": model_version_json(&version) }),
    ))
}

/// `GET model-versions/get`.
pub async fn get_model_version(State(app): State<AppState>, f: Fields) -> ApiResult {
    let version = app
        .store
        .get_model_version(&f.req_str("name")?, version(&f)?)
        .await?;
    Ok(Json(
        json!({ "model_version": model_version_json(&version) }),
    ))
}

/// `PATCH model-versions/update`.
pub async fn update_model_version(State(app): State<AppState>, f: Fields) -> ApiResult {
    let description = f.opt_str_allow_empty("description")?.unwrap_or_default();
    let version = app
        .store
        .update_model_version(&f.req_str("name")?, version(&f)?, &description)
        .await?;
    Ok(Json(
        json!({ "model_version": model_version_json(&version) }),
    ))
}

/// `DELETE model-versions/delete`.
pub async fn delete_model_version(State(app): State<AppState>, f: Fields) -> ApiResult {
    app.store
        .delete_model_version(&f.req_str("name")?, version(&f)?)
        .await?;
    empty()
}

/// `GET model-versions/search`.
pub async fn search_model_versions(State(app): State<AppState>, f: Fields) -> ApiResult {
    let result = app
        .store
        .search_model_versions(&search_request(&f)?)
        .await?;
    let items = result.items.iter().map(model_version_json).collect();
    Ok(Json(page("model_versions", items, result.next_page_token)))
}

/// `POST model-versions/transition-stage`.
pub async fn transition_stage(State(app): State<AppState>, f: Fields) -> ApiResult {
    let source = match f.opt_str("modelops_source")? {
        None => TransitionSource::Api,
        Some(s) => TransitionSource::parse(&s).ok_or_else(|| {
            ApiError::bad_value(
                "modelops_source",
                &Value::String(s),
                "Value must be one of api, cli, ui",
            )
        })?,
    };
    let transition = Transition {
        name: f.req_str("name")?,
        version: version(&f)?,
        stage: Stage::parse(&f.req_str("stage")?)?,
        archive_existing_versions: f.opt_bool("archive_existing_versions")?.unwrap_or(false),
        require_current_stage: f
            .opt_str("modelops_require_current_stage")?
            .map(|s| Stage::parse(&s))
            .transpose()?,
        audit: AuditContext {
            actor: f.opt_str("modelops_actor")?.unwrap_or_default(),
            reason: f.opt_str("modelops_reason")?.unwrap_or_default(),
            source,
            action: f
                .opt_str("modelops_action")?
                .unwrap_or_else(|| AuditContext::api("").action),
        },
    };
    let version = app
        .store
        .transition_model_version_stage(&transition)
        .await?;
    Ok(Json(
        json!({ "model_version": model_version_json(&version) }),
    ))
}

/// `POST model-versions/set-tag`.
pub async fn set_model_version_tag(State(app): State<AppState>, f: Fields) -> ApiResult {
    app.store
        .set_model_version_tag(&f.req_str("name")?, version(&f)?, &tag(&f)?)
        .await?;
    empty()
}

/// `DELETE model-versions/delete-tag`.
pub async fn delete_model_version_tag(State(app): State<AppState>, f: Fields) -> ApiResult {
    app.store
        .delete_model_version_tag(&f.req_str("name")?, version(&f)?, &f.req_str("key")?)
        .await?;
    empty()
}

/// `GET model-versions/get-download-uri`.
pub async fn get_download_uri(State(app): State<AppState>, f: Fields) -> ApiResult {
    let uri = app
        .store
        .get_model_version_download_uri(&f.req_str("name")?, version(&f)?)
        .await?;
    Ok(Json(json!({ "artifact_uri": uri })))
}

/// `GET modelops/registry/audit` (modelops extension): `{entries: [...]}`, oldest first.
pub async fn audit_trail(State(app): State<AppState>, f: Fields) -> ApiResult {
    let version = f
        .opt_str("version")?
        .map(|v| parse_version(&v))
        .transpose()?;
    let entries = app.store.audit_trail(&f.req_str("name")?, version).await?;
    Ok(Json(page(
        "entries",
        entries.iter().map(audit_entry_json).collect(),
        None,
    )))
}
