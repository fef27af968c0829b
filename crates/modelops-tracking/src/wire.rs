//! MLflow's JSON shapes for the tracking entities (REST API 2.0), in both directions: the server writes them and
//! [`RemoteStore`](crate::RemoteStore) reads them. Unset scalars and empty lists are omitted, as the reference
//! server does; NaN travels as the string `"NaN"`.

use crate::entities::{
    Experiment, ExperimentId, FileInfo, LifecycleStage, Metric, Param, Run, RunData, RunId,
    RunInfo, RunStatus, Tag,
};
use crate::error::StoreError;
use serde_json::{Map, Value, json};

/// A metric value as JSON: a number, or `"NaN"` (infinities are already clamped to ±`f64::MAX`).
pub fn metric_value(value: f64) -> Value {
    if value.is_nan() {
        Value::String("NaN".into())
    } else if value == f64::INFINITY {
        Value::String("Infinity".into())
    } else if value == f64::NEG_INFINITY {
        Value::String("-Infinity".into())
    } else {
        json!(value)
    }
}

/// Parses a JSON double: a number, or one of `"NaN"`, `"Infinity"`, `"-Infinity"` or a numeric string.
pub fn parse_double(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.trim() {
            "NaN" | "nan" => Some(f64::NAN),
            "Infinity" | "inf" | "+Infinity" => Some(f64::INFINITY),
            "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
            other => other.parse::<f64>().ok(),
        },
        _ => None,
    }
}

/// Parses a JSON int64: a number or a decimal string.
pub fn parse_int(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
}

fn tags_json(tags: &[Tag]) -> Value {
    Value::Array(
        tags.iter()
            .map(|t| json!({"key": t.key, "value": t.value}))
            .collect(),
    )
}

/// `Experiment` message.
pub fn experiment_json(e: &Experiment) -> Value {
    let mut m = Map::new();
    m.insert("experiment_id".into(), json!(e.experiment_id.0));
    m.insert("name".into(), json!(e.name));
    m.insert("artifact_location".into(), json!(e.artifact_location));
    m.insert("lifecycle_stage".into(), json!(e.lifecycle_stage.as_str()));
    m.insert("creation_time".into(), json!(e.creation_time));
    m.insert("last_update_time".into(), json!(e.last_update_time));
    if !e.tags.is_empty() {
        m.insert("tags".into(), tags_json(&e.tags));
    }
    Value::Object(m)
}

/// `RunInfo` message (with both `run_id` and `run_uuid`).
pub fn run_info_json(i: &RunInfo) -> Value {
    let mut m = Map::new();
    m.insert("run_id".into(), json!(i.run_id.0));
    m.insert("run_uuid".into(), json!(i.run_id.0));
    m.insert("run_name".into(), json!(i.run_name));
    m.insert("experiment_id".into(), json!(i.experiment_id.0));
    m.insert("user_id".into(), json!(i.user_id));
    m.insert("status".into(), json!(i.status.as_str()));
    m.insert("start_time".into(), json!(i.start_time));
    if let Some(end) = i.end_time {
        m.insert("end_time".into(), json!(end));
    }
    m.insert("artifact_uri".into(), json!(i.artifact_uri));
    m.insert("lifecycle_stage".into(), json!(i.lifecycle_stage.as_str()));
    Value::Object(m)
}

/// `Metric` message.
pub fn metric_json(metric: &Metric) -> Value {
    json!({"key": metric.key, "value": metric_value(metric.value), "timestamp": metric.timestamp, "step": metric.step})
}

/// `Run` message: `{info, data:{metrics?, params?, tags?}, inputs:{}, outputs:{}}`.
pub fn run_json(run: &Run) -> Value {
    let mut data = Map::new();
    if !run.data.metrics.is_empty() {
        data.insert(
            "metrics".into(),
            Value::Array(run.data.metrics.iter().map(metric_json).collect()),
        );
    }
    if !run.data.params.is_empty() {
        let params = run
            .data
            .params
            .iter()
            .map(|p| json!({"key": p.key, "value": p.value}))
            .collect();
        data.insert("params".into(), Value::Array(params));
    }
    if !run.data.tags.is_empty() {
        data.insert("tags".into(), tags_json(&run.data.tags));
    }
    json!({"info": run_info_json(&run.info), "data": Value::Object(data), "inputs": {}, "outputs": {}})
}

/// `FileInfo` message.
pub fn file_info_json(f: &FileInfo) -> Value {
    let mut m = Map::new();
    m.insert("path".into(), json!(f.path));
    m.insert("is_dir".into(), json!(f.is_dir));
    if let Some(size) = f.file_size {
        m.insert("file_size".into(), json!(size));
    }
    Value::Object(m)
}

