//! [`Registry`] for [`RemoteStore`]: the MLflow registry RPCs over HTTP, so registry commands work against
//! `modelops server` and a stock MLflow server alike.
//!
//! Two modelops extensions ride along, ignored by a stock server: a transition carries the audit context and the
//! required current stage as extra request fields (`modelops_actor`, `modelops_reason`, `modelops_source`,
//! `modelops_action`, `modelops_require_current_stage`), which `modelops server` records and checks inside its
//! transaction; and the audit trail is read from `GET …/modelops/registry/audit`. Against a stock server the
//! required stage is also checked here before the call, and reading the audit trail reports that the server has
//! none.

use super::entities::{
    AuditEntry, CreateModelVersion, ModelVersion, RegisteredModel, SearchRegistry, Stage,
    Transition,
};
use super::wire::{parse_audit_entry, parse_model_version, parse_registered_model};
use super::{Registry, validate_alias};
use crate::entities::{Page, Tag};
use crate::error::StoreError;
use crate::remote::RemoteStore;
use reqwest::Method;
use serde_json::{Value, json};

/// The extension route that serves the audit trail (relative to `/api/2.0/mlflow/`).
pub const AUDIT_ROUTE: &str = "modelops/registry/audit";

impl RemoteStore {
    async fn call(&self, method: Method, path: &str, body: Value) -> Result<Value, StoreError> {
        let url = format!("{}/api/2.0/mlflow/{path}", self.base_url());
        let request = self.http_client().request(method, url).json(&body);
        self.send(request, path).await
    }

    async fn call_get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, StoreError> {
        let url = format!("{}/api/2.0/mlflow/{path}", self.base_url());
        let request = self.http_client().get(url).query(query);
        self.send(request, path).await
    }
}

fn tags_json(tags: &[Tag]) -> Value {
    Value::Array(
        tags.iter()
            .map(|t| json!({"key": t.key, "value": t.value}))
            .collect(),
    )
}

fn model_of(reply: &Value) -> Result<RegisteredModel, StoreError> {
    parse_registered_model(reply.get("registered_model").unwrap_or(&Value::Null))
}

fn version_of(reply: &Value) -> Result<ModelVersion, StoreError> {
    parse_model_version(reply.get("model_version").unwrap_or(&Value::Null))
}

fn versions_of(reply: &Value, key: &str) -> Result<Vec<ModelVersion>, StoreError> {
    reply
        .get(key)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(parse_model_version)
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()
        .map(Option::unwrap_or_default)
}

