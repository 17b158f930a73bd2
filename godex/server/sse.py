"""Responses SSE framing, the HTTP encoding of gateway events: ``event: <type>\\ndata: <json>``."""

from __future__ import annotations

from typing import Any

import msgspec

_encode = msgspec.json.Encoder().encode


# ``event: <type>\ndata: `` per event type. The types are the encoders' own (a few dozen),
# never a client's; one join of cached pieces costs a quarter less than growing a bytearray.
_PREFIXES: dict[str, bytes] = {}


def encode_events(events: list[dict[str, Any]]) -> bytes:
    parts: list[bytes] = []
    for event in events:
        kind = event["type"]
        prefix = _PREFIXES.get(kind)
        if prefix is None:
            prefix = _PREFIXES[kind] = b"event: " + kind.encode() + b"\ndata: "
        parts += (prefix, _encode(event), b"\n\n")
    return b"".join(parts)


def encode_data_events(events: list[dict[str, Any]]) -> bytes:
    """Chat Completions framing: ``data: <json>`` only, no event names."""
    parts: list[bytes] = []
    for event in events:
        parts += (b"data: ", _encode(event), b"\n\n")
    return b"".join(parts)
