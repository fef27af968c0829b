//! [`Fields`]: an MLflow request's fields, from a JSON body (POST/PATCH/DELETE) or the query string (GET), with
//! MLflow's leniency (absent, `null` and `""` mean unset; int64 may come as a string; doubles as `"NaN"`) and
//! its error messages. Written by hand instead of serde-deriving request structs because the error texts and
//! the lenient typing must match the reference server field by field.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{Method, header};
use modelops_tracking::Tag;
use modelops_tracking::wire::{parse_double, parse_int};
use serde_json::{Map, Value};

/// Largest accepted JSON request body.
pub const MAX_JSON_BODY_BYTES: usize = 16 * 1024 * 1024;

/// A request's fields.
#[derive(Debug, Default)]
pub struct Fields {
    map: Map<String, Value>,
    /// Size of the JSON body in bytes (0 for GET).
    pub body_len: usize,
}

impl Fields {
    /// Parses a query string; repeated keys become arrays.
    pub fn from_query(query: &str) -> Self {
        let mut map = Map::new();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let value = Value::String(value.into_owned());
            match map.get_mut(key.as_ref()) {
                Some(Value::Array(items)) => items.push(value),
                Some(existing) => {
                    let first = existing.take();
                    *existing = Value::Array(vec![first, value]);
                }
                None => {
                    map.insert(key.into_owned(), value);
                }
            }
        }
        Self { map, body_len: 0 }
    }

    /// Parses a JSON object body.
    ///
    /// # Errors
    /// 400 for malformed JSON or a non-object.
    pub fn from_json(body: &[u8]) -> Result<Self, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self {
                map: Map::new(),
                body_len: body.len(),
            });
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(Self {
                map,
                body_len: body.len(),
            }),
            Ok(_) => Err(ApiError::invalid(
                "Malformed request: the body must be a JSON object",
            )),
            Err(e) => Err(ApiError::invalid(format!("Malformed request body: {e}"))),
        }
    }

    fn value(&self, name: &str) -> Option<&Value> {
        match self.map.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(v) => Some(v),
        }
    }

    /// An optional string field (numbers are accepted and spelled as strings).
    ///
    /// # Errors
    /// 400 for objects, arrays and booleans.
    pub fn opt_str(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.value(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Array(items)) if items.len() == 1 => match &items[0] {
                Value::String(s) => Ok(Some(s.clone())),
                other => Err(ApiError::bad_value(name, other, "Value must be a string")),
            },
            Some(other) => Err(ApiError::bad_value(name, other, "Value must be a string")),
        }
    }

    /// A required string field.
    ///
    /// # Errors
    /// 400 when unset or of the wrong type.
    pub fn req_str(&self, name: &str) -> Result<String, ApiError> {
        self.opt_str(name)?.ok_or_else(|| ApiError::missing(name))
    }

    /// A string field that may be empty (`""` kept, absent → `None`).
    ///
    /// # Errors
    /// 400 for the wrong type.
    pub fn opt_str_allow_empty(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.map.get(name) {
            Some(Value::String(s)) => Ok(Some(s.clone())),
            _ => self.opt_str(name),
        }
    }

    /// An optional int64 (number or decimal string).
    ///
    /// # Errors
    /// 400 when present but not an integer.
    pub fn opt_i64(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.value(name) {
            None => Ok(None),
            Some(v) => parse_int(v)
                .map(Some)
                .ok_or_else(|| ApiError::bad_value(name, v, "Value must be an int64")),
        }
    }

    /// A required int64.
    ///
    /// # Errors
    /// 400 when unset or not an integer.
    pub fn req_i64(&self, name: &str) -> Result<i64, ApiError> {
        self.opt_i64(name)?.ok_or_else(|| ApiError::missing(name))
    }

    /// A required double (number, `"NaN"`, `"Infinity"`, `"-Infinity"`).
    ///
    /// # Errors
    /// 400 when unset or not a double.
    pub fn req_f64(&self, name: &str) -> Result<f64, ApiError> {
        let v = self.value(name).ok_or_else(|| ApiError::missing(name))?;
        parse_double(v).ok_or_else(|| ApiError::bad_value(name, v, "Value must be a double"))
    }

    /// An optional boolean (`true`/`false`, also as strings).
    ///
    /// # Errors
    /// 400 for other values.
    pub fn opt_bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.value(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(other) => Err(ApiError::bad_value(name, other, "Value must be a boolean")),
        }
    }

    /// A repeated string field (JSON array, repeated query key, or a single value).
    ///
    /// # Errors
    /// 400 when an item is not a string.
    pub fn str_list(&self, name: &str) -> Result<Vec<String>, ApiError> {
        match self.value(name) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    other => Err(ApiError::bad_value(
                        name,
                        other,
                        "Value must be a list of strings",
                    )),
                })
                .collect(),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(other) => Err(ApiError::bad_value(
                name,
                other,
                "Value must be a list of strings",
            )),
        }
    }

    /// A repeated message field (JSON array of objects).
    ///
    /// # Errors
    /// 400 when it is not an array of objects.
    pub fn objects(&self, name: &str) -> Result<Vec<Fields>, ApiError> {
        match self.value(name) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::Object(map) => Ok(Fields {
                        map: map.clone(),
                        body_len: 0,
                    }),
                    other => Err(ApiError::bad_value(
                        name,
                        other,
                        "Value must be a list of objects",
                    )),
                })
                .collect(),
            Some(other) => Err(ApiError::bad_value(
                name,
                other,
                "Value must be a list of objects",
            )),
        }
    }

    /// `[{key, value}]` tags; `field` names the list in messages.
    ///
    /// # Errors
    /// 400 for malformed items or a missing key.
    pub fn tags(&self, field: &str) -> Result<Vec<Tag>, ApiError> {
        self.objects(field)?
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let key = item
                    .req_str("key")
                    .map_err(|_| ApiError::missing(&format!("{field}[{i}].key")))?;
                let value = item.opt_str_allow_empty("value")?.unwrap_or_default();
                Ok(Tag { key, value })
            })
            .collect()
    }

    /// `run_id`, else `run_uuid` (the client sends both).
    ///
    /// # Errors
    /// 400 when both are unset.
    pub fn run_id(&self) -> Result<String, ApiError> {
        match self.opt_str("run_id")? {
            Some(id) => Ok(id),
            None => self
                .opt_str("run_uuid")?
                .ok_or_else(|| ApiError::missing("run_id")),
        }
    }
}

impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if request.method() == Method::GET || request.method() == Method::HEAD {
            return Ok(Self::from_query(request.uri().query().unwrap_or("")));
        }
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let has_body = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|len| len.trim() != "0");
        if has_body && !content_type.starts_with("application/json") {
            return Err(ApiError::invalid(
                "Bad Request. Content-Type must be one of ['application/json'].",
            ));
        }
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::invalid(format!(
                        "Request body exceeds the limit of {MAX_JSON_BODY_BYTES} bytes"
                    ))
                } else {
                    ApiError::invalid(format!("Could not read the request body: {rejection}"))
                }
            })?;
        Self::from_json(&body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_query_keys_become_lists_and_plus_is_a_space() {
        let f = Fields::from_query("order_by=a+DESC&order_by=b&filter=name%3D%27x%27");
        assert_eq!(f.str_list("order_by").unwrap(), vec!["a DESC", "b"]);
        assert_eq!(f.opt_str("filter").unwrap().as_deref(), Some("name='x'"));
    }

    #[test]
    fn lenient_types_and_mlflow_messages() {
        let f = Fields::from_json(
            br#"{"a": "12", "b": 3, "v": "NaN", "w": "abc", "e": "", "n": null}"#,
        )
        .unwrap();
        assert_eq!(f.req_i64("a").unwrap(), 12);
        assert_eq!(f.opt_str("b").unwrap().as_deref(), Some("3"));
        assert!(f.req_f64("v").unwrap().is_nan());
        assert_eq!(f.opt_str("e").unwrap(), None);
        assert_eq!(f.opt_str("n").unwrap(), None);
        let err = f.req_f64("w").unwrap_err();
        assert_eq!(err.code(), "INVALID_PARAMETER_VALUE");
        assert!(Fields::from_json(b"{not json").is_err());
        assert!(Fields::from_json(b"[1]").is_err());
    }
}
