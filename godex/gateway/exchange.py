"""An answer turn: upstream chunks (or one body) → neutral deltas → the ResponseBuilder.

``complete()`` is the sync path (one Response), ``stream()`` the streaming one (batches of events);
both feed the same builder, so they cannot disagree.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from godex.bridge.builder import Event, ResponseBuilder
from godex.bridge.request import ResponsesRequest
from godex.errors import GodexError, UpstreamTimeout
from godex.gateway.context import RequestContext
from godex.gateway.pipeline import (
    Completed,
    OpenedTurn,
    Pipeline,
    deadline_exceeded,
    encode_json,
    error_from_delta,
    note_result,
)
from godex.gateway.routing import Route
from godex.protocol.deltas import UpstreamError
from godex.upstream.decode import decode_body, decode_payload
from godex.upstream.sse import SSEReader
from godex.upstream.transport import UpstreamResponse


class TurnExchange(OpenedTurn):
    """One opened answer turn."""

    def __init__(
        self,
        gateway: Pipeline,
        req: ResponsesRequest,
        route: Route,
        builder: ResponseBuilder,
        upstream: UpstreamResponse,
        ctx: RequestContext,
    ) -> None:
        super().__init__(gateway, req, route, builder, ctx)
        self.upstream = upstream

    def close(self) -> None:
        self.upstream.release()

    async def complete(self) -> Completed:
        try:
            async with asyncio.timeout_at(self.ctx.deadline):
                raw = await self.upstream.read()
        except TimeoutError as exc:
            raise deadline_exceeded(self.route) from exc
        spec = self.route.spec
        deltas = spec.hooks.normalize_body(spec, decode_body(raw))
        for d in deltas:
            if isinstance(d, UpstreamError):
                self.ctx.upstream_message = d.message
                raise error_from_delta(d)
        builder = self.builder
        builder.start()
        for d in deltas:
            builder.feed(d)
        builder.finish()
        response = builder.response
        note_result(self.ctx, response, builder.event_count)
        encoded = encode_json(response)
        await self.gateway.persist(self.req, self.route, response, encoded)
        return Completed(response, encoded)

    async def stream(self) -> AsyncIterator[list[Event]]:
        builder = self.builder
        tail: list[Event] = []
        async for batch in self._pump(tail):
            yield batch
        response = builder.response
        note_result(self.ctx, response, builder.event_count)
        # Persist before the terminal event goes out: a client that saw completion can
        # always continue from it.
        await self.gateway.persist(self.req, self.route, response, builder=builder)
        self.finished = True
        yield tail

    async def _pump(self, tail: list[Event]) -> AsyncIterator[list[Event]]:
        """Move upstream chunks through the builder; leave the events that end it in ``tail``."""
        rt = self.route.provider
        spec = self.route.spec
        builder = self.builder
        normalizer = spec.hooks.stream_normalizer(spec)
        reader = SSEReader()
        loop = asyncio.get_running_loop()
        idle = rt.timeouts.idle_ms / 1000
        keepalive = self.gateway.services.keepalive_s
        last_data = last_sent = loop.time()
        deadline = self.ctx.deadline or last_data + rt.timeouts.total_ms / 1000
        feed = builder.feed_into
        events: list[Event] = []
        try:
            # Quiet ticks at least every second, so the deadline holds on a silent upstream.
            async for chunk in self.upstream.chunks(min(keepalive, 1.0)):
                now = loop.time()
                events = []
                if chunk is not None:
                    payloads = reader.feed(chunk)
                    if payloads:
                        last_data = now
                        for data in payloads:
                            for obj in decode_payload(data, strict=True):
                                for delta in normalizer.feed(obj):
                                    feed(delta, events)
                if now - last_data > idle:
                    raise UpstreamTimeout(
                        f"{rt.name}: no data from the upstream for {rt.timeouts.idle_ms} ms "
                        "(idle_timeout_ms)",
                        code="provider.idle_timeout",
                    )
                if now > deadline:
                    raise deadline_exceeded(self.route)
                if builder.done:
                    tail += events
                    return
                if reader.done:
                    tail += events
                    events = []
                    break
                if not events:
                    if now - last_sent < keepalive:
                        continue
                    # Comments don't reset Codex's idle timer; a real event does.
                    events = builder.keepalive()
                last_sent = now
                batch, events = events, []
                yield batch
            for data in reader.close():
                for obj in decode_payload(data, strict=True):
                    for delta in normalizer.feed(obj):
                        feed(delta, tail)
            for delta in normalizer.finish():
                feed(delta, tail)
            if not builder.done:
                tail += builder.finish()
        except GodexError as err:
            # Events of the chunk that failed were built but not sent: they go out first.
            tail += events
            tail += builder.fail(err)
