"""The pipeline's steps, shared by every kind of turn: route, history, plan, call, build, persist.

Nothing here knows HTTP. ``gateway.core`` strings the steps together per kind of turn.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any, Protocol

import msgspec

from godex.bridge.builder import Event, ResponseBuilder
from godex.bridge.compaction import expand_compactions
from godex.bridge.diagnostics import Diagnostics
from godex.bridge.output_contract import check_output
from godex.bridge.plan import BridgePlan, build_chat_request
from godex.bridge.request import ResponsesRequest
from godex.errors import GodexError, ProviderError, UpstreamTimeout
from godex.gateway.context import RequestContext
from godex.gateway.conversations import append_turn
from godex.gateway.files import inline_file_urls
from godex.gateway.history import History, load_history
from godex.gateway.persist import persist
from godex.gateway.routing import Route
from godex.gateway.websearch import SearchBackend, build_backend
from godex.gateway.wiring import Services
from godex.ids import new_id
from godex.logging import get_logger
from godex.protocol.deltas import UpstreamError
from godex.redact import scrub
from godex.sessions.store import SessionStore
from godex.upstream.transport import UpstreamResponse

log = get_logger("godex.gateway")

encode_json = msgspec.json.Encoder().encode

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
    "presence_penalty",
    "frequency_penalty",
)


class Completed:
    """A finished sync exchange: the Response and the exact bytes a Responses client gets.

    The bytes are encoded on first use: the other doors send their own shape, and a turn that
    is not stored never needs them (the whole Response encoded again, ~2 µs a short answer).
    """

    __slots__ = ("_encoded", "response")

    def __init__(self, response: dict[str, Any]) -> None:
        self.response = response
        self._encoded: bytes | None = None

    @property
    def encoded(self) -> bytes:
        if self._encoded is None:
            self._encoded = encode_json(self.response)
        return self._encoded


class Exchange(Protocol):
    """One opened turn. ``start`` then ``stream``, or ``complete``; ``close`` always."""

    finished: bool  # set just before ``stream`` yields its terminal batch

    def start(self) -> list[Event]: ...

    def stream(self) -> AsyncIterator[list[Event]]:
        """Event batches; the last holds the one terminal event, sent after persisting."""
        ...

    async def complete(self) -> Completed: ...

    async def abort(self, err: GodexError) -> list[Event]:
        """End the stream now with ``err``: the remaining events, after persisting."""
        ...

    def close(self) -> None: ...


class OpenedTurn:
    """What every kind of opened turn holds: its request, route, builder and context."""

    def __init__(
        self, gateway: Pipeline, req: ResponsesRequest, route: Route, builder: ResponseBuilder,
        ctx: RequestContext,
    ) -> None:  # fmt: skip
        self.gateway = gateway
        self.req = req
        self.route = route
        self.builder = builder
        self.ctx = ctx
        self.finished = False

    def start(self) -> list[Event]:
        return self.builder.start()

    async def abort(self, err: GodexError) -> list[Event]:
        """End a stream early (shutdown): the failed response is persisted, then its events."""
        builder = self.builder
        tail = builder.fail(err)
        note_result(self.ctx, builder.response, builder.event_count)
        self.ctx.error_code = err.code
        await self.gateway.persist(self.req, self.route, builder.response, builder=builder)
        self.finished = True
        return tail


def deadline_exceeded(route: Route) -> UpstreamTimeout:
    rt = route.provider
    return UpstreamTimeout(
        f"{rt.name}: the upstream exchange took longer than {rt.timeouts.total_ms} ms (timeout_ms)",
        code="provider.deadline_exceeded",
    )


def scrub_errors(deltas: list[Any], route: Route) -> None:
    """The provider's key out of error messages found inside a 200 (stream or body)."""
    for i, d in enumerate(deltas):
        if isinstance(d, UpstreamError):
            deltas[i] = UpstreamError(d.code, scrub(d.message, (route.provider.config.api_key,)),
                                      d.status)  # fmt: skip


def error_from_delta(delta: UpstreamError) -> ProviderError:
    return ProviderError(delta.message, code=delta.code, status=delta.status or 502)


def note_result(ctx: RequestContext, response: dict[str, Any], event_count: int) -> None:
    ctx.response_id = response.get("id")
    ctx.status = response.get("status") or "completed"
    ctx.usage = response.get("usage")
    ctx.event_count = event_count
    err = response.get("error")
    if err:
        ctx.error_code = err.get("code")
        ctx.error_message = err.get("message")
    if ctx.stream:
        ctx.terminal_event = "response." + ctx.status


def echo_of(req: ResponsesRequest) -> dict[str, Any]:
    """The request fields its Response repeats back."""
    raw = req.raw
    echo = {k: raw[k] for k in _ECHO_FIELDS if k in raw}
    echo["store"] = req.store
    if req.conversation is not None:
        echo["conversation"] = {"id": req.conversation}  # OpenAI's shape, whatever was sent
    return echo


