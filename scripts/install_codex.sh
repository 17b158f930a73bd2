#!/usr/bin/env bash
# Install the pinned Codex CLI into tests/e2e/node_modules for the e2e suite.
# Idempotent: does nothing when the pinned version is already there.
set -euo pipefail
cd "$(dirname "$0")/../tests/e2e"

want="$(node -p 'require("./package.json").dependencies["@openai/codex"]')"
bin="node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex"
have=""
if [[ -f node_modules/@openai/codex/package.json ]]; then
  have="$(node -p 'require("./node_modules/@openai/codex/package.json").version')"
fi

if [[ "$have" != "$want" || ! -x "$bin" ]]; then
  echo "installing @openai/codex@$want (found: ${have:-none})" >&2
  # The lockfile makes the install reproducible; fall back to a plain install without one.
  if [[ -f package-lock.json ]]; then
    npm ci --no-audit --no-fund --loglevel=error
  else
    npm install --no-audit --no-fund --loglevel=error
  fi
fi

version="$("$bin" --version)"
if [[ "$version" != *"$want"* ]]; then
  echo "codex at $bin reports '$version', expected $want" >&2
  exit 1
fi
echo "$version"
