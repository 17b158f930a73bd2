"""POST /v1/responses (and /v1/responses/compact) over HTTP: decode, run the gateway, encode.

The pipeline itself is ``godex.gateway``; this module only turns a body into a request, an
``Exchange`` into JSON or SSE bytes, and a client that goes away into a cancelled turn.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

import msgspec

from godex.bridge.builder import Event
from godex.bridge.request import parse_request
from godex.errors import GodexError
from godex.gateway.background import BackgroundRuns
from godex.gateway.context import RequestContext
from godex.gateway.core import Gateway
from godex.gateway.pipeline import Completed, Exchange
from godex.server.background import follow
from godex.server.drain import Drain, shutting_down
from godex.server.http import SSE_HEADERS, Receive, Send, send_json
from godex.server.metrics import Metrics
from godex.server.sse import encode_events

_encode = msgspec.json.Encoder().encode


class Framing(Protocol):
    """How one door puts an exchange on the wire: its SSE bytes and its sync body."""

    def stream(self, events: list[Event]) -> bytes: ...

    def sync(self, done: Completed) -> bytes:
        """The 200 body; raises a ``GodexError`` (sent in the door's error shape) instead."""
        ...


class ResponsesFraming:
    def stream(self, events: list[Event]) -> bytes:
        return encode_events(events)

    def sync(self, done: Completed) -> bytes:
        return done.encoded


class _LegacyCompactionFraming(ResponsesFraming):
    def sync(self, done: Completed) -> bytes:
        final = done.response
        return _encode(
            {
                "id": final["id"],
                "object": "response.compaction",
                "created_at": final["created_at"],
                "output": final["output"],
                "usage": final.get("usage") or {},
            }
        )


class ExchangeRunner:
    """Drives an opened exchange over HTTP for any door: disconnects, drain, SSE, capture."""

    def __init__(self, gateway: Gateway, metrics: Metrics, drain: Drain) -> None:
        self.gateway = gateway
        self.metrics = metrics
        self.drain = drain

    def capture(self, body: bytes, ctx: RequestContext) -> None:
        capture_request(self.gateway, body, ctx)

    async def run(
        self,
        opening: Any,
        stream: bool,
        ctx: RequestContext,
        receive: Receive,
        send: Send,
        framing: Framing,
    ) -> None:
        task = asyncio.current_task()
        watch = _DisconnectWatch(receive, task)
        self.drain.track(task)
        try:
            exchange: Exchange = await opening
            try:
                if stream:
                    await self._stream(exchange, ctx, send, watch, framing)
                else:
                    await self._sync(exchange, ctx, send, watch, framing)
            finally:
                exchange.close()
        except asyncio.CancelledError:
            if task is None:
                raise
            if self.drain.interrupted and not watch.disconnected:
                task.uncancel()
                raise shutting_down() from None  # nothing sent yet: a 503 the client retries
            if not watch.disconnected:
                raise
            task.uncancel()
            ctx.status = "cancelled"
            ctx.http_status = 499
            ctx.error_code = "server.client_disconnected"
        finally:
            watch.stop()
            self.drain.untrack(task)

    async def _sync(
        self,
        exchange: Exchange,
        ctx: RequestContext,
        send: Send,
        watch: _DisconnectWatch,
        framing: Framing,
    ) -> None:
        done = await exchange.complete()
        watch.finished = True
        out = framing.sync(done)
        if ctx.request_payload is not None:
            ctx.response_payload = out
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(out)).encode()),
                    (b"x-request-id", ctx.request_id.encode()),
                    *_served_by(ctx),
                ],
            }
        )
        await send({"type": "http.response.body", "body": out})
        ctx.t_first_client_byte = time.perf_counter()

    async def _stream(
        self,
        exchange: Exchange,
        ctx: RequestContext,
        send: Send,
        watch: _DisconnectWatch,
        framing: Framing,
    ) -> None:
        metrics = self.metrics
        metrics.stream_started()
        captured: list[bytes] | None = [] if ctx.request_payload is not None else None
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        *SSE_HEADERS,
                        (b"x-request-id", ctx.request_id.encode()),
                        *_served_by(ctx),
                    ],
                }
            )
            first = framing.stream(exchange.start())
            await send({"type": "http.response.body", "body": first, "more_body": True})
            ctx.t_first_client_byte = time.perf_counter()
            if captured is not None:
                captured.append(first)
            try:
                async for batch in exchange.stream():
                    body = framing.stream(batch)
                    if captured is not None:
                        captured.append(body)
                    if exchange.finished:
                        # The terminal batch: the turn is persisted by now.
                        watch.finished = True
                        if captured is not None:
                            ctx.response_payload = b"".join(captured)
                        await send({"type": "http.response.body", "body": body, "more_body": False})
                        return
                    await send({"type": "http.response.body", "body": body, "more_body": True})
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not self.drain.interrupted or watch.disconnected or task is None:
                    raise
                # Shutdown cut the stream short: end it properly, persisted, retryable.
                task.uncancel()
                tail = await exchange.abort(shutting_down())
                watch.finished = True
                await send(
                    {"type": "http.response.body", "body": framing.stream(tail), "more_body": False}
                )
        finally:
            metrics.stream_ended()


