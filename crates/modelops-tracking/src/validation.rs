//! MLflow's input rules (key syntax, value limits, batch caps, page sizes and tokens), shared by every backend
//! that stores data itself so the embedded store and the server refuse exactly the same inputs.

use crate::entities::{Metric, Param, Tag};
use crate::error::StoreError;
use base64::Engine as _;

/// Longest accepted key (metric, param, tag).
pub const MAX_KEY_LENGTH: usize = 250;
/// Param values longer than this are truncated (as MLflow does).
pub const MAX_PARAM_VALUE_LENGTH: usize = 6000;
/// Run-tag values longer than this are truncated.
pub const MAX_TAG_VALUE_LENGTH: usize = 8000;
/// Experiment tag values longer than this are refused.
pub const MAX_EXPERIMENT_TAG_VALUE_LENGTH: usize = 20000;
/// Experiment names longer than this are refused.
pub const MAX_EXPERIMENT_NAME_LENGTH: usize = 500;
/// log-batch caps.
pub const MAX_BATCH_METRICS: usize = 1000;
/// log-batch caps.
pub const MAX_BATCH_PARAMS: usize = 100;
/// log-batch caps.
pub const MAX_BATCH_TAGS: usize = 100;
/// log-batch caps (metrics + params + tags).
pub const MAX_BATCH_ITEMS: usize = 1000;
/// Largest `max_results` of a runs or experiments search.
pub const MAX_SEARCH_RESULTS: i64 = 50000;
/// Default `max_results` of searches.
pub const DEFAULT_SEARCH_RESULTS: i64 = 1000;
/// Default and largest page of a metric history.
pub const MAX_HISTORY_RESULTS: i64 = 25000;

/// POSIX `normpath`, as Python's `posixpath.normpath`: used to refuse keys that are not path-stable.
pub fn posix_normpath(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let initial_slashes = if path.starts_with("//") && !path.starts_with("///") {
        2
    } else if path.starts_with('/') {
        1
    } else {
        0
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        if part.is_empty() || part == "." {
            continue;
        }
        if part != ".." || (initial_slashes == 0 && parts.is_empty()) || parts.last() == Some(&"..")
        {
            parts.push(part);
        } else if !parts.is_empty() {
            parts.pop();
        }
    }
    let joined = parts.join("/");
    let out = format!("{}{}", "/".repeat(initial_slashes), joined);
    if out.is_empty() { ".".to_string() } else { out }
}

fn is_key_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '/' | '.' | '-' | ' ' | ':')
}

/// Checks a metric, param or tag key. `what` names it in messages (`Param key`), `field` is the request field.
pub fn validate_key(key: &str, what: &str, field: &str) -> Result<(), StoreError> {
    if key.is_empty() {
        return Err(StoreError::invalid(format!(
            "Missing value for required parameter '{field}'."
        )));
    }
    if !key.chars().all(is_key_char) {
        return Err(StoreError::invalid(format!(
            "Invalid value \"{key}\" for parameter '{field}' supplied: Names may only contain alphanumerics, \
             underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/)."
        )));
    }
    let normalized = posix_normpath(key);
    // MLflow's `path_not_unique`: the key must survive normalisation and stay a relative, downward path.
    if normalized != key
        || normalized == "."
        || normalized.starts_with("..")
        || normalized.starts_with('/')
    {
        return Err(StoreError::invalid(format!(
            "Invalid value \"{key}\" for parameter '{field}' supplied: Names may be treated as files in certain \
             cases, and must not resolve to other names when treated as such. This name would resolve to \
             '{normalized}'"
        )));
    }
    if key.chars().count() > MAX_KEY_LENGTH {
        return Err(StoreError::invalid(format!(
            "'{what}' exceeds the maximum length of {MAX_KEY_LENGTH} characters"
        )));
    }
    Ok(())
}

/// Cuts `value` to at most `max` characters (not bytes).
pub fn truncate_chars(value: &str, max: usize) -> String {
    match value.char_indices().nth(max) {
        Some((byte, _)) => value[..byte].to_string(),
        None => value.to_string(),
    }
}

/// A checked batch: the values exactly as they will be stored.
#[derive(Clone, Debug, Default)]
pub struct ValidBatch {
    /// Metrics, infinities clamped.
    pub metrics: Vec<Metric>,
    /// Params, values truncated, one per key.
    pub params: Vec<Param>,
    /// Tags, values truncated, the last value per key.
    pub tags: Vec<Tag>,
}

