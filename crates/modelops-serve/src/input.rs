//! Request bodies → checked [`InputRow`]s, collecting one [`FieldError`] per bad row and field instead of stopping
//! at the first. Three shapes are read:
//! - the reference API's `{"inputs": [{"Store": 1, "DayOfWeek": 6, "Date": "2015-08-01", …}], "model_stage": …}`;
//! - MLflow's scoring protocol `{"dataframe_split": {"columns": […], "data": [[…]]}}`;
//! - MLflow's `{"dataframe_records": [{…}]}` (and `{"inputs": [{…}]}`, which MLflow also accepts).
//!
//! Values are accepted in the forms JSON clients and pandas produce: integers as numbers (`1`, `1.0`) or numeric
//! strings, flags also as booleans, dates as `YYYY-MM-DD` (a midnight ISO timestamp such as
//! `2015-08-01T00:00:00.000` too). Then every row is checked against the model: the store must be in the package's
//! store table, the date on or after the forecast origin, DayOfWeek the weekday of Date.

use modelops_features::calendar::{format_day, parse_day, weekday};
use modelops_features::{FeatureSpec, InputRow, StateHoliday};
use serde_json::{Map, Value};

use crate::error::FieldError;

/// The fields of a prediction row (the Kaggle test schema without Id).
pub const INPUT_FIELDS: [&str; 7] = [
    "Store",
    "DayOfWeek",
    "Date",
    "Open",
    "Promo",
    "StateHoliday",
    "SchoolHoliday",
];

/// A `/predict` request, parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct PredictRequest {
    /// The rows, in request order.
    pub rows: Vec<InputRow>,
    /// `model_stage` as sent (`Production`, `Staging` or a version number), when sent.
    pub model_stage: Option<String>,
}

/// Parses the reference API's `/predict` body.
///
/// # Errors
/// Every problem found: a body that is not an object, `inputs` missing, empty or not a list, bad rows and fields.
pub fn parse_predict_request(body: &Value) -> Result<PredictRequest, Vec<FieldError>> {
    let Some(object) = body.as_object() else {
        return Err(vec![FieldError::request(
            "body",
            "the body must be a JSON object with an \"inputs\" list",
        )]);
    };
    let model_stage = match object.get("model_stage") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.trim().to_string()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(other) => {
            return Err(vec![FieldError::request(
                "model_stage",
                format!(
                    "must be a string (Production, Staging or a version number), got {}",
                    kind(other)
                ),
            )]);
        }
    };
    let records = match object.get("inputs") {
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(vec![FieldError::request(
                "inputs",
                format!("must be a list of rows, got {}", kind(other)),
            )]);
        }
        None => {
            return Err(vec![FieldError::request(
                "inputs",
                "missing: send {\"inputs\": [{\"Store\": 1, …}]}",
            )]);
        }
    };
    let rows = rows_from_records(records)?;
    Ok(PredictRequest { rows, model_stage })
}

/// Parses an MLflow scoring request (`dataframe_split`, `dataframe_records`, or `inputs` as records).
///
/// # Errors
/// Every problem found, as for [`parse_predict_request`].
pub fn parse_invocations(body: &Value) -> Result<Vec<InputRow>, Vec<FieldError>> {
    let Some(object) = body.as_object() else {
        return Err(vec![FieldError::request(
            "body",
            "the body must be a JSON object with dataframe_split or dataframe_records",
        )]);
    };
    if let Some(split) = object.get("dataframe_split") {
        return rows_from_split(split);
    }
    for key in ["dataframe_records", "inputs"] {
        match object.get(key) {
            Some(Value::Array(records)) => return rows_from_records(records),
            Some(other) => {
                return Err(vec![FieldError::request(
                    key,
                    format!("must be a list of records, got {}", kind(other)),
                )]);
            }
            None => {}
        }
    }
    Err(vec![FieldError::request(
        "body",
        "expected one of dataframe_split ({\"columns\": […], \"data\": [[…]]}) or dataframe_records ([{…}])",
    )])
}

