"""A lean Redis client: one pipelined connection (``resp_conn``), made on first use and again
on the first command after it dropped, and Lua scripts run by their SHA1.

It speaks ``redis://[user:password@]host[:port][/db]`` (AUTH and SELECT on connect, pipelined).
``parse_url`` answers None for what it leaves to redis-py (``redis_py``): ``rediss://`` (TLS:
redis-py's certificate and hostname options), ``unix://`` sockets and options in a query
string. Errors are the ``resp`` types; none carries the URL or the password.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse

from godex.limits.resp import Arg, RedisConnectionError, RedisTimeout, ReplyError, encode
from godex.limits.resp_conn import Connection

CONNECT_TIMEOUT_S = 1.0
TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class Address:
    host: str
    port: int
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def parse_url(url: str) -> Address | None:
    """Read the URL as redis-py does (``redis.connection.parse_url``); None: not ours."""
    u = urlparse(url)
    if u.scheme != "redis" or u.query:
        return None  # redis-py reads it (and refuses what it does not know either)
    db = 0
    if u.path:
        with contextlib.suppress(ValueError):  # redis-py ignores a path that is no number
            db = int(unquote(u.path).replace("/", ""))
    return Address(
        host=unquote(u.hostname) if u.hostname else "localhost",
        port=u.port or 6379,
        db=db,
        username=unquote(u.username) if u.username else None,
        password=unquote(u.password) if u.password else None,
    )


class Script:
    """A Lua script and its SHA1, for EVALSHA."""

    __slots__ = ("sha", "source", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.source = text.encode()
        self.sha = hashlib.sha1(self.source).hexdigest().encode()


class RespClient:
    def __init__(
        self,
        address: Address,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        self.address = address
        self.connect_timeout_s = connect_timeout_s
        self.timeout_s = timeout_s
        self._conn: Connection | None = None
        self._connecting: asyncio.Task[Connection] | None = None
        self.connects = 0  # connections made (tests, diagnostics)

    async def call(self, *args: Arg) -> Any:
        """One command's reply; an error reply raises ``ReplyError``."""
        conn = self._conn
        if conn is None or conn.closed:
            conn = await self._connection()
        return await conn.send(encode(args))

    async def run(self, script: Script, keys: Sequence[Arg], args: Sequence[Arg]) -> Any:
        """EVALSHA; a server that does not know the script (restarted, SCRIPT FLUSH) gets it
        once with EVAL, which also caches it for the next EVALSHA."""
        conn = self._conn
        if conn is None or conn.closed:
            conn = await self._connection()
        try:  # call() inlined: one coroutine less on the hot path
            return await conn.send(encode(("EVALSHA", script.sha, len(keys), *keys, *args)))
        except ReplyError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        return await self.call("EVAL", script.source, len(keys), *keys, *args)

    async def mget(self, *keys: Arg) -> list[Any]:
        return await self.call("MGET", *keys)  # type: ignore[no-any-return]

    async def close(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
            self._connecting = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- connecting -----------------------------------------------------------------------

    async def _connection(self) -> Connection:
        """The one connect under way, shared by every command that needs it (a cancelled
        caller does not cancel it for the others)."""
        task = self._connecting
        if task is None:
            task = asyncio.get_running_loop().create_task(self._open())
            task.add_done_callback(self._opened)
            self._connecting = task
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            me = asyncio.current_task()
            if task.cancelled() and (me is None or not me.cancelling()):  # close() stopped it
                raise RedisConnectionError("the Redis client was closed") from None
            raise

    def _opened(self, task: asyncio.Task[Connection]) -> None:
        if self._connecting is task:
            self._connecting = None
        if not task.cancelled():
            task.exception()  # retrieved here too: every waiter may have been cancelled

    async def _open(self) -> Connection:
        loop = asyncio.get_running_loop()
        a = self.address
        where = f"{a.host}:{a.port}"
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                _, conn = await loop.create_connection(
                    lambda: Connection(loop, self.timeout_s), a.host, a.port
                )
        except TimeoutError:
            raise RedisTimeout(
                f"could not connect to Redis at {where} within {self.connect_timeout_s:g} s"
            ) from None
        except OSError as exc:
            raise RedisConnectionError(
                f"cannot connect to Redis at {where}: {exc.strerror or exc}"
            ) from exc
        hello: dict[str, tuple[Arg, ...]] = {}
        if a.password is not None or a.username is not None:
            user = () if a.username is None else (a.username,)
            hello["AUTH"] = ("AUTH", *user, a.password or "")
        if a.db:
            hello["SELECT"] = ("SELECT", a.db)
        try:
            sent = [conn.send(encode(c)) for c in hello.values()]  # one write, like any tick's
            replies = await asyncio.gather(*sent, return_exceptions=True)
        except BaseException:  # cancelled (close) or the connection broke
            conn.close()
            raise
        for name, reply in zip(hello, replies, strict=True):
            if isinstance(reply, BaseException):
                conn.close()
                if isinstance(reply, ReplyError):  # WRONGPASS, NOAUTH, a db out of range
                    raise RedisConnectionError(f"Redis refused {name}: {reply}") from None
                raise reply
        self.connects += 1
        self._conn = conn
        return conn
