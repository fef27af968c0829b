#!/usr/bin/env bash
# Installs what building and testing modelops needs, idempotently, on Debian 12 with only Rust installed.
#
#   scripts/bootstrap.sh build   system packages + build tools (cmake >= 3.28, ninja) for LightGBM/XGBoost
#   scripts/bootstrap.sh test    the above + PostgreSQL, Chromium, and a Python venv with the reference clients
#
# Tools go to .tools/ inside the checkout (git-ignored); .cargo/config.toml points the build at them.
set -euo pipefail

MODE="${1:-build}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

log() { printf '[bootstrap] %s\n' "$*" >&2; }

need_apt=()
want_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$1"); }

# Build prerequisites: a C/C++ toolchain, libclang for bindgen, ninja for XGBoost's CMake build, OpenMP.
for p in build-essential clang libclang-dev ninja-build pkg-config python3-venv python3-pip; do want_pkg "$p"; done
if [ "$MODE" = "test" ]; then
  for p in postgresql chromium chromium-driver; do want_pkg "$p"; done
fi
if [ "${#need_apt[@]}" -gt 0 ]; then
  if command -v apt-get >/dev/null; then
    log "installing Debian packages: ${need_apt[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    log "missing packages ${need_apt[*]} and no apt-get: install them with your package manager"; exit 1
  fi
fi

PY="${PYTHON:-python3}"
# CMake >= 3.28 (Debian 12 ships 3.25) from PyPI, in a tools venv the cargo build finds through .cargo/config.toml.
if [ ! -x "$TOOLS/build/bin/cmake" ] || ! "$TOOLS/build/bin/cmake" --version >/dev/null 2>&1; then
  log "creating build-tools venv (cmake, ninja) in .tools/build"
  rm -rf "$TOOLS/build"
  "$PY" -m venv "$TOOLS/build"
  "$TOOLS/build/bin/pip" install -q --disable-pip-version-check 'cmake>=3.28,<4' 'ninja>=1.11'
fi
# XGBoost's sys crate downloads a prebuilt library unless XGBOOST_LIB_DIR is set; an empty folder makes it build
# the bundled source instead.
mkdir -p "$TOOLS/xgboost-empty"

if [ "$MODE" = "test" ]; then
  REQ="$ROOT/scripts/test-requirements.txt"
  STAMP="$TOOLS/pyenv/.requirements.sha256"
  want="$(sha256sum "$REQ" | cut -d' ' -f1)"
  if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
    log "creating the test venv in .tools/pyenv (MLflow client, lightgbm, xgboost, catboost …)"
    rm -rf "$TOOLS/pyenv"
    "$PY" -m venv "$TOOLS/pyenv"
    "$TOOLS/pyenv/bin/pip" install -q --disable-pip-version-check -r "$REQ"
    echo "$want" > "$STAMP"
  fi
fi
log "ok ($MODE)"
