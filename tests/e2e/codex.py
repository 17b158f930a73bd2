"""Find and run the pinned Codex CLI (installed by scripts/install_codex.sh)."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
_MODULES = HERE / "node_modules"
_CANDIDATES = (
    _MODULES / "@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex",
    _MODULES / ".bin/codex",
)
EXEC_TIMEOUT_S = 60.0
TIMED_OUT = -999  # returncode recorded when codex had to be killed


def codex_binary() -> Path:
    for path in _CANDIDATES:
        if path.exists() and os.access(path, os.X_OK):
            return path
    # Fail, never skip: a missing client would silently hide the whole suite.
    raise RuntimeError(
        "Codex CLI not found under tests/e2e/node_modules; run `bash scripts/install_codex.sh` "
        "(needs node + npm and access to the npm registry)"
    )


@dataclass
class CodexRun:
    returncode: int
    stdout: str
    stderr: str
    last_message: str
    seconds: float

    def explain(self) -> str:
        return (
            f"codex exit {self.returncode} after {self.seconds:.1f}s\n"
            f"--- stdout ---\n{self.stdout[-3000:]}\n--- stderr ---\n{self.stderr[-5000:]}"
        )


def run_codex(
    args: list[str],
    *,
    home: Path,
    workdir: Path,
    env: dict[str, str] | None = None,
    timeout: float = EXEC_TIMEOUT_S,
) -> CodexRun:
    """``codex exec`` with a private CODEX_HOME, run inside ``workdir``, stdin closed."""
    out_file = home / "last_message.txt"
    out_file.unlink(missing_ok=True)
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CODEX_", "RUST_"))
    }
    full_env.update(CODEX_HOME=str(home), NO_COLOR="1", **(env or {}))
    cmd = [
        str(codex_binary()),
        "exec",
        "--skip-git-repo-check",
        "--dangerously-bypass-approvals-and-sandbox",
        "--ephemeral",
        "-C",
        str(workdir),
        "-o",
        str(out_file),
        *args,
    ]
    start = time.monotonic()
    try:
        proc = subprocess.run(
            cmd,
            cwd=workdir,
            env=full_env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        code, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        # subprocess killed it; keep what it printed so the failure explains itself.
        code, stdout, stderr = TIMED_OUT, _text(exc.stdout), _text(exc.stderr)
    last = out_file.read_text() if out_file.exists() else ""
    return CodexRun(code, stdout, stderr, last, time.monotonic() - start)


def _text(data: str | bytes | None) -> str:
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return data or ""
