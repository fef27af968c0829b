#!/usr/bin/env bash
# The two commands of the quick start. Both install what they need first (idempotently).
#
#   ./run.sh demo [ARGS…]   build modelops and run `modelops demo` (synthetic data, embedded SQLite store)
#   ./run.sh test           install test prerequisites, start a throwaway PostgreSQL, run the whole test suite
#   ./run.sh modelops ARGS  build (release) and run any modelops command
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"

if ! command -v cargo >/dev/null; then
  # rustup installs put cargo here; a login shell may not have it on PATH yet.
  [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
fi

# Reuse a persistent build folder outside the checkout when one exists (CI keeps one between runs); without it the
# build goes to ./target as usual.
if [ -z "${CARGO_TARGET_DIR:-}" ] && [ -d "${MODELOPS_PERSISTENT_TARGET:-$HOME/.cache/modelops/target}" ]; then
  export CARGO_TARGET_DIR="${MODELOPS_PERSISTENT_TARGET:-$HOME/.cache/modelops/target}"
fi

cmd="${1:-help}"
shift || true
case "$cmd" in
  demo)
    bash scripts/bootstrap.sh build
    cargo build --release -p modelops --locked
    exec "${CARGO_TARGET_DIR:-target}/release/modelops" demo "$@"
    ;;
  modelops)
    bash scripts/bootstrap.sh build
    cargo build --release -p modelops --locked
    exec "${CARGO_TARGET_DIR:-target}/release/modelops" "$@"
    ;;
  test)
    bash scripts/bootstrap.sh test
    export MODELOPS_TEST_PYTHON="$ROOT/.tools/pyenv/bin/python"
    export MODELOPS_REQUIRE_EXTERNAL=1
    # A throwaway PostgreSQL on 127.0.0.1 for the store, registry and study tests (prints an export line).
    eval "$(bash scripts/start-postgres.sh)"
    cargo test --workspace --locked "$@"
    ;;
  *)
    sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
    [ "$cmd" = help ] || exit 2
    ;;
esac
