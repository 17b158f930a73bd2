"""Run the real GodeX server on a free loopback port inside the test process."""

from __future__ import annotations

import dataclasses
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from godex.config.schema import (
    GodexConfig,
    LogConsoleConfig,
    LoggingConfig,
    ModelsConfig,
    ProviderConfig,
    ServerConfig,
    SessionConfig,
    TraceConfig,
)
from godex.server.app import GodexApp
from godex.server.runner import _uvicorn_options, create_app


def provider(name: str, spec: str, base_url: str, **kw: Any) -> ProviderConfig:
    return ProviderConfig(
        name=name,
        spec=spec,
        api_key=kw.pop("api_key", "sk-upstream-secret"),
        base_url=base_url,
        **kw,
    )


def make_config(
    tmp: Path,
    providers: list[ProviderConfig],
    *,
    aliases: dict[str, str] | None = None,
    default_provider: str | None = None,
    session: SessionConfig | None = None,
    trace: TraceConfig | None = None,
    server: dict[str, Any] | None = None,
) -> GodexConfig:
    return GodexConfig(
        server=ServerConfig(host="127.0.0.1", port=0, data_dir=str(tmp / "data"), **(server or {})),
        default_provider=default_provider or providers[0].name,
        models=ModelsConfig(aliases=aliases or {}),
        providers={p.name: p for p in providers},
        session=session or SessionConfig(backend="memory"),
        trace=trace or TraceConfig(enabled=False, path=str(tmp / "trace.db")),
        logging=LoggingConfig(level="warning", console=LogConsoleConfig(enabled=False)),
    )


class ConformanceCheck:
    """ASGI wrapper: every Response and stream event the gateway sends on /v1/responses is
    checked against the Open Responses schemas; problems are collected, and the gateway
    context fails the test that produced them."""

    def __init__(self, app: GodexApp) -> None:
        self.app = app
        self.problems: list[str] = []
        self.checked = 0

    @property
    def state(self) -> Any:
        return self.app.state

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        method = scope.get("method", "")
        watched = (path == "/v1/responses" and method == "POST") or (
            path.startswith("/v1/responses/")
            and method == "GET"
            and path.count("/") == 3
            and not path.endswith("/compact")
        )
        if not watched:
            await self.app(scope, receive, send)
            return
        status = 0
        kind = b""
        buf = bytearray()

        async def checking_send(message: Any) -> None:
            nonlocal status, kind
            if message["type"] == "http.response.start":
                status = message["status"]
                kind = dict(message.get("headers") or []).get(b"content-type", b"")
            elif message["type"] == "http.response.body" and status == 200:
                buf.extend(message.get("body", b""))
                if not message.get("more_body"):
                    self._check(kind, bytes(buf), path)
            await send(message)

        await self.app(scope, receive, checking_send)

    def _check(self, kind: bytes, body: bytes, path: str) -> None:
        import json

        from tests.support.open_responses import event_problems, response_problems

        if kind.startswith(b"text/event-stream"):
            for block in body.decode().split("\n\n"):
                for line in block.splitlines():
                    if line.startswith("data:"):
                        self.checked += 1
                        found = event_problems(json.loads(line[5:]))
                        self.problems += [f"{path}: {p}" for p in found]
        elif kind.startswith(b"application/json"):
            self.checked += 1
            self.problems += [f"{path}: {p}" for p in response_problems(json.loads(body))]


@dataclasses.dataclass
class RunningGateway:
    app: GodexApp
    server: uvicorn.Server
    port: int
    conformance: ConformanceCheck | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def v1(self) -> str:
        return self.base_url + "/v1"


@contextmanager
def run_gateway(
    config: GodexConfig, *, keepalive_s: float | None = None
) -> Iterator[RunningGateway]:
    app = create_app(config)
    if keepalive_s is not None:
        app.state.services.keepalive_s = keepalive_s
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    options = _uvicorn_options(config)
    options["port"] = port
    check = ConformanceCheck(app)
    server = uvicorn.Server(uvicorn.Config(check, **options))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    started = threading.Event()

    # uvicorn flips `started` from its own loop; poll it with a bounded wait.
    for _ in range(500):
        if server.started:
            started.set()
            break
        if not thread.is_alive():
            break
        threading.Event().wait(0.01)
    if not started.is_set():
        raise RuntimeError("gateway did not start")
    try:
        yield RunningGateway(app, server, port, check)
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
    assert not check.problems, "Open Responses conformance:\n" + "\n".join(check.problems[:20])
