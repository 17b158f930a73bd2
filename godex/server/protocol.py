"""uvicorn's httptools protocol with an OpenAI-shaped body for HTTP-level 400s, writing through
a corked transport (``server/cork.py``: one send per loop pass, not one per ASGI message).

Requests the HTTP parser rejects (bad request line, bad chunked framing, a CR inside a header
value ...) never reach the app; uvicorn answers them with plain text. Clients parse every error
body as ``{"error": {...}}``, so this class answers those in the same shape as the app's own.
"""

from __future__ import annotations

import asyncio

import msgspec
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from godex.server.cork import CorkedTransport

_MESSAGE = "Invalid HTTP request received: the request could not be parsed."
_BODY = msgspec.json.encode(
    {
        "error": {
            "message": _MESSAGE,
            "type": "invalid_request_error",
            "param": None,
            "code": "server.bad_http_request",
            "godex_code": "server.bad_http_request",
        }
    }
)


class GodexHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        # Every write of the connection (responses, uvicorn's own errors and closes, and a
        # WebSocket upgraded from it) goes through the cork, so their order is kept.
        super().connection_made(CorkedTransport(transport, self.loop))

    def send_400_response(self, msg: str) -> None:
        content = [STATUS_LINE[400]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: application/json\r\n",
                b"content-length: " + str(len(_BODY)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                _BODY,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()
