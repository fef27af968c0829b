-- Tracking schema (experiments, runs, params, metrics, tags), SQLite dialect.
-- The registry (issue 6) adds its own tables in a later migration.
CREATE TABLE IF NOT EXISTS experiments (
    experiment_id     INTEGER PRIMARY KEY,
    name              TEXT    NOT NULL UNIQUE,
    artifact_location TEXT    NOT NULL,
    lifecycle_stage   TEXT    NOT NULL DEFAULT 'active',
    creation_time     INTEGER NOT NULL,
    last_update_time  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS experiment_tags (
    experiment_id INTEGER NOT NULL REFERENCES experiments (experiment_id) ON DELETE CASCADE,
    key           TEXT    NOT NULL,
    value         TEXT    NOT NULL,
    PRIMARY KEY (experiment_id, key)
);
CREATE TABLE IF NOT EXISTS runs (
    run_uuid        TEXT    PRIMARY KEY,
    name            TEXT    NOT NULL,
    experiment_id   INTEGER NOT NULL REFERENCES experiments (experiment_id),
    user_id         TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    start_time      INTEGER NOT NULL,
    end_time        INTEGER,
    artifact_uri    TEXT    NOT NULL,
    lifecycle_stage TEXT    NOT NULL DEFAULT 'active',
    deleted_time    INTEGER
);
CREATE INDEX IF NOT EXISTS runs_by_experiment ON runs (experiment_id, lifecycle_stage, start_time);
CREATE TABLE IF NOT EXISTS params (
    run_uuid TEXT NOT NULL REFERENCES runs (run_uuid) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (run_uuid, key)
);
CREATE INDEX IF NOT EXISTS params_by_key ON params (key, value);
CREATE TABLE IF NOT EXISTS tags (
    run_uuid TEXT NOT NULL REFERENCES runs (run_uuid) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (run_uuid, key)
);
CREATE INDEX IF NOT EXISTS tags_by_key ON tags (key, value);
-- Every point; identical points (key, value, timestamp, step) are stored once. NaN is value 0 with is_nan 1.
CREATE TABLE IF NOT EXISTS metrics (
    run_uuid  TEXT    NOT NULL REFERENCES runs (run_uuid) ON DELETE CASCADE,
    key       TEXT    NOT NULL,
    value     REAL    NOT NULL,
    is_nan    INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    step      INTEGER NOT NULL,
    PRIMARY KEY (run_uuid, key, timestamp, step, value, is_nan)
);
-- Per run and key, the point with the greatest (step, timestamp, value): what get_run and search read.
CREATE TABLE IF NOT EXISTS latest_metrics (
    run_uuid  TEXT    NOT NULL REFERENCES runs (run_uuid) ON DELETE CASCADE,
    key       TEXT    NOT NULL,
    value     REAL    NOT NULL,
    is_nan    INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    step      INTEGER NOT NULL,
    PRIMARY KEY (run_uuid, key)
);
CREATE INDEX IF NOT EXISTS latest_metrics_by_key ON latest_metrics (key, value);
-- One row that every SQLite write transaction updates first, so the write lock is taken (and waited for under
-- busy_timeout) before anything is read: a deferred transaction that reads first cannot wait for the lock.
CREATE TABLE IF NOT EXISTS write_lock (id INTEGER PRIMARY KEY, generation INTEGER NOT NULL);
INSERT OR IGNORE INTO write_lock (id, generation) VALUES (1, 0);
INSERT OR IGNORE INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time)
VALUES (0, 'Default', 'mlflow-artifacts:/0', 'active',
        CAST(strftime('%s', 'now') AS INTEGER) * 1000, CAST(strftime('%s', 'now') AS INTEGER) * 1000);
