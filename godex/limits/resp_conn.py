"""One pipelined Redis connection: an asyncio Protocol with a FIFO of futures.

Redis answers a connection's commands in order, so every command is a future at the back of
the queue and every reply settles the one at the front. Commands issued in the same loop tick
go out in ONE ``transport.write`` (they are buffered and flushed by a ``call_soon``), and every
reply in a read is parsed in one go: sixteen concurrent callers cost one send and one receive.

The 2 s answer bound is ONE timer for the whole queue, armed for the oldest command: when it
fires and that command has since been answered, it re-arms for the new oldest, so a busy
connection makes about one timer call per bound, not one per command. A broken connection
fails every command in flight with one typed error (``resp``) and is never used again.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, cast

from godex.limits.resp import Parser, ProtocolError, RedisConnectionError, RedisTimeout


class Connection(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop, timeout_s: float) -> None:
        self.loop = loop
        self.timeout_s = timeout_s
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.error: RedisConnectionError | RedisTimeout | None = None
        self._parser = Parser()
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self._sent_at: deque[float] = deque()  # loop time of each waiting command
        self._out: list[bytes] = []
        self._timer: asyncio.TimerHandle | None = None

    def send(self, command: bytes) -> asyncio.Future[Any]:
        """Queue one encoded command; its future gets the reply (a ``ReplyError`` is set as
        its exception). Out with the rest of this tick's commands."""
        if self.closed:
            raise self.error or RedisConnectionError("the Redis connection is closed")
        loop = self.loop
        fut = loop.create_future()
        now = loop.time()
        self._waiting.append(fut)
        self._sent_at.append(now)
        if not self._out:
            loop.call_soon(self._flush)
        self._out.append(command)
        if self._timer is None:
            self._timer = loop.call_at(now + self.timeout_s, self._on_timer)
        return fut

    def close(self) -> None:
        self._fail(RedisConnectionError("the Redis connection was closed"), abort=False)

    # -- asyncio callbacks ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        waiting, sent_at = self._waiting, self._sent_at
        try:
            for reply in self._parser.feed(data):
                if not waiting:
                    raise ProtocolError("Redis sent a reply nobody asked for")
                fut = waiting.popleft()
                sent_at.popleft()
                if fut.done():  # its caller was cancelled: the reply is dropped, order holds
                    continue
                if isinstance(reply, Exception):
                    fut.set_exception(reply)
                else:
                    fut.set_result(reply)
        except ProtocolError as exc:
            self._fail(exc)

    def eof_received(self) -> bool | None:
        return None  # close; connection_lost fails what is in flight

    def connection_lost(self, exc: Exception | None) -> None:
        why = f": {exc}" if exc is not None else ""
        self._fail(RedisConnectionError(f"the Redis connection was lost{why}"), abort=False)

    # -- internals ------------------------------------------------------------------------

    def _flush(self) -> None:
        out = self._out
        self._out = []
        if self.closed or self.transport is None:
            return
        self.transport.write(out[0] if len(out) == 1 else b"".join(out))

    def _on_timer(self) -> None:
        self._timer = None
        if self.closed or not self._sent_at:
            return
        due = self._sent_at[0] + self.timeout_s
        if self.loop.time() >= due:
            self._fail(RedisTimeout(f"Redis did not answer within {self.timeout_s:g} s"))
        else:
            self._timer = self.loop.call_at(due, self._on_timer)

    def _fail(self, error: RedisConnectionError | RedisTimeout, abort: bool = True) -> None:
        """Never use this connection again; everything in flight gets ``error``."""
        if not self.closed:
            self.closed = True
            self.error = error
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self.transport is not None:
                if abort:
                    self.transport.abort()
                else:
                    self.transport.close()
        first = self.error or error
        waiting = self._waiting
        self._sent_at.clear()
        self._out = []
        while waiting:
            fut = waiting.popleft()
            if not fut.done():  # one instance each: tracebacks are not shared across tasks
                fut.set_exception(type(first)(*first.args))
