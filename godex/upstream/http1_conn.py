"""One keep-alive HTTP/1.1 client connection: an asyncio Protocol around httptools' parser.

It sends a request head and body, parses the answer as bytes arrive (Content-Length, chunked
or read-until-close bodies), buffers the body for one consumer and keeps every clock of the
exchange on ONE timer handle. The timer is never moved later, only earlier: when it fires early
it checks which bound is really due and re-arms, so a request on a pooled connection usually
costs no timer call at all (the pool's 30 s expiry timer is already earlier than the bounds).

Failures are only recorded here (``error``); ``http1_errors.translate`` types them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from typing import Any, cast

import httptools

from godex.upstream.http1_errors import Bound, BoundExceeded, Closed, StaleConnection

INF = float("inf")
# Above this much unread body the socket stops being read, so a slow client makes the upstream
# wait (TCP backpressure) instead of making GodeX hold its whole stream.
HIGH_WATER = 256 * 1024
# Answers that never have a body, whatever their headers say.
_NO_BODY = (204, 304)


class Headers(Mapping[str, str]):
    """Response headers: case-insensitive, read-only; a repeated header's values joined by ", "."""

    __slots__ = ("_d",)

    def __init__(self, d: dict[str, str]) -> None:
        self._d = d  # lower-case names

    def __getitem__(self, name: str) -> str:
        return self._d[name.lower()]

    def get(self, name: str, default: Any = None) -> Any:
        return self._d.get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._d

    def __iter__(self) -> Iterator[str]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)

    def __repr__(self) -> str:
        return f"Headers({self._d!r})"


