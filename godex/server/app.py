"""The ASGI application: a small router in front of the handlers.

A raw ASGI layer keeps per-request overhead to a few dict lookups; there is no framework on
the hot path.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import MutableMapping
from typing import Any

from godex import __version__
from godex.errors import AuthError, GodexError, NotFoundError
from godex.frontdoors.anthropic.errors import error_status_and_body
from godex.gateway.context import RequestContext
from godex.gateway.tracing import TRACED_ROUTES, trace_record
from godex.ids import new_id
from godex.logging import access_log, get_logger
from godex.server.doors import DoorsHandler
from godex.server.drain import Drain
from godex.server.http import Receive, Scope, Send, header, read_body, send_error, send_json
from godex.server.responses import ResponsesHandler, note_error, unexpected
from godex.server.state import AppState
from godex.server.stored import StoredResponsesHandler
from godex.server.ui import dispatch as ui_dispatch
from godex.server.websocket import WebSocketDoor

log = get_logger("godex.server")

_RESPONSES = "/v1/responses"
_COMPACT = _RESPONSES + "/compact"
_MESSAGES = "/v1/messages"
_COUNT_TOKENS = _MESSAGES + "/count_tokens"
_CHAT = "/v1/chat/completions"


class GodexApp:
    def __init__(self, state: AppState) -> None:
        self.state = state
        self.services = state.services
        self.drain = Drain(state.config.server.shutdown_timeout_s)
        self.responses = ResponsesHandler(state.gateway, state.metrics, self.drain)
        self.stored = StoredResponsesHandler(state.stored)
        self.websocket = WebSocketDoor(
            state.gateway, self.drain, state.metrics, self._client_key, self._finish
        )
        self.doors = DoorsHandler(state.gateway, state.metrics, self.drain)
        self._started = False

    # -- lifespan -------------------------------------------------------------------------
    async def startup(self) -> None:
        if self._started:
            return
        self._started = True
        state = self.services
        self.drain.install(asyncio.get_running_loop())
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
        if sessions is not None:
            state.extra["maintenance"] = asyncio.get_running_loop().create_task(self._maintenance())
        for rt in state.router.runtimes.values():
            if rt.unavailable_reason:
                log.warning("provider_unavailable", provider=rt.name, reason=rt.unavailable_reason)

    async def _maintenance(self) -> None:
        """Background upkeep: session retention and the store-size gauge."""
        sessions = self.services.sessions
        assert sessions is not None
        ttl = self.services.config.session.ttl_s
        while True:
            try:
                if ttl:
                    await sessions.prune(int(time.time()) - ttl)
                self.services.extra["session_count"] = await sessions.count()
            except Exception:
                log.exception("session_maintenance_failed")
            await asyncio.sleep(300)

    async def shutdown(self) -> None:
        state = self.services
        task = state.extra.pop("maintenance", None)
        if isinstance(task, asyncio.Task):
            task.cancel()
        await state.transport.close()
        if state.sessions is not None:
            await state.sessions.close()
        await asyncio.get_running_loop().run_in_executor(None, state.recorder.stop)

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
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            # Only reached with server.websocket on (uvicorn then runs a WebSocket protocol).
            await self.websocket(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        ctx = RequestContext(new_id("req"), method, path, _route_label(method, path))
        state = self.state
        state.in_flight += 1
        started = False

        async def tracked_send(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                ctx.http_status = message["status"]
            await send(message)

        try:
            await self._dispatch(scope, receive, tracked_send, ctx)
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
            self._finish(ctx)

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
        self, scope: Scope, receive: Receive, send: Send, ctx: RequestContext
    ) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        if path == "/health":
            await send_json(send, 200, self.health(detailed=self._has_key(scope)))
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
                self._authenticate(scope, ctx)
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
            return await ui_dispatch(self, scope, receive, send)
        if not path.startswith("/v1/"):
            raise NotFoundError(f"Unknown route: {method} {path}", code="server.not_found")
        self._authenticate(scope, ctx)
        if path == _RESPONSES:
            if method == "POST":
                body = await read_body(
                    receive, self.state.max_body_bytes, self.state.body_timeout_s
                )
                await self.responses.handle(body, ctx, receive, send)
                return
            if method == "GET" and header(scope, b"upgrade") is not None:
                await self._websocket_probe(send, ctx)
                return
        elif path == _MESSAGES and method == "POST":
            await self.doors.messages(await self._body(receive), ctx, receive, send)
            return
        elif path == _COUNT_TOKENS and method == "POST":
            await self.doors.count_tokens(await self._body(receive), ctx, send)
            return
        elif path == _CHAT and method == "POST":
            await self.doors.chat(await self._body(receive), ctx, receive, send)
            return
        elif path == "/v1/models" and method == "GET":
            if header(scope, b"anthropic-version") is not None:
                await self.doors.anthropic_models(send)
                return
            await send_json(send, 200, self.models())
            return
        elif path == _COMPACT and method == "POST":
            body = await self._body(receive)
            await self.responses.compact(body, ctx, receive, send)
            return
        elif path.startswith(_RESPONSES + "/"):
            await self.stored.dispatch(method, path[len(_RESPONSES) + 1 :], scope, send)
            return
        raise NotFoundError(f"Unknown route: {method} {path}", code="server.not_found")

    async def _body(self, receive: Receive) -> bytes:
        return await read_body(receive, self.state.max_body_bytes, self.state.body_timeout_s)

    def _has_key(self, scope: Scope) -> bool:
        """A valid client key came with the request (always true when keys are off)."""
        if not self.state.api_keys:
            return True
        try:
            self._authenticate(scope, RequestContext("", "", "", ""))
        except AuthError:
            return False
        return True

    def _authenticate(self, scope: Scope, ctx: RequestContext) -> None:
        ctx.client_key_id = self._client_key(scope)

    def _client_key(self, scope: Scope) -> str | None:
        """The client key id of a request (None with no keys configured); AuthError if bad."""
        state = self.state
        if not state.api_keys:
            return None
        token: bytes | None = None
        auth = header(scope, b"authorization")
        if auth is not None and auth[:7].lower() == b"bearer ":
            token = auth[7:].strip()
        if token is None:
            token = header(scope, b"x-api-key")
        key_id = state.authenticate(token)
        if key_id is None:
            raise AuthError(
                "Invalid or missing API key: send 'Authorization: Bearer <key>' or 'x-api-key'",
                code="auth.invalid_key",
                wire_code="invalid_api_key",
            )
        return key_id

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
        for name, rt in self.services.router.runtimes.items():
            worst = "closed"
            for breaker in rt.breakers.values():
                if rank[breaker.state] > rank[worst]:
                    worst = breaker.state
            states[name] = worst
        return states, dict(self.services.breaker_log.counts)

    def models(self) -> dict[str, Any]:
        created = 0
        return {
            "object": "list",
            "data": [
                {"id": mid, "object": "model", "created": created, "owned_by": "godex"}
                for mid in self.services.router.model_ids()
            ],
        }

    # -- after every request --------------------------------------------------------------
    def _finish(self, ctx: RequestContext) -> None:
        state = self.state
        duration = time.perf_counter() - ctx.t0
        model = ctx.requested_model or ""
        access_log(ctx.request_id, ctx.method, ctx.path, ctx.http_status, duration * 1000, model)
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
        recorder = self.services.recorder
        if recorder.enabled and ctx.route in TRACED_ROUTES:
            recorder.record(trace_record(ctx, duration))


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
    if path == "/v1/models":
        return "models"
    if path in ("/health", "/metrics"):
        return path[1:]
    return "other"
