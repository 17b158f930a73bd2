"""Per-request facts gathered along the way, for the access log, traces and metrics."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class RequestContext:
    request_id: str
    method: str
    path: str
    route: str
    t0: float = field(default_factory=time.perf_counter)
    ts: float = field(default_factory=time.time)
    client_key_id: str | None = None
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
    event_count: int = 0
    terminal_event: str | None = None
    diagnostics: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)  # upstream calls, in order
    request_payload: bytes | None = None
    response_payload: bytes | None = None
    response_id: str | None = None

    def ms_since_start(self, t: float | None) -> float | None:
        return None if t is None else (t - self.t0) * 1000.0
