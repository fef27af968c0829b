//! [`Registry`] for [`SqlStore`]: the registry tables of migration `0002_registry.sql`, same SQL on SQLite and
//! PostgreSQL (placeholders through [`Sql`]).
//!
//! Concurrency: every write is one transaction that first takes the store's write lock (SQLite: the one-row
//! `write_lock` table) and, on PostgreSQL, locks the registered model's row `FOR UPDATE`. All changes to one
//! model's versions are therefore serialised, which is what makes "archive the other holders, then move" atomic:
//! two concurrent promotions to Production run one after the other, and the second archives the first.

use super::entities::{
    AuditContext, AuditEntry, CreateModelVersion, LATEST_ALIAS, ModelAlias, ModelVersion,
    RegisteredModel, SearchRegistry, Stage, Transition, TransitionSource, VALIDATION_TAG_PREFIX,
};
use super::search::{self, Clause, Field, Operand, Order, PROMPT_TAG, Target};
use super::{Registry, validate_alias, validate_model_name, validate_registry_tag};
use crate::entities::{Page, Tag};
use crate::error::StoreError;
use crate::filter::Comparator;
use crate::sql::SqlStore;
use crate::sql::query::{Dialect, Sql};
use crate::validation;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

/// Default and largest page of `registered-models/search`.
const MODELS_PAGE: (i64, i64) = (100, 1000);
/// Default and largest page of `model-versions/search`.
const VERSIONS_PAGE: (i64, i64) = (200_000, 200_000);

type Tx = sqlx::Transaction<'static, sqlx::Any>;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn db(context: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |err| StoreError::backend(context, err)
}

fn col_i64(row: &AnyRow, column: &str) -> Result<i64, StoreError> {
    row.try_get::<i64, _>(column)
        .map_err(|e| StoreError::backend(format!("reading column {column}"), e))
}
fn col_str(row: &AnyRow, column: &str) -> Result<String, StoreError> {
    row.try_get::<String, _>(column)
        .map_err(|e| StoreError::backend(format!("reading column {column}"), e))
}
fn col_opt_str(row: &AnyRow, column: &str) -> Result<Option<String>, StoreError> {
    row.try_get::<Option<String>, _>(column)
        .map_err(|e| StoreError::backend(format!("reading column {column}"), e))
}
fn col_stage(row: &AnyRow, column: &str) -> Result<Stage, StoreError> {
    let text = col_str(row, column)?;
    Stage::parse(&text).map_err(|_| {
        StoreError::backend(
            format!("reading column {column}"),
            format!("stage '{text}'"),
        )
    })
}

fn model_not_found(name: &str) -> StoreError {
    StoreError::not_found(format!("Registered Model with name={name} not found"))
}
fn version_not_found(name: &str, version: i64) -> StoreError {
    StoreError::not_found(format!(
        "Model Version (name={name}, version={version}) not found"
    ))
}

/// The id and base fields of a registered model row.
struct ModelRow {
    id: i64,
    model: RegisteredModel,
}

const MODEL_COLUMNS: &str =
    "m.id, m.name, m.description, m.creation_timestamp, m.last_updated_timestamp";
const VERSION_COLUMNS: &str = "v.model_id, v.version, v.creation_timestamp, v.last_updated_timestamp, \
     v.description, v.user_id, v.current_stage, v.source, v.run_id, v.run_link, v.status, v.storage_location, \
     m.name";

fn model_from_row(row: &AnyRow) -> Result<ModelRow, StoreError> {
    Ok(ModelRow {
        id: col_i64(row, "id")?,
        model: RegisteredModel {
            name: col_str(row, "name")?,
            creation_timestamp: col_i64(row, "creation_timestamp")?,
            last_updated_timestamp: col_i64(row, "last_updated_timestamp")?,
            description: col_str(row, "description")?,
            tags: Vec::new(),
            aliases: Vec::new(),
            latest_versions: Vec::new(),
        },
    })
}

fn version_from_row(row: &AnyRow) -> Result<(i64, ModelVersion), StoreError> {
    Ok((
        col_i64(row, "model_id")?,
        ModelVersion {
            name: col_str(row, "name")?,
            version: col_i64(row, "version")?,
            creation_timestamp: col_i64(row, "creation_timestamp")?,
            last_updated_timestamp: col_i64(row, "last_updated_timestamp")?,
            user_id: col_str(row, "user_id")?,
            current_stage: col_stage(row, "current_stage")?,
            description: col_str(row, "description")?,
            source: col_str(row, "source")?,
            run_id: col_opt_str(row, "run_id")?,
            run_link: col_str(row, "run_link")?,
            status: col_str(row, "status")?,
            storage_location: col_str(row, "storage_location")?,
            tags: Vec::new(),
            aliases: Vec::new(),
        },
    ))
}

/// The registry's SQL, bound to one store's pool and dialect.
struct RegistrySql<'a> {
    store: &'a SqlStore,
}

