//! A tiny SQL text builder that keeps values out of the text: every value becomes a placeholder (`?` for SQLite,
//! `$n` for PostgreSQL) and a bound argument. Also turns the parsed search grammar ([`crate::filter`]) into WHERE
//! and ORDER BY fragments.

use crate::filter::{Clause, Comparator, Entity, OrderBy, Value};
use sqlx::Any;
use sqlx::any::AnyArguments;
use sqlx::query::Query;

/// Which SQL dialect the pool speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite 3.35+ (RETURNING, ON CONFLICT).
    Sqlite,
    /// PostgreSQL 12+.
    Postgres,
}

/// A value bound to a placeholder.
#[derive(Clone, Debug)]
pub enum Arg {
    /// Text.
    Text(String),
    /// 64-bit integer.
    Int(i64),
    /// Double.
    Float(f64),
}

/// SQL text plus its bound arguments, in placeholder order.
pub struct Sql {
    dialect: Dialect,
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    /// Starts a statement.
    pub fn new(dialect: Dialect, text: &str) -> Self {
        Self {
            dialect,
            text: text.to_string(),
            args: Vec::new(),
        }
    }
    /// Appends SQL text (never a user value).
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }
    /// Appends a placeholder bound to `arg`.
    pub fn bind(&mut self, arg: Arg) -> &mut Self {
        self.args.push(arg);
        match self.dialect {
            Dialect::Sqlite => self.text.push('?'),
            Dialect::Postgres => {
                self.text.push('$');
                self.text.push_str(&self.args.len().to_string());
            }
        }
        self
    }
    /// Appends a bound text value.
    pub fn text(&mut self, value: &str) -> &mut Self {
        self.bind(Arg::Text(value.to_string()))
    }
    /// Appends a bound integer.
    pub fn int(&mut self, value: i64) -> &mut Self {
        self.bind(Arg::Int(value))
    }
    /// Appends `(?, ?, …)` for a list of texts.
    pub fn text_list(&mut self, values: &[String]) -> &mut Self {
        self.push("(");
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.text(v);
        }
        self.push(")")
    }
    /// The finished statement, ready to run.
    pub fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut query = sqlx::query(&self.text);
        for arg in &self.args {
            query = match arg {
                Arg::Text(s) => query.bind(s.as_str()),
                Arg::Int(i) => query.bind(*i),
                Arg::Float(f) => query.bind(*f),
            };
        }
        query
    }
    /// The SQL text (for logs and tests).
    pub fn sql_text(&self) -> &str {
        &self.text
    }
}

/// Column of `runs r` for a canonical run attribute.
fn run_column(attribute: &str) -> &'static str {
    match attribute {
        "run_id" => "r.run_uuid",
        "run_name" => "r.name",
        "status" => "r.status",
        "user_id" => "r.user_id",
        "artifact_uri" => "r.artifact_uri",
        "start_time" => "r.start_time",
        "end_time" => "r.end_time",
        _ => "r.lifecycle_stage",
    }
}

/// Column of `experiments e` for a canonical experiment attribute.
fn experiment_column(attribute: &str) -> &'static str {
    match attribute {
        "name" => "e.name",
        "experiment_id" => "CAST(e.experiment_id AS TEXT)",
        "creation_time" => "e.creation_time",
        _ => "e.last_update_time",
    }
}

fn is_numeric_attribute(attribute: &str) -> bool {
    matches!(
        attribute,
        "start_time" | "end_time" | "creation_time" | "last_update_time"
    )
}

/// `<column> <op> <value>` for string or numeric comparisons.
fn comparison(sql: &mut Sql, column: &str, op: Comparator, value: &Value) {
    match (op, value) {
        (Comparator::ILike, Value::Str(s)) => {
            sql.push("LOWER(")
                .push(column)
                .push(") LIKE LOWER(")
                .text(s)
                .push(")");
        }
        (Comparator::In | Comparator::NotIn, Value::List(items)) => {
            sql.push(column)
                .push(" ")
                .push(op.sql())
                .push(" ")
                .text_list(items);
        }
        (_, Value::Str(s)) => {
            sql.push(column).push(" ").push(op.sql()).push(" ").text(s);
        }
        (_, Value::Number(n)) => {
            sql.push(column).push(" ").push(op.sql()).push(" ");
            if n.fract() == 0.0 && n.abs() < 9.0e15 {
                sql.int(*n as i64);
            } else {
                sql.bind(Arg::Float(*n));
            }
        }
        _ => {
            sql.push("1 = 0");
        }
    }
}

fn keyed_subquery(sql: &mut Sql, table: &str, owner: &str, key: &str) {
    sql.push("SELECT 1 FROM ")
        .push(table)
        .push(" s WHERE s.")
        .push(owner)
        .push(" = ");
    sql.push(if owner == "run_uuid" {
        "r.run_uuid"
    } else {
        "e.experiment_id"
    });
    sql.push(" AND s.key = ").text(key);
}

/// Appends ` AND <clause>` for each runs-search clause.
pub fn push_run_clauses(sql: &mut Sql, clauses: &[Clause]) {
    for clause in clauses {
        sql.push(" AND ");
        match &clause.entity {
            Entity::Metric(key) => {
                sql.push("EXISTS (");
                keyed_subquery(sql, "latest_metrics", "run_uuid", key);
                sql.push(" AND s.is_nan = 0 AND ");
                comparison(sql, "s.value", clause.op, &clause.value);
                sql.push(")");
            }
            Entity::Param(key) | Entity::Tag(key) => {
                let table = if matches!(clause.entity, Entity::Param(_)) {
                    "params"
                } else {
                    "tags"
                };
                push_keyed_string_clause(sql, table, "run_uuid", key, clause);
            }
            Entity::Attribute(attribute) => {
                comparison(sql, run_column(attribute), clause.op, &clause.value);
            }
            // No dataset inputs are recorded by this store, so no run matches a dataset clause.
            Entity::Dataset(_) => {
                sql.push("1 = 0");
            }
        }
    }
}