fn bad(what: &str) -> StoreError {
    StoreError::backend(
        "reading a tracking server reply",
        format!("missing or malformed field '{what}'"),
    )
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    match v.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn parse_tags(v: Option<&Value>) -> Vec<Tag> {
    v.and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|t| {
                    Some(Tag {
                        key: str_field(t, "key")?,
                        value: str_field(t, "value").unwrap_or_default(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Parses an `Experiment` message.
///
/// # Errors
/// [`StoreError::Backend`] when a required field is missing.
pub fn parse_experiment(v: &Value) -> Result<Experiment, StoreError> {
    Ok(Experiment {
        experiment_id: ExperimentId(
            str_field(v, "experiment_id").ok_or_else(|| bad("experiment_id"))?,
        ),
        name: str_field(v, "name").ok_or_else(|| bad("name"))?,
        artifact_location: str_field(v, "artifact_location").unwrap_or_default(),
        lifecycle_stage: str_field(v, "lifecycle_stage")
            .and_then(|s| LifecycleStage::parse(&s))
            .unwrap_or(LifecycleStage::Active),
        creation_time: v.get("creation_time").and_then(parse_int).unwrap_or(0),
        last_update_time: v.get("last_update_time").and_then(parse_int).unwrap_or(0),
        tags: parse_tags(v.get("tags")),
    })
}

/// Parses a `RunInfo` message.
///
/// # Errors
/// [`StoreError::Backend`] when a required field is missing.
pub fn parse_run_info(v: &Value) -> Result<RunInfo, StoreError> {
    let run_id = str_field(v, "run_id")
        .or_else(|| str_field(v, "run_uuid"))
        .ok_or_else(|| bad("run_id"))?;
    Ok(RunInfo {
        run_id: RunId(run_id),
        run_name: str_field(v, "run_name").unwrap_or_default(),
        experiment_id: ExperimentId(
            str_field(v, "experiment_id").ok_or_else(|| bad("experiment_id"))?,
        ),
        user_id: str_field(v, "user_id").unwrap_or_default(),
        status: str_field(v, "status")
            .and_then(|s| RunStatus::parse(&s))
            .unwrap_or(RunStatus::Running),
        start_time: v.get("start_time").and_then(parse_int).unwrap_or(0),
        end_time: v.get("end_time").and_then(parse_int),
        artifact_uri: str_field(v, "artifact_uri").unwrap_or_default(),
        lifecycle_stage: str_field(v, "lifecycle_stage")
            .and_then(|s| LifecycleStage::parse(&s))
            .unwrap_or(LifecycleStage::Active),
    })
}

/// Parses a `Metric` message.
///
/// # Errors
/// [`StoreError::Backend`] when a required field is missing.
pub fn parse_metric(v: &Value) -> Result<Metric, StoreError> {
    Ok(Metric {
        key: str_field(v, "key").ok_or_else(|| bad("key"))?,
        value: v
            .get("value")
            .and_then(parse_double)
            .ok_or_else(|| bad("value"))?,
        timestamp: v.get("timestamp").and_then(parse_int).unwrap_or(0),
        step: v.get("step").and_then(parse_int).unwrap_or(0),
    })
}

/// Parses a `Run` message.
///
/// # Errors
/// [`StoreError::Backend`] when a required field is missing.
pub fn parse_run(v: &Value) -> Result<Run, StoreError> {
    let info = parse_run_info(v.get("info").ok_or_else(|| bad("info"))?)?;
    let data = v.get("data").cloned().unwrap_or(Value::Null);
    let metrics = data
        .get("metrics")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(parse_metric)
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default();
    let params = parse_tags(data.get("params"))
        .into_iter()
        .map(|t| Param {
            key: t.key,
            value: t.value,
        })
        .collect();
    Ok(Run {
        info,
        data: RunData {
            metrics,
            params,
            tags: parse_tags(data.get("tags")),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_round_trip_through_json_with_nan() {
        let run = Run {
            info: RunInfo {
                run_id: RunId("a".repeat(32)),
                run_name: "r".into(),
                experiment_id: ExperimentId("1".into()),
                user_id: "u".into(),
                status: RunStatus::Finished,
                start_time: 1,
                end_time: Some(2),
                artifact_uri: "mlflow-artifacts:/1/a/artifacts".into(),
                lifecycle_stage: LifecycleStage::Active,
            },
            data: RunData {
                metrics: vec![Metric {
                    key: "m".into(),
                    value: f64::NAN,
                    timestamp: 3,
                    step: 4,
                }],
                params: vec![Param {
                    key: "p".into(),
                    value: "v".into(),
                }],
                tags: vec![Tag {
                    key: "t".into(),
                    value: "w".into(),
                }],
            },
        };
        let json = run_json(&run);
        assert_eq!(json["data"]["metrics"][0]["value"], "NaN");
        let back = parse_run(&json).unwrap();
        assert!(back.data.metrics[0].value.is_nan());
        assert_eq!(back.info, run.info);
        assert_eq!(back.data.params, run.data.params);
    }
}