impl RegistrySql<'_> {
    fn dialect(&self) -> Dialect {
        self.store.registry_parts().1
    }

    fn sql(&self, text: &str) -> Sql {
        Sql::new(self.dialect(), text)
    }

    fn for_update(&self) -> &'static str {
        match self.dialect() {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }

    async fn read(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, StoreError> {
        self.store
            .registry_parts()
            .0
            .acquire()
            .await
            .map_err(db("connecting to the tracking database"))
    }

    /// A write transaction already holding the write lock on SQLite (see the `sql` module docs).
    async fn begin_write(&self) -> Result<Tx, StoreError> {
        let mut tx = self
            .store
            .registry_parts()
            .0
            .begin()
            .await
            .map_err(db("starting a transaction"))?;
        if self.dialect() == Dialect::Sqlite {
            sqlx::query("UPDATE write_lock SET generation = generation + 1 WHERE id = 1")
                .execute(&mut *tx)
                .await
                .map_err(db("taking the write lock"))?;
        }
        Ok(tx)
    }

    /// The model row, locked for the rest of the transaction on PostgreSQL.
    async fn model(
        &self,
        conn: &mut AnyConnection,
        name: &str,
        lock: bool,
    ) -> Result<ModelRow, StoreError> {
        let mut sql = self.sql("SELECT ");
        sql.push(MODEL_COLUMNS)
            .push(" FROM registered_models m WHERE m.name = ")
            .text(name);
        if lock {
            sql.push(self.for_update());
        }
        let row = sql
            .query()
            .fetch_optional(&mut *conn)
            .await
            .map_err(db("reading a registered model"))?;
        model_from_row(&row.ok_or_else(|| model_not_found(name))?)
    }

    /// Fills tags, aliases and latest versions of models.
    async fn complete_models(
        &self,
        conn: &mut AnyConnection,
        rows: Vec<ModelRow>,
    ) -> Result<Vec<RegisteredModel>, StoreError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut tags: HashMap<i64, Vec<Tag>> = HashMap::new();
        let mut sql =
            self.sql("SELECT model_id, key, value FROM registered_model_tags WHERE model_id IN ");
        int_list(&mut sql, &ids);
        sql.push(" ORDER BY key");
        for row in sql
            .query()
            .fetch_all(&mut *conn)
            .await
            .map_err(db("reading model tags"))?
        {
            let tag = Tag {
                key: col_str(&row, "key")?,
                value: col_str(&row, "value")?,
            };
            tags.entry(col_i64(&row, "model_id")?)
                .or_default()
                .push(tag);
        }
        let mut aliases: HashMap<i64, Vec<ModelAlias>> = HashMap::new();
        let mut sql = self.sql(
            "SELECT model_id, alias, version FROM registered_model_aliases WHERE model_id IN ",
        );
        int_list(&mut sql, &ids);
        sql.push(" ORDER BY alias");
        for row in sql
            .query()
            .fetch_all(&mut *conn)
            .await
            .map_err(db("reading aliases"))?
        {
            let alias = ModelAlias {
                alias: col_str(&row, "alias")?,
                version: col_i64(&row, "version")?,
            };
            aliases
                .entry(col_i64(&row, "model_id")?)
                .or_default()
                .push(alias);
        }
        // The latest live version per (model, stage).
        let mut sql = self.sql("SELECT ");
        sql.push(VERSION_COLUMNS);
        sql.push(
            " FROM model_versions v JOIN registered_models m ON m.id = v.model_id WHERE v.is_deleted = 0 AND \
             v.version = (SELECT MAX(w.version) FROM model_versions w WHERE w.model_id = v.model_id AND \
             w.current_stage = v.current_stage AND w.is_deleted = 0) AND v.model_id IN ",
        );
        int_list(&mut sql, &ids);
        let rows_latest = sql
            .query()
            .fetch_all(&mut *conn)
            .await
            .map_err(db("reading latest versions"))?;
        let mut latest: HashMap<i64, Vec<ModelVersion>> = HashMap::new();
        for row in &rows_latest {
            let (model_id, version) = version_from_row(row)?;
            latest.entry(model_id).or_default().push(version);
        }
        Ok(rows
            .into_iter()
            .map(|ModelRow { id, mut model }| {
                model.tags = tags.remove(&id).unwrap_or_default();
                model.aliases = aliases.remove(&id).unwrap_or_default();
                let mut versions = latest.remove(&id).unwrap_or_default();
                versions.sort_by_key(|v| Stage::ALL.iter().position(|s| *s == v.current_stage));
                model.latest_versions = versions;
                model
            })
            .collect())
    }

    /// Fills tags and aliases of versions.
    async fn complete_versions(
        &self,
        conn: &mut AnyConnection,
        rows: Vec<(i64, ModelVersion)>,
    ) -> Result<Vec<ModelVersion>, StoreError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut tags: HashMap<(i64, i64), Vec<Tag>> = HashMap::new();
        let mut aliases: HashMap<(i64, i64), Vec<String>> = HashMap::new();
        for chunk in ids.chunks(400) {
            let mut sql = self.sql(
                "SELECT model_id, version, key, value FROM model_version_tags WHERE model_id IN ",
            );
            int_list(&mut sql, chunk);
            sql.push(" ORDER BY key");
            for row in sql
                .query()
                .fetch_all(&mut *conn)
                .await
                .map_err(db("reading version tags"))?
            {
                let tag = Tag {
                    key: col_str(&row, "key")?,
                    value: col_str(&row, "value")?,
                };
                tags.entry((col_i64(&row, "model_id")?, col_i64(&row, "version")?))
                    .or_default()
                    .push(tag);
            }
            let mut sql = self.sql(
                "SELECT model_id, version, alias FROM registered_model_aliases WHERE model_id IN ",
            );
            int_list(&mut sql, chunk);
            sql.push(" ORDER BY alias");
            for row in sql
                .query()
                .fetch_all(&mut *conn)
                .await
                .map_err(db("reading aliases"))?
            {
                let alias = col_str(&row, "alias")?;
                aliases
                    .entry((col_i64(&row, "model_id")?, col_i64(&row, "version")?))
                    .or_default()
                    .push(alias);
            }
        }
        Ok(rows
            .into_iter()
            .map(|(id, mut v)| {
                v.tags = tags.remove(&(id, v.version)).unwrap_or_default();
                v.aliases = aliases.remove(&(id, v.version)).unwrap_or_default();
                v
            })
            .collect())
    }

    /// A live version row (locked on PostgreSQL when `lock`).
    async fn version_row(
        &self,
        conn: &mut AnyConnection,
        model: &ModelRow,
        version: i64,
        lock: bool,
    ) -> Result<(i64, ModelVersion), StoreError> {
        let mut sql = self.sql("SELECT ");
        sql.push(VERSION_COLUMNS);
        sql.push(" FROM model_versions v JOIN registered_models m ON m.id = v.model_id WHERE v.model_id = ");
        sql.int(model.id)
            .push(" AND v.version = ")
            .int(version)
            .push(" AND v.is_deleted = 0");
        if lock {
            sql.push(self.for_update());
        }
        let row = sql
            .query()
            .fetch_optional(&mut *conn)
            .await
            .map_err(db("reading a model version"))?;
        version_from_row(&row.ok_or_else(|| version_not_found(&model.model.name, version))?)
    }

    async fn version(
        &self,
        conn: &mut AnyConnection,
        name: &str,
        version: i64,
    ) -> Result<ModelVersion, StoreError> {
        let model = self
            .model(conn, name, false)
            .await
            .map_err(|_| version_not_found(name, version))?;
        let row = self.version_row(conn, &model, version, false).await?;
        self.complete_versions(conn, vec![row])
            .await?
            .pop()
            .ok_or_else(|| version_not_found(name, version))
    }

    async fn touch_model(&self, tx: &mut Tx, model_id: i64, now: i64) -> Result<(), StoreError> {
        let mut sql = self.sql("UPDATE registered_models SET last_updated_timestamp = ");
        sql.int(now).push(" WHERE id = ").int(model_id);
        sql.query()
            .execute(&mut **tx)
            .await
            .map_err(db("updating a registered model"))?;
        Ok(())
    }

    async fn validation_metrics(
        &self,
        tx: &mut Tx,
        model_id: i64,
        version: i64,
    ) -> Result<Vec<Tag>, StoreError> {
        let mut sql = self.sql("SELECT key, value FROM model_version_tags WHERE model_id = ");
        sql.int(model_id)
            .push(" AND version = ")
            .int(version)
            .push(" ORDER BY key");
        let rows = sql
            .query()
            .fetch_all(&mut **tx)
            .await
            .map_err(db("reading version tags"))?;
        let mut out = Vec::new();
        for row in rows {
            let key = col_str(&row, "key")?;
            if let Some(metric) = key.strip_prefix(VALIDATION_TAG_PREFIX) {
                out.push(Tag {
                    key: metric.to_string(),
                    value: col_str(&row, "value")?,
                });
            }
        }
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    async fn audit(
        &self,
        tx: &mut Tx,
        model: &ModelRow,
        version: i64,
        from: Stage,
        to: Stage,
        context: &AuditContext,
        action: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let metrics = self.validation_metrics(tx, model.id, version).await?;
        let metrics_json = serde_json::to_string(&metrics)
            .map_err(|e| StoreError::backend("encoding validation metrics for the audit log", e))?;
        let mut sql = self.sql(
            "INSERT INTO registry_audit (model_id, model_name, version, from_stage, to_stage, action, actor, reason, \
             source, metrics, timestamp) VALUES (",
        );
        sql.int(model.id)
            .push(", ")
            .text(&model.model.name)
            .push(", ")
            .int(version)
            .push(", ");
        sql.text(from.as_str())
            .push(", ")
            .text(to.as_str())
            .push(", ")
            .text(action)
            .push(", ");
        sql.text(&context.actor)
            .push(", ")
            .text(&context.reason)
            .push(", ")
            .text(context.source.as_str());
        sql.push(", ")
            .text(&metrics_json)
            .push(", ")
            .int(now)
            .push(")");
        sql.query()
            .execute(&mut **tx)
            .await
            .map_err(db("writing the audit log"))?;
        Ok(())
    }

    /// Resolves a model-version source to where its files can be downloaded from, checking it against the run.
    async fn storage_location(
        &self,
        conn: &mut AnyConnection,
        source: &str,
        run_id: Option<&str>,
    ) -> Result<String, StoreError> {
        let bad_source = || {
            StoreError::invalid(format!(
                "Invalid model version source: '{source}'. The run_id request parameter must identify the resource \
                 that contains the source."
            ))
        };
        if source.is_empty() {
            return Err(StoreError::invalid(
                "Missing value for required parameter 'source'. See the API docs for more information about \
                 request parameters.",
            ));
        }
        let path_part = source.split_once(":/").map_or(source, |(_, rest)| rest);
        if path_part.split('/').any(|segment| segment == "..") {
            return Err(StoreError::invalid(format!(
                "Invalid model version source: '{source}'. Sources may not contain '..'."
            )));
        }
        if let Some(rest) = source.strip_prefix("runs:/") {
            let source_run = rest
                .trim_start_matches('/')
                .split('/')
                .next()
                .unwrap_or_default();
            if run_id != Some(source_run) || source_run.is_empty() {
                return Err(bad_source());
            }
            return Ok(source.to_string());
        }
        if source.starts_with("mlflow-artifacts:") {
            let run_id = run_id.ok_or_else(bad_source)?;
            let mut sql = self.sql("SELECT artifact_uri FROM runs WHERE run_uuid = ");
            sql.text(run_id);
            let row = sql
                .query()
                .fetch_optional(&mut *conn)
                .await
                .map_err(db("reading a run"))?;
            let row = row
                .ok_or_else(|| StoreError::not_found(format!("Run with id={run_id} not found")))?;
            let artifact_uri = col_str(&row, "artifact_uri")?;
            let root = artifact_uri.trim_end_matches('/');
            if source != root && !source.starts_with(&format!("{root}/")) {
                return Err(bad_source());
            }
            return Ok(source.to_string());
        }
        if let Some(rest) = source.strip_prefix("models:/") {
            if rest.starts_with("m-") {
                return Err(StoreError::invalid(format!(
                    "Invalid model version source: '{source}'. Logged models (models:/m-…) are not supported by this \
                     server; register a runs:/ or mlflow-artifacts:/ source."
                )));
            }
            let (name, version) = rest.rsplit_once('/').ok_or_else(bad_source)?;
            let version = super::parse_version(version)?;
            return Ok(self.version(conn, name, version).await?.storage_location);
        }
        Ok(source.to_string())
    }
}

