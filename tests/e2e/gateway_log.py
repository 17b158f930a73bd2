"""Record every HTTP exchange that reaches a running GodeX, from outside GodeX.

uvicorn hands each new connection ``config.loaded_app``; swapping in a recording wrapper after
start-up therefore sees every later connection without touching GodeX's own code. Codex opens
fresh connections, so nothing it sends is missed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from tests.support.gateway import RunningGateway

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass
class Exchange:
    method: str
    path: str
    headers: dict[str, str]
    request: bytes = b""
    status: int | None = None
    response: bytes = b""

    @property
    def is_websocket_upgrade(self) -> bool:
        return self.method == "GET" and self.headers.get("upgrade", "").lower() == "websocket"

    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.request)) if self.request else {}

    def sse_events(self) -> list[dict[str, Any]]:
        """The ``data:`` payloads of an SSE response, parsed."""
        events = []
        for line in self.response.decode(errors="replace").splitlines():
            if line.startswith("data:") and line[5:].strip() not in ("", "[DONE]"):
                events.append(json.loads(line[5:]))
        return events


@dataclass
class GatewayLog:
    exchanges: list[Exchange] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self._lock:
            self.exchanges.clear()

    def snapshot(self) -> list[Exchange]:
        with self._lock:
            return list(self.exchanges)

    def websocket_attempts(self) -> list[Exchange]:
        return [e for e in self.snapshot() if e.is_websocket_upgrade]

    def posts(self, path: str = "/v1/responses") -> list[Exchange]:
        return [e for e in self.snapshot() if e.method == "POST" and e.path == path]

    def wrap(self, app: ASGIApp) -> ASGIApp:
        async def recorded(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            headers = {
                k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
            }
            ex = Exchange(scope["method"], scope["path"], headers)
            with self._lock:
                self.exchanges.append(ex)

            async def rec_receive() -> Message:
                message = await receive()
                if message["type"] == "http.request":
                    ex.request += message.get("body", b"")
                return message

            async def rec_send(message: Message) -> None:
                if message["type"] == "http.response.start":
                    ex.status = message["status"]
                elif message["type"] == "http.response.body":
                    ex.response += message.get("body", b"")
                await send(message)

            await app(scope, rec_receive, rec_send)

        return recorded


def attach(gateway: RunningGateway) -> GatewayLog:
    log = GatewayLog()
    config = gateway.server.config
    config.loaded_app = log.wrap(config.loaded_app)
    return log
