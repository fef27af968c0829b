//! The MLflow JSON shapes of registry entities: written by the HTTP server, read back by the remote client, so
//! both sides agree by construction. Versions travel as strings, empty lists are omitted (as the reference does).

use super::entities::{
    AuditEntry, ModelAlias, ModelVersion, RegisteredModel, Stage, TransitionSource,
};
use crate::entities::Tag;
use crate::error::StoreError;
use crate::wire::parse_int;
use serde_json::{Map, Value, json};

fn tags_json(tags: &[Tag]) -> Value {
    Value::Array(
        tags.iter()
            .map(|t| json!({"key": t.key, "value": t.value}))
            .collect(),
    )
}

/// `ModelVersion` as MLflow sends it.
pub fn model_version_json(v: &ModelVersion) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(v.name));
    out.insert("version".into(), json!(v.version.to_string()));
    out.insert("creation_timestamp".into(), json!(v.creation_timestamp));
    out.insert(
        "last_updated_timestamp".into(),
        json!(v.last_updated_timestamp),
    );
    out.insert("current_stage".into(), json!(v.current_stage.as_str()));
    out.insert("description".into(), json!(v.description));
    out.insert("source".into(), json!(v.source));
    if let Some(run_id) = &v.run_id {
        out.insert("run_id".into(), json!(run_id));
    }
    out.insert("run_link".into(), json!(v.run_link));
    out.insert("status".into(), json!(v.status));
    if !v.user_id.is_empty() {
        out.insert("user_id".into(), json!(v.user_id));
    }
    if !v.tags.is_empty() {
        out.insert("tags".into(), tags_json(&v.tags));
    }
    if !v.aliases.is_empty() {
        out.insert("aliases".into(), json!(v.aliases));
    }
    Value::Object(out)
}

/// `RegisteredModel` as MLflow sends it.
pub fn registered_model_json(m: &RegisteredModel) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(m.name));
    out.insert("creation_timestamp".into(), json!(m.creation_timestamp));
    out.insert(
        "last_updated_timestamp".into(),
        json!(m.last_updated_timestamp),
    );
    if !m.description.is_empty() {
        out.insert("description".into(), json!(m.description));
    }
    if !m.latest_versions.is_empty() {
        out.insert(
            "latest_versions".into(),
            Value::Array(m.latest_versions.iter().map(model_version_json).collect()),
        );
    }
    if !m.tags.is_empty() {
        out.insert("tags".into(), tags_json(&m.tags));
    }
    if !m.aliases.is_empty() {
        let aliases = m
            .aliases
            .iter()
            .map(|a| json!({"alias": a.alias, "version": a.version.to_string()}));
        out.insert("aliases".into(), Value::Array(aliases.collect()));
    }
    Value::Object(out)
}

/// An audit entry (modelops' own extension route).
pub fn audit_entry_json(e: &AuditEntry) -> Value {
    json!({
        "id": e.id,
        "model_name": e.model_name,
        "version": e.version.to_string(),
        "from_stage": e.from_stage.as_str(),
        "to_stage": e.to_stage.as_str(),
        "action": e.action,
        "actor": e.actor,
        "reason": e.reason,
        "source": e.source.as_str(),
        "metrics": tags_json(&e.metrics),
        "timestamp": e.timestamp,
    })
}

fn malformed(what: &str) -> StoreError {
    StoreError::backend(
        format!("reading a {what} from the server"),
        "malformed reply",
    )
}

fn str_of(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn int_of(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(parse_int).unwrap_or(0)
}

fn tags_of(v: &Value) -> Vec<Tag> {
    v.get("tags")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|t| Tag {
                    key: str_of(t, "key"),
                    value: str_of(t, "value"),
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
}

/// Reads a `ModelVersion` reply.
///
/// # Errors
/// [`StoreError::Backend`] when the reply lacks a name or version.
pub fn parse_model_version(v: &Value) -> Result<ModelVersion, StoreError> {
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("model version"))?;
    let version = v
        .get("version")
        .and_then(parse_int)
        .ok_or_else(|| malformed("model version"))?;
    let source = str_of(v, "source");
    Ok(ModelVersion {
        name: name.to_string(),
        version,
        creation_timestamp: int_of(v, "creation_timestamp"),
        last_updated_timestamp: int_of(v, "last_updated_timestamp"),
        user_id: str_of(v, "user_id"),
        current_stage: Stage::parse(
            v.get("current_stage")
                .and_then(Value::as_str)
                .unwrap_or("None"),
        )
        .unwrap_or(Stage::None),
        description: str_of(v, "description"),
        storage_location: source.clone(),
        source,
        run_id: v
            .get("run_id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        run_link: str_of(v, "run_link"),
        status: v
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("READY")
            .to_string(),
        tags: tags_of(v),
        aliases: v
            .get("aliases")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// Reads a `RegisteredModel` reply.
///
/// # Errors
/// [`StoreError::Backend`] when the reply lacks a name or holds a malformed version.
pub fn parse_registered_model(v: &Value) -> Result<RegisteredModel, StoreError> {
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("registered model"))?;
    let latest_versions = v
        .get("latest_versions")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(parse_model_version)
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default();
    let aliases = v
        .get("aliases")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|a| {
                    Some(ModelAlias {
                        alias: str_of(a, "alias"),
                        version: a.get("version").and_then(parse_int)?,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(RegisteredModel {
        name: name.to_string(),
        creation_timestamp: int_of(v, "creation_timestamp"),
        last_updated_timestamp: int_of(v, "last_updated_timestamp"),
        description: str_of(v, "description"),
        tags: tags_of(v),
        aliases,
        latest_versions,
    })
}

/// Reads an audit entry.
///
/// # Errors
/// [`StoreError::Backend`] for unknown stages or sources.
pub fn parse_audit_entry(v: &Value) -> Result<AuditEntry, StoreError> {
    let stage = |key: &str| Stage::parse(&str_of(v, key)).map_err(|_| malformed("audit entry"));
    Ok(AuditEntry {
        id: int_of(v, "id"),
        model_name: str_of(v, "model_name"),
        version: v
            .get("version")
            .and_then(parse_int)
            .ok_or_else(|| malformed("audit entry"))?,
        from_stage: stage("from_stage")?,
        to_stage: stage("to_stage")?,
        action: str_of(v, "action"),
        actor: str_of(v, "actor"),
        reason: str_of(v, "reason"),
        source: TransitionSource::parse(&str_of(v, "source"))
            .ok_or_else(|| malformed("audit entry"))?,
        metrics: v
            .get("metrics")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .map(|t| Tag {
                        key: str_of(t, "key"),
                        value: str_of(t, "value"),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        timestamp: int_of(v, "timestamp"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_version_round_trips_through_json() {
        let v = ModelVersion {
            name: "m".into(),
            version: 3,
            creation_timestamp: 1,
            last_updated_timestamp: 2,
            user_id: String::new(),
            current_stage: Stage::Staging,
            description: String::new(),
            source: "mlflow-artifacts:/1/abc/artifacts/model".into(),
            run_id: Some("abc".into()),
            run_link: String::new(),
            status: "READY".into(),
            storage_location: "mlflow-artifacts:/1/abc/artifacts/model".into(),
            tags: vec![Tag {
                key: "t".into(),
                value: "1".into(),
            }],
            aliases: vec!["champion".into()],
        };
        let json = model_version_json(&v);
        assert_eq!(json["version"], "3");
        assert_eq!(parse_model_version(&json).unwrap(), v);
    }
}