fn int_list(sql: &mut Sql, ids: &[i64]) {
    sql.push("(");
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.int(*id);
    }
    sql.push(")");
}

/// Appends ` AND <clause>` for each registry clause; `owner` is `m` (models) or `v` (versions).
fn push_clauses(sql: &mut Sql, clauses: &[Clause], target: Target) {
    for clause in clauses {
        sql.push(" AND ");
        let column = match &clause.field {
            Field::Name => "m.name",
            Field::RunId => "v.run_id",
            Field::SourcePath => "v.source",
            Field::VersionNumber => "v.version",
            Field::Tag(key) => {
                let (table, owner) = tag_table(target);
                sql.push("EXISTS (SELECT 1 FROM ")
                    .push(table)
                    .push(" t WHERE ")
                    .push(owner);
                sql.push(" AND t.key = ").text(key).push(" AND ");
                comparison(sql, "t.value", clause.op, &clause.operand);
                sql.push(")");
                continue;
            }
            Field::Prompts(selects_prompts) => {
                let (table, owner) = tag_table(target);
                sql.push(if *selects_prompts {
                    "EXISTS"
                } else {
                    "NOT EXISTS"
                });
                sql.push(" (SELECT 1 FROM ")
                    .push(table)
                    .push(" t WHERE ")
                    .push(owner);
                sql.push(" AND t.key = ")
                    .text(PROMPT_TAG)
                    .push(" AND LOWER(t.value) = 'true')");
                continue;
            }
        };
        comparison(sql, column, clause.op, &clause.operand);
    }
}

