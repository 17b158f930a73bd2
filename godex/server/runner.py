"""Start the server: uvicorn with uvloop + httptools, one or several worker processes.

Shutdown on SIGINT/SIGTERM is uvicorn's graceful one: stop accepting, let in-flight requests
finish (up to server.shutdown_timeout_s), then the lifespan shutdown flushes traces and closes
the session store.
"""

from __future__ import annotations

import base64
import os
import pickle
import signal
from typing import Any

import uvicorn

from godex.config.schema import GodexConfig
from godex.logging import configure_logging, get_logger
from godex.server.app import GodexApp
from godex.server.protocol import GodexHttpToolsProtocol
from godex.server.state import build_state, load_secret

_ENV_CONFIG = "GODEX_RESOLVED_CONFIG"


def create_app(config: GodexConfig) -> GodexApp:
    return GodexApp(build_state(config))


def create_app_from_env() -> GodexApp:
    """Factory for worker processes: the parent hands its resolved config over the env."""
    config: GodexConfig = pickle.loads(base64.b64decode(os.environ[_ENV_CONFIG]))
    configure_logging(config.logging)
    return create_app(config)


def _uvicorn_options(config: GodexConfig) -> dict[str, Any]:
    return {
        "host": config.server.host,
        "port": config.server.port,
        "loop": "uvloop",
        # httptools, with OpenAI-shaped bodies for the 400s the HTTP parser gives itself.
        "http": GodexHttpToolsProtocol,
        # No WebSocket implementation: an upgrade request reaches the app as plain HTTP and
        # gets the fast 426 that makes Codex fall back to HTTPS.
        "ws": "none",
        "lifespan": "on",
        "access_log": False,
        "log_config": None,
        "server_header": False,
        "proxy_headers": False,  # no proxy in front by default; saves a middleware per request
        "timeout_graceful_shutdown": config.server.shutdown_timeout_s,
        "timeout_keep_alive": 75,
        "backlog": 4096,
    }


def _exit_cleanly(signum: int, frame: object) -> None:
    # uvicorn re-raises the signal that stopped it once shutdown is complete; by then every
    # in-flight request has finished and traces are flushed, so that is a clean exit.
    raise SystemExit(0)


def serve(config: GodexConfig, warnings: list[str] | None = None) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _exit_cleanly)
    configure_logging(config.logging)
    log = get_logger("godex")
    for warning in warnings or []:
        log.warning("config_warning", detail=warning)
    options = _uvicorn_options(config)
    workers = max(1, config.server.workers)
    if workers > 1 and config.session.enabled and config.session.backend == "memory":
        # Each process would hold its own sessions: a chain could land on the wrong one.
        log.warning(
            "memory_sessions_with_workers",
            detail="session.backend memory is per process; use sqlite with --workers > 1",
        )
    log.info(
        "starting",
        host=config.server.host,
        port=config.server.port,
        workers=workers,
        config=config.source or "built-in default",
    )
    if workers == 1:
        uvicorn.Server(uvicorn.Config(create_app(config), **options)).run()
        return
    # Make the shared secret before forking so every worker reads the same file.
    load_secret(config)
    os.environ[_ENV_CONFIG] = base64.b64encode(pickle.dumps(config)).decode()
    uvicorn.run("godex.server.runner:create_app_from_env", factory=True, workers=workers, **options)