class ResponsesHandler(ExchangeRunner):
    background: BackgroundRuns | None = None  # set by the app: the gateway's detached runs

    async def handle(self, body: bytes, ctx: RequestContext, receive: Receive, send: Send) -> None:
        req = parse_request(body, self.gateway.services.request_limits)
        self.capture(body, ctx)
        if req.background and self.background is not None:
            run = await self.background.start(req, ctx)
            if req.stream:
                await follow(run, send)  # a client that leaves stops following, not the run
            else:
                await send_json(send, 200, run.snapshot(), {"x-request-id": ctx.request_id})
            return
        opening = self.gateway.open(req, ctx)
        await self.run(opening, req.stream, ctx, receive, send, ResponsesFraming())

    async def compact(self, body: bytes, ctx: RequestContext, receive: Receive, send: Send) -> None:
        """POST /v1/responses/compact: answers ``response.compaction``, never streams."""
        req = parse_request(body, self.gateway.services.request_limits)
        self.capture(body, ctx)
        opening = self.gateway.open_legacy_compaction(req, ctx)
        await self.run(opening, False, ctx, receive, send, _LegacyCompactionFraming())


def _served_by(ctx: RequestContext) -> list[tuple[bytes, bytes]]:
    """Which target answered (after any failover): ``x-godex-provider: provider/model``."""
    if ctx.provider is None:
        return []
    return [(b"x-godex-provider", f"{ctx.provider}/{ctx.upstream_model}".encode())]


class _DisconnectWatch:
    """Cancels the request task when the client goes away, so the upstream call stops too.

    The watching task starts only once a request has run for ``WATCH_AFTER_S``: a request that
    finishes sooner has nothing worth cancelling, and most requests then pay one timer instead
    of a task (about a tenth of a short request's cost).
    """

    __slots__ = ("_receive", "_task", "_timer", "_watcher", "disconnected", "finished")

    def __init__(self, receive: Receive, task: asyncio.Task[Any] | None) -> None:
        self.disconnected = False
        self.finished = False
        self._receive = receive
        self._task = task
        self._watcher: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        if task is not None:
            self._timer = asyncio.get_running_loop().call_later(WATCH_AFTER_S, self._start)

    def _start(self) -> None:
        self._timer = None
        if self._task is not None and not self.finished:
            self._watcher = asyncio.get_running_loop().create_task(self._watch(self._task))

    async def _watch(self, task: asyncio.Task[Any]) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                if not self.finished:
                    self.disconnected = True
                    task.cancel()
                return

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._watcher is not None and not self._watcher.done():
            self._watcher.cancel()


WATCH_AFTER_S = 0.05


def capture_request(gateway: Gateway, body: bytes, ctx: RequestContext) -> None:
    """Keep the request body for the trace when the operator asked for payloads."""
    services = gateway.services
    if services.recorder.enabled and services.config.trace.capture_payload:
        ctx.request_payload = body


def note_error(ctx: RequestContext, err: GodexError) -> None:
    """Record a failed request (or WebSocket turn) for the access log, metrics and trace."""
    ctx.status = "error"
    ctx.http_status = err.status
    ctx.error_code = err.code
    ctx.error_message = err.message
    if err.upstream_message and not ctx.upstream_message:
        ctx.upstream_message = err.upstream_message


def unexpected(exc: BaseException, ctx: RequestContext) -> GodexError:
    return GodexError(
        f"internal error (request id {ctx.request_id})",
        code="server.internal",
        status=500,
    )
