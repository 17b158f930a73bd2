"""Keep-alive connections per (scheme, host, port): reuse, expiry, connecting (DNS, TCP, TLS).

No global limit (every request gets a connection, as aiohttp's ``limit=0``); an idle
connection is closed after ``KEEPALIVE_S``; resolved addresses are kept ``DNS_TTL_S``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from typing import Any

from godex.upstream.http1_conn import Connection
from godex.upstream.http1_errors import Bound, BoundExceeded, ConnectFailed

KEEPALIVE_S = 30.0
DNS_TTL_S = 300.0
# A stream's reader stops at its last event (``[DONE]``); the chunked terminator that ends the
# body may come in a later write. Waited for this long (and this many stray bytes) in the
# background, then the connection goes back to the pool instead of being closed: the next
# request skips a TCP and TLS handshake.
FINISH_S = 0.25
FINISH_BYTES = 65536

Addr = tuple[int, tuple[Any, ...]]  # (family, sockaddr)


@dataclass(frozen=True, slots=True)
class Target:
    """Where one upstream URL goes, parsed once."""

    key: tuple[str, str, int]  # (scheme, host, port): the pool's key
    host: str
    port: int
    tls: bool
    path: str  # the request target: path and query
    host_line: str  # the Host header line, unless the caller sets one


class Pool:
    def __init__(self, loop: asyncio.AbstractEventLoop, ssl_context: ssl.SSLContext | None) -> None:
        self.loop = loop
        self._ssl_context = ssl_context
        self._idle: dict[tuple[str, str, int], list[Connection]] = {}
        self._all: set[Connection] = set()
        self._dns: dict[tuple[str, int], tuple[float, list[Addr]]] = {}
        self._finishing: set[asyncio.Task[None]] = set()

    @property
    def open_count(self) -> int:
        """Connections open now, in use or idle."""
        return len(self._all)

    def take(self, key: tuple[str, str, int]) -> Connection | None:
        """The most recently used idle connection (likeliest still open on the server)."""
        stack = self._idle.get(key)
        while stack:
            conn = stack.pop()
            if not conn.closed and conn.error is None:  # not aborted on its way out
                conn.pooled_until = 0.0
                return conn
        return None

    def put(self, conn: Connection) -> None:
        conn.park(self.loop.time() + KEEPALIVE_S)
        self._idle.setdefault(conn.key, []).append(conn)

    @property
    def idle_count(self) -> int:
        """Connections parked in the pool, ready for a request."""
        return sum(len(stack) for stack in self._idle.values())

    def give_back(self, conn: Connection) -> None:
        """Pooled if its answer was received whole and keep-alive holds; an answer whose
        last bytes are still to come (a stream read to its last event) is finished in the
        background first (see ``FINISH_S``); else closed."""
        if conn.done or conn.error is not None or conn.closed:
            self._park_or_close(conn)
            return
        task = self.loop.create_task(self._finish(conn))
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)

    def _park_or_close(self, conn: Connection) -> None:
        if conn.done and conn.keep_alive and conn.error is None and not conn.closed:
            self.put(conn)
        else:
            conn.abort()

    async def _finish(self, conn: Connection) -> None:
        deadline = self.loop.time() + FINISH_S
        left = FINISH_BYTES
        try:
            while not conn.done and conn.error is None and not conn.closed:
                if conn.buffered:
                    left -= len(conn.take())
                    if left < 0:
                        break  # more than a terminator: an answer nobody reads
                if not conn.done and not await conn.wait(deadline):
                    break
        except asyncio.CancelledError:
            conn.abort()
            raise
        self._park_or_close(conn)

    def _lost(self, conn: Connection) -> None:
        self._all.discard(conn)
        if conn.pooled_until:
            stack = self._idle.get(conn.key)
            if stack is not None and conn in stack:
                stack.remove(conn)

    async def connect(
        self, target: Target, connect_at: float, hard_at: float, hard_bound: Bound
    ) -> Connection:
        """A new connection, bounded by the connect timeout or the headers' bound if earlier."""
        try:
            async with asyncio.timeout_at(min(connect_at, hard_at)):
                return await self._connect(target)
        except TimeoutError as exc:  # only the timeout's own: _connect wraps every OSError
            raise BoundExceeded("connect" if connect_at <= hard_at else hard_bound) from exc

    async def close(self) -> None:
        for task in list(self._finishing):
            task.cancel()
        for conn in list(self._all):
            conn.abort()
        self._idle.clear()
        await asyncio.sleep(0)  # let connection_lost run, so no transport is left unclosed

    async def _connect(self, target: Target) -> Connection:
        loop = self.loop
        addrs = await self._resolve(target.host, target.port)
        last: OSError | None = None
        for family, addr in addrs:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.setblocking(False)
                await loop.sock_connect(sock, addr)
            except OSError as exc:
                sock.close()
                last = exc
                continue
            except BaseException:
                sock.close()
                raise
            break
        else:
            raise ConnectFailed() from last
        tls = self._tls() if target.tls else None
        try:
            _, conn = await loop.create_connection(
                lambda: Connection(loop, target.key, self._lost),
                sock=sock,
                ssl=tls,
                server_hostname=target.host if tls is not None else None,
            )
        except OSError as exc:  # ssl.SSLError and certificate errors are OSErrors too
            sock.close()
            raise ConnectFailed() from exc
        except BaseException:
            sock.close()
            raise
        self._all.add(conn)
        return conn

    def _tls(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()  # verifies; SNI from server_hostname
        return self._ssl_context

    async def _resolve(self, host: str, port: int) -> list[Addr]:
        now = self.loop.time()
        hit = self._dns.get((host, port))
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            try:
                infos = await self.loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as exc:  # socket.gaierror
                raise ConnectFailed() from exc
            addrs: list[Addr] = [(info[0], info[4]) for info in infos]
            if not addrs:
                raise ConnectFailed(f"{host} has no address") from None
            expires = now + DNS_TTL_S
        else:
            if ip.version == 4:
                addrs = [(socket.AF_INET, (host, port))]
            else:
                addrs = [(socket.AF_INET6, (host, port, 0, 0))]
            expires = float("inf")
        if len(self._dns) > 1024:  # bounded: a config names a handful of hosts
            self._dns.clear()
        self._dns[(host, port)] = (expires, addrs)
        return addrs
