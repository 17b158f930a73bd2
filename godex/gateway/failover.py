"""Open the upstream exchange for a turn: retries per target, then the next target in the chain.

Everything here happens before the client has seen a byte. A target is skipped while its
breaker is open; a failure the request itself caused (a 4xx) is returned at once, never failed
over; a transient failure (connect, timeouts, 429, 5xx, an error inside a 200 before any output)
moves on to the next target, re-planned for that provider, after retries on the same target for
the fast ones (within its retry budget and the turn's deadline, backoff honouring
``retry-after``).
Each attempt is recorded in the request context for the trace.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from godex.bridge.plan import BridgePlan
from godex.bridge.request import ResponsesRequest
from godex.errors import GodexError, ProviderError
from godex.gateway.context import RequestContext
from godex.gateway.history import History
from godex.gateway.pipeline import (
    Pipeline,
    encode_json,
    error_from_delta,
    scrub_errors,
)
from godex.gateway.routing import Route
from godex.gateway.upstream_stream import UpstreamStream
from godex.logging import get_logger
from godex.protocol.deltas import Delta, UpstreamError, Usage
from godex.providers.runtime import unavailable
from godex.upstream.decode import decode_body
from godex.upstream.retry import backoff_s, retry_after_s, retryable, transient

log = get_logger("godex.gateway")


@dataclass(slots=True)
class Opened:
    """The target that answered, with what was read from it before committing to it."""

    route: Route
    plan: BridgePlan
    source: UpstreamStream | None = None  # streaming: the rest of the upstream stream
    deltas: list[Delta] = field(default_factory=list)  # primed (stream) or all (sync)
    # A stream that failed before any output: raised for failover while another attempt is
    # possible; on the last one the turn commits to it, and the stream ends failed as usual.
    failure: GodexError | None = None

    def close(self) -> None:
        if self.source is not None:
            self.source.upstream.release()


def _attempt(ctx: RequestContext, route: Route, outcome: str, started: float, **more: Any) -> None:
    ctx.attempts.append(
        {
            "provider": route.provider.name,
            "model": route.upstream_model,
            "outcome": outcome,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            **more,
        }
    )


def _failover_worthy(err: GodexError) -> bool:
    """Worth trying another target: the retryable failures, and this provider refusing us."""
    return transient(err) or err.code in ("provider.auth", "provider.unavailable")


async def open_upstream(
    pipeline: Pipeline,
    req: ResponsesRequest,
    ctx: RequestContext,
    history: History,
    routes: tuple[Route, ...],
) -> Opened:
    loop = asyncio.get_running_loop()
    first = routes[0].provider
    deadline = loop.time() + first.timeouts.total_ms / 1000
    last: GodexError | None = None
    for index, route in enumerate(routes):
        rt = route.provider
        started = time.perf_counter()
        if rt.unavailable_reason is not None:
            last = unavailable(rt.name, rt.unavailable_reason)
            _attempt(ctx, route, "skipped", started, reason=rt.unavailable_reason)
            continue
        breaker = rt.breaker(route.upstream_model)
        if not breaker.allow():
            last = ProviderError(
                f"{rt.name}/{route.upstream_model} is failing; its circuit breaker is open",
                code="provider.circuit_open",
                status=503,
            )
            _attempt(ctx, route, "skipped", started, reason="circuit breaker open")
            continue
        plan = pipeline.plan(req, history, route)
        pipeline.note_plan(plan, ctx)
        payload = encode_json(plan.chat.body)
        ctx.provider, ctx.upstream_model = rt.name, route.upstream_model
        retry = 0
        while True:
            committed: Opened | None = None
            started = time.perf_counter()
            rt.budget.record_call()
            try:
                opened = await _open_one(pipeline, route, plan, payload, ctx, req.stream, deadline)
                if opened.failure is not None:
                    committed = opened
                    raise opened.failure
            except GodexError as err:
                if transient(err):
                    breaker.failure()
                else:
                    breaker.release_probe()
                detail = {"status": err.status, "code": err.code}
                if not _failover_worthy(err):
                    _attempt(ctx, route, "failed", started, **detail)
                    return _committed(committed, err)  # the request's own fault
                wait = retry_after_s(err) or backoff_s(rt.retry, retry)
                if (
                    retryable(err)
                    and retry + 1 < rt.retry.attempts
                    and wait * 1000 <= rt.retry.max_backoff_ms
                    and loop.time() + wait < deadline
                    and rt.budget.take()
                ):
                    _attempt(ctx, route, "retried", started, **detail)
                    if committed is not None:
                        committed.close()
                    retry += 1
                    await asyncio.sleep(wait)
                    continue
                more = index + 1 < len(routes)
                _attempt(ctx, route, "failed_over" if more else "failed", started, **detail)
                if more:
                    log.info(
                        "failover",
                        request_id=ctx.request_id,
                        frm=route.label,
                        to=routes[index + 1].label,
                        code=err.code,
                    )
                if not more:
                    return _committed(committed, err)
                if committed is not None:
                    committed.close()
                last = err
                break
            breaker.success()
            _attempt(ctx, route, "served", started)
            return opened
    assert last is not None
    raise last


async def _open_one(
    pipeline: Pipeline,
    route: Route,
    plan: BridgePlan,
    payload: bytes,
    ctx: RequestContext,
    stream: bool,
    deadline: float,
) -> Opened:
    upstream = await pipeline.call(route, payload, ctx, deadline=deadline)
    if not stream:
        try:
            raw = await upstream.read()  # the transport bounds it by the request's deadline
        finally:
            upstream.release()
        spec = route.spec
        deltas = spec.hooks.normalize_body(spec, decode_body(raw))
        scrub_errors(deltas, route)
        _raise_upstream_error(deltas, ctx)
        return Opened(route, plan, deltas=deltas)
    source = UpstreamStream(route, upstream, pipeline.services.keepalive_s, deadline)
    primed: list[Delta] = []
    try:
        await _prime(source, primed, ctx, pipeline.services.keepalive_s)
    except GodexError as err:
        return Opened(route, plan, source=source, deltas=primed, failure=err)
    except BaseException:
        upstream.release()
        raise
    return Opened(route, plan, source=source, deltas=primed)


async def _prime(
    source: UpstreamStream, primed: list[Delta], ctx: RequestContext, window_s: float
) -> None:
    """Read until the first delta that is output (or the end): only then is a target chosen.

    Errors come at once; a model that is merely slow to start is committed to after
    ``window_s`` (one keep-alive interval), so its client gets its first events and
    keep-alives instead of silence until the first token.
    """
    loop = asyncio.get_running_loop()
    until = loop.time() + window_s
    while True:
        deltas = await source.read()
        if deltas is None:
            break
        primed += deltas
        _raise_upstream_error(deltas, ctx)
        if any(not isinstance(d, Usage) for d in deltas) or loop.time() >= until:
            return
    if not primed:
        raise ProviderError(
            f"{source.route.provider.name}: the upstream stream ended before any output",
            code="provider.stream_truncated",
        )


def _committed(opened: Opened | None, err: GodexError) -> Opened:
    """The last option: a stream that failed before any output is still the answer (it ends
    failed, as a client of a single provider expects); any other failure is raised."""
    if opened is None:
        raise err
    return opened


def _raise_upstream_error(deltas: list[Delta], ctx: RequestContext) -> None:
    for d in deltas:
        if isinstance(d, UpstreamError):
            ctx.upstream_message = d.message
            raise error_from_delta(d)


async def open_round(
    pipeline: Pipeline,
    route: Route,
    plan: BridgePlan,
    payload: bytes,
    ctx: RequestContext,
    stream: bool,
) -> Opened:
    """One more upstream call of a turn already committed to ``route`` (a managed search's
    next round), within the turn's deadline; no failover: the answer has begun."""
    deadline = ctx.deadline
    if deadline is None:
        deadline = asyncio.get_running_loop().time() + route.provider.timeouts.total_ms / 1000
    return await _open_one(pipeline, route, plan, payload, ctx, stream, deadline)
