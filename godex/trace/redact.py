"""Payload capture: secrets out, size bounded."""

from __future__ import annotations

import re

_JSON_SECRET = re.compile(
    rb'("(?:api[_-]?key|authorization|x-api-key|password|secret|token|access_token)"\s*:\s*")'
    rb'[^"]*(")',
    re.I,
)
_BEARER = re.compile(rb"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.I)
_SK = re.compile(rb"\bsk-[A-Za-z0-9_-]{6,}")
MARK = b"[REDACTED]"


def redact_payload(data: bytes) -> bytes:
    data = _JSON_SECRET.sub(rb"\1" + MARK + rb"\2", data)
    data = _BEARER.sub(rb"\1" + MARK, data)
    return _SK.sub(MARK, data)


def truncate(data: bytes, limit: int) -> bytes:
    if len(data) <= limit:
        return data
    cut = len(data) - limit
    return data[:limit] + f"…[truncated {cut} bytes]".encode()


def capture(data: bytes | None, limit: int) -> bytes | None:
    return None if data is None else truncate(redact_payload(data), limit)
