#!/usr/bin/env bash
# Make/reuse the project venv (.venv) with the dev dependencies (and the pinned Codex CLI and Claude
# Code for the e2e suite), then run every quality gate and the whole test suite. `.ci/run` calls
# exactly this. Arguments go to pytest: `bash scripts/test.sh tests/unit -k config`.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="$("${PYTHON:-python3}" scripts/bootstrap.py --dev)"
# The venv first on PATH: tests that spawn `godex`, `node` or `npm` get the venv's.
export PATH="$venv/bin:$PATH" VIRTUAL_ENV="$venv"
PY="$venv/bin/python"
bash scripts/install_codex.sh >/dev/null
echo "== ruff check";  "$PY" -m ruff check .
echo "== ruff format"; "$PY" -m ruff format --check .
echo "== mypy";        "$PY" -m mypy
echo "== pytest";      "$PY" -m pytest -q -p no:cacheprovider "$@"