class Pipeline:
    """The steps of a turn; each kind of turn (answer, compaction) runs its own sequence."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.search_backend: SearchBackend | None = build_backend(
            services.config.web_search, services.router.runtimes, services.transport
        )

    def manages_search(self, route: Route) -> bool:
        """GodeX runs web searches itself for this target (``web_search.mode``)."""
        if self.search_backend is None:
            return False
        mode = self.services.config.web_search.mode
        return mode == "godex_managed" or (mode == "auto" and not route.spec.native_web_search)

    # -- steps ----------------------------------------------------------------------------
    def route(self, req: ResponsesRequest, ctx: RequestContext) -> Route:
        ctx.requested_model = req.model
        route = self.services.router.resolve(req.model)
        ctx.provider = route.provider.name
        ctx.upstream_model = route.upstream_model
        route.provider.ensure_available()
        return route

    async def inline_files(self, req: ResponsesRequest) -> ResponsesRequest:
        """``file_url`` parts fetched into ``file_data`` when the operator allows it."""
        s = self.services
        server = s.config.server
        return await inline_file_urls(req, server.fetch_file_urls, server.max_body_bytes)

    async def history(self, req: ResponsesRequest) -> History:
        s = self.services
        return await load_history(req, s.sessions, s.config.session.max_depth, s.sealer)

    def plan(self, req: ResponsesRequest, history: History, route: Route) -> BridgePlan:
        """Bridge plan + provider patch. Compaction items become their summaries first."""
        sealer = self.services.sealer
        diags = Diagnostics()
        items = history.items
        if items:
            items = expand_compactions(items, sealer, diags)
        planned = req
        own = expand_compactions(req.input_items, sealer, diags)
        if own is not req.input_items:
            planned = dataclasses.replace(req, input_items=own)
        spec = route.spec
        plan = build_chat_request(
            planned,
            items,
            route.upstream_model,
            spec,
            sealer,
            history.resolve,
            managed_search=self.manages_search(route),
        )
        for d in diags.items:
            plan.diagnostics.add(d.action, d.subject, d.detail)
        for action, subject, detail in req.diagnostics:
            plan.diagnostics.add(action, subject, detail)
        if req.stop:
            plan.chat.body["stop"] = list(req.stop)
        spec.hooks.patch_request(spec, plan.chat)
        return plan

    def note_plan(self, plan: BridgePlan, ctx: RequestContext) -> None:
        if plan.diagnostics.items:
            ctx.diagnostics = plan.diagnostics.as_dicts()
            log.debug("compatibility", request_id=ctx.request_id, diagnostics=ctx.diagnostics)

    async def call(
        self, route: Route, payload: bytes, ctx: RequestContext, *, deadline: float | None = None
    ) -> UpstreamResponse:
        """Open the upstream exchange; an HTTP error status becomes the provider's typed error."""
        rt = route.provider
        ctx.t_upstream = time.perf_counter()
        if deadline is None:
            deadline = asyncio.get_running_loop().time() + rt.timeouts.total_ms / 1000
        ctx.deadline = deadline
        resp = await self.services.transport.open(rt.request(payload, deadline))
        ctx.t_upstream_first_byte = time.perf_counter()
        if resp.status >= 400:
            try:
                raw = await resp.read()
            except ProviderError:
                raw = b""
            finally:
                resp.release()
            spec = route.spec
            err = spec.hooks.error_from_http(spec, resp.status, raw, resp.headers)
            # Providers echo the key they were sent ("Incorrect API key provided: sk-..."):
            # the configured one never leaves, whatever its shape.
            secrets = (rt.config.api_key,)
            err.message = scrub(err.message, secrets)
            if err.upstream_message:
                err.upstream_message = scrub(err.upstream_message, secrets)
            ctx.upstream_message = err.upstream_message or err.message
            raise err
        return resp

    def make_builder(
        self, req: ResponsesRequest, plan: BridgePlan, route: Route, stream: bool
    ) -> ResponseBuilder:
        echo = echo_of(req)
        seal = None
        if plan.include_encrypted:
            sealer = self.services.sealer

            def seal(text: str) -> str | None:
                return sealer.seal("reasoning", {"text": text})

        contract = plan.contract
        check = None
        if contract is not None:

            def check(response: dict[str, Any]) -> GodexError | None:
                return check_output(contract, response)

        return ResponseBuilder(
            response_id=req.response_id or new_id("resp"),
            model=req.model,
            created_at=int(time.time()),
            echo=echo,
            tool_plan=plan.tool_plan,
            stream=stream,
            finish_extra=route.spec.finish_reasons,
            reasoning_as_summary=plan.reasoning_summary,
            seal_reasoning=seal,
            output_check=check,
            # A stored stream keeps its builder log, so a replay yields the same events.
            record=stream and req.store and self.services.sessions is not None,
        )

    async def persist(
        self,
        req: ResponsesRequest,
        route: Route,
        response: dict[str, Any],
        done: Completed | None = None,
        builder: ResponseBuilder | None = None,
    ) -> None:
        store = self.services.sessions
        if store is not None and req.conversation is not None:
            await self._extend_conversation(store, req, response)
        if store is None or not req.store:
            return
        log = builder.recording() if builder is not None else None
        replay = encode_json(log) if log is not None else None
        encoded = done.encoded if done is not None else None
        await persist(store, req, route, response, encoded, replay)

    async def _extend_conversation(
        self, store: SessionStore, req: ResponsesRequest, response: dict[str, Any]
    ) -> None:
        assert req.conversation is not None
        try:
            await append_turn(store, req.conversation, response, req.input_items)
        except Exception:  # storage trouble must not take the user's answer with it
            log.exception("conversation_write_failed", conversation=req.conversation)
