"""Find and run the pinned Claude Code CLI (installed by scripts/install_codex.sh)."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
_CANDIDATES = (
    HERE / "node_modules/@anthropic-ai/claude-code-linux-x64/claude",
    HERE / "node_modules/.bin/claude",
)
RUN_TIMEOUT_S = 90.0
TIMED_OUT = -999


def claude_binary() -> Path:
    for path in _CANDIDATES:
        if path.exists() and os.access(path, os.X_OK):
            return path
    # Fail, never skip: a missing client would silently hide the whole suite.
    raise RuntimeError(
        "Claude Code not found under tests/e2e/node_modules; run `bash scripts/install_codex.sh` "
        "(needs node + npm and access to the npm registry)"
    )


@dataclass
class ClaudeRun:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def explain(self) -> str:
        return (
            f"claude exit {self.returncode} after {self.seconds:.1f}s\n"
            f"--- stdout ---\n{self.stdout[-3000:]}\n--- stderr ---\n{self.stderr[-5000:]}"
        )


def run_claude(
    prompt: str,
    *,
    base_url: str,
    token: str,
    home: Path,
    workdir: Path,
    model: str = "claude-sonnet-4-5",
    extra_env: dict[str, str] | None = None,
    timeout: float = RUN_TIMEOUT_S,
) -> ClaudeRun:
    """``claude -p`` with a private HOME, pointed at GodeX, run inside ``workdir``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANTHROPIC_", "CLAUDE_", "OPENAI_", "CODEX_"))
    }
    env.update(
        HOME=str(home),
        CLAUDE_CONFIG_DIR=str(home / ".claude"),
        ANTHROPIC_BASE_URL=base_url,
        ANTHROPIC_AUTH_TOKEN=token,
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_AUTOUPDATER="1",
        NO_COLOR="1",
        **(extra_env or {}),
    )
    cmd = [
        str(claude_binary()),
        "-p",
        "--model",
        model,
        "--allowedTools",
        "Write,Edit,Bash,Read",
        "--permission-mode",
        "acceptEdits",
        prompt,
    ]
    start = time.monotonic()
    try:
        proc = subprocess.run(
            cmd,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        code, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        code, stdout, stderr = TIMED_OUT, _text(exc.stdout), _text(exc.stderr)
    return ClaudeRun(code, stdout, stderr, time.monotonic() - start)


def _text(data: str | bytes | None) -> str:
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return data or ""