fn token(v: &Value) -> Option<String> {
    v.get("next_page_token")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn search_query(request: &SearchRegistry) -> Vec<(&'static str, String)> {
    let mut query = Vec::new();
    if !request.filter.is_empty() {
        query.push(("filter", request.filter.clone()));
    }
    if let Some(n) = request.max_results {
        query.push(("max_results", n.to_string()));
    }
    for item in &request.order_by {
        query.push(("order_by", item.clone()));
    }
    if let Some(t) = &request.page_token {
        query.push(("page_token", t.clone()));
    }
    query
}

#[async_trait::async_trait]
impl Registry for RemoteStore {
    async fn create_registered_model(
        &self,
        name: &str,
        tags: &[Tag],
        description: Option<&str>,
    ) -> Result<RegisteredModel, StoreError> {
        let mut body = json!({"name": name, "tags": tags_json(tags)});
        if let Some(d) = description {
            body["description"] = json!(d);
        }
        model_of(
            &self
                .call(Method::POST, "registered-models/create", body)
                .await?,
        )
    }

    async fn get_registered_model(&self, name: &str) -> Result<RegisteredModel, StoreError> {
        model_of(
            &self
                .call_get("registered-models/get", &[("name", name.to_string())])
                .await?,
        )
    }

    async fn rename_registered_model(
        &self,
        name: &str,
        new_name: &str,
    ) -> Result<RegisteredModel, StoreError> {
        let body = json!({"name": name, "new_name": new_name});
        model_of(
            &self
                .call(Method::POST, "registered-models/rename", body)
                .await?,
        )
    }

    async fn update_registered_model(
        &self,
        name: &str,
        description: &str,
    ) -> Result<RegisteredModel, StoreError> {
        let body = json!({"name": name, "description": description});
        model_of(
            &self
                .call(Method::PATCH, "registered-models/update", body)
                .await?,
        )
    }

    async fn delete_registered_model(&self, name: &str) -> Result<(), StoreError> {
        self.call(
            Method::DELETE,
            "registered-models/delete",
            json!({"name": name}),
        )
        .await
        .map(drop)
    }

    async fn search_registered_models(
        &self,
        request: &SearchRegistry,
    ) -> Result<Page<RegisteredModel>, StoreError> {
        let reply = self
            .call_get("registered-models/search", &search_query(request))
            .await?;
        let items = reply
            .get("registered_models")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .map(parse_registered_model)
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        Ok(Page {
            items,
            next_page_token: token(&reply),
        })
    }

    async fn get_latest_versions(
        &self,
        name: &str,
        stages: &[Stage],
    ) -> Result<Vec<ModelVersion>, StoreError> {
        let mut body = json!({"name": name});
        if !stages.is_empty() {
            body["stages"] = json!(stages.iter().map(|s| s.as_str()).collect::<Vec<_>>());
        }
        versions_of(
            &self
                .call(Method::POST, "registered-models/get-latest-versions", body)
                .await?,
            "model_versions",
        )
    }

    async fn set_registered_model_tag(&self, name: &str, tag: &Tag) -> Result<(), StoreError> {
        let body = json!({"name": name, "key": tag.key, "value": tag.value});
        self.call(Method::POST, "registered-models/set-tag", body)
            .await
            .map(drop)
    }

    async fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<(), StoreError> {
        let body = json!({"name": name, "key": key});
        self.call(Method::DELETE, "registered-models/delete-tag", body)
            .await
            .map(drop)
    }

    async fn create_model_version(
        &self,
        request: &CreateModelVersion,
    ) -> Result<ModelVersion, StoreError> {
        let mut body = json!({"name": request.name, "source": request.source, "tags": tags_json(&request.tags)});
        if let Some(run_id) = &request.run_id {
            body["run_id"] = json!(run_id);
        }
        if let Some(link) = &request.run_link {
            body["run_link"] = json!(link);
        }
        if let Some(description) = &request.description {
            body["description"] = json!(description);
        }
        version_of(
            &self
                .call(Method::POST, "model-versions/create", body)
                .await?,
        )
    }

    async fn get_model_version(
        &self,
        name: &str,
        version: i64,
    ) -> Result<ModelVersion, StoreError> {
        let query = [("name", name.to_string()), ("version", version.to_string())];
        version_of(&self.call_get("model-versions/get", &query).await?)
    }

    async fn update_model_version(
        &self,
        name: &str,
        version: i64,
        description: &str,
    ) -> Result<ModelVersion, StoreError> {
        let body =
            json!({"name": name, "version": version.to_string(), "description": description});
        version_of(
            &self
                .call(Method::PATCH, "model-versions/update", body)
                .await?,
        )
    }

    async fn delete_model_version(&self, name: &str, version: i64) -> Result<(), StoreError> {
        let body = json!({"name": name, "version": version.to_string()});
        self.call(Method::DELETE, "model-versions/delete", body)
            .await
            .map(drop)
    }

    async fn search_model_versions(
        &self,
        request: &SearchRegistry,
    ) -> Result<Page<ModelVersion>, StoreError> {
        let reply = self
            .call_get("model-versions/search", &search_query(request))
            .await?;
        Ok(Page {
            items: versions_of(&reply, "model_versions")?,
            next_page_token: token(&reply),
        })
    }

    async fn transition_model_version_stage(
        &self,
        transition: &Transition,
    ) -> Result<ModelVersion, StoreError> {
        if let Some(required) = transition.require_current_stage {
            // A stock server ignores the extension field below; check here too (modelops server re-checks
            // atomically).
            let current = self
                .get_model_version(&transition.name, transition.version)
                .await?
                .current_stage;
            if current != required {
                return Err(StoreError::invalid(format!(
                    "Model '{}' version {} is in stage {current}, but moving it to {} requires it to be in {required} \
                     first (promote it to {required}, or force the promotion).",
                    transition.name, transition.version, transition.stage
                )));
            }
        }
        let mut body = json!({
            "name": transition.name,
            "version": transition.version.to_string(),
            "stage": transition.stage.as_str(),
            "archive_existing_versions": transition.archive_existing_versions,
            "modelops_actor": transition.audit.actor,
            "modelops_reason": transition.audit.reason,
            "modelops_source": transition.audit.source.as_str(),
            "modelops_action": transition.audit.action,
        });
        if let Some(required) = transition.require_current_stage {
            body["modelops_require_current_stage"] = json!(required.as_str());
        }
        version_of(
            &self
                .call(Method::POST, "model-versions/transition-stage", body)
                .await?,
        )
    }

    async fn set_model_version_tag(
        &self,
        name: &str,
        version: i64,
        tag: &Tag,
    ) -> Result<(), StoreError> {
        let body = json!({"name": name, "version": version.to_string(), "key": tag.key, "value": tag.value});
        self.call(Method::POST, "model-versions/set-tag", body)
            .await
            .map(drop)
    }

    async fn delete_model_version_tag(
        &self,
        name: &str,
        version: i64,
        key: &str,
    ) -> Result<(), StoreError> {
        let body = json!({"name": name, "version": version.to_string(), "key": key});
        self.call(Method::DELETE, "model-versions/delete-tag", body)
            .await
            .map(drop)
    }

    async fn set_registered_model_alias(
        &self,
        name: &str,
        alias: &str,
        version: i64,
    ) -> Result<(), StoreError> {
        validate_alias(alias)?;
        let body = json!({"name": name, "alias": alias, "version": version.to_string()});
        self.call(Method::POST, "registered-models/alias", body)
            .await
            .map(drop)
    }

    async fn delete_registered_model_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<(), StoreError> {
        let body = json!({"name": name, "alias": alias});
        self.call(Method::DELETE, "registered-models/alias", body)
            .await
            .map(drop)
    }

    async fn get_model_version_by_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<ModelVersion, StoreError> {
        let query = [("name", name.to_string()), ("alias", alias.to_string())];
        version_of(&self.call_get("registered-models/alias", &query).await?)
    }

    async fn get_model_version_download_uri(
        &self,
        name: &str,
        version: i64,
    ) -> Result<String, StoreError> {
        let query = [("name", name.to_string()), ("version", version.to_string())];
        let reply = self
            .call_get("model-versions/get-download-uri", &query)
            .await?;
        Ok(reply
            .get("artifact_uri")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string())
    }

    async fn audit_trail(
        &self,
        name: &str,
        version: Option<i64>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let mut query = vec![("name", name.to_string())];
        if let Some(v) = version {
            query.push(("version", v.to_string()));
        }
        let reply = match self.call_get(AUDIT_ROUTE, &query).await {
            Err(StoreError::Remote { code, .. }) if code == "ENDPOINT_NOT_FOUND" => {
                return Err(StoreError::invalid(format!(
                    "the tracking server at {} keeps no registry audit log (it is not a modelops server)",
                    self.base_url()
                )));
            }
            other => other?,
        };
        reply
            .get("entries")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .map(parse_audit_entry)
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()
            .map(Option::unwrap_or_default)
    }
}