fn rows_from_split(split: &Value) -> Result<Vec<InputRow>, Vec<FieldError>> {
    let Some(split) = split.as_object() else {
        return Err(vec![FieldError::request(
            "dataframe_split",
            "must be an object with columns and data",
        )]);
    };
    let columns: Vec<&str> = match split.get("columns") {
        Some(Value::Array(names)) => {
            let mut out = Vec::with_capacity(names.len());
            for name in names {
                match name.as_str() {
                    Some(n) => out.push(n),
                    None => {
                        return Err(vec![FieldError::request(
                            "dataframe_split.columns",
                            format!("column names must be strings, got {}", kind(name)),
                        )]);
                    }
                }
            }
            out
        }
        _ => {
            return Err(vec![FieldError::request(
                "dataframe_split.columns",
                "missing or not a list of names",
            )]);
        }
    };
    let Some(Value::Array(data)) = split.get("data") else {
        return Err(vec![FieldError::request(
            "dataframe_split.data",
            "missing or not a list of rows",
        )]);
    };
    let mut records = Vec::with_capacity(data.len());
    let mut errors = Vec::new();
    for (i, row) in data.iter().enumerate() {
        match row.as_array() {
            Some(values) if values.len() == columns.len() => {
                let record: Map<String, Value> = columns
                    .iter()
                    .zip(values)
                    .map(|(c, v)| ((*c).to_string(), v.clone()))
                    .collect();
                records.push(Value::Object(record));
            }
            Some(values) => {
                errors.push(FieldError::row(
                    i,
                    "dataframe_split.data",
                    format!(
                        "has {} values but there are {} columns",
                        values.len(),
                        columns.len()
                    ),
                ));
                records.push(Value::Object(Map::new()));
            }
            None => {
                errors.push(FieldError::row(
                    i,
                    "dataframe_split.data",
                    format!("must be a list, got {}", kind(row)),
                ));
                records.push(Value::Object(Map::new()));
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    rows_from_records(&records)
}

/// Turns JSON records into rows, in order.
///
/// # Errors
/// One [`FieldError`] per bad row and field; an empty list is an error too.
pub fn rows_from_records(records: &[Value]) -> Result<Vec<InputRow>, Vec<FieldError>> {
    if records.is_empty() {
        return Err(vec![FieldError::request(
            "inputs",
            "is empty; send at least one row",
        )]);
    }
    let mut rows = Vec::with_capacity(records.len());
    let mut errors = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let Some(fields) = record.as_object() else {
            errors.push(FieldError::row(
                i,
                "row",
                format!("must be an object of fields, got {}", kind(record)),
            ));
            continue;
        };
        if let Some(row) = parse_row(i, fields, &mut errors) {
            rows.push(row);
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

fn parse_row(
    i: usize,
    fields: &Map<String, Value>,
    errors: &mut Vec<FieldError>,
) -> Option<InputRow> {
    let before = errors.len();
    let mut required = |name: &str| -> Option<&Value> {
        match fields.get(name) {
            None | Some(Value::Null) => {
                errors.push(FieldError::row(i, name, "is missing"));
                None
            }
            Some(v) => Some(v),
        }
    };
    let store_value = required("Store");
    let dow_value = required("DayOfWeek");
    let date_value = required("Date");
    let open_value = required("Open");
    let promo_value = required("Promo");
    let school_value = required("SchoolHoliday");
    // The reference defaults StateHoliday to "0".
    let holiday_value = fields.get("StateHoliday").filter(|v| !v.is_null());

    let store = store_value.and_then(|v| match integer(v) {
        Some(s) if (1..=i64::from(u32::MAX)).contains(&s) => Some(s as u32),
        _ => {
            errors.push(FieldError::row(
                i,
                "Store",
                format!("must be a store id (a whole number ≥ 1), got {v}"),
            ));
            None
        }
    });
    let day_of_week = dow_value.and_then(|v| match integer(v) {
        Some(d) if (1..=7).contains(&d) => Some(d as u8),
        _ => {
            errors.push(FieldError::row(
                i,
                "DayOfWeek",
                format!("must be 1..7 (1 = Monday), got {v}"),
            ));
            None
        }
    });
    let date = date_value.and_then(|v| match v.as_str().and_then(parse_date) {
        Some(d) => Some(d),
        None => {
            errors.push(FieldError::row(
                i,
                "Date",
                format!("must be a date as \"YYYY-MM-DD\", got {v}"),
            ));
            None
        }
    });
    let mut flag_field = |name: &str, value: Option<&Value>| {
        value.and_then(|v| match flag(v) {
            Some(b) => Some(b),
            None => {
                errors.push(FieldError::row(i, name, format!("must be 0 or 1, got {v}")));
                None
            }
        })
    };
    let open = flag_field("Open", open_value);
    let promo = flag_field("Promo", promo_value);
    let school_holiday = flag_field("SchoolHoliday", school_value);
    let state_holiday = match holiday_value {
        None => Some(StateHoliday::None),
        Some(v) => {
            let parsed = match v {
                Value::String(s) => StateHoliday::parse(s),
                Value::Number(_) if integer(v) == Some(0) => Some(StateHoliday::None),
                _ => None,
            };
            if parsed.is_none() {
                errors.push(FieldError::row(
                    i,
                    "StateHoliday",
                    format!("must be one of \"0\", \"a\", \"b\", \"c\", got {v}"),
                ));
            }
            parsed
        }
    };
    if let (Some(dow), Some(day)) = (day_of_week, date)
        && weekday(day) != dow
    {
        errors.push(FieldError::row(
            i,
            "DayOfWeek",
            format!(
                "is {dow} but {} is a day {} (1 = Monday)",
                format_day(day),
                weekday(day)
            ),
        ));
    }
    if errors.len() > before {
        return None;
    }
    Some(InputRow {
        store: store?,
        date: date?,
        day_of_week: day_of_week?,
        open: open?,
        promo: promo?,
        state_holiday: state_holiday?,
        school_holiday: school_holiday?,
    })
}

/// Checks rows against the model that will score them: known store, date on or after the forecast origin.
/// Returns one error per bad row and field (empty when all rows are fine).
pub fn check_against_model(rows: &[InputRow], spec: &FeatureSpec) -> Vec<FieldError> {
    let origin = spec.origin();
    let mut errors = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        if spec.stores.get(row.store).is_none() {
            errors.push(FieldError::row(
                i,
                "Store",
                format!(
                    "store {} is unknown to this model (it knows {} stores)",
                    row.store,
                    spec.stores.stores().len()
                ),
            ));
        }
        if row.date < origin {
            errors.push(FieldError::row(
                i,
                "Date",
                format!(
                    "{} is before the model's forecast origin {}; this model forecasts {} and later",
                    format_day(row.date),
                    format_day(origin),
                    format_day(origin)
                ),
            ));
        }
    }
    errors
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A whole number written as a JSON integer, an integral float, or a numeric string.
fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>().ok().or_else(|| {
                s.parse::<f64>()
                    .ok()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
                    .map(|f| f as i64)
            })
        }
        _ => None,
    }
}

fn flag(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        _ => match integer(value) {
            Some(0) => Some(false),
            Some(1) => Some(true),
            _ => None,
        },
    }
}

/// `YYYY-MM-DD`, or a midnight ISO timestamp as pandas writes one (`2015-08-01T00:00:00.000`, `…Z`).
fn parse_date(text: &str) -> Option<i32> {
    let text = text.trim();
    if text.len() == 10 {
        return parse_day(text);
    }
    let (day, time) = (text.get(..10)?, text.get(10..)?);
    let mut chars = time.chars();
    let separator = chars.next()?;
    let rest: String = chars.collect();
    let midnight = rest
        .trim_end_matches('Z')
        .chars()
        .all(|c| c == '0' || c == ':' || c == '.');
    ((separator == 'T' || separator == ' ') && midnight)
        .then(|| parse_day(day))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn good() -> Value {
        json!({"Store": 1, "DayOfWeek": 6, "Date": "2015-08-01", "Open": 1, "Promo": 0, "StateHoliday": "0", "SchoolHoliday": 1})
    }

    #[test]
    fn reference_example_parses() {
        let req = parse_predict_request(&json!({"inputs": [good()], "model_stage": "Production"}))
            .unwrap();
        assert_eq!(req.rows.len(), 1);
        assert_eq!(req.model_stage.as_deref(), Some("Production"));
        assert_eq!(req.rows[0].day_of_week, 6);
    }

    #[test]
    fn every_bad_field_is_reported_with_its_row() {
        let mut bad = good();
        bad["Date"] = json!("2015-13-01");
        bad["Open"] = json!(2);
        bad["StateHoliday"] = json!("x");
        let errors = parse_predict_request(&json!({"inputs": [good(), bad]})).unwrap_err();
        let fields: Vec<(Option<usize>, &str)> =
            errors.iter().map(|e| (e.row, e.field.as_str())).collect();
        assert_eq!(
            fields,
            vec![
                (Some(1), "Date"),
                (Some(1), "Open"),
                (Some(1), "StateHoliday")
            ]
        );
    }

    #[test]
    fn day_of_week_must_match_the_date() {
        let mut bad = good();
        bad["DayOfWeek"] = json!(5);
        let errors = rows_from_records(&[bad]).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "DayOfWeek");
        assert!(
            errors[0].message.contains("is a day 6"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn pandas_forms_are_accepted() {
        let split = json!({"dataframe_split": {
            "columns": ["Store", "DayOfWeek", "Date", "Open", "Promo", "StateHoliday", "SchoolHoliday", "Id"],
            "data": [[1.0, "6", "2015-08-01T00:00:00.000", true, 0, 0, "1", 7]]}});
        let rows = parse_invocations(&split).unwrap();
        assert_eq!(rows[0].store, 1);
        assert!(rows[0].open && rows[0].school_holiday && !rows[0].promo);
        assert!(parse_date("2015-08-01T12:00:00").is_none());
    }

    #[test]
    fn empty_inputs_and_wrong_shapes_are_request_errors() {
        assert_eq!(
            parse_predict_request(&json!({"inputs": []})).unwrap_err()[0].field,
            "inputs"
        );
        assert_eq!(
            parse_predict_request(&json!({"inputs": "x"})).unwrap_err()[0].field,
            "inputs"
        );
        assert_eq!(
            parse_predict_request(&json!([1])).unwrap_err()[0].field,
            "body"
        );
        assert_eq!(
            parse_invocations(
                &json!({"dataframe_split": {"columns": ["Store"], "data": [[1, 2]]}})
            )
            .unwrap_err()[0]
                .row,
            Some(0)
        );
    }
}
