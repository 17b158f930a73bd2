"""The ASGI application: a small router in front of the handlers.

A raw ASGI layer keeps per-request overhead to a few dict lookups; there is no framework on
the hot path.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import MutableMapping
from typing import Any

import msgspec
import structlog

from godex import __version__
from godex.config.loader import ConfigProblems
from godex.config.schema import GodexConfig
from godex.errors import AuthError, GodexError, NotFoundError
from godex.frontdoors.anthropic.errors import error_status_and_body
from godex.gateway.background import BackgroundRuns
from godex.gateway.context import RequestContext
from godex.gateway.conversations import Conversations
from godex.gateway.core import Gateway
from godex.gateway.stored import StoredResponses
from godex.gateway.tracing import TRACED_ROUTES, trace_record
from godex.gateway.wiring import rebuild_services
from godex.ids import new_id
from godex.logging import access_log, get_logger
from godex.providers.runtime import UPSTREAM_HEADERS
from godex.server.admin import AdminHandler
from godex.server.admission import Admission, Ticket, make_limiter
from godex.server.auth import Authenticator, Principal, bind
from godex.server.conversations import ConversationsHandler
from godex.server.correlation import (
    SpanIds,
    TraceParent,
    new_span_id,
    new_trace_id,
    request_id_from,
    traceparent_from,
)
from godex.server.doors import DoorsHandler
from godex.server.drain import Drain
from godex.server.http import Receive, Scope, Send, header, read_body, send_error, send_json
from godex.server.reload import ConfigSource, keep_restart_only, needs_restart
from godex.server.responses import ResponsesHandler, note_error, unexpected
from godex.server.state import AppState
from godex.server.stored import StoredResponsesHandler
from godex.server.ui.live import InFlight
from godex.server.websocket import WebSocketDoor
from godex.telemetry import NoTelemetry, OtlpTelemetry, make_telemetry

log = get_logger("godex.server")

_RESPONSES = "/v1/responses"
_COMPACT = _RESPONSES + "/compact"
_MESSAGES = "/v1/messages"
_COUNT_TOKENS = _MESSAGES + "/count_tokens"
_CHAT = "/v1/chat/completions"
MAINTENANCE_INTERVAL_S = 300.0
STORE_PROBE_INTERVAL_S = 1.0
_CONVERSATIONS = "/v1/conversations"


class GodexApp:
    def __init__(
        self,
        state: AppState,
        *,
        source: ConfigSource | None = None,
        drain: Drain | None = None,
        telemetry: NoTelemetry | OtlpTelemetry | None = None,
    ) -> None:
        self.state = state
        self.services = state.services
        self.drain = drain or Drain(state.config.server.shutdown_timeout_s)
        self.telemetry = telemetry or make_telemetry(state.config.telemetry)
        # The app requests run on: this one, or the one the latest reload built. A request
        # reads it once, so it runs wholly on one config even when a reload lands meanwhile.
        self.current: GodexApp = self
        self.source = source
        self.reloads = 0  # successful reloads, for tests and logs
        self._reload_lock = asyncio.Lock()
        self._reload_tasks: set[asyncio.Task[bool]] = set()
        self.responses = ResponsesHandler(state.gateway, state.metrics, self.drain)
        self.background = BackgroundRuns(state.gateway)
        self.responses.background = self.background
        self.stored = StoredResponsesHandler(state.stored, self.background)
        self.conversations = ConversationsHandler(Conversations(state.services.sessions))
        self.websocket = WebSocketDoor(
            state.gateway, self.drain, state.metrics, self._principal, self._finish,
            state.admission,
        )  # fmt: skip
        self.admin = AdminHandler(state.auth, state.services.sessions)
        self.doors = DoorsHandler(state.gateway, state.metrics, self.drain)
        self._started = False

    # -- lifespan -------------------------------------------------------------------------
    async def startup(self) -> None:
        if self._started:
            return
        self._started = True
        state = self.services
        self.drain.install(asyncio.get_running_loop())
        self._install_sighup(asyncio.get_running_loop())
        await state.transport.start()
        state.recorder.start()
        sessions = state.sessions
        self.state.metrics.set_sources(
            trace_queue_depth=lambda: float(state.recorder.queue_depth),
            trace_dropped=lambda: float(state.recorder.dropped),
            session_store_size=(
                (lambda: float(state.extra.get("session_count", 0))) if sessions else None
            ),
        )
        self.state.metrics.watch_breakers(self._breaker_states)
        self.state.metrics.start_flushing(asyncio.get_running_loop())
        if sessions is not None:
            loop = asyncio.get_running_loop()
            state.extra["maintenance"] = loop.create_task(self._maintenance())
            state.extra["store_watch"] = loop.create_task(self._watch_store())
        for rt in state.router.runtimes.values():
            if rt.unavailable_reason:
                log.warning("provider_unavailable", provider=rt.name, reason=rt.unavailable_reason)

    # -- reload -------------------------------------------------------------------------
    def _install_sighup(self, loop: asyncio.AbstractEventLoop) -> None:
        """SIGHUP reloads the config (uvicorn leaves SIGHUP alone; its default would kill us)."""
        if self.source is None:
            return

        def start() -> None:
            task = loop.create_task(self.reload())
            self._reload_tasks.add(task)  # keep a reference until it is done
            task.add_done_callback(self._reload_tasks.discard)

        def handler(signum: int, frame: object) -> None:
            loop.call_soon_threadsafe(start)

        with contextlib.suppress(ValueError):  # not the main thread (an embedded server)
            signal.signal(signal.SIGHUP, handler)

    async def reload(self) -> bool:
        """Re-read and validate the config; swap to it if it is valid. True if swapped.

        An invalid config is refused with every problem logged, and the running one is kept.
        """
        source = self.source
        if source is None:
            return False
        async with self._reload_lock:
            loop = asyncio.get_running_loop()
            try:
                result = await loop.run_in_executor(None, source.load)
            except ConfigProblems as exc:
                log.error("reload_refused", problems=exc.problems, config=exc.source)
                return False
            old = self.current.state.config
            for warning in result.warnings:
                log.warning("config_warning", detail=warning)
            later = needs_restart(old, result.config)
            if later:
                log.warning("reload_needs_restart", keys=later)
            config = keep_restart_only(old, result.config)
            try:
                state = await loop.run_in_executor(None, self._next_state, config)
            except GodexError as exc:
                log.error("reload_refused", problems=[exc.message], config=config.source)
                return False
            nxt = GodexApp(state, source=source, drain=self.drain, telemetry=self.telemetry)
            nxt._started = True
            self.current = nxt  # one assignment: requests from now on see all of it
            self.reloads += 1
            log.info(
                "reloaded",
                config=config.source or "built-in default",
                providers=list(config.providers),
                aliases=len(config.models.aliases),
            )
            return True

    def _next_state(self, config: GodexConfig) -> AppState:
        services = rebuild_services(self.current.services, config)
        metrics = self.state.metrics  # one registry for the life of the process
        auth = Authenticator(config, services.sessions)
        metrics.configure_labels(
            models=services.router.model_ids(), providers=list(config.providers), keys=auth.names
        )
        # New keys, limits and prices take effect together; in-memory limit windows start
        # afresh (Redis-backed ones carry on).
        return AppState(
            services=services,
            gateway=Gateway(services),
            stored=StoredResponses(services),
            metrics=metrics,
            auth=auth,
            admission=Admission(config, make_limiter(config), metrics),
            max_body_bytes=config.server.max_body_bytes,
            body_timeout_s=config.server.body_timeout_s,
        )

    async def _maintenance(self) -> None:
        """Background upkeep: session retention (on one instance of a shared store at a time,
        the holder of the ``prune`` lease) and the store-size gauge."""
        sessions = self.services.sessions
        assert sessions is not None
        ttl = self.services.config.session.ttl_s
        while True:
            try:
                if ttl and await sessions.lead("prune", 2 * MAINTENANCE_INTERVAL_S):
                    await sessions.prune(int(time.time()) - ttl)
                self.services.extra["session_count"] = await sessions.count()
            except Exception:
                log.exception("session_maintenance_failed")
            await asyncio.sleep(MAINTENANCE_INTERVAL_S)

    async def _watch_store(self) -> None:
        """Keep ``store_up`` (what /health and /ready report) current: the store reconnects
        on its own, and this notices when it is back."""
        sessions = self.services.sessions
        assert sessions is not None
        while True:
            self.services.extra["store_up"] = await sessions.ping()
            await asyncio.sleep(STORE_PROBE_INTERVAL_S)

    async def shutdown(self) -> None:
        state = self.services
        await self.background.shutdown()  # each ends cancelled, persisted
        for name in ("maintenance", "store_watch"):
            task = state.extra.pop(name, None)
            if isinstance(task, asyncio.Task):
                task.cancel()
        await state.transport.close()
        if state.sessions is not None:
            await state.sessions.close()
        await asyncio.get_running_loop().run_in_executor(None, state.recorder.stop)
        await asyncio.get_running_loop().run_in_executor(None, self.telemetry.shutdown)
        if "ui_dashboard" in state.extra:  # the dashboard ran: its trace reader closes too
            from godex.server.ui import routes

            await asyncio.get_running_loop().run_in_executor(None, routes.close, self)
        self.state.metrics.close()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.exception("startup_failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await self.shutdown()
                finally:
                    await send({"type": "lifespan.shutdown.complete"})
                return

    # -- requests -------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self.current._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            # Only reached with server.websocket on (uvicorn then runs a WebSocket protocol).
            await self.current.websocket(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        request_id = request_id_from(header(scope, b"x-request-id")) or new_id("req")
        ctx = RequestContext(request_id, method, path, _route_label(method, path))
        state = self.state
        state.in_flight += 1
        live = InFlight.of(self.services)  # what the dashboard's Live page lists
        live.enter(ctx)
        started = False
        ticket = Ticket()
        # Each request runs in a task of its own: these reach every log line and upstream
        # call made for it, and no other request's.
        structlog.contextvars.bind_contextvars(request_id=request_id)
        parent = traceparent_from(header(scope, b"traceparent"))
        span_id = new_span_id()
        trace = parent or TraceParent(new_trace_id(), span_id, self.telemetry.enabled)
        span = SpanIds(trace.trace_id, span_id, parent.parent_id if parent else None, trace.sampled)
        UPSTREAM_HEADERS.set({"x-request-id": request_id, "traceparent": trace.child(span_id)})

        async def tracked_send(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                ctx.http_status = message["status"]
                if ticket.headers:  # every admitted response carries the x-ratelimit-* headers
                    message["headers"] = [*message.get("headers", ()), *ticket.headers]
            await send(message)

        try:
            await self._dispatch(scope, receive, tracked_send, ctx, ticket)
        except GodexError as err:
            note_error(ctx, err)
            if not started:
                await self._send_error(scope, tracked_send, err, ctx)
        except Exception as exc:
            log.exception("unhandled_error", request_id=ctx.request_id, path=path)
            failure = unexpected(exc, ctx)
            note_error(ctx, failure)
            if not started:
                await self._send_error(scope, tracked_send, failure, ctx)
        finally:
            state.in_flight -= 1
            live.leave(ctx)
            try:
                await state.admission.leave(ticket, ctx)
            finally:
                self._finish(ctx, span)

    @staticmethod
    async def _send_error(scope: Scope, send: Send, err: GodexError, ctx: RequestContext) -> None:
        """Each door's clients get errors in their own protocol's shape."""
        if ctx.route.startswith("messages.") or (
            ctx.route == "models" and header(scope, b"anthropic-version") is not None
        ):
            extra = {**err.headers, "request-id": ctx.request_id, "x-request-id": ctx.request_id}
            status, body = error_status_and_body(err)
            ctx.http_status = status
            await send_json(send, status, body, extra)
            return
        await send_error(send, err, ctx.request_id)

    async def _dispatch(
        self, scope: Scope, receive: Receive, send: Send, ctx: RequestContext, ticket: Ticket
    ) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        if path == "/health":
            await send_json(send, 200, self.health(detailed=await self._has_key(scope)))
            return
        if path == "/health/live":
            await send_json(send, 200, {"status": "ok"})
            return
        if path == "/health/ready":
            ready = self.ready()
            await send_json(send, 200 if ready else 503, {"ready": ready})
            return
        if path == "/metrics":
            if not self.state.config.server.metrics_public:
                await self._authenticate(scope, ctx)
            body, ctype = self.state.metrics.render()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", ctype.encode())],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        if path == "/ui" or path.startswith("/ui/"):
            from godex.server.ui.routes import dispatch  # loaded on the first /ui request

            return await dispatch(self, scope, receive, send)
        if path.startswith("/admin/"):
            who = await self._authenticate(scope, ctx)
            await self.admin.dispatch(method, path, who, receive, send)
            return
        if not path.startswith("/v1/"):
            raise NotFoundError(f"Unknown route: {method} {path}", code="server.not_found")
        who = await self._authenticate(scope, ctx)
        if path == _RESPONSES:
            if method == "POST":
                body = await self._admitted_body(receive, who, ctx, ticket)
                await self.responses.handle(body, ctx, receive, send)
                return
            if method == "GET" and header(scope, b"upgrade") is not None:
                await self._websocket_probe(send, ctx)
                return
        elif path == _MESSAGES and method == "POST":
            body = await self._admitted_body(receive, who, ctx, ticket)
            await self.doors.messages(body, ctx, receive, send)
            return
        elif path == _COUNT_TOKENS and method == "POST":
            await self.doors.count_tokens(await self._body(receive), ctx, send)
            return
        elif path == _CHAT and method == "POST":
            body = await self._admitted_body(receive, who, ctx, ticket)
            await self.doors.chat(body, ctx, receive, send)
            return
        elif path == "/v1/models" and method == "GET":
            if header(scope, b"anthropic-version") is not None:
                await self.doors.anthropic_models(send)
                return
            await send_json(send, 200, self.models())
            return
        elif path == _CONVERSATIONS or path.startswith(_CONVERSATIONS + "/"):

            async def read() -> bytes:
                return await self._body(receive)

            await self.conversations.dispatch(
                method, path[len(_CONVERSATIONS) :], scope, read, send
            )
            return
        elif path.startswith("/v1/models/") and method == "GET":
            await send_json(send, 200, self.model(path[len("/v1/models/") :]))
            return
        elif path == _COMPACT and method == "POST":
            body = await self._admitted_body(receive, who, ctx, ticket)
            await self.responses.compact(body, ctx, receive, send)
            return
        elif path.startswith(_RESPONSES + "/"):
            await self.stored.dispatch(method, path[len(_RESPONSES) + 1 :], scope, send)
            return
        raise NotFoundError(f"Unknown route: {method} {path}", code="server.not_found")

    async def _body(self, receive: Receive) -> bytes:
        return await read_body(receive, self.state.max_body_bytes, self.state.body_timeout_s)

    async def _admitted_body(
        self, receive: Receive, who: Principal, ctx: RequestContext, ticket: Ticket
    ) -> bytes:
        """The body of a turn the admission step let through (model, budget, rate limits)."""
        body = await self._body(receive)
        admission = self.state.admission
        if not admission.applies(who):
            return body
        await admission.enter(who, requested_model(body), ctx, ticket)
        return body

    async def _has_key(self, scope: Scope) -> bool:
        """A valid client key came with the request (always true when keys are off)."""
        try:
            await self.state.auth.resolve_scope(scope)
        except AuthError:
            return False
        return True

    async def _authenticate(self, scope: Scope, ctx: RequestContext) -> Principal:
        who = await self._principal(scope)
        bind(who, ctx)
        return who

    async def _principal(self, scope: Scope) -> Principal:
        """The caller (anonymous with no keys configured); AuthError for a bad key."""
        return await self.state.auth.resolve_scope(scope)

    async def _websocket_probe(self, send: Send, ctx: RequestContext) -> None:
        # With server.websocket off, Codex's built-in provider gets this for its WebSocket
        # attempt: 426 makes it fall back to HTTPS at once (see README). With it on, only
        # upgrades to another protocol reach here.
        message = (
            "Only WebSocket upgrades are supported on GET /v1/responses"
            if self.state.config.server.websocket
            else "WebSockets are not supported here; use HTTPS POST /v1/responses"
        )
        err = GodexError(
            message,
            code="server.websocket_unsupported",
            status=426,
            type="invalid_request_error",
        )
        ctx.status = "rejected"
        await send_error(send, err, ctx.request_id)

    def health(self, *, detailed: bool = True) -> dict[str, Any]:
        """The health document; upstream addresses only for callers that sent a valid key."""
        state = self.services
        providers = []
        for name, rt in state.router.runtimes.items():
            entry: dict[str, Any] = {
                "name": name,
                "spec": rt.spec.name,
                "available": rt.unavailable_reason is None,
                "breakers": {model: b.state for model, b in rt.breakers.items()},
            }
            if detailed:
                entry["base_url"] = rt.url.removesuffix("/chat/completions")
            if rt.unavailable_reason:
                entry["reason"] = rt.unavailable_reason
                var = rt.config.api_key_env or rt.spec.api_key_env
                if not rt.config.api_key:
                    entry["missing_env"] = var
            providers.append(entry)
        ok = any(p["available"] for p in providers)
        return {
            "status": "ok" if ok and self.ready() else "degraded",
            "version": __version__,
            "providers": providers,
            "unsupported_providers": [
                {"name": u.name, "spec": u.spec, "reason": u.reason} for u in state.unsupported
            ],
            "sessions": state.config.session.backend if state.sessions else None,
            "session_store": "up" if state.extra.get("store_up", True) else "down",
            "trace": state.recorder.enabled,
            "ready": self.ready(),
        }

    def ready(self) -> bool:
        """At least one target of the default route can be called now, and the store is up."""
        if not self.services.extra.get("store_up", True):
            return False
        for route in self.services.router.default_route():
            rt = route.provider
            if rt.unavailable_reason is None and rt.breaker(route.upstream_model).usable:
                return True
        return False

    def _breaker_states(self) -> tuple[dict[str, str], dict[tuple[str, str], int]]:
        rank = {"closed": 0, "half_open": 1, "open": 2}
        states: dict[str, str] = {}
        services = self.current.services
        for name, rt in services.router.runtimes.items():
            worst = "closed"
            for breaker in rt.breakers.values():
                if rank[breaker.state] > rank[worst]:
                    worst = breaker.state
            states[name] = worst
        return states, dict(services.breaker_log.counts)

    def models(self) -> dict[str, Any]:
        return {"object": "list", "data": [_model(mid) for mid in self.services.router.model_ids()]}

    def model(self, model_id: str) -> dict[str, Any]:
        """One model as OpenAI's ``models.retrieve`` answers; OpenAI's 404 for others."""
        from urllib.parse import unquote

        wanted = unquote(model_id)
        router = self.services.router
        if wanted in router.model_ids():
            return _model(wanted)
        try:
            router.resolve(wanted)  # globs and provider/model ids the list cannot spell out
            return _model(wanted)
        except GodexError:
            pass
        raise NotFoundError(
            f"The model '{wanted}' does not exist",
            code="server.model_not_found",
            wire_code="model_not_found",
            param="model",
        )

    # -- after every request --------------------------------------------------------------
    def _finish(self, ctx: RequestContext, span: SpanIds | None = None) -> None:
        state = self.state
        duration = time.perf_counter() - ctx.t0
        model = ctx.requested_model or ""
        access_log(
            ctx.request_id,
            ctx.method,
            ctx.path,
            ctx.http_status,
            duration * 1000,
            model,
            provider=ctx.provider,
            error_code=ctx.error_code,
        )
        usage = ctx.usage or {}
        provider = ctx.provider or ""
        metrics = state.metrics
        first_byte = (
            ctx.t_upstream_first_byte - ctx.t_upstream
            if ctx.t_upstream_first_byte and ctx.t_upstream
            else None
        )
        overhead = None
        if ctx.t_upstream is not None:
            overhead = ctx.t_upstream - ctx.t0
        metrics.observe_request(
            route=ctx.route,
            model=model,
            provider=provider,
            status=ctx.status,
            duration_s=duration,
            upstream_first_byte_s=first_byte,
            overhead_s=overhead,
            http_status=ctx.http_status,
            error_code=ctx.error_code,
        )
        if usage:
            metrics.observe_tokens(
                model=model,
                provider=provider,
                input=int(usage.get("input_tokens") or 0),
                cached=int((usage.get("input_tokens_details") or {}).get("cached_tokens") or 0),
                output=int(usage.get("output_tokens") or 0),
                reasoning=int(
                    (usage.get("output_tokens_details") or {}).get("reasoning_tokens") or 0
                ),
            )
        if ctx.attempts:
            metrics.observe_attempts(ctx.attempts)
        if ctx.error_code and ctx.error_code.startswith("provider."):
            metrics.upstream_error(provider=provider, code=ctx.error_code)
        if ctx.key_name is not None:
            tokens = int(usage.get("total_tokens") or 0)
            metrics.observe_key(ctx.key_name, tokens, ctx.cost_usd or 0.0)
        metrics.request_done()
        recorder = self.services.recorder
        if recorder.enabled and ctx.route in TRACED_ROUTES:
            recorder.record(trace_record(ctx, duration))
        if span is not None and self.telemetry.enabled and span.sampled:
            try:
                self.telemetry.record(ctx, span.trace_id, span.span_id, span.parent_id, True)
            except Exception:  # telemetry must never fail a request
                log.exception("telemetry_failed")


class _Model(msgspec.Struct):
    model: str | None = None


_peek = msgspec.json.Decoder(_Model).decode


def requested_model(body: bytes) -> str | None:
    """The body's ``model``, for the admission step (the door parses and checks the rest)."""
    try:
        return _peek(body).model
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None  # the door reports what is wrong with it


def _model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": "godex"}


def _route_label(method: str, path: str) -> str:
    if path == _RESPONSES:
        return "responses.create" if method == "POST" else "responses.probe"
    if path.startswith(_RESPONSES + "/"):
        if path == _COMPACT:
            return "responses.compact"
        return "responses.stored"
    if path == _MESSAGES:
        return "messages.create"
    if path == _COUNT_TOKENS:
        return "messages.count_tokens"
    if path == _CHAT:
        return "chat.completions"
    if path == _CONVERSATIONS or path.startswith(_CONVERSATIONS + "/"):
        return "conversations"
    if path == "/v1/models" or path.startswith("/v1/models/"):
        return "models"
    if path in ("/health", "/metrics"):
        return path[1:]
    return "other"
