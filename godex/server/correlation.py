"""Request ids and W3C trace context from the client, validated before they are trusted.

An incoming ``x-request-id`` becomes the request's id (logs, traces, the response header, the
upstream call) when it is short and made of safe characters; anything else is ignored and the
gateway makes its own. An incoming ``traceparent`` keeps its trace id: the upstream call gets
the same trace id with the gateway's own span as its parent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from godex.ids import random_hex

MAX_REQUEST_ID = 128
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:@/+=-]{1,%d}" % MAX_REQUEST_ID)
# version 00: 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>; ids not all zero.
_TRACEPARENT = re.compile(rb"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")


def request_id_from(raw: bytes | None) -> str | None:
    """The client's request id if it is safe to log and echo, else None."""
    if raw is None:
        return None
    raw = raw.strip()
    return raw.decode("ascii") if _REQUEST_ID.fullmatch(raw) else None


@dataclass(frozen=True, slots=True)
class TraceParent:
    trace_id: str  # 32 hex
    parent_id: str  # 16 hex: the caller's span
    sampled: bool

    def child(self, span_id: str) -> str:
        """The header for a call made from ``span_id`` in this trace."""
        return f"00-{self.trace_id}-{span_id}-{'01' if self.sampled else '00'}"


@dataclass(frozen=True, slots=True)
class SpanIds:
    """The request's span: its trace, its own id, and the caller's span (None: a root)."""

    trace_id: str
    span_id: str
    parent_id: str | None
    sampled: bool = True


def traceparent_from(raw: bytes | None) -> TraceParent | None:
    """A valid W3C ``traceparent``, else None (then the gateway starts a trace of its own)."""
    if raw is None or len(raw) > 512:
        return None
    m = _TRACEPARENT.fullmatch(raw.strip().lower())
    if m is None:
        return None
    version, trace_id, parent_id, flags, rest = (g.decode() if g else "" for g in m.groups())
    # ff is forbidden; version 00 has exactly four fields; later versions may append more.
    if version == "ff" or (version == "00" and rest):
        return None
    if trace_id == "0" * 32 or parent_id == "0" * 16:
        return None
    return TraceParent(trace_id, parent_id, bool(int(flags, 16) & 1))


def new_trace_id() -> str:
    # From the bulk id buffer: a system call per request here cost ~3% of a short request.
    return random_hex(16)


def new_span_id() -> str:
    return random_hex(8)
