#!/usr/bin/env bash
# Starts (idempotently) a throwaway PostgreSQL cluster, recreates an empty test database for the tracking-store tests, from Debian's packages,
# listening on 127.0.0.1 only, and prints the URL to export:
#
#   eval "$(scripts/start-postgres.sh)"      # sets MODELOPS_TEST_POSTGRES_URL
#   scripts/start-postgres.sh stop            # stops the cluster (data stays until the folder is removed)
#
# Settings (environment): MODELOPS_PG_BIN (default: newest /usr/lib/postgresql/*/bin), MODELOPS_PG_DIR
# (default /tmp/modelops-postgres), MODELOPS_PG_PORT (default 55432), MODELOPS_PG_DB (default modelops_test).
# As root, the cluster runs as the `postgres` OS user (PostgreSQL refuses to run as root).
# Authentication is `trust` on loopback: this is a test cluster, never a production one.
set -euo pipefail

PG_BIN="${MODELOPS_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
PG_DIR="${MODELOPS_PG_DIR:-/tmp/modelops-postgres}"
PG_PORT="${MODELOPS_PG_PORT:-55432}"
PG_DB="${MODELOPS_PG_DB:-modelops_test}"

if [[ -z "$PG_BIN" || ! -x "$PG_BIN/pg_ctl" ]]; then
    echo "error: no PostgreSQL server binaries found (install postgresql, or set MODELOPS_PG_BIN)" >&2
    exit 1
fi

as_owner() {
    if [[ "$(id -u)" == "0" ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

if [[ "${1:-start}" == "stop" ]]; then
    if [[ -f "$PG_DIR/data/postmaster.pid" ]]; then
        as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast stop >&2
    fi
    exit 0
fi

mkdir -p "$PG_DIR"
if [[ "$(id -u)" == "0" ]]; then
    chown postgres: "$PG_DIR"
fi
if [[ ! -f "$PG_DIR/data/PG_VERSION" ]]; then
    echo "initialising a PostgreSQL cluster in $PG_DIR/data" >&2
    as_owner "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >&2
fi
if ! as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1; then
    echo "starting PostgreSQL on 127.0.0.1:$PG_PORT" >&2
    as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c max_connections=200 -c fsync=off" start >&2
fi
for _ in $(seq 1 30); do
    if "$PG_BIN/pg_isready" -h 127.0.0.1 -p "$PG_PORT" -q; then break; fi
    sleep 1
done
# Every start hands the tests a fresh, empty database: state left by an earlier run must never decide a result.
"$PG_BIN/dropdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres --if-exists --force "$PG_DB" >&2
"$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$PG_DB" >&2
echo "export MODELOPS_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:$PG_PORT/$PG_DB"
