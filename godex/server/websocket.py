"""Responses over WebSocket: ``GET /v1/responses`` upgraded, one ``response.create`` per turn.

OpenAI's WebSocket mode (its guide and event reference): a client event is a JSON text message;
``response.create`` carries the top-level fields of ``POST /v1/responses`` (``stream`` is
implicit, ``background`` is not supported). Each turn runs through the same ``Gateway.open`` as
HTTP and sends the same events the SSE stream carries, one message per event. Requests on one
lane (``stream_id``; the default lane has none) run FIFO without overlap, lanes run side by
side, and named lanes' events echo their ``stream_id``. A continuation of a response this
connection made needs no store (``gateway.continuation``). Errors are ``error`` events with
OpenAI's codes; the connection lives at most ``websocket_max_lifetime`` and closes when idle.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from godex.bridge.request import parse_request
from godex.errors import GodexError, InvalidRequestError, NotFoundError
from godex.gateway.context import RequestContext
from godex.gateway.continuation import ConnectionHistory
from godex.gateway.core import Gateway
from godex.gateway.pipeline import Exchange
from godex.ids import new_id
from godex.logging import get_logger
from godex.server.admission import Admission, Ticket
from godex.server.auth import Principal, bind
from godex.server.drain import Drain, shutting_down
from godex.server.http import Receive, Scope, Send
from godex.server.metrics import Metrics
from godex.server.responses import capture_request, note_error, unexpected
from godex.server.sse import encode_events

log = get_logger("godex.server")

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode

MAX_ACTIVE = 16  # OpenAI: 16 active responses per connection; further creates queue
MAX_NAMED_LANES = 32  # OpenAI: distinct named stream_ids per connection
_STREAM_ID = re.compile(r"[A-Za-z0-9_.\-]{1,256}")

CLOSE_NORMAL = 1000
CLOSE_RESTART = 1012  # "service restart": clients reconnect


def _invalid(message: str, param: str | None, wire_code: str) -> InvalidRequestError:
    return InvalidRequestError(message, param=param, wire_code=wire_code, code="server.websocket")


def lifetime_reached(limit_s: float) -> GodexError:
    return GodexError(
        f"Responses websocket connection limit reached ({limit_s / 60:g} minutes). "
        "Create a new websocket connection to continue.",
        code="limits.websocket_lifetime",
        wire_code="websocket_connection_limit_reached",
        status=400,
        type="invalid_request_error",
    )


class Connection:
    """One accepted socket: reads client events, runs turns on lanes, writes events back."""

    def __init__(
        self,
        gateway: Gateway,
        drain: Drain,
        metrics: Metrics,
        receive: Receive,
        send: Send,
        *,
        key_id: str | None,
        idle_s: float,
        lifetime_s: float,
        finish: Callable[[RequestContext], None],
        resolve: Callable[[], Awaitable[Principal]] | None = None,
        admission: Admission | None = None,
    ) -> None:
        self.gateway = gateway
        # Each turn re-resolves the connection's key: a key revoked mid-connection stops at once.
        self.resolve = resolve
        self.admission = admission
        self.drain = drain
        self.metrics = metrics
        self._receive = receive
        self._send = send
        self.key_id = key_id
        self.idle_s = idle_s
        self.lifetime_s = lifetime_s
        self.finish = finish
        self.history = ConnectionHistory(gateway.services.sealer)
        self._lanes: dict[str | None, asyncio.Queue[dict[str, Any]]] = {}
        self._workers: set[asyncio.Task[None]] = set()  # one per lane, running its turns
        self._slots = asyncio.Semaphore(MAX_ACTIVE)
        self._write = asyncio.Lock()
        self._busy = 0  # turns queued or running
        self.closed = False  # the client went away, or we closed
        self.expired = False
        self.draining = False  # the server is shutting down: no new turns
        self._idle: asyncio.TimerHandle | None = None
        self._life: asyncio.TimerHandle | None = None

    # -- the connection -------------------------------------------------------------------
    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        if self.lifetime_s > 0:
            self._life = loop.call_later(self.lifetime_s, self._lifetime_over)
        self._arm_idle()
        try:
            while True:
                message = await self._receive()
                kind = message["type"]
                if kind == "websocket.disconnect":
                    return
                if kind == "godex.drain":  # see runner.DrainingWebSocketProtocol
                    self.draining = True
                    if self._busy == 0:
                        await self.close(CLOSE_RESTART, "server restarting")
                    continue
                if kind != "websocket.receive" or self.closed:
                    continue
                self._arm_idle()
                text = message.get("text")
                if text is None:
                    data = message.get("bytes") or b""
                    try:
                        text = data.decode()
                    except UnicodeDecodeError:
                        text = ""
                await self._on_message(text)
        finally:
            self.closed = True
            for handle in (self._idle, self._life):
                if handle is not None:
                    handle.cancel()
            # A client that went away cancels its turns, and with them the upstream calls.
            for task in self._workers:
                task.cancel()
            if self._workers:
                await asyncio.gather(*self._workers, return_exceptions=True)

    async def _on_message(self, text: str) -> None:
        try:
            event = _decode(text)
        except msgspec.DecodeError:
            await self._error(_invalid("The message is not valid JSON.", None, "invalid_json"))
            return
        if not isinstance(event, dict):
            await self._error(
                _invalid("A client event must be a JSON object.", None, "invalid_type")
            )
            return
        kind = event.get("type")
        if kind == "response.create":
            await self._create(event)
        elif kind == "response.steer":
            await self._steer_unsupported(event)
        else:
            await self._error(
                _invalid(
                    f"Invalid value: {kind!r}. Supported values are: 'response.create' and "
                    "'response.steer'.",
                    "type",
                    "invalid_value",
                )
            )

    async def _create(self, event: dict[str, Any]) -> None:
        lane = event.get("stream_id")
        if lane is not None and (not isinstance(lane, str) or not _STREAM_ID.fullmatch(lane)):
            err = _invalid(
                "stream_id must be 1-256 ASCII letters, digits, '_', '-' or '.'",
                "stream_id",
                "invalid_stream_id",
            )
            await self._error(err)
            return
        if self.draining:
            await self._error(shutting_down(), lane)
            return
        if self.expired:
            await self._error(lifetime_reached(self.lifetime_s), lane)
            await self.close(CLOSE_NORMAL, "connection lifetime reached")
            return
        if event.get("background"):
            err = _invalid(
                "background is not supported over WebSocket.", "background", "invalid_value"
            )
            await self._error(err, lane)
            return
        queue = self._lanes.get(lane)
        if queue is None:
            named = sum(1 for k in self._lanes if k is not None)
            if lane is not None and named >= MAX_NAMED_LANES:
                err = _invalid(
                    f"At most {MAX_NAMED_LANES} distinct stream_id values per connection.",
                    "stream_id",
                    "websocket_stream_limit_reached",
                )
                await self._error(err, lane)
                return
            queue = self._lanes[lane] = asyncio.Queue()
            worker = asyncio.get_running_loop().create_task(self._lane(lane, queue))
            self._workers.add(worker)
        self._busy += 1
        queue.put_nowait(event)

    async def _lane(self, lane: str | None, queue: asyncio.Queue[dict[str, Any]]) -> None:
        """Runs one lane's requests in order, each to its terminal event before the next."""
        while not self.closed:  # a turn cut short by the client going away ends the lane
            event = await queue.get()
            try:
                async with self._slots:
                    await Turn(self, lane, event).run()
            finally:
                self._busy -= 1
                self._after_turn()

    async def _steer_unsupported(self, event: dict[str, Any]) -> None:
        # Steering needs a model that can take input mid-response; a Chat Completions
        # upstream cannot, so the input comes straight back as OpenAI documents.
        steer: dict[str, Any] = {
            "input": event.get("input"),
            "previous_response_id": event.get("previous_response_id"),
        }
        await self.send_events(
            [
                {
                    "type": "response.steer.failed",
                    "sequence_number": 0,
                    "error": {
                        "type": "invalid_request_error",
                        "code": "steering_not_supported",
                        "message": "Steering is not supported by this gateway's models.",
                    },
                    "steer": steer,
                }
            ],
            None,
        )

    # -- timers ---------------------------------------------------------------------------
    def _arm_idle(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if self.idle_s > 0 and not self.closed:
            self._idle = asyncio.get_running_loop().call_later(self.idle_s, self._idle_over)

    def _idle_over(self) -> None:
        self._idle = None
        if self._busy == 0 and not self.closed:
            asyncio.get_running_loop().create_task(self.close(CLOSE_NORMAL, "idle timeout"))

    def _lifetime_over(self) -> None:
        self._life = None
        self.expired = True
        if self._busy == 0 and not self.closed:
            asyncio.get_running_loop().create_task(self._expire())

    async def _expire(self) -> None:
        await self._error(lifetime_reached(self.lifetime_s))
        await self.close(CLOSE_NORMAL, "connection lifetime reached")

    def _after_turn(self) -> None:
        if self._busy:
            return
        if self.draining and not self.closed:
            asyncio.get_running_loop().create_task(self.close(CLOSE_RESTART, "server restarting"))
        elif self.expired and not self.closed:
            asyncio.get_running_loop().create_task(self._expire())
        else:
            self._arm_idle()

    # -- writing --------------------------------------------------------------------------
    async def send_events(self, events: list[dict[str, Any]], lane: str | None) -> None:
        if self.closed:
            return
        async with self._write:  # one batch stays together even when lanes interleave
            for ev in events:
                if lane is not None:
                    ev = {**ev, "stream_id": lane}  # a copy: the builder may keep its events
                await self._send({"type": "websocket.send", "text": _encode(ev).decode()})

    async def _error(self, err: GodexError, lane: str | None = None) -> None:
        await self.send_events([error_event(err)], lane)

    async def close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            await self._send({"type": "websocket.close", "code": code, "reason": reason})
        except Exception:  # already gone
            log.debug("websocket_close_failed", reason=reason)


def error_event(err: GodexError) -> dict[str, Any]:
    body = err.to_body()
    return {"type": "error", "status": err.status, "error": body["error"]}


class Turn:
    """One ``response.create``: the same exchange HTTP runs, its events sent as messages."""

    def __init__(self, conn: Connection, lane: str | None, event: dict[str, Any]) -> None:
        self.conn = conn
        self.lane = lane
        self.event = event
        self.ctx = RequestContext(new_id("req"), "WS", "/v1/responses", "responses.create")
        self.ctx.client_key_id = conn.key_id

    async def run(self) -> None:
        conn, ctx = self.conn, self.ctx
        task = asyncio.current_task()
        conn.drain.track(task)
        parent: str | None = None
        ticket: Ticket | None = None
        try:
            body = {k: v for k, v in self.event.items() if k not in ("type", "stream_id")}
            body["stream"] = True
            raw = _encode(body)
            req = parse_request(raw, conn.gateway.services.request_limits)
            if conn.resolve is not None and conn.admission is not None:
                who = await conn.resolve()
                bind(who, ctx)
                ticket = await conn.admission.enter(who, req.model, ctx)
            capture_request(conn.gateway, raw, ctx)
            parent = req.previous_response_id
            history = conn.history.lookup(parent) if parent else None
            if history is None:
                history = await conn.gateway.history(req)
            exchange = await conn.gateway.open(req, ctx, history=history)
            try:
                response = await self._stream(exchange)
            finally:
                exchange.close()
            if response is not None:
                conn.history.remember(self.lane, req, history, response)
                if response.get("status") == "failed" and parent:
                    conn.history.evict(parent, self.lane)
        except GodexError as err:
            note_error(ctx, err)
            if parent:
                conn.history.evict(parent, self.lane)
            await conn.send_events([error_event(err)], self.lane)
        except asyncio.CancelledError:
            if task is None:
                raise
            if conn.closed:
                # The client went away: the upstream call is cancelled with the turn.
                task.uncancel()
                ctx.status = "cancelled"
                ctx.http_status = 499
                ctx.error_code = "server.client_disconnected"
            elif conn.drain.interrupted:
                # Shutdown before the stream began: a retryable error, as HTTPS answers 503.
                task.uncancel()
                restart = shutting_down()
                note_error(ctx, restart)
                await conn.send_events([error_event(restart)], self.lane)
            else:
                raise
        except Exception as exc:
            log.exception("unhandled_error", request_id=ctx.request_id, path=ctx.path)
            failure = unexpected(exc, ctx)
            note_error(ctx, failure)
            await conn.send_events([error_event(failure)], self.lane)
        finally:
            conn.drain.untrack(task)
            try:
                if ticket is not None and conn.admission is not None:
                    await conn.admission.leave(ticket, ctx)
            finally:
                conn.finish(ctx)

    async def _stream(self, exchange: Exchange) -> dict[str, Any] | None:
        """Send every event; the terminal one's Response, or None if the stream was cut."""
        conn = self.conn
        conn.metrics.stream_started()
        try:
            return await self._events(exchange)
        finally:
            conn.metrics.stream_ended()

    async def _events(self, exchange: Exchange) -> dict[str, Any] | None:
        conn, ctx = self.conn, self.ctx
        captured: list[bytes] | None = [] if ctx.request_payload is not None else None
        first = exchange.start()
        await conn.send_events(first, self.lane)
        ctx.t_first_client_byte = time.perf_counter()
        if captured is not None:
            captured.append(encode_events(first))
        try:
            async for batch in exchange.stream():
                if captured is not None:
                    captured.append(encode_events(batch))
                await conn.send_events(batch, self.lane)
                if exchange.finished:
                    if captured is not None:
                        ctx.response_payload = b"".join(captured)
                    return _terminal_response(batch)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not conn.drain.interrupted or conn.closed or task is None:
                raise
            # Shutdown cut the turn short: end it properly, persisted, retryable.
            task.uncancel()
            tail = await exchange.abort(shutting_down())
            await conn.send_events(tail, self.lane)
            return _terminal_response(tail)
        return None


def _terminal_response(batch: list[dict[str, Any]]) -> dict[str, Any] | None:
    if batch and isinstance(batch[-1].get("response"), dict):
        response: dict[str, Any] = batch[-1]["response"]
        return response
    return None


class WebSocketDoor:
    """The upgrade: same auth as HTTP, a bound on open sockets per client key, then run."""

    def __init__(
        self,
        gateway: Gateway,
        drain: Drain,
        metrics: Metrics,
        authenticate: Callable[[Scope], Awaitable[Principal]],
        finish: Callable[[RequestContext], None],
        admission: Admission | None = None,
    ) -> None:
        self.gateway = gateway
        self.drain = drain
        self.metrics = metrics
        self.authenticate = authenticate
        self.finish = finish
        self.admission = admission
        self.open_per_key: dict[str, int] = {}  # client key id (or address) -> open sockets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        if scope["path"] != "/v1/responses":
            err = NotFoundError(f"Unknown route: GET {scope['path']}", code="server.not_found")
            await _deny(scope, send, err)
            return
        try:
            who = await self.authenticate(scope)
            key_id = who.name
        except GodexError as err:
            await _deny(scope, send, err)
            return
        server = self.gateway.services.config.server
        # Without client keys every client is anonymous: each address gets its own budget.
        client = scope.get("client") or ("", 0)
        budget = key_id if key_id is not None else f"addr:{client[0]}"
        count = self.open_per_key.get(budget, 0)
        if count >= server.websocket_max_per_key:
            await _deny(scope, send, too_many_sockets(server.websocket_max_per_key))
            return
        self.open_per_key[budget] = count + 1
        self.metrics.websocket_opened()
        try:
            await send({"type": "websocket.accept"})
            conn = Connection(
                self.gateway,
                self.drain,
                self.metrics,
                receive,
                send,
                key_id=key_id,
                resolve=lambda: self.authenticate(scope),
                admission=self.admission,
                idle_s=server.websocket_idle_timeout_s,
                lifetime_s=server.websocket_max_lifetime_s,
                finish=self.finish,
            )
            await conn.run()
        finally:
            self.metrics.websocket_closed()
            left = self.open_per_key[budget] - 1
            if left:
                self.open_per_key[budget] = left
            else:
                del self.open_per_key[budget]


def too_many_sockets(limit: int) -> GodexError:
    return GodexError(
        f"This client key already has {limit} open WebSockets (server.websocket_max_per_key); "
        "close one or use HTTPS POST /v1/responses.",
        code="limits.websockets_per_key",
        wire_code="rate_limit_exceeded",
        status=429,
        type="rate_limit_error",
    )


async def _deny(scope: Scope, send: Send, err: GodexError) -> None:
    """Refuse the upgrade with the HTTP answer the same request gets over HTTPS."""
    if "websocket.http.response" not in (scope.get("extensions") or {}):
        await send({"type": "websocket.close", "code": 1008, "reason": err.message[:120]})
        return
    body = _encode(err.to_body())
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in err.headers.items()]
    await send({"type": "websocket.http.response.start", "status": err.status, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": body})
