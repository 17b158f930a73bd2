"""Calls to the gateway's own admin API (`/admin/keys`, issue 16) on behalf of a session.

The request goes through the app in-process, as an ASGI call carrying the admin key the
session logged in with, so the admin API's own checks and audit apply unchanged. Where that
API does not exist yet the app answers 404 and the dashboard shows the keys read-only.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from godex.server.http import Message, Receive, Scope, Send
from godex.server.ui.auth import Session


class _Callable(Protocol):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...


async def call_admin(
    app: _Callable, method: str, path: str, body: bytes, session: Session
) -> tuple[int, Any]:
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [
            (b"authorization", b"Bearer " + session.admin_key.encode()),
            (b"content-type", b"application/json"),
        ],
        "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", 0),
    }
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    status = 500
    chunks: list[bytes] = []

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    raw = b"".join(chunks)
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, {"error": {"message": "the admin API answered with something not JSON"}}
