"""Serving compaction: ``compaction_trigger`` in /v1/responses and POST /v1/responses/compact."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import TYPE_CHECKING, Any

import aiohttp
import msgspec

from godex.bridge.compaction import compaction_item, summary_request_items, summary_text
from godex.bridge.deltas import UpstreamError
from godex.bridge.request import ResponsesRequest, parse_request
from godex.bridge.sse import encode_events
from godex.errors import GodexError, ProviderError, UpstreamTimeout
from godex.server.context import RequestContext
from godex.server.http import SSE_HEADERS, Receive, Send, read_body, send_json
from godex.server.responses import error_from_delta
from godex.server.routing import Route
from godex.upstream.decode import decode_body

if TYPE_CHECKING:
    from godex.server.responses import ResponsesHandler


class CompactionHandler:
    def __init__(self, responses: ResponsesHandler) -> None:
        self.responses = responses
        self.state = responses.state

    async def legacy(self, scope: Any, receive: Receive, send: Send, ctx: RequestContext) -> None:
        """POST /v1/responses/compact: the unary form older Codex versions send."""
        if not self.state.config.compaction.enabled:
            raise self._disabled(501)
        body = await read_body(receive, self.state.max_body_bytes)
        req = parse_request(body)
        await self.handle(req, ctx, receive, send, legacy=True)

    @staticmethod
    def _disabled(status: int) -> GodexError:
        return GodexError(
            "remote compaction is turned off on this gateway (compaction.enabled: false)",
            code="server.compaction_disabled",
            wire_code="responses_compact_not_supported",
            status=status,
            type="invalid_request_error",
        )

    async def handle(
        self,
        req: ResponsesRequest,
        ctx: RequestContext,
        receive: Receive,
        send: Send,
        *,
        legacy: bool,
    ) -> None:
        if not self.state.config.compaction.enabled:
            # 400, not 501: Codex retries every 5xx, and this will not get better.
            raise self._disabled(400)
        handler = self.responses
        route = handler.route(req, ctx)
        history, resolve_reference = await handler.history(req)
        summary_req = dataclasses.replace(
            req,
            input_items=summary_request_items(req.input_items),
            tools=[],
            tool_choice=None,
            parallel_tool_calls=None,
            stream=False,
            text=None,
        )
        plan = handler.plan(summary_req, history, route, resolve_reference)
        handler.note_plan(plan, ctx)
        payload = msgspec.json.encode(plan.chat.body)
        streaming = req.stream and not legacy
        builder = handler.make_builder(req, plan, route, stream=streaming)
        call = asyncio.ensure_future(self._summarise(route, payload, ctx, req, plan))
        try:
            if streaming:
                await self._stream(builder, call, ctx, send, req, route)
                return
            summary, usage = await call
        finally:
            if not call.done():
                call.cancel()
        final = self._final(builder.response, summary, usage)
        self._note(ctx, final)
        if legacy:
            await send_json(
                send,
                200,
                {
                    "id": final["id"],
                    "object": "response.compaction",
                    "created_at": final["created_at"],
                    "output": final["output"],
                    "usage": usage,
                },
            )
            return
        await handler.persist(req, route, final)
        await send_json(send, 200, final)

    async def _stream(
        self,
        builder: Any,
        call: asyncio.Future[tuple[str, dict[str, Any]]],
        ctx: RequestContext,
        send: Send,
        req: ResponsesRequest,
        route: Route,
    ) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [*SSE_HEADERS, (b"x-request-id", ctx.request_id.encode())],
            }
        )
        await send(
            {
                "type": "http.response.body",
                "body": encode_events(builder.start()),
                "more_body": True,
            }
        )
        ctx.t_first_client_byte = time.perf_counter()
        keepalive = self.state.keepalive_s
        while True:
            done, _ = await asyncio.wait({call}, timeout=keepalive)
            if done:
                break
            # A real event keeps Codex's idle timer from firing during a slow summary.
            await send(
                {
                    "type": "http.response.body",
                    "body": encode_events(builder.keepalive()),
                    "more_body": True,
                }
            )
        seq = builder.event_count
        try:
            summary, usage = call.result()
        except GodexError as err:
            ctx.error_code = err.code
            tail = builder.fail(err)
            self._note(ctx, builder.response)
            await send({"type": "http.response.body", "body": encode_events(tail)})
            return
        final = self._final(builder.response, summary, usage)
        self._note(ctx, final)
        item = final["output"][0]
        events = [
            {
                "type": "response.output_item.added",
                "sequence_number": seq,
                "output_index": 0,
                "item": item,
            },
            {
                "type": "response.output_item.done",
                "sequence_number": seq + 1,
                "output_index": 0,
                "item": item,
            },
            {"type": "response.completed", "sequence_number": seq + 2, "response": final},
        ]
        ctx.event_count = seq + 3
        ctx.terminal_event = "response.completed"
        await self.responses.persist(req, route, final)
        await send({"type": "http.response.body", "body": encode_events(events)})

    def _final(self, base: dict[str, Any], summary: str, usage: dict[str, Any]) -> dict[str, Any]:
        final = dict(base)
        final["status"] = "completed"
        final["error"] = None
        final["incomplete_details"] = None
        final["output"] = [compaction_item(self.state.sealer, summary)]
        final["usage"] = usage
        final["completed_at"] = int(time.time())
        return final

    @staticmethod
    def _note(ctx: RequestContext, response: dict[str, Any]) -> None:
        ctx.response_id = response.get("id")
        ctx.status = response.get("status") or "completed"
        ctx.usage = response.get("usage")

    async def _summarise(
        self,
        route: Route,
        payload: bytes,
        ctx: RequestContext,
        req: ResponsesRequest,
        plan: Any,
    ) -> tuple[str, dict[str, Any]]:
        """One upstream call, no tools: the summary text and its usage."""
        handler = self.responses
        rt = route.provider
        resp = await handler._call(route, payload, ctx)
        try:
            raw = await resp.read()
        except TimeoutError as exc:
            raise UpstreamTimeout(f"{rt.name}: upstream body timed out") from exc
        except aiohttp.ClientError as exc:
            raise ProviderError(
                f"{rt.name}: upstream body broke: {exc}", code="provider.connection"
            ) from exc
        finally:
            resp.release()
        deltas = rt.spec.hooks.normalize_body(rt.spec, decode_body(raw))
        builder = handler.make_builder(req, plan, route, stream=False)
        builder.start()
        for d in deltas:
            if isinstance(d, UpstreamError):
                raise error_from_delta(d)
            builder.feed(d)
        builder.finish()
        response = builder.response
        text = summary_text(response)
        if not text:
            raise ProviderError(
                f"{rt.name}: the model returned no summary for compaction",
                code="provider.empty_summary",
            )
        usage = response.get("usage") or {}
        return text, usage
