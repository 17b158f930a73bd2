#!/usr/bin/env bash
# Install the dev dependencies (and the pinned Codex CLI and Claude Code for the e2e suite), then
# run every quality gate and the whole test suite. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
"$PY" -m pip install --disable-pip-version-check -q -e '.[dev]'
bash scripts/install_codex.sh >/dev/null
echo "== ruff check";  "$PY" -m ruff check .
echo "== ruff format"; "$PY" -m ruff format --check .
echo "== mypy";        "$PY" -m mypy
echo "== pytest";      "$PY" -m pytest -q -p no:cacheprovider "$@"
