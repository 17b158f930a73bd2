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
# The PostgreSQL suites need a server at 127.0.0.1:5432 (trust auth, user postgres); the tests make
# and drop their own throwaway database. Start the local cluster when it is down.
# A machine without them still runs the gates (the PostgreSQL tests then fail, saying why).
if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start \
    || echo "warning: could not start PostgreSQL" >&2
  for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
fi
# The multi-instance suite (tests/multi) puts a real HAProxy in front of two GodeX processes.
command -v haproxy >/dev/null || apt-get install -y -qq haproxy >/dev/null 2>&1 \
  || echo "warning: haproxy is missing (apt-get install -y haproxy); tests/multi needs it" >&2
# The limits tests use a real Redis at 127.0.0.1:6379 (each test under its own key prefix).
if ! command -v redis-server >/dev/null; then
  echo "warning: redis-server is missing (apt-get install -y redis-server); the limits tests need it" >&2
elif ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
echo "== ruff check";  "$PY" -m ruff check .
echo "== ruff format"; "$PY" -m ruff format --check .
echo "== mypy";        "$PY" -m mypy
echo "== pytest";      "$PY" -m pytest -q -p no:cacheprovider "$@"
