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
class Socket:
    """One WebSocket connection: the upgrade's answer, then every message each way, parsed."""

    headers: dict[str, str]
    accepted: bool = False
    denied_status: int | None = None
    received: list[dict[str, Any]] = field(default_factory=list)  # client events
    sent: list[dict[str, Any]] = field(default_factory=list)  # server events
    close_code: int | None = None

    def creates(self) -> list[dict[str, Any]]:
        return [m for m in self.received if m.get("type") == "response.create"]

    def turns(self) -> list[list[dict[str, Any]]]:
        """The events sent, split after each terminal event (or an error that opens a turn)."""
        out: list[list[dict[str, Any]]] = [[]]
        for ev in self.sent:
            out[-1].append(ev)
            if ev.get("type") in TERMINAL or (ev.get("type") == "error" and len(out[-1]) == 1):
                out.append([])
        return [t for t in out if t]


TERMINAL = frozenset({"response.completed", "response.failed", "response.incomplete"})


@dataclass
class GatewayLog:
    exchanges: list[Exchange] = field(default_factory=list)
    sockets: list[Socket] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self._lock:
            self.exchanges.clear()
            self.sockets.clear()

    def snapshot(self) -> list[Exchange]:
        with self._lock:
            return list(self.exchanges)

    def websocket_attempts(self) -> list[Exchange]:
        return [e for e in self.snapshot() if e.is_websocket_upgrade]

    def posts(self, path: str = "/v1/responses") -> list[Exchange]:
        return [e for e in self.snapshot() if e.method == "POST" and e.path == path]

    def accepted_sockets(self) -> list[Socket]:
        with self._lock:
            return [s for s in self.sockets if s.accepted]

    def _websocket(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> Any:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        sock = Socket(headers)
        with self._lock:
            self.sockets.append(sock)

        async def rec_receive() -> Message:
            message = await receive()
            if message["type"] == "websocket.receive" and message.get("text"):
                sock.received.append(json.loads(message["text"]))
            return message

        async def rec_send(message: Message) -> None:
            kind = message["type"]
            if kind == "websocket.accept":
                sock.accepted = True
            elif kind == "websocket.send" and message.get("text"):
                sock.sent.append(json.loads(message["text"]))
            elif kind == "websocket.http.response.start":
                sock.denied_status = message["status"]
            elif kind == "websocket.close":
                sock.close_code = message.get("code")
            await send(message)

        return app(scope, rec_receive, rec_send)

    def wrap(self, app: ASGIApp) -> ASGIApp:
        async def recorded(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "websocket":
                await self._websocket(app, scope, receive, send)
                return
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
