"""Compaction turns: ``compaction_trigger`` in /v1/responses and POST /v1/responses/compact.

One upstream call asks the model for a summary with no tools; the answer becomes one
``compaction`` item, emitted through the same ResponseBuilder as every other item.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

from godex.bridge.builder import Event, ResponseBuilder
from godex.bridge.compaction import compaction_item, summary_request_items, summary_text
from godex.bridge.request import ResponsesRequest
from godex.errors import GodexError, ProviderError
from godex.gateway.context import RequestContext
from godex.gateway.history import History
from godex.gateway.pipeline import (
    Completed,
    OpenedTurn,
    Pipeline,
    encode_json,
    error_from_delta,
    note_result,
)
from godex.gateway.routing import Route
from godex.protocol.deltas import Finish, UpstreamError, Usage
from godex.upstream.decode import decode_body


def compaction_disabled(status: int) -> GodexError:
    return GodexError(
        "remote compaction is turned off on this gateway (compaction.enabled: false)",
        code="server.compaction_disabled",
        wire_code="responses_compact_not_supported",
        status=status,
        type="invalid_request_error",
    )


async def open_compaction(
    gateway: Pipeline,
    req: ResponsesRequest,
    ctx: RequestContext,
    *,
    legacy: bool,
    history: History | None = None,
) -> CompactionExchange:
    if not gateway.services.config.compaction.enabled:
        # On /v1/responses a 400, not 501: Codex retries every 5xx, and this will not get
        # better. The legacy endpoint answers 501 as OpenAI's does when it is unavailable.
        raise compaction_disabled(501 if legacy else 400)
    ctx.stream = req.stream and not legacy
    route = gateway.route(req, ctx)
    if history is None:
        history = await gateway.history(req)
    summary_req = dataclasses.replace(
        req,
        input_items=summary_request_items(req.input_items),
        tools=[],
        tool_choice=None,
        parallel_tool_calls=None,
        stream=False,
        text=None,
    )
    plan = gateway.plan(summary_req, history, route)
    gateway.note_plan(plan, ctx)
    builder = gateway.make_builder(req, plan, route, stream=ctx.stream)
    summariser = gateway.make_builder(summary_req, plan, route, stream=False)
    payload = encode_json(plan.chat.body)
    call = asyncio.ensure_future(_summarise(gateway, route, payload, ctx, summariser))
    return CompactionExchange(gateway, req, route, builder, call, ctx, legacy=legacy)


async def _summarise(
    gateway: Pipeline,
    route: Route,
    payload: bytes,
    ctx: RequestContext,
    builder: ResponseBuilder,
) -> tuple[str, Usage | None]:
    """One upstream call, no tools: the summary text and its usage."""
    rt = route.provider
    resp = await gateway.call(route, payload, ctx)
    try:
        raw = await resp.read()
    finally:
        resp.release()
    spec = route.spec
    deltas = spec.hooks.normalize_body(spec, decode_body(raw))
    builder.start()
    usage: Usage | None = None
    for d in deltas:
        if isinstance(d, UpstreamError):
            raise error_from_delta(d)
        if isinstance(d, Usage):
            usage = d
        builder.feed(d)
    builder.finish()
    text = summary_text(builder.response)
    if not text:
        raise ProviderError(
            f"{rt.name}: the model returned no summary for compaction",
            code="provider.empty_summary",
        )
    return text, usage


class CompactionExchange(OpenedTurn):
    def __init__(
        self,
        gateway: Pipeline,
        req: ResponsesRequest,
        route: Route,
        builder: ResponseBuilder,
        call: asyncio.Future[tuple[str, Usage | None]],
        ctx: RequestContext,
        *,
        legacy: bool,
    ) -> None:
        super().__init__(gateway, req, route, builder, ctx)
        self.call = call
        self.legacy = legacy

    def close(self) -> None:
        if not self.call.done():
            self.call.cancel()

    def _finish(self, summary: str, usage: Usage | None) -> list[Event]:
        builder = self.builder
        item = compaction_item(self.gateway.services.sealer, summary)
        events = builder.emit_item(item)
        if usage is not None:
            events += builder.feed(usage)
        events += builder.feed(Finish("stop"))
        events += builder.finish()
        return events

    async def complete(self) -> Completed:
        summary, usage = await self.call
        self.builder.start()
        self._finish(summary, usage)
        response = self.builder.response
        note_result(self.ctx, response, self.builder.event_count)
        done = Completed(response)
        if not self.legacy:  # the legacy endpoint's answer is not a Response to continue from
            await self.gateway.persist(self.req, self.route, response, done)
        return done

    async def stream(self) -> AsyncIterator[list[Event]]:
        builder = self.builder
        keepalive = self.gateway.services.keepalive_s
        while True:
            done, _ = await asyncio.wait({self.call}, timeout=keepalive)
            if done:
                break
            # A real event keeps Codex's idle timer from firing during a slow summary.
            yield builder.keepalive()
        failure: GodexError | None = None
        try:
            summary, usage = self.call.result()
        except GodexError as err:
            failure = err
            tail = builder.fail(err)
        else:
            tail = self._finish(summary, usage)
        note_result(self.ctx, builder.response, builder.event_count)
        if failure is not None:
            self.ctx.error_code = failure.code
        if builder.response["status"] == "completed":
            await self.gateway.persist(self.req, self.route, builder.response, builder=builder)
        self.finished = True
        yield tail
