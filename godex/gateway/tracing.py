"""One finished request → one trace row (queued; the recorder writes it off the loop)."""

from __future__ import annotations

from typing import Any

from godex.gateway.context import RequestContext
from godex.trace.record import TraceRecord

TRACED_ROUTES = frozenset(
    {"responses.create", "responses.compact", "messages.create", "chat.completions"}
)


def trace_record(ctx: RequestContext, duration_s: float) -> TraceRecord:
    usage: dict[str, Any] = ctx.usage or {}
    return TraceRecord(
        request_id=ctx.request_id,
        ts=ctx.ts,
        route=ctx.route,
        method=ctx.method,
        http_status=ctx.http_status,
        client_key_id=ctx.client_key_id,
        requested_model=ctx.requested_model,
        provider=ctx.provider,
        upstream_model=ctx.upstream_model,
        stream=ctx.stream,
        status=ctx.status,
        error_code=ctx.error_code,
        error_message=ctx.error_message,
        upstream_message=ctx.upstream_message,
        duration_ms=duration_s * 1000,
        upstream_first_byte_ms=ctx.ms_since_start(ctx.t_upstream_first_byte),
        first_client_byte_ms=ctx.ms_since_start(ctx.t_first_client_byte),
        input_tokens=int(usage.get("input_tokens") or 0),
        cached_tokens=int((usage.get("input_tokens_details") or {}).get("cached_tokens") or 0),
        output_tokens=int(usage.get("output_tokens") or 0),
        reasoning_tokens=int(
            (usage.get("output_tokens_details") or {}).get("reasoning_tokens") or 0
        ),
        total_tokens=int(usage.get("total_tokens") or 0),
        event_count=ctx.event_count,
        terminal_event=ctx.terminal_event,
        diagnostics=ctx.diagnostics,
        request_payload=ctx.request_payload,
        response_payload=ctx.response_payload,
        response_id=ctx.response_id,
        attempts=ctx.attempts,
        team=ctx.team,
        cost_usd=ctx.cost_usd or 0.0,
    )
