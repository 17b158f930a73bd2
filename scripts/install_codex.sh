#!/usr/bin/env bash
# Install the pinned Codex CLI, Claude Code and the Vercel AI SDK into tests/e2e/node_modules for the e2e suite.
# Idempotent: does nothing when the pinned versions are already there.
set -euo pipefail
cd "$(dirname "$0")/../tests/e2e"

want="$(node -p 'require("./package.json").dependencies["@openai/codex"]')"
bin="node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex"
claude_want="$(node -p 'require("./package.json").dependencies["@anthropic-ai/claude-code"]')"
claude_bin="node_modules/@anthropic-ai/claude-code-linux-x64/claude"
have=""
if [[ -f node_modules/@openai/codex/package.json ]]; then
  have="$(node -p 'require("./node_modules/@openai/codex/package.json").version')"
fi
claude_have=""
if [[ -f node_modules/@anthropic-ai/claude-code/package.json ]]; then
  claude_have="$(node -p 'require("./node_modules/@anthropic-ai/claude-code/package.json").version')"
fi

# The Vercel AI SDK (tests/e2e/test_vercel_ai_sdk.py) is installed from the same lockfile.
ai_want="$(node -p 'require("./package.json").dependencies["@ai-sdk/openai"]')"
ai_have=""
if [[ -f node_modules/@ai-sdk/openai/package.json ]]; then
  ai_have="$(node -p 'require("./node_modules/@ai-sdk/openai/package.json").version')"
fi

if [[ "$have" != "$want" || ! -x "$bin" || "$claude_have" != "$claude_want" || ! -x "$claude_bin" \
  || "$ai_have" != "$ai_want" || ! -f node_modules/ai/package.json ]]; then
  echo "installing @openai/codex@$want (found: ${have:-none})," \
    "@anthropic-ai/claude-code@$claude_want (found: ${claude_have:-none})" >&2
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
claude_version="$("$claude_bin" --version)"
if [[ "$claude_version" != *"$claude_want"* ]]; then
  echo "claude at $claude_bin reports '$claude_version', expected $claude_want" >&2
  exit 1
fi
echo "$claude_version"