/// Checks a whole batch, returning the values as they will be stored (truncated, infinities clamped).
pub fn validate_batch(
    metrics: &[Metric],
    params: &[Param],
    tags: &[Tag],
) -> Result<ValidBatch, StoreError> {
    if metrics.len() > MAX_BATCH_METRICS {
        return Err(batch_cap_error(MAX_BATCH_METRICS, "metrics", metrics.len()));
    }
    if params.len() > MAX_BATCH_PARAMS {
        return Err(batch_cap_error(MAX_BATCH_PARAMS, "params", params.len()));
    }
    if tags.len() > MAX_BATCH_TAGS {
        return Err(batch_cap_error(MAX_BATCH_TAGS, "tags", tags.len()));
    }
    let total = metrics.len() + params.len() + tags.len();
    if total > MAX_BATCH_ITEMS {
        return Err(StoreError::invalid(format!(
            "A batch logging request can contain at most {MAX_BATCH_ITEMS} metrics, params, and tags. Got \
             {total} items. Please split up metrics, params, and tags across multiple requests and try again."
        )));
    }
    let mut seen = std::collections::HashSet::new();
    let mut duplicates = Vec::new();
    for p in params {
        if !seen.insert(p.key.as_str()) && !duplicates.contains(&p.key) {
            duplicates.push(p.key.clone());
        }
    }
    if !duplicates.is_empty() {
        let list = duplicates
            .iter()
            .map(|k| format!("'{k}'"))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(StoreError::invalid(format!(
            "Duplicate parameter keys have been submitted: [{list}]. Please ensure the request contains only one \
             param value per param key."
        )));
    }
    let metrics = metrics
        .iter()
        .map(|m| {
            validate_key(&m.key, "Metric name", "name")?;
            if m.timestamp < 0 {
                return Err(StoreError::invalid(format!(
                    "Invalid value {} for parameter 'timestamp' supplied: it must be non-negative",
                    m.timestamp
                )));
            }
            Ok(Metric {
                value: clamp_infinite(m.value),
                ..m.clone()
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut unique_params: Vec<Param> = Vec::with_capacity(params.len());
    for p in params {
        validate_key(&p.key, "Param key", "key")?;
        if !unique_params.iter().any(|q| q.key == p.key) {
            unique_params.push(Param {
                key: p.key.clone(),
                value: truncate_chars(&p.value, MAX_PARAM_VALUE_LENGTH),
            });
        }
    }
    let mut last_tags: Vec<Tag> = Vec::with_capacity(tags.len());
    for t in tags {
        validate_key(&t.key, "Tag key", "key")?;
        let tag = Tag {
            key: t.key.clone(),
            value: truncate_chars(&t.value, MAX_TAG_VALUE_LENGTH),
        };
        match last_tags.iter_mut().find(|q| q.key == t.key) {
            Some(existing) => *existing = tag,
            None => last_tags.push(tag),
        }
    }
    Ok(ValidBatch {
        metrics,
        params: unique_params,
        tags: last_tags,
    })
}

fn batch_cap_error(cap: usize, what: &str, got: usize) -> StoreError {
    StoreError::invalid(format!(
        "A batch logging request can contain at most {cap} {what}. Got {got} {what}. Please split up {what} \
         across multiple requests and try again."
    ))
}

/// MLflow stores ±∞ as ±`f64::MAX`; so do we (JSON has no infinity).
pub fn clamp_infinite(value: f64) -> f64 {
    if value == f64::INFINITY {
        f64::MAX
    } else if value == f64::NEG_INFINITY {
        f64::MIN
    } else {
        value
    }
}

/// Checks an experiment name.
pub fn validate_experiment_name(name: &str) -> Result<(), StoreError> {
    if name.trim().is_empty() {
        return Err(StoreError::invalid(
            "Invalid experiment name: ''. Experiment name must be a non-empty string.",
        ));
    }
    if name.chars().count() > MAX_EXPERIMENT_NAME_LENGTH {
        return Err(StoreError::invalid(format!(
            "Experiment name exceeds the maximum length of {MAX_EXPERIMENT_NAME_LENGTH} characters"
        )));
    }
    Ok(())
}

/// Checks an experiment tag.
pub fn validate_experiment_tag(tag: &Tag) -> Result<(), StoreError> {
    validate_key(&tag.key, "Tag key", "key")?;
    if tag.value.chars().count() > MAX_EXPERIMENT_TAG_VALUE_LENGTH {
        return Err(StoreError::invalid(format!(
            "'Tag value' exceeds the maximum length of {MAX_EXPERIMENT_TAG_VALUE_LENGTH} characters"
        )));
    }
    Ok(())
}

/// Resolves a search page size: absent → `default`, outside 1..=`max` → [`StoreError::InvalidParameter`].
pub fn page_size(max_results: Option<i64>, default: i64, max: i64) -> Result<i64, StoreError> {
    match max_results {
        None => Ok(default),
        Some(n) if n <= 0 => Err(StoreError::invalid(format!(
            "Invalid value {n} for parameter 'max_results' supplied. It must be a positive integer"
        ))),
        Some(n) if n > max => Err(StoreError::invalid(format!(
            "Invalid value {n} for parameter 'max_results' supplied: It must be at most {max}"
        ))),
        Some(n) => Ok(n),
    }
}

/// Encodes an offset page token as MLflow does: base64 of `{"offset": N}`.
pub fn encode_offset_token(offset: i64) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{{\"offset\": {offset}}}"))
}

/// Decodes a page token from [`encode_offset_token`]; anything else is [`StoreError::InvalidParameter`].
pub fn decode_offset_token(token: Option<&str>) -> Result<i64, StoreError> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(0);
    };
    let bad = || {
        StoreError::invalid(format!(
            "Invalid page token, could not base64-decode: '{token}'"
        ))
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .map_err(|_| bad())?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    match value.get("offset").and_then(serde_json::Value::as_i64) {
        Some(offset) if offset >= 0 => Ok(offset),
        _ => Err(StoreError::invalid(format!(
            "Invalid page token: '{token}' has no non-negative 'offset'"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normpath_matches_python() {
        assert_eq!(posix_normpath("a//b"), "a/b");
        assert_eq!(posix_normpath("../x"), "../x");
        assert_eq!(posix_normpath("a/../x"), "x");
        assert_eq!(posix_normpath("x/"), "x");
        assert_eq!(posix_normpath("/x"), "/x");
        assert_eq!(posix_normpath("."), ".");
        assert_eq!(posix_normpath("a/./b"), "a/b");
        assert_eq!(posix_normpath("mlflow.runName"), "mlflow.runName");
    }

    #[test]
    fn keys_that_are_not_path_stable_or_oddly_spelled_are_refused() {
        for bad in ["bad*name", "../x", "/x", "x/", "a//b", "a/./b", ".", ""] {
            assert!(
                validate_key(bad, "Param key", "key").is_err(),
                "{bad} accepted"
            );
        }
        assert!(validate_key(&"k".repeat(251), "Param key", "key").is_err());
        for good in [
            "loss",
            "val/rmspe",
            "a b:c",
            "mlflow.runName",
            "naïve_ключ",
            &"k".repeat(250),
        ] {
            assert!(
                validate_key(good, "Param key", "key").is_ok(),
                "{good} refused"
            );
        }
    }

    #[test]
    fn long_values_are_truncated_by_characters() {
        let ValidBatch { params, tags, .. } = validate_batch(
            &[],
            &[Param {
                key: "p".into(),
                value: "é".repeat(7000),
            }],
            &[Tag {
                key: "t".into(),
                value: "x".repeat(9000),
            }],
        )
        .unwrap();
        assert_eq!(params[0].value.chars().count(), 6000);
        assert_eq!(tags[0].value.len(), 8000);
    }

    #[test]
    fn batch_caps_and_duplicate_params_are_refused() {
        let params: Vec<Param> = (0..101)
            .map(|i| Param {
                key: format!("p{i}"),
                value: "v".into(),
            })
            .collect();
        let err = validate_batch(&[], &params, &[]).unwrap_err().to_string();
        assert!(err.contains("at most 100 params. Got 101 params"), "{err}");
        let dup = [
            Param {
                key: "d".into(),
                value: "1".into(),
            },
            Param {
                key: "d".into(),
                value: "2".into(),
            },
        ];
        let err = validate_batch(&[], &dup, &[]).unwrap_err().to_string();
        assert!(
            err.contains("Duplicate parameter keys have been submitted: ['d']"),
            "{err}"
        );
    }

    #[test]
    fn page_tokens_round_trip_and_garbage_is_refused() {
        assert_eq!(encode_offset_token(2), "eyJvZmZzZXQiOiAyfQ==");
        assert_eq!(
            decode_offset_token(Some("eyJvZmZzZXQiOiAyfQ==")).unwrap(),
            2
        );
        assert_eq!(decode_offset_token(None).unwrap(), 0);
        assert!(decode_offset_token(Some("garbage!")).is_err());
        assert!(decode_offset_token(Some("e30=")).is_err());
    }

    #[test]
    fn page_size_bounds() {
        assert_eq!(page_size(None, 1000, 50000).unwrap(), 1000);
        assert!(page_size(Some(0), 1000, 50000).is_err());
        assert!(page_size(Some(50001), 1000, 50000).is_err());
        assert_eq!(page_size(Some(50000), 1000, 50000).unwrap(), 50000);
    }
}
