"""Per-request facts gathered along the way, for the access log, traces and metrics."""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

# The owner scope of the request being served ("team:<t>" / "key:<name>"; None: all records, for
# admin keys or with client keys off). Set once by the server's auth step (and per WebSocket
# turn); the store reads and writes of the turn take it from here, so no step can forget it.
OWNER: ContextVar[str | None] = ContextVar("godex_owner", default=None)


@dataclass(slots=True)
class RequestContext:
    request_id: str
    method: str
    path: str
    route: str
    t0: float = field(default_factory=time.perf_counter)
    ts: float = field(default_factory=time.time)
    client_key_id: str | None = None  # the key's NAME (never the key): traces record it
    key_name: str | None = None
    team: str | None = None
    owner: str | None = None  # the scope stored records get (see OWNER)
    requested_model: str | None = None
    provider: str | None = None
    upstream_model: str | None = None
    stream: bool = False
    status: str = "completed"
    http_status: int = 200
    error_code: str | None = None
    error_message: str | None = None
    upstream_message: str | None = None
    t_upstream: float | None = None  # when the upstream request was sent
    deadline: float | None = None  # loop time by which the upstream exchange must end
    t_upstream_first_byte: float | None = None
    t_first_client_byte: float | None = None
    usage: dict[str, Any] | None = None
    cost_usd: float | None = None  # from the price book, when the turn ends
    event_count: int = 0
    terminal_event: str | None = None
    diagnostics: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)  # upstream calls, in order
    request_payload: bytes | None = None
    response_payload: bytes | None = None
    response_id: str | None = None

    def ms_since_start(self, t: float | None) -> float | None:
        return None if t is None else (t - self.t0) * 1000.0
