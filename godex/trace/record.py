"""One request as the trace database records it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class TraceRecord:
    request_id: str
    ts: float
    route: str
    method: str
    http_status: int
    client_key_id: str | None
    requested_model: str | None
    provider: str | None
    upstream_model: str | None
    stream: bool
    status: str
    error_code: str | None
    error_message: str | None
    upstream_message: str | None
    duration_ms: float
    upstream_first_byte_ms: float | None
    first_client_byte_ms: float | None
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    total_tokens: int = 0
    event_count: int = 0
    terminal_event: str | None = None
    diagnostics: list[dict[str, Any]] = field(default_factory=list)
    request_payload: bytes | None = None
    response_payload: bytes | None = None
    response_id: str | None = None
    # Every upstream attempt: provider, model, outcome (served, retried, failed_over, skipped,
    # failed), status and code of a failure, duration.
    attempts: list[dict[str, Any]] = field(default_factory=list)
    team: str | None = None  # the client key's team (client_key_id holds its NAME)
    cost_usd: float = 0.0  # estimated from the configured prices