fn push_keyed_string_clause(sql: &mut Sql, table: &str, owner: &str, key: &str, clause: &Clause) {
    match clause.op {
        Comparator::IsNull => {
            sql.push("NOT EXISTS (");
            keyed_subquery(sql, table, owner, key);
            sql.push(")");
        }
        Comparator::IsNotNull => {
            sql.push("EXISTS (");
            keyed_subquery(sql, table, owner, key);
            sql.push(")");
        }
        op => {
            sql.push("EXISTS (");
            keyed_subquery(sql, table, owner, key);
            sql.push(" AND ");
            comparison(sql, "s.value", op, &clause.value);
            sql.push(")");
        }
    }
}

/// Appends ` AND <clause>` for each experiments-search clause.
pub fn push_experiment_clauses(sql: &mut Sql, clauses: &[Clause]) {
    for clause in clauses {
        sql.push(" AND ");
        match &clause.entity {
            Entity::Tag(key) => {
                push_keyed_string_clause(sql, "experiment_tags", "experiment_id", key, clause)
            }
            Entity::Attribute(attribute) => {
                comparison(sql, experiment_column(attribute), clause.op, &clause.value);
            }
            _ => {
                sql.push("1 = 0");
            }
        }
    }
}

fn direction(ascending: bool) -> &'static str {
    if ascending { " ASC" } else { " DESC" }
}

/// Appends ` ORDER BY …` for a runs search: the user's keys (missing values last, NaN after numbers), then
/// `start_time DESC` unless given, then `run_uuid ASC`.
pub fn push_run_order(sql: &mut Sql, order: &[OrderBy]) {
    sql.push(" ORDER BY ");
    let mut has_start_time = false;
    for item in order {
        match &item.entity {
            Entity::Metric(key) => {
                let sub = |sql: &mut Sql, column: &str| {
                    sql.push("(SELECT s.")
                        .push(column)
                        .push(" FROM latest_metrics s WHERE s.run_uuid = r.run_uuid");
                    sql.push(" AND s.key = ").text(key).push(")");
                };
                sub(sql, "is_nan");
                sql.push(" IS NULL, ");
                sub(sql, "is_nan");
                sql.push(" ASC, ");
                sub(sql, "value");
                sql.push(direction(item.ascending)).push(", ");
            }
            Entity::Param(key) | Entity::Tag(key) => {
                let table = if matches!(item.entity, Entity::Param(_)) {
                    "params"
                } else {
                    "tags"
                };
                for suffix in [" IS NULL, ", direction(item.ascending)] {
                    sql.push("(SELECT s.value FROM ")
                        .push(table)
                        .push(" s WHERE s.run_uuid = r.run_uuid AND s.key = ");
                    sql.text(key).push(")").push(suffix);
                }
                sql.push(", ");
            }
            Entity::Attribute(attribute) => {
                let column = run_column(attribute);
                has_start_time |= column == "r.start_time";
                sql.push(column)
                    .push(" IS NULL, ")
                    .push(column)
                    .push(direction(item.ascending))
                    .push(", ");
            }
            Entity::Dataset(_) => {}
        }
    }
    if !has_start_time {
        sql.push("r.start_time DESC, ");
    }
    sql.push("r.run_uuid ASC");
}

/// Appends ` ORDER BY …` for an experiments search; default `creation_time DESC, experiment_id ASC`.
pub fn push_experiment_order(sql: &mut Sql, order: &[OrderBy]) {
    sql.push(" ORDER BY ");
    let mut has_creation_time = false;
    for item in order {
        match &item.entity {
            Entity::Attribute(attribute) => {
                let column = match attribute.as_str() {
                    "experiment_id" => "e.experiment_id",
                    other => experiment_column(other),
                };
                has_creation_time |= column == "e.creation_time";
                sql.push(column).push(direction(item.ascending)).push(", ");
            }
            Entity::Tag(key) => {
                for suffix in [" IS NULL, ", direction(item.ascending)] {
                    sql.push("(SELECT s.value FROM experiment_tags s WHERE s.experiment_id = e.experiment_id");
                    sql.push(" AND s.key = ").text(key).push(")").push(suffix);
                }
                sql.push(", ");
            }
            _ => {}
        }
    }
    if !has_creation_time {
        sql.push("e.creation_time DESC, ");
    }
    sql.push("e.experiment_id ASC");
}

/// Whether an attribute compares as a number.
pub fn numeric_attribute(attribute: &str) -> bool {
    is_numeric_attribute(attribute)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{RUNS, parse_filter};

    #[test]
    fn values_become_placeholders_never_text() {
        let clauses = parse_filter(
            &RUNS,
            "params.x = 'a''; DROP TABLE runs; --' and metrics.m > 1",
        )
        .unwrap();
        let mut sql = Sql::new(Dialect::Postgres, "SELECT 1 FROM runs r WHERE 1 = 1");
        push_run_clauses(&mut sql, &clauses);
        assert!(!sql.sql_text().contains("DROP"), "{}", sql.sql_text());
        assert!(
            sql.sql_text().contains("$1") && sql.sql_text().contains("$4"),
            "{}",
            sql.sql_text()
        );
    }
}
