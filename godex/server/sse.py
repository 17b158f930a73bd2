"""Responses SSE framing, the HTTP encoding of gateway events: ``event: <type>\\ndata: <json>``."""

from __future__ import annotations

from typing import Any

import msgspec

_encode = msgspec.json.Encoder().encode


def encode_events(events: list[dict[str, Any]]) -> bytes:
    out = bytearray()
    for event in events:
        out += b"event: "
        out += event["type"].encode()
        out += b"\ndata: "
        out += _encode(event)
        out += b"\n\n"
    return bytes(out)


def encode_data_events(events: list[dict[str, Any]]) -> bytes:
    """Chat Completions framing: ``data: <json>`` only, no event names."""
    out = bytearray()
    for event in events:
        out += b"data: "
        out += _encode(event)
        out += b"\n\n"
    return bytes(out)
