"""Minimal raw-ASGI helpers: the hot path does not need a framework."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, ClassVar

import msgspec

from godex.errors import GodexError, InvalidRequestError
from godex.sessions.store import Order

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_encode = msgspec.json.Encoder().encode
JSON_HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return None


def query_params(scope: Scope) -> dict[str, str]:
    raw: bytes = scope.get("query_string") or b""
    if not raw:
        return {}
    from urllib.parse import parse_qsl

    return dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True))


async def read_body(receive: Receive, limit: int, timeout_s: float = 30.0) -> bytes:
    """The whole request body, which must arrive within ``timeout_s`` (slow clients hold
    connections otherwise) and stay within ``limit`` bytes."""
    task = asyncio.current_task()
    assert task is not None
    watch = _BodyWatch.of(asyncio.get_running_loop())
    watch.add(task, timeout_s)
    try:
        return await _read_body(receive, limit)
    except asyncio.CancelledError:
        if not watch.expired(task):
            raise
        raise GodexError(
            f"the request body did not arrive within {timeout_s:g} s",
            code="server.body_timeout",
            status=408,
            type="invalid_request_error",
        ) from None
    finally:
        watch.discard(task)


class _BodyWatch:
    """The body-read bound of every request on one loop, kept by one sweep instead of a timer
    per request: most bodies arrive with their headers, and a timer each cost about 1% of a
    short request. A read is cancelled at most a quarter of its bound (or 1 s) late."""

    _by_loop: ClassVar[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _BodyWatch]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._reading: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._sweep: asyncio.TimerHandle | None = None
        self._period = 1.0

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> _BodyWatch:
        watch = cls._by_loop.get(loop)
        if watch is None:
            watch = cls._by_loop[loop] = cls(loop)
        return watch

    def add(self, task: asyncio.Task[Any], timeout_s: float) -> None:
        self._reading[task] = self._loop.time() + timeout_s
        period = min(1.0, timeout_s / 4)
        if self._sweep is None or period < self._period:
            if self._sweep is not None:
                self._sweep.cancel()
            self._period = period
            self._sweep = self._loop.call_later(period, self._run)

    def discard(self, task: asyncio.Task[Any]) -> None:
        self._reading.pop(task, None)

    def expired(self, task: asyncio.Task[Any]) -> bool:
        """This watch cancelled ``task`` (and the cancellation is now consumed)."""
        if task not in self._expired:
            return False
        self._expired.discard(task)
        task.uncancel()
        return True

    def _run(self) -> None:
        now = self._loop.time()
        late = [t for t, until in self._reading.items() if until <= now]
        for task in late:
            del self._reading[task]
            self._expired.add(task)
            task.cancel()
        if self._reading:
            self._sweep = self._loop.call_later(self._period, self._run)
        else:
            self._sweep, self._period = None, 1.0


async def _read_body(receive: Receive, limit: int) -> bytes:
    message = await receive()
    body: bytes = message.get("body", b"")
    if message["type"] == "http.disconnect":
        raise GodexError(
            "the client went away before sending its request body",
            code="server.client_disconnected",
            status=400,
            type="invalid_request_error",
        )
    if not message.get("more_body"):
        return body
    parts = [body]
    size = len(body)
    while message.get("more_body"):
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise GodexError(
                f"request body exceeds {limit} bytes",
                code="server.body_too_large",
                status=413,
                type="invalid_request_error",
            )
        parts.append(chunk)
    return b"".join(parts)


async def send_bytes(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
    extra: dict[str, str] | None = None,
) -> None:
    hdrs = list(headers if headers is not None else JSON_HEADERS)
    if extra:
        hdrs.extend((k.lower().encode(), v.encode()) for k, v in extra.items())
    hdrs.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Send, status: int, obj: Any, extra: dict[str, str] | None = None) -> None:
    await send_bytes(send, status, _encode(obj), JSON_HEADERS, extra)


async def send_error(send: Send, error: GodexError, request_id: str | None = None) -> None:
    extra = dict(error.headers)
    if request_id:
        extra["x-request-id"] = request_id
    await send_json(send, error.status, error.to_body(), extra)


def paging(scope: Scope) -> tuple[int, Order, str | None]:
    """``limit`` (1-100, default 20), ``order`` (default desc) and ``after`` of a list route."""
    params = query_params(scope)
    try:
        limit = int(params.get("limit") or 20)
    except ValueError as exc:
        raise InvalidRequestError("limit must be an integer", param="limit") from exc
    if not 1 <= limit <= 100:
        raise InvalidRequestError("limit must be between 1 and 100", param="limit")
    order = params.get("order") or "desc"
    if order != "asc" and order != "desc":
        raise InvalidRequestError("order must be 'asc' or 'desc'", param="order")
    return limit, "asc" if order == "asc" else "desc", params.get("after") or None
