-- Model registry (issue 6), SQLite dialect: registered models, versions, tags, aliases and the audit log.
-- A model's versions are numbered from its own counter `next_version`, which only grows, so a number is never
-- reused even after its version is deleted (versions are soft-deleted; deleting the model removes everything).
CREATE TABLE IF NOT EXISTS registered_models (
    id                     INTEGER PRIMARY KEY,
    name                   TEXT    NOT NULL UNIQUE,
    description            TEXT    NOT NULL DEFAULT '',
    creation_timestamp     INTEGER NOT NULL,
    last_updated_timestamp INTEGER NOT NULL,
    next_version           INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS registered_model_tags (
    model_id INTEGER NOT NULL REFERENCES registered_models (id) ON DELETE CASCADE,
    key      TEXT    NOT NULL,
    value    TEXT    NOT NULL,
    PRIMARY KEY (model_id, key)
);
CREATE TABLE IF NOT EXISTS model_versions (
    model_id               INTEGER NOT NULL REFERENCES registered_models (id) ON DELETE CASCADE,
    version                INTEGER NOT NULL,
    creation_timestamp     INTEGER NOT NULL,
    last_updated_timestamp INTEGER NOT NULL,
    description            TEXT    NOT NULL DEFAULT '',
    user_id                TEXT    NOT NULL DEFAULT '',
    current_stage          TEXT    NOT NULL DEFAULT 'None',
    source                 TEXT    NOT NULL,
    run_id                 TEXT,
    run_link               TEXT    NOT NULL DEFAULT '',
    status                 TEXT    NOT NULL DEFAULT 'READY',
    storage_location       TEXT    NOT NULL,
    is_deleted             INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (model_id, version)
);
CREATE INDEX IF NOT EXISTS model_versions_by_stage ON model_versions (model_id, current_stage, is_deleted);
CREATE INDEX IF NOT EXISTS model_versions_by_run ON model_versions (run_id);
CREATE TABLE IF NOT EXISTS model_version_tags (
    model_id INTEGER NOT NULL,
    version  INTEGER NOT NULL,
    key      TEXT    NOT NULL,
    value    TEXT    NOT NULL,
    PRIMARY KEY (model_id, version, key),
    FOREIGN KEY (model_id, version) REFERENCES model_versions (model_id, version) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS registered_model_aliases (
    model_id INTEGER NOT NULL REFERENCES registered_models (id) ON DELETE CASCADE,
    alias    TEXT    NOT NULL,
    version  INTEGER NOT NULL,
    PRIMARY KEY (model_id, alias)
);
-- Every stage transition, from the REST API, the CLI or the UI. Not tied to the model row by a foreign key, so
-- the trail outlives a deleted model; `model_id` tells a re-created name's history apart from the old one's.
CREATE TABLE IF NOT EXISTS registry_audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    model_id    INTEGER NOT NULL,
    model_name  TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    from_stage  TEXT    NOT NULL,
    to_stage    TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    metrics     TEXT    NOT NULL,
    timestamp   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS registry_audit_by_model ON registry_audit (model_id, id);
