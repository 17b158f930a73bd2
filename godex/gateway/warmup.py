"""``generate: false``: a turn that prepares state and generates nothing.

OpenAI's WebSocket mode documents it as warm-up (Codex sends one as its first message): the
request is checked like any other (model, history, plan) but no upstream call is made, and the
Response completes with no output. Its id can be continued from like any other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from godex.bridge.builder import Event, ResponseBuilder
from godex.bridge.request import ResponsesRequest
from godex.gateway.context import RequestContext
from godex.gateway.history import History
from godex.gateway.pipeline import (
    Completed,
    OpenedTurn,
    Pipeline,
    note_result,
)
from godex.protocol.deltas import Finish


def wants_warmup(req: ResponsesRequest) -> bool:
    return req.raw.get("generate") is False


async def open_warmup(
    gateway: Pipeline, req: ResponsesRequest, ctx: RequestContext, history: History | None
) -> WarmupExchange:
    route = gateway.route(req, ctx)
    if history is None:
        history = await gateway.history(req)
    plan = gateway.plan(req, history, route)  # the same checks a generating turn gets
    gateway.note_plan(plan, ctx)
    builder = gateway.make_builder(req, plan, route, stream=req.stream)
    return WarmupExchange(gateway, req, route, builder, ctx)


class WarmupExchange(OpenedTurn):
    def close(self) -> None:
        return None

    def _finish(self) -> list[Event]:
        builder: ResponseBuilder = self.builder
        events = builder.feed(Finish("stop"))
        events += builder.finish()
        note_result(self.ctx, builder.response, builder.event_count)
        return events

    async def complete(self) -> Completed:
        self.builder.start()
        self._finish()
        response = self.builder.response
        done = Completed(response)
        await self.gateway.persist(self.req, self.route, response, done)
        return done

    async def stream(self) -> AsyncIterator[list[Event]]:
        tail = self._finish()
        await self.gateway.persist(
            self.req, self.route, self.builder.response, builder=self.builder
        )
        self.finished = True
        yield tail