fn tag_table(target: Target) -> (&'static str, &'static str) {
    match target {
        Target::RegisteredModels => ("registered_model_tags", "t.model_id = m.id"),
        Target::ModelVersions => (
            "model_version_tags",
            "t.model_id = v.model_id AND t.version = v.version",
        ),
    }
}

fn comparison(sql: &mut Sql, column: &str, op: Comparator, operand: &Operand) {
    match (op, operand) {
        (Comparator::ILike, Operand::Str(s)) => {
            sql.push("LOWER(")
                .push(column)
                .push(") LIKE LOWER(")
                .text(s)
                .push(")");
        }
        (Comparator::In | Comparator::NotIn, Operand::List(items)) => {
            if items.is_empty() {
                sql.push(if op == Comparator::In {
                    "1 = 0"
                } else {
                    "1 = 1"
                });
            } else {
                sql.push(column)
                    .push(if op == Comparator::In {
                        " IN "
                    } else {
                        " NOT IN "
                    })
                    .text_list(items);
            }
        }
        (_, Operand::Str(s)) => {
            sql.push(column).push(" ").push(op.sql()).push(" ").text(s);
        }
        (_, Operand::Int(n)) => {
            sql.push(column).push(" ").push(op.sql()).push(" ").int(*n);
        }
        // The parser never pairs a list with another operator; keep the SQL valid and empty anyway.
        (_, Operand::List(_)) => {
            sql.push("1 = 0");
        }
    }
}

