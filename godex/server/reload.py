"""Reload without restart: re-read the config, validate it, and hand the app a new one.

``ConfigSource`` remembers where the running config came from (the file, and the command-line
flags that won over it) so a reload reads it the same way. The pid file lets ``godex reload``
find the server to signal (SIGHUP); with ``--workers N`` the parent forwards it to each worker.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, fields, replace
from pathlib import Path

from godex.config.loader import LoadResult, apply_overrides, load
from godex.config.schema import GodexConfig

PID_FILE = "godex.pid"
# Sections a running server cannot take over: sockets, files and threads are already open.
RESTART_ONLY = ("session", "trace", "logging", "telemetry")
RESTART_ONLY_SERVER = ("host", "port", "workers", "data_dir", "secret", "websocket")


@dataclass(frozen=True, slots=True)
class ConfigSource:
    path: str | None  # the file the server started from; None: the built-in default
    host: str | None = None
    port: int | None = None
    log_level: str | None = None
    workers: int | None = None

    def load(self) -> LoadResult:
        """The config as ``serve`` would read it now; ``ConfigProblems`` if it is invalid."""
        result = load(self.path)
        config = apply_overrides(
            result.config, self.host, self.port, self.log_level, workers=self.workers
        )
        return replace(result, config=config)


def needs_restart(old: GodexConfig, new: GodexConfig) -> list[str]:
    """Keys that changed but only take effect after a restart."""
    changed = [name for name in RESTART_ONLY if getattr(old, name) != getattr(new, name)]
    server_fields = {f.name for f in fields(old.server)}
    changed += [
        f"server.{name}"
        for name in RESTART_ONLY_SERVER
        if name in server_fields and getattr(old.server, name) != getattr(new.server, name)
    ]
    return changed


def keep_restart_only(old: GodexConfig, new: GodexConfig) -> GodexConfig:
    """``new`` with the restart-only keys as the running server has them."""
    server = replace(
        new.server,
        **{
            name: getattr(old.server, name)
            for name in RESTART_ONLY_SERVER
            if name in {f.name for f in fields(old.server)}
        },
    )
    kept = {name: getattr(old, name) for name in RESTART_ONLY}
    return replace(new, server=server, **kept)


def pid_path(config: GodexConfig) -> Path:
    return Path(config.server.data_dir) / PID_FILE


def write_pid(config: GodexConfig) -> Path:
    path = pid_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{os.getpid()}\n", encoding="utf-8")
    return path


def remove_pid(path: Path) -> None:
    try:
        if path.read_text(encoding="utf-8").strip() == str(os.getpid()):
            path.unlink()
    except OSError:
        pass


def signal_server(config: GodexConfig) -> int:
    """Send SIGHUP to the server whose pid file is under ``config``'s data_dir; its pid.

    Raises ``LookupError`` (with a message for the user) if no server is running there.
    """
    path = pid_path(config)
    try:
        pid = int(path.read_text(encoding="utf-8").strip())
    except FileNotFoundError as exc:
        raise LookupError(f"no pid file at {path}: is godex serve running here?") from exc
    except (OSError, ValueError) as exc:
        raise LookupError(f"cannot read the pid file {path}: {exc}") from exc
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError as exc:
        raise LookupError(f"no process {pid} (stale pid file {path})") from exc
    return pid
