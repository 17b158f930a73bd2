"""Optional OpenTelemetry export: one span per request, a child span per upstream attempt.

Spans follow the OpenTelemetry GenAI semantic conventions (``gen_ai.operation.name``,
``gen_ai.provider.name`` and the older ``gen_ai.system``, request and response model, token
usage, finish reasons). They are built when the request has finished, from what its
``RequestContext`` gathered, so the hot path pays nothing while a request runs. The request
span keeps the ids the server already sent upstream in ``traceparent``, so an upstream that
traces too joins the same trace.

The SDK and the OTLP/HTTP exporter are the optional extra ``otel``; without
``telemetry.otlp_endpoint`` nothing is imported.
"""

from __future__ import annotations

import time
from typing import Any

from godex.config.schema import TelemetryConfig
from godex.errors import ConfigError
from godex.gateway.context import RequestContext

# What a response's status says about why the model stopped (conventional values).
_FINISH = {"completed": "stop", "incomplete": "length", "failed": "error", "cancelled": "cancel"}


class NoTelemetry:
    enabled = False

    def record(
        self,
        ctx: RequestContext,
        trace_id: str,
        span_id: str,
        parent_id: str | None,
        sampled: bool,
    ) -> None:
        return None

    def force_flush(self) -> None:
        return None

    def shutdown(self) -> None:
        return None


def make_telemetry(cfg: TelemetryConfig) -> NoTelemetry | OtlpTelemetry:
    if not cfg.otlp_endpoint:
        return NoTelemetry()
    return OtlpTelemetry(cfg.otlp_endpoint, cfg.service_name)


def traces_url(endpoint: str) -> str:
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else endpoint + "/v1/traces"


class OtlpTelemetry:
    enabled = True

    def __init__(self, endpoint: str, service_name: str) -> None:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
            from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
        except ImportError as exc:
            raise ConfigError(
                "telemetry.otlp_endpoint is set, but the OpenTelemetry SDK is not installed: "
                "pip install 'godex[otel]'",
                code="config.telemetry_unavailable",
            ) from exc

        class ChosenIds(RandomIdGenerator):
            """Ids the server already put in ``traceparent``; random when none is chosen."""

            def __init__(self) -> None:
                self.span: int | None = None
                self.trace: int | None = None

            def generate_span_id(self) -> int:
                value, self.span = self.span, None
                return value if value is not None else super().generate_span_id()

            def generate_trace_id(self) -> int:
                value, self.trace = self.trace, None
                return value if value is not None else super().generate_trace_id()

        self._ids = ChosenIds()
        self._provider = TracerProvider(
            resource=Resource.create({"service.name": service_name}), id_generator=self._ids
        )
        self._provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url(endpoint)))
        )
        self._tracer = self._provider.get_tracer("godex")

    def record(
        self,
        ctx: RequestContext,
        trace_id: str,
        span_id: str,
        parent_id: str | None,
        sampled: bool,
    ) -> None:
        """Export the finished request (called once, on the event loop, when it has ended)."""
        from opentelemetry import trace as api

        now_ns, now_perf = time.time_ns(), time.perf_counter()

        def wall(perf: float) -> int:
            return now_ns - int((now_perf - perf) * 1e9)

        start_ns = wall(ctx.t0)
        parent = None
        if parent_id is not None:
            remote = api.SpanContext(
                int(trace_id, 16),
                int(parent_id, 16),
                is_remote=True,
                trace_flags=api.TraceFlags(api.TraceFlags.SAMPLED if sampled else 0),
            )
            parent = api.set_span_in_context(api.NonRecordingSpan(remote))
        else:
            self._ids.trace = int(trace_id, 16)
        self._ids.span = int(span_id, 16)
        model = ctx.requested_model or ""
        span = self._tracer.start_span(
            f"{ctx.method} {ctx.route}" if not model else f"chat {model}",
            context=parent,
            kind=api.SpanKind.SERVER,
            start_time=start_ns,
            attributes=_request_attributes(ctx),
        )
        self._ids.span = self._ids.trace = None
        if ctx.error_code:
            span.set_status(api.Status(api.StatusCode.ERROR, ctx.error_code))
        inside = api.set_span_in_context(span)
        last_start = wall(ctx.t_upstream) if ctx.t_upstream is not None else start_ns
        for attempt, (a_start, a_end) in zip(
            ctx.attempts, _attempt_times(ctx.attempts, last_start, start_ns), strict=True
        ):
            child = self._tracer.start_span(
                f"chat {attempt.get('model', '')}",
                context=inside,
                kind=api.SpanKind.CLIENT,
                start_time=a_start,
                attributes=_attempt_attributes(attempt),
            )
            if attempt.get("outcome") not in ("served", None):
                child.set_status(api.Status(api.StatusCode.ERROR, str(attempt.get("outcome"))))
            child.end(end_time=a_end)
        span.end(end_time=now_ns)

    def force_flush(self) -> None:
        self._provider.force_flush()

    def shutdown(self) -> None:
        self._provider.shutdown()


def _request_attributes(ctx: RequestContext) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "http.request.method": ctx.method,
        "url.path": ctx.path,
        "http.response.status_code": ctx.http_status,
        "godex.request_id": ctx.request_id,
        "godex.route": ctx.route,
    }
    if ctx.requested_model:
        attrs["gen_ai.operation.name"] = "chat"
        attrs["gen_ai.request.model"] = ctx.requested_model
    if ctx.provider:
        # gen_ai.provider.name replaced gen_ai.system in the conventions after v1.36; both
        # are sent so backends on either version see it.
        attrs["gen_ai.provider.name"] = ctx.provider
        attrs["gen_ai.system"] = ctx.provider
    if ctx.upstream_model:
        attrs["gen_ai.response.model"] = ctx.upstream_model
    if ctx.response_id:
        attrs["gen_ai.response.id"] = ctx.response_id
    usage = ctx.usage or {}
    if usage:
        attrs["gen_ai.usage.input_tokens"] = int(usage.get("input_tokens") or 0)
        attrs["gen_ai.usage.output_tokens"] = int(usage.get("output_tokens") or 0)
    if ctx.requested_model and ctx.status in _FINISH:
        attrs["gen_ai.response.finish_reasons"] = [_FINISH[ctx.status]]
    if ctx.error_code:
        attrs["error.type"] = ctx.error_code
    return attrs


def _attempt_attributes(attempt: dict[str, Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": str(attempt.get("provider", "")),
        "gen_ai.system": str(attempt.get("provider", "")),
        "gen_ai.request.model": str(attempt.get("model", "")),
        "godex.attempt.outcome": str(attempt.get("outcome", "")),
    }
    code = attempt.get("code")
    if code:
        attrs["error.type"] = str(code)
    return attrs


def _attempt_times(
    attempts: list[dict[str, Any]], last_start: int, floor: int
) -> list[tuple[int, int]]:
    """(start, end) per attempt. Only durations are recorded, and attempts run one after
    another: the last starts when the last upstream call was sent, earlier ones end there."""
    times: list[tuple[int, int]] = []
    cursor = last_start
    for i, attempt in enumerate(reversed(attempts)):
        duration = int(float(attempt.get("duration_ms") or 0) * 1e6)
        if i == 0:
            start, end = cursor, cursor + duration
        else:
            start, end = max(floor, cursor - duration), cursor
        cursor = start
        times.append((start, end))
    return list(reversed(times))