class Connection(asyncio.Protocol):
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        key: tuple[str, str, int],
        on_lost: Callable[[Connection], None],
    ) -> None:
        self.loop = loop
        self.key = key
        self._on_lost = on_lost
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reused = False  # it has served an exchange: a close before any answer is retried
        self.pooled_until = 0.0  # loop time it leaves the pool; 0: in use
        # The exchange under way.
        self._parser: httptools.HttpResponseParser | None = None
        self._raw: list[tuple[bytes, bytes]] = []
        self._interim = False
        self._until_close = False
        self._got_byte = False
        self.status = 0
        self.headers = Headers({})
        self.encoding: str | None = None
        self.headers_done = False
        self.done = False
        self.keep_alive = False
        self.error: BaseException | None = None
        self._body: list[bytes] = []
        self.buffered = 0
        self._paused = False
        self.pauses = 0  # times reading paused for an unread body (tests, diagnostics)
        self._waiter: asyncio.Future[None] | None = None
        self._ticked = False
        # The clocks: a hard bound (headers, then the body's deadline), idle, the caller's tick.
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = INF
        self.hard_at = INF
        self.hard_bound: Bound = "first_byte"
        self.idle_s = INF
        self._last_rx = 0.0
        self._tick_at = INF

    # -- the exchange ---------------------------------------------------------------------

    def begin(self, head: bytes, body: bytes, hard_at: float, bound: Bound, idle_s: float) -> None:
        """Send one request; the answer's parts arrive in ``headers_done``/``take``/``done``."""
        self._parser = httptools.HttpResponseParser(self)
        self._raw = []
        self._interim = self._until_close = self._got_byte = False
        self.headers_done = self.done = self.keep_alive = False
        self.encoding = None
        self.error = None
        self._body = []
        self.buffered = 0
        self.pooled_until = 0.0
        self.hard_at, self.hard_bound, self.idle_s = hard_at, bound, idle_s
        self._last_rx = now = self.loop.time()
        self._arm(min(hard_at, now + idle_s))
        assert self.transport is not None
        if len(body) <= 65536:
            self.transport.write(head + body)  # one send for the usual request
        else:
            self.transport.writelines((head, body))  # no copy of a big body

    def body_deadline(self, at: float) -> None:
        """Bound the rest of the body by ``at`` (whole-body reads; a stream's owner has its own)."""
        if at < self.hard_at and not self.done:
            self.hard_at, self.hard_bound = at, "deadline"
            self._arm(at)

    async def wait(self, tick_at: float = INF) -> bool:
        """Until something happens (headers, body bytes, the end, an error); False if ``tick_at``
        passed first."""
        fut = self.loop.create_future()
        self._waiter = fut
        self._ticked = False
        if tick_at < INF:
            self._tick_at = tick_at
            self._arm(tick_at)
        try:
            await fut
        finally:
            self._waiter = None
            self._tick_at = INF
        return not self._ticked

    def take(self) -> bytes:
        """All body bytes buffered so far."""
        body = self._body
        data = body[0] if len(body) == 1 else b"".join(body)
        self._drained()
        return data

    def take_parts(self) -> list[bytes]:
        body = self._body
        self._drained()
        return body

    def _drained(self) -> None:
        self._body = []
        self.buffered = 0
        if self._paused and self.transport is not None:
            self._paused = False
            self._last_rx = self.loop.time()  # the upstream was not idle, we were not reading
            self.transport.resume_reading()

    def park(self, until: float) -> None:
        """Idle in the pool until ``until`` (loop time), then close."""
        self.reused = True
        self._parser = None
        self.pooled_until = until
        self._arm(until)

    def abort(self) -> None:
        """Drop the connection now (a broken, cancelled or unfinished exchange)."""
        if self.error is None:
            self.error = Closed("the connection was dropped")
        if not self.closed and self.transport is not None:
            self.transport.abort()

    # -- asyncio callbacks ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        if parser is None or self.done:  # bytes nobody asked for: never reuse this connection
            self.abort()
            return
        self._got_byte = True
        self._last_rx = self.loop.time()
        try:
            parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(exc)

    def eof_received(self) -> bool | None:
        return None  # close; connection_lost decides what the end means

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._timer_at = INF
        if self._parser is not None and not self.done and self.error is None:
            if self.headers_done and self._until_close and exc is None:
                self.done = True  # a body without length ends with the connection
            elif self.reused and not self._got_byte:
                self.error = StaleConnection()
            else:
                self.error = exc or Closed(
                    "the upstream closed the connection before the answer was complete"
                )
        self._wake()
        self._on_lost(self)

    # -- httptools callbacks --------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._raw = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self._raw.append((name, value))

    def on_headers_complete(self) -> None:
        assert self._parser is not None
        status = self._parser.get_status_code()
        if status < 200:  # 100 Continue and friends: the real answer follows
            self._interim = True
            return
        d: dict[str, str] = {}
        for raw_name, raw_value in self._raw:
            name = raw_name.lower().decode("latin-1")
            value = raw_value.decode("latin-1")
            d[name] = d[name] + ", " + value if name in d else value
        self.status = status
        self.headers = Headers(d)
        enc = d.get("content-encoding")
        if enc is not None:
            enc = enc.strip().lower()
            self.encoding = enc if enc in ("gzip", "x-gzip", "deflate") else None
        self._until_close = (
            "content-length" not in d
            and "chunked" not in d.get("transfer-encoding", "").lower()
            and status not in _NO_BODY
        )
        self.headers_done = True
        self.hard_at = INF  # the headers' bound is met
        self._wake()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)
        self.buffered += len(body)
        if self.buffered > HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.pauses += 1
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        assert self._parser is not None
        self.done = True
        self.keep_alive = self._parser.should_keep_alive()
        self.hard_at = self.idle_s = INF  # nothing more is awaited
        self._wake()

    # -- internals ------------------------------------------------------------------------

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        if not self.closed and self.transport is not None:
            self.transport.abort()
        self._wake()

    def _arm(self, at: float) -> None:
        """Make the timer fire by ``at``; one already due earlier stays (it re-arms itself)."""
        if at >= self._timer_at or self.closed:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.loop.call_at(at, self._on_timer)
        self._timer_at = at

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = INF
        if self.closed:
            return
        now = self.loop.time()
        if self.pooled_until:
            if now >= self.pooled_until:
                self.abort()  # idle in the pool for too long
            else:
                self._arm(self.pooled_until)
            return
        if now >= self.hard_at:
            self._fail(BoundExceeded(self.hard_bound))
            return
        due = self.hard_at
        if not self.done and not self._paused and self.idle_s < INF:
            idle_at = self._last_rx + self.idle_s
            if now >= idle_at:
                self._fail(BoundExceeded("idle"))
                return
            due = min(due, idle_at)
        if self._waiter is not None and self._tick_at < INF:
            if now >= self._tick_at:
                self._ticked = True
                self._wake()
            else:
                due = min(due, self._tick_at)
        if due < INF:
            self._arm(due)
