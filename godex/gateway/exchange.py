"""An answer turn: upstream chunks (or one body) → neutral deltas → the ResponseBuilder.

``complete()`` is the sync path (one Response), ``stream()`` the streaming one (batches of events);
both feed the same builder, so they cannot disagree. By the time a turn exists, failover has
chosen its target (``gateway.failover``): what it read before choosing comes first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from godex.bridge.builder import Event, ResponseBuilder
from godex.bridge.request import ResponsesRequest
from godex.errors import GodexError
from godex.gateway.context import RequestContext
from godex.gateway.failover import Opened
from godex.gateway.pipeline import Completed, OpenedTurn, Pipeline, encode_json, note_result
from godex.protocol.deltas import Delta


class TurnExchange(OpenedTurn):
    """One opened answer turn."""

    def __init__(
        self,
        gateway: Pipeline,
        req: ResponsesRequest,
        opened: Opened,
        builder: ResponseBuilder,
        ctx: RequestContext,
    ) -> None:
        super().__init__(gateway, req, opened.route, builder, ctx)
        self.opened = opened

    def close(self) -> None:
        self.opened.close()

    async def complete(self) -> Completed:
        builder = self.builder
        builder.start()
        for d in self.opened.deltas:
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
        """Move upstream deltas through the builder; leave the events that end it in ``tail``."""
        source = self.opened.source
        assert source is not None
        builder = self.builder
        feed = builder.feed_into
        loop = asyncio.get_running_loop()
        keepalive = self.gateway.services.keepalive_s
        last_sent = loop.time()
        events: list[Event] = []
        try:
            deltas: list[Delta] | None = self.opened.deltas
            while deltas is not None:
                events = []
                for delta in deltas:
                    feed(delta, events)
                if builder.done:
                    tail += events
                    return
                if self.opened.failure is not None:
                    failure, self.opened.failure = self.opened.failure, None
                    raise failure
                now = loop.time()
                if not events and now - last_sent >= keepalive:
                    # Comments don't reset Codex's idle timer; a real event does.
                    events = builder.keepalive()
                if events:
                    last_sent = now
                    batch, events = events, []
                    yield batch
                deltas = await source.read()
            if not builder.done:
                tail += builder.finish()
        except GodexError as err:
            # Events of the read that failed were built but not sent: they go out first.
            tail += events
            tail += builder.fail(err)
