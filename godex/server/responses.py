"""POST /v1/responses: resolve, load the chain, plan, call upstream, run the builder.

Sync and streaming share everything but the loop that moves bytes: both feed the same
ResponseBuilder, so they cannot disagree.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

import aiohttp
import msgspec

from godex.bridge.builder import ResponseBuilder
from godex.bridge.compaction import expand_compactions, has_trigger, trim_before_compaction
from godex.bridge.deltas import UpstreamError
from godex.bridge.diagnostics import Diagnostics
from godex.bridge.ids import new_id
from godex.bridge.output_contract import check_output
from godex.bridge.plan import BridgePlan, build_chat_request
from godex.bridge.request import ResponsesRequest, parse_request
from godex.bridge.sse import encode_events
from godex.errors import GodexError, InvalidRequestError, ProviderError, UpstreamTimeout
from godex.logging import get_logger
from godex.server.context import RequestContext
from godex.server.http import SSE_HEADERS, Receive, Send, send_json
from godex.server.routing import Route
from godex.server.state import AppState
from godex.upstream.client import iter_chunks
from godex.upstream.decode import decode_body, decode_payload
from godex.upstream.sse import SSEReader

log = get_logger("godex.responses")

# Request fields a Response object repeats back (contract §2).
_ECHO_FIELDS = (
    "instructions",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "temperature",
    "top_p",
    "max_output_tokens",
    "previous_response_id",
    "reasoning",
    "text",
    "truncation",
    "store",
    "metadata",
    "user",
    "safety_identifier",
    "prompt_cache_key",
    "service_tier",
    "max_tool_calls",
    "top_logprobs",
    "background",
)


def error_from_delta(delta: UpstreamError) -> ProviderError:
    return ProviderError(delta.message, code=delta.code, status=delta.status or 502)


def reasoning_texts(output: list[dict[str, Any]]) -> dict[str, str]:
    """Raw provider reasoning per reasoning item: what a provider needs back next turn."""
    found: dict[str, str] = {}
    for item in output:
        if item.get("type") != "reasoning":
            continue
        parts = item.get("content") or item.get("summary") or []
        text = "".join(p.get("text", "") for p in parts if isinstance(p, dict))
        if text and item.get("id"):
            found[item["id"]] = text
    return found


class ResponsesHandler:
    def __init__(self, state: AppState) -> None:
        from godex.server.compact import CompactionHandler

        self.state = state
        self.compactor = CompactionHandler(self)

    # -- planning -------------------------------------------------------------------------
    def route(self, req: ResponsesRequest, ctx: RequestContext) -> Route:
        ctx.requested_model = req.model
        ctx.stream = req.stream
        route = self.state.router.resolve(req.model)
        ctx.provider = route.provider.name
        ctx.upstream_model = route.upstream_model
        route.provider.ensure_available()
        return route

    async def history(self, req: ResponsesRequest) -> tuple[list[dict[str, Any]], Any]:
        if req.previous_response_id:
            return await self._load_history(req)
        return [], None

    async def prepare(self, req: ResponsesRequest, ctx: RequestContext) -> tuple[Route, BridgePlan]:
        route = self.route(req, ctx)
        history, resolve_reference = await self.history(req)
        plan = self.plan(req, history, route, resolve_reference)
        self.note_plan(plan, ctx)
        return route, plan

    @staticmethod
    def note_plan(plan: BridgePlan, ctx: RequestContext) -> None:
        if plan.diagnostics.items:
            ctx.diagnostics = plan.diagnostics.as_dicts()
            log.debug("compatibility", request_id=ctx.request_id, diagnostics=ctx.diagnostics)

    def plan(
        self,
        req: ResponsesRequest,
        history: list[dict[str, Any]],
        route: Route,
        resolve_reference: Any = None,
    ) -> BridgePlan:
        """Bridge plan + provider patch. Compaction items become their summaries first."""
        sealer = self.state.sealer
        diags = Diagnostics()
        planned = req
        if history:
            history = expand_compactions(history, sealer, diags)
        items = expand_compactions(req.input_items, sealer, diags)
        if items is not req.input_items:
            planned = dataclasses.replace(req, input_items=items)
        plan = build_chat_request(
            planned,
            history,
            route.upstream_model,
            route.provider.spec,
            self.state.sealer,
            resolve_reference,
        )
        for d in diags.items:
            plan.diagnostics.add(d.action, d.subject, d.detail)
        spec = route.provider.spec
        spec.hooks.patch_request(spec, plan.chat)
        return plan

    async def _load_history(self, req: ResponsesRequest) -> tuple[list[dict[str, Any]], Any]:
        from godex.sessions.chain import chain_history, load_chain, resolve_item

        store = self.state.sessions
        if store is None:
            raise InvalidRequestError(
                "previous_response_id needs stored responses, and sessions are disabled "
                "on this gateway (session.enabled: false)",
                code="session.disabled",
                wire_code="previous_response_not_found",
                param="previous_response_id",
            )
        assert req.previous_response_id is not None
        chain = await load_chain(
            store, req.previous_response_id, self.state.config.session.max_depth
        )

        def resolve_reference(item_id: str) -> dict[str, Any] | None:
            return resolve_item(chain, item_id)

        history = trim_before_compaction(chain_history(chain), self.state.sealer)
        return history, resolve_reference

    def make_builder(
        self, req: ResponsesRequest, plan: BridgePlan, route: Route, stream: bool
    ) -> ResponseBuilder:
        raw = req.raw
        echo = {k: raw[k] for k in _ECHO_FIELDS if k in raw}
        echo["store"] = req.store
        seal = None
        if plan.include_encrypted:
            sealer = self.state.sealer

            def seal(text: str) -> str | None:
                return sealer.seal("reasoning", {"text": text})

        contract = plan.contract
        check = None
        if contract is not None:

            def check(response: dict[str, Any]) -> GodexError | None:
                return check_output(contract, response)

        return ResponseBuilder(
            response_id=new_id("resp"),
            model=req.model,
            created_at=int(time.time()),
            echo=echo,
            tool_plan=plan.tool_plan,
            stream=stream,
            finish_extra=route.provider.spec.finish_reasons,
            reasoning_as_summary=plan.reasoning_summary,
            seal_reasoning=seal,
            output_check=check,
        )

    async def persist(
        self,
        req: ResponsesRequest,
        route: Route,
        response: dict[str, Any],
        encoded: bytes | None = None,
    ) -> None:
        store = self.state.sessions
        if store is None or not req.store:
            return
        from godex.sessions.store import StoredResponse

        output = response.get("output") or []
        rec = StoredResponse(
            id=response["id"],
            previous_response_id=req.previous_response_id,
            created_at=int(response.get("created_at") or time.time()),
            status=response.get("status") or "completed",
            model=req.model,
            provider=route.provider.name,
            upstream_model=route.upstream_model,
            input_items=req.input_items,
            output_items=output,
            response=response,
            usage=response.get("usage"),
            reasoning=reasoning_texts(output),
            response_json=encoded,
        )
        try:
            await store.put(rec)
        except Exception:  # storage trouble must not take the user's answer with it
            log.exception("session_write_failed", response_id=rec.id)

    # -- entry ----------------------------------------------------------------------------
    async def handle(self, body: bytes, ctx: RequestContext, receive: Receive, send: Send) -> None:
        req = parse_request(body)
        if self.state.recorder.enabled and self.state.config.trace.capture_payload:
            ctx.request_payload = body
        if has_trigger(req.input_items):
            await self.compactor.handle(req, ctx, receive, send, legacy=False)
            return
        route, plan = await self.prepare(req, ctx)
        payload = msgspec.json.encode(plan.chat.body)
        task = asyncio.current_task()
        watch = _DisconnectWatch(receive, task)
        try:
            if req.stream:
                await self._stream(req, route, plan, payload, ctx, send, watch)
            else:
                await self._sync(req, route, plan, payload, ctx, send, watch)
        except asyncio.CancelledError:
            if not watch.disconnected or task is None:
                raise
            task.uncancel()
            ctx.status = "cancelled"
            ctx.http_status = 499
            ctx.error_code = "server.client_disconnected"
        finally:
            watch.stop()

    async def _call(
        self, route: Route, payload: bytes, ctx: RequestContext
    ) -> aiohttp.ClientResponse:
        rt = route.provider
        ctx.t_upstream = time.perf_counter()
        resp = await self.state.client.post(rt, payload)
        ctx.t_upstream_first_byte = time.perf_counter()
        if resp.status >= 400:
            try:
                raw = await resp.read()
            except aiohttp.ClientError:
                raw = b""
            finally:
                resp.release()
            err = rt.spec.hooks.error_from_http(rt.spec, resp.status, raw, resp.headers)
            ctx.upstream_message = err.upstream_message or err.message
            raise err
        return resp

    async def _sync(
        self,
        req: ResponsesRequest,
        route: Route,
        plan: BridgePlan,
        payload: bytes,
        ctx: RequestContext,
        send: Send,
        watch: _DisconnectWatch,
    ) -> None:
        rt = route.provider
        resp = await self._call(route, payload, ctx)
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
        for d in deltas:
            if isinstance(d, UpstreamError):
                ctx.upstream_message = d.message
                raise error_from_delta(d)
        builder = self.make_builder(req, plan, route, stream=False)
        builder.start()
        for d in deltas:
            builder.feed(d)
        builder.finish()
        response = builder.response
        self._note_result(ctx, response, builder)
        out = msgspec.json.encode(response)
        await self.persist(req, route, response, out)
        watch.finished = True
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
                ],
            }
        )
        await send({"type": "http.response.body", "body": out})
        ctx.t_first_client_byte = time.perf_counter()

    async def _stream(
        self,
        req: ResponsesRequest,
        route: Route,
        plan: BridgePlan,
        payload: bytes,
        ctx: RequestContext,
        send: Send,
        watch: _DisconnectWatch,
    ) -> None:
        resp = await self._call(route, payload, ctx)
        builder = self.make_builder(req, plan, route, stream=True)
        metrics = self.state.metrics
        metrics.stream_started()
        captured: list[bytes] | None = [] if ctx.request_payload is not None else None
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [*SSE_HEADERS, (b"x-request-id", ctx.request_id.encode())],
                }
            )
            first = encode_events(builder.start())
            await send({"type": "http.response.body", "body": first, "more_body": True})
            ctx.t_first_client_byte = time.perf_counter()
            if captured is not None:
                captured.append(first)
            tail = await self._pump(resp, route, builder, send, captured)
        finally:
            resp.release()
            metrics.stream_ended()
        response = builder.response
        self._note_result(ctx, response, builder)
        # Persist before the terminal event goes out: a client that saw completion can
        # always continue from it.
        await self.persist(req, route, response)
        watch.finished = True
        body = encode_events(tail)
        if captured is not None:
            captured.append(body)
            ctx.response_payload = b"".join(captured)
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _pump(
        self,
        resp: aiohttp.ClientResponse,
        route: Route,
        builder: ResponseBuilder,
        send: Send,
        captured: list[bytes] | None,
    ) -> list[dict[str, Any]]:
        """Move upstream chunks through the builder; return the unsent events that end it."""
        rt = route.provider
        spec = rt.spec
        normalizer = spec.hooks.stream_normalizer(spec)
        reader = SSEReader()
        loop = asyncio.get_running_loop()
        idle = rt.config.idle_timeout_ms / 1000
        keepalive = self.state.keepalive_s
        last_data = last_sent = loop.time()
        feed = builder.feed_into
        tail: list[dict[str, Any]] = []
        try:
            async for chunk in iter_chunks(resp, rt, keepalive):
                now = loop.time()
                events: list[dict[str, Any]] = []
                if chunk is not None:
                    payloads = reader.feed(chunk)
                    if payloads:
                        last_data = now
                        for data in payloads:
                            for obj in decode_payload(data):
                                for delta in normalizer.feed(obj):
                                    feed(delta, events)
                if now - last_data > idle:
                    raise UpstreamTimeout(
                        f"{rt.name}: no data from the upstream for {rt.config.idle_timeout_ms} ms",
                        code="provider.idle_timeout",
                    )
                if builder.done:
                    return events
                if reader.done:
                    tail = events
                    break
                if not events:
                    if now - last_sent < keepalive:
                        continue
                    # Comments don't reset Codex's idle timer; a real event does.
                    events = builder.keepalive()
                out = encode_events(events)
                await send({"type": "http.response.body", "body": out, "more_body": True})
                last_sent = now
                if captured is not None:
                    captured.append(out)
            for data in reader.close():
                for obj in decode_payload(data):
                    for delta in normalizer.feed(obj):
                        feed(delta, tail)
            for delta in normalizer.finish():
                feed(delta, tail)
            if not builder.done:
                tail += builder.finish()
            return tail
        except GodexError as err:
            return builder.fail(err)

    def _note_result(
        self, ctx: RequestContext, response: dict[str, Any], builder: ResponseBuilder
    ) -> None:
        ctx.response_id = response.get("id")
        ctx.status = response.get("status") or "completed"
        ctx.usage = response.get("usage")
        ctx.event_count = builder.event_count
        err = response.get("error")
        if err:
            ctx.error_code = err.get("code")
            ctx.error_message = err.get("message")
        if ctx.stream:
            ctx.terminal_event = "response." + ctx.status


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


def unexpected(exc: BaseException, ctx: RequestContext) -> GodexError:
    return GodexError(
        f"internal error (request id {ctx.request_id})",
        code="server.internal",
        status=500,
    )


__all__ = ["ResponsesHandler", "send_json", "unexpected"]
