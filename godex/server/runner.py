"""Start the server: uvicorn with uvloop + httptools, one or several worker processes.

Shutdown on SIGINT/SIGTERM is uvicorn's graceful one: stop accepting, let in-flight requests
finish (up to server.shutdown_timeout_s), then the lifespan shutdown flushes traces and closes
the session store.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import os
import pickle
import signal
import socket
from typing import Any

import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.supervisors import Multiprocess

from godex.config.schema import GodexConfig
from godex.errors import GodexError
from godex.gateway.wiring import load_secret
from godex.logging import configure_logging, get_logger
from godex.server.app import GodexApp
from godex.server.gc_tuning import tune_for_serving
from godex.server.metrics import multiproc_dir, remove_multiproc_dir
from godex.server.protocol import GodexHttpToolsProtocol
from godex.server.reload import ConfigSource, remove_pid, write_pid
from godex.server.state import build_state

_ENV_CONFIG = "GODEX_RESOLVED_CONFIG"


def create_app(config: GodexConfig, source: ConfigSource | None = None) -> GodexApp:
    return GodexApp(build_state(config), source=source)


def create_app_from_env() -> GodexApp:
    """Factory for worker processes: the parent hands its resolved config over the env."""
    config, source = pickle.loads(base64.b64decode(os.environ[_ENV_CONFIG]))
    # A SIGHUP forwarded before the app has installed its handler must not kill the worker
    # (the default action); the app's startup replaces this.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    configure_logging(config.logging)
    app = create_app(config, source)
    tune_for_serving()
    return app


class ForwardingMultiprocess(Multiprocess):
    """uvicorn's supervisor restarts every worker on SIGHUP, which cuts nothing but drops each
    worker's connection memory and re-reads the config from the parent's pickled copy. Each
    worker reloads itself instead: the parent only passes the signal on."""

    def handle_hup(self) -> None:
        for process in self.processes:
            if process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGHUP)


class DrainingWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn closes every socket (1012) the moment shutdown starts, which would cut a turn
    in flight with no terminal event. An open socket is told instead (``godex.drain``); the app
    closes it with 1012 once its turns have ended, or been ended by the drain (server/drain.py).
    uvicorn still waits at most the graceful-shutdown window for it."""

    def shutdown(self) -> None:
        live = self.handshake_complete and self.initial_response is None
        if live and not self.close_sent and not self.disconnected:
            drain: Any = {"type": "godex.drain"}  # our own message, not an ASGI one
            self.queue.put_nowait(drain)
            return
        super().shutdown()


def _uvicorn_options(config: GodexConfig) -> dict[str, Any]:
    server = config.server
    return {
        "host": config.server.host,
        "port": config.server.port,
        "loop": "uvloop",
        # httptools, with OpenAI-shaped bodies for the 400s the HTTP parser gives itself.
        "http": GodexHttpToolsProtocol,
        # server.websocket off: no WebSocket implementation, so an upgrade reaches the app as
        # plain HTTP and gets the fast 426 that makes Codex fall back to HTTPS.
        "ws": DrainingWebSocketProtocol if server.websocket else "none",
        "ws_max_size": 64 * 1024 * 1024,  # the HTTP body limit: a turn is a request body
        # uvicorn answers pings and sends its own every 20 s; a peer silent 20 s more is
        # dropped (1011), so a dead client does not hold its socket slot.
        # Events are small JSON and the socket is usually loopback or LAN (the upstream leg is
        # the long one): compressing each costs more than it saves (bench: about 4 ms per
        # 50-chunk turn on this machine).
        "ws_per_message_deflate": False,
        "ws_ping_interval": 20.0,
        "ws_ping_timeout": 20.0,
        "lifespan": "on",
        "access_log": False,
        "log_config": None,
        "server_header": False,
        "proxy_headers": False,  # no proxy in front by default; saves a middleware per request
        "timeout_graceful_shutdown": config.server.shutdown_timeout_s,
        "timeout_keep_alive": config.server.idle_timeout_s,
        "backlog": 4096,
    }


def _exit_cleanly(signum: int, frame: object) -> None:
    # uvicorn re-raises the signal that stopped it once shutdown is complete; by then every
    # in-flight request has finished and traces are flushed, so that is a clean exit.
    raise SystemExit(0)


class PortInUse(GodexError):
    status = 500
    code = "server.port_in_use"
    type = "server_error"


def check_port(host: str, port: int) -> None:
    """Fail before uvicorn starts if the address is taken: uvicorn would say so only after
    "Application startup complete", as a bare errno."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise PortInUse(
                    f"cannot listen on {host}:{port}: {exc.strerror}", code="server.cannot_bind"
                ) from exc
            raise PortInUse(
                f"port {port} on {host} is already in use (another godex?). Pick another "
                f"port: godex serve --port {port + 1 if port < 65535 else 5678}, "
                "or GODEX_PORT, or server.port in godex.yaml",
                code="server.port_in_use",
            ) from exc


def serve(
    config: GodexConfig, warnings: list[str] | None = None, source: ConfigSource | None = None
) -> None:
    check_port(config.server.host, config.server.port)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # until the app takes it over at startup
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _exit_cleanly)
    source = source or ConfigSource(config.source)
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
    pid_file = write_pid(config)  # `godex reload` finds us by it
    try:
        if workers == 1:
            server = uvicorn.Server(uvicorn.Config(create_app(config, source), **options))
            tune_for_serving()  # the serving process only: not the test suites' own
            server.run()
            return
        # Make the shared secret before forking so every worker reads the same file.
        load_secret(config)
        os.environ[_ENV_CONFIG] = base64.b64encode(pickle.dumps((config, source))).decode()
        uv_config = uvicorn.Config(
            "godex.server.runner:create_app_from_env", factory=True, workers=workers, **options
        )
        sock = uv_config.bind_socket()
        metrics_dir = multiproc_dir()  # before the workers start: they inherit it
        try:
            ForwardingMultiprocess(uv_config, sockets=[sock]).run()
        finally:
            remove_multiproc_dir(metrics_dir)
    finally:
        remove_pid(pid_file)