fn push_order(sql: &mut Sql, order: &[Order], owner: &str, defaults: &[(&'static str, bool)]) {
    sql.push(" ORDER BY ");
    let mut first = true;
    let mut seen: Vec<&str> = Vec::new();
    for (key, ascending) in order
        .iter()
        .map(|o| (o.key, o.ascending))
        .chain(defaults.iter().copied())
    {
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        if !first {
            sql.push(", ");
        }
        first = false;
        let column = if key == "name" {
            "m.name".to_string()
        } else {
            format!("{owner}.{key}")
        };
        sql.push(&column)
            .push(if ascending { " ASC" } else { " DESC" });
    }
}

fn page_of<T>(mut items: Vec<T>, size: i64, offset: i64) -> Page<T> {
    let next_page_token = if items.len() as i64 > size {
        items.truncate(size as usize);
        Some(validation::encode_offset_token(offset + size))
    } else {
        None
    };
    Page {
        items,
        next_page_token,
    }
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_unique_violation())
}

#[async_trait::async_trait]
impl Registry for SqlStore {
    async fn create_registered_model(
        &self,
        name: &str,
        tags: &[Tag],
        description: Option<&str>,
    ) -> Result<RegisteredModel, StoreError> {
        validate_model_name(name)?;
        tags.iter().try_for_each(validate_registry_tag)?;
        let r = RegistrySql { store: self };
        let exists =
            || StoreError::AlreadyExists(format!("Registered Model (name={name}) already exists."));
        let mut tx = r.begin_write().await?;
        if r.model(&mut tx, name, false).await.is_ok() {
            return Err(exists());
        }
        let now = now_ms();
        let mut sql = r.sql(
            "INSERT INTO registered_models (name, description, creation_timestamp, last_updated_timestamp, \
             next_version) VALUES (",
        );
        sql.text(name)
            .push(", ")
            .text(description.unwrap_or_default())
            .push(", ")
            .int(now)
            .push(", ")
            .int(now);
        sql.push(", 1) RETURNING id");
        let row = match sql.query().fetch_one(&mut *tx).await {
            Ok(row) => row,
            Err(e) if is_unique_violation(&e) => return Err(exists()),
            Err(e) => return Err(StoreError::backend("creating a registered model", e)),
        };
        let id = col_i64(&row, "id")?;
        for tag in tags {
            let mut sql =
                r.sql("INSERT INTO registered_model_tags (model_id, key, value) VALUES (");
            sql.int(id)
                .push(", ")
                .text(&tag.key)
                .push(", ")
                .text(&tag.value);
            sql.push(") ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value");
            sql.query()
                .execute(&mut *tx)
                .await
                .map_err(db("writing a model tag"))?;
        }
        tx.commit().await.map_err(db("committing"))?;
        self.get_registered_model(name).await
    }

    async fn get_registered_model(&self, name: &str) -> Result<RegisteredModel, StoreError> {
        let r = RegistrySql { store: self };
        let mut conn = r.read().await?;
        let row = r.model(&mut conn, name, false).await?;
        r.complete_models(&mut conn, vec![row])
            .await?
            .pop()
            .ok_or_else(|| model_not_found(name))
    }

    async fn rename_registered_model(
        &self,
        name: &str,
        new_name: &str,
    ) -> Result<RegisteredModel, StoreError> {
        validate_model_name(new_name)?;
        let r = RegistrySql { store: self };
        let mut tx = r.begin_write().await?;
        let model = r.model(&mut tx, name, true).await?;
        let taken = || {
            StoreError::AlreadyExists(format!(
                "Registered Model (name={new_name}) already exists."
            ))
        };
        if new_name != name && r.model(&mut tx, new_name, false).await.is_ok() {
            return Err(taken());
        }
        let mut sql = r.sql("UPDATE registered_models SET name = ");
        sql.text(new_name)
            .push(", last_updated_timestamp = ")
            .int(now_ms())
            .push(" WHERE id = ")
            .int(model.id);
        match sql.query().execute(&mut *tx).await {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(taken()),
            Err(e) => return Err(StoreError::backend("renaming a registered model", e)),
        }
        tx.commit().await.map_err(db("committing"))?;
        self.get_registered_model(new_name).await
    }

    async fn update_registered_model(
        &self,
        name: &str,
        description: &str,
    ) -> Result<RegisteredModel, StoreError> {
        let r = RegistrySql { store: self };
        let mut tx = r.begin_write().await?;
        let model = r.model(&mut tx, name, true).await?;
        let mut sql = r.sql("UPDATE registered_models SET description = ");
        sql.text(description)
            .push(", last_updated_timestamp = ")
            .int(now_ms())
            .push(" WHERE id = ")
            .int(model.id);
        sql.query()
            .execute(&mut *tx)
            .await
            .map_err(db("updating a registered model"))?;
        tx.commit().await.map_err(db("committing"))?;
        self.get_registered_model(name).await
    }

    async fn delete_registered_model(&self, name: &str) -> Result<(), StoreError> {
        let r = RegistrySql { store: self };
        let mut tx = r.begin_write().await?;
        let model = r.model(&mut tx, name, true).await?;
        for table in [
            "model_version_tags",
            "registered_model_aliases",
            "model_versions",
            "registered_model_tags",
        ] {
            let mut sql = r.sql(&format!("DELETE FROM {table} WHERE model_id = "));
            sql.int(model.id);
            sql.query()
                .execute(&mut *tx)
                .await
                .map_err(db("deleting a registered model"))?;
        }
        let mut sql = r.sql("DELETE FROM registered_models WHERE id = ");
        sql.int(model.id);
        sql.query()
            .execute(&mut *tx)
            .await
            .map_err(db("deleting a registered model"))?;
        tx.commit().await.map_err(db("committing"))
    }

    async fn search_registered_models(
        &self,
        request: &SearchRegistry,
    ) -> Result<Page<RegisteredModel>, StoreError> {
        let size = validation::page_size(request.max_results, MODELS_PAGE.0, MODELS_PAGE.1)?;
        let offset = validation::decode_offset_token(request.page_token.as_deref())?;
        let clauses = search::parse_filter(Target::RegisteredModels, &request.filter)?;
        let order = search::parse_order_by(Target::RegisteredModels, &request.order_by)?;
        let r = RegistrySql { store: self };
        let mut sql = r.sql("SELECT ");
        sql.push(MODEL_COLUMNS)
            .push(" FROM registered_models m WHERE 1 = 1");
        push_clauses(&mut sql, &clauses, Target::RegisteredModels);
        push_order(&mut sql, &order, "m", &[("name", true)]);
        sql.push(" LIMIT ")
            .int(size + 1)
            .push(" OFFSET ")
            .int(offset);
        let mut conn = r.read().await?;
        let rows = sql
            .query()
            .fetch_all(&mut *conn)
            .await
            .map_err(db("searching registered models"))?;
        let rows = rows
            .iter()
            .map(model_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let page = page_of(rows, size, offset);
        let items = r.complete_models(&mut conn, page.items).await?;
        Ok(Page {
            items,
            next_page_token: page.next_page_token,
        })
    }

    async fn get_latest_versions(
        &self,
        name: &str,
        stages: &[Stage],
    ) -> Result<Vec<ModelVersion>, StoreError> {
        let model = self.get_registered_model(name).await?;
        let wanted: &[Stage] = if stages.is_empty() {
            &Stage::ALL
        } else {
            stages
        };
        Ok(model
            .latest_versions
            .into_iter()
            .filter(|v| wanted.contains(&v.current_stage))
            .collect())
    }

    async fn set_registered_model_tag(&self, name: &str, tag: &Tag) -> Result<(), StoreError> {
        validate_registry_tag(tag)?;
        let r = RegistrySql { store: self };
        let mut tx = r.begin_write().await?;
        let model = r.model(&mut tx, name, true).await?;
        let mut sql = r.sql("INSERT INTO registered_model_tags (model_id, key, value) VALUES (");
        sql.int(model.id)
            .push(", ")
            .text(&tag.key)
            .push(", ")
            .text(&tag.value);
        sql.push(") ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value");
        sql.query()
            .execute(&mut *tx)
            .await
            .map_err(db("writing a model tag"))?;
        tx.commit().await.map_err(db("committing"))
    }

    async fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<(), StoreError> {
        let r = RegistrySql { store: self };
        let mut tx = r.begin_write().await?;
        let model = r.model(&mut tx, name, true).await?;
        let mut sql = r.sql("DELETE FROM registered_model_tags WHERE model_id = ");
        sql.int(model.id).push(" AND key = ").text(key);
        sql.query()
            .execute(&mut *tx)
            .await
            .map_err(db("deleting a model tag"))?;
        tx.commit().await.map_err(db("committing"))
    }

    async fn create_model_version(
        &self,
        request: &CreateModelVersion,
    ) -> Result<ModelVersion, StoreError> {
        validate_model_name(&request.name)?;
        request.tags.iter().try_for_each(validate_registry_tag)?;
        let r = RegistrySql { store: self };
        let mut tx = r.begin_write().await?;
        let model = r.model(&mut tx, &request.name, true).await?;
        let run_id = request.run_id.as_deref().filter(|s| !s.is_empty());
        let storage_location = r.storage_location(&mut tx, &request.source, run_id).await?;
        let mut sql = r.sql("SELECT next_version FROM registered_models WHERE id = ");
        sql.int(model.id);
        let row = sql
            .query()
            .fetch_one(&mut *tx)
            .await
            .map_err(db("reading the version counter"))?;
        let version = col_i64(&row, "next_version")?;
        let now = now_ms();
        let mut sql = r.sql(
            "INSERT INTO model_versions (model_id, version, creation_timestamp, last_updated_timestamp, description, \
             user_id, current_stage, source, run_id, run_link, status, storage_location, is_deleted) VALUES (",
        );
        sql.int(model.id)
            .push(", ")
            .int(version)
            .push(", ")
            .int(now)
            .push(", ")
            .int(now)
            .push(", ");
        sql.text(request.description.as_deref().unwrap_or_default())
            .push(", ");
        sql.text(request.user_id.as_deref().unwrap_or_default())
            .push(", 'None', ")
            .text(&request.source);
        sql.push(", ");
        match run_id {
            Some(id) => sql.text(id),
            None => sql.push("NULL"),
        };
        sql.push(", ")
            .text(request.run_link.as_deref().unwrap_or_default())
            .push(", 'READY', ");
        sql.text(&storage_location).push(", 0)");
        sql.query()
            .execute(&mut *tx)
            .await
            .map_err(db("creating a model version"))?;
        let mut sql = r.sql("UPDATE registered_models SET next_version = ");
        sql.int(version + 1)
            .push(", last_updated_timestamp = ")
            .int(now)
            .push(" WHERE id = ")
            .int(model.id);
        sql.query()
            .execute(&mut *tx)
            .await
            .map_err(db("updating the version counter"))?;
        for tag in &request.tags {
            let mut sql =
                r.sql("INSERT INTO model_version_tags (model_id, version, key, value) VALUES (");
            sql.int(model.id)
                .push(", ")
                .int(version)
                .push(", ")
                .text(&tag.key)
                .push(", ")
                .text(&tag.value);
            sql.push(") ON CONFLICT (model_id, version, key) DO UPDATE SET value = excluded.value");
            sql.query()
                .execute(&mut *tx)
                .await
                .map_err(db("writing a version tag"))?;
        }
        tx.commit().await.map_err(db("committing"))?;
        self.get_model_version(&request.name, version).await
    }

    async fn get_model_version(
        &self,
        name: &str,
        version: i64,
    ) -> Result<ModelVersion, StoreError> {
        let r = RegistrySql { store: self };
        let mut conn = r.read().await?;
        r.version(&mut conn, name, version).await
    }

    async fn update_model_version(
        &self,
        name: &str,
        version: i64,
        description: &str,
    ) -> Result<ModelVersion, StoreError> {
        let r = RegistrySql { store: self };
        let mut tx = r.begin_write().await?;
        let model = r
            .model(&mut tx, name, true)
            .await
            .map_err(|_| version_not_found(name, version))?;
        r.version_row(&mut tx, &model, version, true).await?;
        let mut sql = r.sql("UPDATE model_versions SET description = ");
        sql.text(description)
            .push(", last_updated_timestamp = ")
            .int(now_ms());
        sql.push(" WHERE model_id = ")
            .int(model.id)
            .push(" AND version = ")
            .int(version);
        sql.query()
            .execute(&mut *tx)
            .await
            .map_err(db("updating a model version"))?;
        tx.commit().await.map_err(db("committing"))?;
        self.get_model_version(name, version).await
    }

    async fn delete_model_version(&self, name: &str, version: i64) -> Result<(), StoreError> {
        let r = RegistrySql { store: self };
        let mut tx = r.begin_write().await?;
        let model = r
            .model(&mut tx, name, true)
            .await
            .map_err(|_| version_not_found(name, version))?;
        r.version_row(&mut tx, &model, version, true).await?;
        let now = now_ms();
        let mut sql = r.sql("UPDATE model_versions SET is_deleted = 1, last_updated_timestamp = ");
        sql.int(now)
            .push(" WHERE model_id = ")
            .int(model.id)
            .push(" AND version = ")
            .int(version);
        sql.query()
            .execute(&mut *tx)
            .await
            .map_err(db("deleting a model version"))?;
        let mut sql = r.sql("DELETE FROM registered_model_aliases WHERE model_id = ");
        sql.int(model.id).push(" AND version = ").int(version);
        sql.query()
            .execute(&mut *tx)
            .await
            .map_err(db("deleting a version's aliases"))?;
        r.touch_model(&mut tx, model.id, now).await?;
        tx.commit().await.map_err(db("committing"))
    }

    async fn search_model_versions(
        &self,
        request: &SearchRegistry,
    ) -> Result<Page<ModelVersion>, StoreError> {
        let size = validation::page_size(request.max_results, VERSIONS_PAGE.0, VERSIONS_PAGE.1)?;
        let offset = validation::decode_offset_token(request.page_token.as_deref())?;
        let clauses = search::parse_filter(Target::ModelVersions, &request.filter)?;
        let order = search::parse_order_by(Target::ModelVersions, &request.order_by)?;
        let r = RegistrySql { store: self };
        let mut sql = r.sql("SELECT ");
        sql.push(VERSION_COLUMNS);
        sql.push(" FROM model_versions v JOIN registered_models m ON m.id = v.model_id WHERE v.is_deleted = 0");
        push_clauses(&mut sql, &clauses, Target::ModelVersions);
        push_order(
            &mut sql,
            &order,
            "v",
            &[
                ("last_updated_timestamp", false),
                ("name", true),
                ("version", false),
            ],
        );
        sql.push(" LIMIT ")
            .int(size.saturating_add(1))
            .push(" OFFSET ")
            .int(offset);
        let mut conn = r.read().await?;
        let rows = sql
            .query()
            .fetch_all(&mut *conn)
            .await
            .map_err(db("searching model versions"))?;
        let rows = rows
            .iter()
            .map(version_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let page = page_of(rows, size, offset);
        let items = r.complete_versions(&mut conn, page.items).await?;
        Ok(Page {
            items,
            next_page_token: page.next_page_token,
        })
    }

    async fn transition_model_version_stage(
        &self,
        transition: &Transition,
    ) -> Result<ModelVersion, StoreError> {
        let Transition {
            name,
            version,
            stage,
            archive_existing_versions,
            require_current_stage,
            audit,
        } = transition;
        let (version, stage) = (*version, *stage);
        if *archive_existing_versions && !matches!(stage, Stage::Staging | Stage::Production) {
            return Err(StoreError::invalid(format!(
                "Model version transition cannot archive existing model versions because '{stage}' is not an \
                 Active stage. Valid stages are Staging, Production."
            )));
        }
        let r = RegistrySql { store: self };
        let mut tx = r.begin_write().await?;
        let model = r
            .model(&mut tx, name, true)
            .await
            .map_err(|_| version_not_found(name, version))?;
        let (_, current) = r.version_row(&mut tx, &model, version, true).await?;
        let from = current.current_stage;
        if let Some(required) = require_current_stage
            && *required != from
        {
            return Err(StoreError::invalid(format!(
                "Model '{name}' version {version} is in stage {from}, but moving it to {stage} requires it to be in \
                 {required} first (promote it to {required}, or force the promotion)."
            )));
        }
        let now = now_ms();
        if *archive_existing_versions {
            let mut sql = r.sql("SELECT version FROM model_versions WHERE model_id = ");
            sql.int(model.id)
                .push(" AND current_stage = ")
                .text(stage.as_str());
            sql.push(" AND is_deleted = 0 AND version != ")
                .int(version)
                .push(" ORDER BY version");
            let holders = sql
                .query()
                .fetch_all(&mut *tx)
                .await
                .map_err(db("reading stage holders"))?;
            for row in holders {
                let other = col_i64(&row, "version")?;
                let mut sql = r.sql("UPDATE model_versions SET current_stage = 'Archived', last_updated_timestamp = ");
                sql.int(now)
                    .push(" WHERE model_id = ")
                    .int(model.id)
                    .push(" AND version = ")
                    .int(other);
                sql.query()
                    .execute(&mut *tx)
                    .await
                    .map_err(db("archiving a model version"))?;
                let context = AuditContext {
                    reason: format!("archived when version {version} moved to {stage}"),
                    ..audit.clone()
                };
                r.audit(
                    &mut tx,
                    &model,
                    other,
                    stage,
                    Stage::Archived,
                    &context,
                    "archive",
                    now,
                )
                .await?;
            }
        }
        let mut sql = r.sql("UPDATE model_versions SET current_stage = ");
        sql.text(stage.as_str())
            .push(", last_updated_timestamp = ")
            .int(now);
        sql.push(" WHERE model_id = ")
            .int(model.id)
            .push(" AND version = ")
            .int(version);
        sql.query()
            .execute(&mut *tx)
            .await
            .map_err(db("moving a model version"))?;
        r.touch_model(&mut tx, model.id, now).await?;
        r.audit(
            &mut tx,
            &model,
            version,
            from,
            stage,
            audit,
            &audit.action,
            now,
        )
        .await?;
        tx.commit().await.map_err(db("committing"))?;
        self.get_model_version(name, version).await
    }

    async fn set_model_version_tag(
        &self,
        name: &str,
        version: i64,
        tag: &Tag,
    ) -> Result<(), StoreError> {
        validate_registry_tag(tag)?;
        let r = RegistrySql { store: self };
        let mut tx = r.begin_write().await?;
        let model = r
            .model(&mut tx, name, true)
            .await
            .map_err(|_| version_not_found(name, version))?;
        r.version_row(&mut tx, &model, version, false).await?;
        let mut sql =
            r.sql("INSERT INTO model_version_tags (model_id, version, key, value) VALUES (");
        sql.int(model.id)
            .push(", ")
            .int(version)
            .push(", ")
            .text(&tag.key)
            .push(", ")
            .text(&tag.value);
        sql.push(") ON CONFLICT (model_id, version, key) DO UPDATE SET value = excluded.value");
        sql.query()
            .execute(&mut *tx)
            .await
            .map_err(db("writing a version tag"))?;
        tx.commit().await.map_err(db("committing"))
    }

    async fn delete_model_version_tag(
        &self,
        name: &str,
        version: i64,
        key: &str,
    ) -> Result<(), StoreError> {
        let r = RegistrySql { store: self };
        let mut tx = r.begin_write().await?;
        let model = r
            .model(&mut tx, name, true)
            .await
            .map_err(|_| version_not_found(name, version))?;
        r.version_row(&mut tx, &model, version, false).await?;
        let mut sql = r.sql("DELETE FROM model_version_tags WHERE model_id = ");
        sql.int(model.id)
            .push(" AND version = ")
            .int(version)
            .push(" AND key = ")
            .text(key);
        sql.query()
            .execute(&mut *tx)
            .await
            .map_err(db("deleting a version tag"))?;
        tx.commit().await.map_err(db("committing"))
    }

    async fn set_registered_model_alias(
        &self,
        name: &str,
        alias: &str,
        version: i64,
    ) -> Result<(), StoreError> {
        validate_alias(alias)?;
        let r = RegistrySql { store: self };
        let mut tx = r.begin_write().await?;
        let model = r.model(&mut tx, name, true).await?;
        r.version_row(&mut tx, &model, version, false).await?;
        let mut sql =
            r.sql("INSERT INTO registered_model_aliases (model_id, alias, version) VALUES (");
        sql.int(model.id)
            .push(", ")
            .text(alias)
            .push(", ")
            .int(version);
        sql.push(") ON CONFLICT (model_id, alias) DO UPDATE SET version = excluded.version");
        sql.query()
            .execute(&mut *tx)
            .await
            .map_err(db("setting an alias"))?;
        tx.commit().await.map_err(db("committing"))
    }

    async fn delete_registered_model_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<(), StoreError> {
        let r = RegistrySql { store: self };
        let mut tx = r.begin_write().await?;
        let model = r.model(&mut tx, name, true).await?;
        let mut sql = r.sql("DELETE FROM registered_model_aliases WHERE model_id = ");
        sql.int(model.id).push(" AND alias = ").text(alias);
        sql.query()
            .execute(&mut *tx)
            .await
            .map_err(db("deleting an alias"))?;
        tx.commit().await.map_err(db("committing"))
    }

    async fn get_model_version_by_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<ModelVersion, StoreError> {
        let r = RegistrySql { store: self };
        let mut conn = r.read().await?;
        let model = r.model(&mut conn, name, false).await?;
        let version = if alias.eq_ignore_ascii_case(LATEST_ALIAS) {
            let mut sql = r.sql("SELECT MAX(version) AS version FROM model_versions WHERE is_deleted = 0 AND model_id = ");
            sql.int(model.id);
            let row = sql
                .query()
                .fetch_one(&mut *conn)
                .await
                .map_err(db("reading the latest version"))?;
            row.try_get::<Option<i64>, _>("version")
                .map_err(|e| StoreError::backend("reading the latest version", e))?
                .ok_or_else(|| {
                    StoreError::not_found(format!(
                        "Registered model '{name}' has no live versions."
                    ))
                })?
        } else {
            let mut sql = r.sql("SELECT version FROM registered_model_aliases WHERE model_id = ");
            sql.int(model.id).push(" AND alias = ").text(alias);
            let row = sql
                .query()
                .fetch_optional(&mut *conn)
                .await
                .map_err(db("reading an alias"))?;
            let row = row.ok_or_else(|| {
                StoreError::invalid(format!("Registered model alias {alias} not found."))
            })?;
            col_i64(&row, "version")?
        };
        r.version(&mut conn, name, version).await
    }

    async fn get_model_version_download_uri(
        &self,
        name: &str,
        version: i64,
    ) -> Result<String, StoreError> {
        Ok(self
            .get_model_version(name, version)
            .await?
            .storage_location)
    }

    async fn audit_trail(
        &self,
        name: &str,
        version: Option<i64>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let r = RegistrySql { store: self };
        let mut conn = r.read().await?;
        let model = r.model(&mut conn, name, false).await?;
        let mut sql = r.sql(
            "SELECT id, model_name, version, from_stage, to_stage, action, actor, reason, source, metrics, timestamp \
             FROM registry_audit WHERE model_id = ",
        );
        sql.int(model.id);
        if let Some(v) = version {
            sql.push(" AND version = ").int(v);
        }
        sql.push(" ORDER BY id");
        let rows = sql
            .query()
            .fetch_all(&mut *conn)
            .await
            .map_err(db("reading the audit log"))?;
        rows.iter()
            .map(|row| {
                let source = col_str(row, "source")?;
                let metrics_json = col_str(row, "metrics")?;
                Ok(AuditEntry {
                    id: col_i64(row, "id")?,
                    model_name: col_str(row, "model_name")?,
                    version: col_i64(row, "version")?,
                    from_stage: col_stage(row, "from_stage")?,
                    to_stage: col_stage(row, "to_stage")?,
                    action: col_str(row, "action")?,
                    actor: col_str(row, "actor")?,
                    reason: col_str(row, "reason")?,
                    source: TransitionSource::parse(&source).ok_or_else(|| {
                        StoreError::backend("reading the audit log", format!("source '{source}'"))
                    })?,
                    metrics: serde_json::from_str(&metrics_json)
                        .map_err(|e| StoreError::backend("reading audit metrics", e))?,
                    timestamp: col_i64(row, "timestamp")?,
                })
            })
            .collect()
    }
}
