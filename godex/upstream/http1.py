"""The built-in upstream transport: a lean HTTP/1.1 client on asyncio and httptools.

GodeX only ever POSTs a JSON body and reads a JSON body or an SSE stream back, so the client
does just that: one bytes write for the request head (plus the body), a pooled keep-alive
connection per (scheme, host, port) (``http1_pool``), the answer parsed by httptools with every
clock on one timer per connection (``http1_conn``), gzip and deflate decoded as they stream.
Every OS, TLS, parser and zlib error becomes a typed ``ProviderError`` in
``http1_errors.translate``, with the aiohttp transport's codes and messages.

A request sent on a reused connection that the server had closed while it sat idle (it ends
before any byte of the answer) is sent once more on a new connection, as aiohttp does; once a
byte of the answer has arrived it never is.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from collections.abc import AsyncIterator, Mapping
from urllib.parse import urlsplit

from godex.errors import ConfigError, ProviderError
from godex.upstream.http1_conn import Connection
from godex.upstream.http1_errors import EXPECTED, Bound, StaleConnection, translate
from godex.upstream.http1_pool import Pool, Target
from godex.upstream.transport import UpstreamRequest

# Framing is ours: the caller's values would contradict the body we send.
_FRAMING = frozenset({"content-length", "transfer-encoding"})
_ACCEPT_ENCODING = "Accept-Encoding: gzip, deflate\r\n"


class _Decoder:
    """Streaming gzip or deflate; deflate is zlib-wrapped or, from some servers, raw."""

    __slots__ = ("_d", "_head")

    def __init__(self, encoding: str) -> None:
        if encoding == "deflate":
            self._d: zlib._Decompress | None = None  # chosen from the first two bytes
            self._head = b""
        else:
            self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            self._head = b""

    def decompress(self, data: bytes) -> bytes:
        d = self._d
        if d is None:
            data = self._head + data
            if len(data) < 2:
                self._head = data
                return b""
            wrapped = (data[0] & 0x0F) == 8 and ((data[0] << 8) | data[1]) % 31 == 0
            d = self._d = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        return d.decompress(data)

    def flush(self) -> bytes:
        return self._d.flush() if self._d is not None else b""


class _Response:
    __slots__ = ("_body", "_conn", "_decoder", "_pool", "_request", "headers", "status")

    def __init__(self, conn: Connection, request: UpstreamRequest, pool: Pool) -> None:
        self._conn: Connection | None = conn
        self._request = request
        self._pool = pool
        self._body: bytes | None = None
        self.status = conn.status
        self.headers: Mapping[str, str] = conn.headers
        self._decoder = _Decoder(conn.encoding) if conn.encoding is not None else None

    async def read(self) -> bytes:
        if self._body is not None:
            return self._body
        conn = self._conn
        if conn is None:
            return b""
        r = self._request
        try:
            if r.deadline is not None:
                conn.body_deadline(r.deadline)
            parts: list[bytes] = []
            while True:
                if conn.buffered:
                    parts += conn.take_parts()
                if conn.done:
                    break
                if conn.error is not None:
                    raise conn.error
                await conn.wait()
            raw = b"".join(parts)
            dec = self._decoder
            if dec is not None:
                raw = dec.decompress(raw) + dec.flush()
            self.release()  # read to the end: the connection is free now, as with aiohttp
        except EXPECTED as exc:
            self._drop()
            raise translate(exc, r.label, r.url, "body", r.timeouts) from exc
        except BaseException:  # cancelled: the connection is mid-answer, it cannot be reused
            self._drop()
            raise
        self._body = raw
        return raw

    async def chunks(self, tick_s: float) -> AsyncIterator[bytes | None]:
        conn = self._conn
        if conn is None:
            return
        loop = conn.loop
        dec = self._decoder
        try:
            while True:
                if conn.buffered:
                    data = conn.take()
                    if dec is not None:
                        data = dec.decompress(data)
                    if data:
                        yield data
                elif conn.done:
                    tail = dec.flush() if dec is not None else b""
                    self.release()  # read to the end: the connection is free now
                    if tail:
                        yield tail
                    return
                elif conn.error is not None:
                    raise conn.error
                elif not await conn.wait(loop.time() + tick_s):
                    yield None
        except asyncio.CancelledError:
            self._drop()
            raise
        except EXPECTED as exc:
            self._drop()
            r = self._request
            raise translate(exc, r.label, r.url, "stream", r.timeouts) from exc

    def release(self) -> None:
        """The connection back to the pool (``Pool.give_back`` decides how)."""
        conn = self._conn
        if conn is None:
            return
        self._conn = None
        self._pool.give_back(conn)

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.abort()


class Http1Transport:
    def __init__(self, *, ssl_context: ssl.SSLContext | None = None) -> None:
        # Test-only: a context trusting a local CA; by default ssl.create_default_context().
        self._ssl_context = ssl_context
        self._pool: Pool | None = None
        self._targets: dict[str, Target] = {}

    @property
    def open_connections(self) -> int:
        return self._pool.open_count if self._pool is not None else 0

    @property
    def idle_connections(self) -> int:
        return self._pool.idle_count if self._pool is not None else 0

    async def start(self) -> None:
        if self._pool is None:
            self._pool = Pool(asyncio.get_running_loop(), self._ssl_context)

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def open(self, request: UpstreamRequest) -> _Response:
        pool = self._pool
        if pool is None:
            await self.start()
            pool = self._pool
            assert pool is not None
        target = self._targets.get(request.url) or self._target(request.url, request.label)
        head = _head(target, request.headers, len(request.body), request.label)
        t = request.timeouts
        now = pool.loop.time()
        # One bound for the headers: the first-byte timeout or the deadline, whichever is first.
        hard_at = now + t.first_byte_ms / 1000
        bound: Bound = "first_byte"
        if request.deadline is not None and request.deadline < hard_at:
            hard_at, bound = request.deadline, "deadline"
        connect_at = now + t.connect_ms / 1000
        idle_s = t.idle_ms / 1000
        conn = pool.take(target.key)
        try:
            if conn is None:
                conn = await pool.connect(target, connect_at, hard_at, bound)
            try:
                await _exchange(conn, head, request.body, hard_at, bound, idle_s)
            except StaleConnection:
                conn = None
                conn = await pool.connect(target, pool.loop.time() + t.connect_ms / 1000,
                                          hard_at, bound)  # fmt: skip
                await _exchange(conn, head, request.body, hard_at, bound, idle_s)
        except EXPECTED as exc:
            if conn is not None:
                conn.abort()
            raise translate(exc, request.label, request.url, "open", t) from exc
        except BaseException:  # cancelled: nothing half-done is left open
            if conn is not None:
                conn.abort()
            raise
        return _Response(conn, request, pool)

    def _target(self, url: str, label: str) -> Target:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        try:
            port = parts.port
        except ValueError:
            port = -1
        host = parts.hostname
        if scheme not in ("http", "https") or not host or port == -1:
            raise ProviderError(
                f"{label}: cannot connect to {url}: not an http(s) URL",
                code="provider.connect_failed",
            )
        default = 443 if scheme == "https" else 80
        port = port or default
        name = f"[{host}]" if ":" in host else host
        host_line = f"Host: {name}\r\n" if port == default else f"Host: {name}:{port}\r\n"
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        target = Target((scheme, host, port), host, port, scheme == "https", path, host_line)
        if len(self._targets) > 256:  # bounded: a config names a handful of URLs
            self._targets.clear()
        self._targets[url] = target
        return target


async def _exchange(
    conn: Connection, head: bytes, body: bytes, hard_at: float, bound: Bound, idle_s: float
) -> None:
    """Send the request and wait for the answer's headers."""
    conn.begin(head, body, hard_at, bound, idle_s)
    while not conn.headers_done:
        if conn.error is not None:
            raise conn.error
        await conn.wait()


def _head(target: Target, headers: Mapping[str, str], length: int, label: str) -> bytes:
    """The request line and headers as one bytes; no User-Agent (none was ever sent)."""
    lines = [f"POST {target.path} HTTP/1.1\r\n"]
    host = accept = False
    for name, value in headers.items():
        low = name.lower()
        if low in _FRAMING:
            continue
        if low == "host":
            host = True
        elif low == "accept-encoding":
            accept = True
        lines.append(f"{name}: {value}\r\n")
    if not host:
        lines.insert(1, target.host_line)
    if not accept:
        lines.append(_ACCEPT_ENCODING)
    lines.append(f"Content-Length: {length}\r\n\r\n")
    text = "".join(lines)
    # One count finds a line break smuggled into a name or value (a request split in two).
    if text.count("\n") != len(lines) + 1 or text.count("\r") != len(lines) + 1:
        bad = next((n for n, v in headers.items() if "\r" in n + v or "\n" in n + v), "?")
        raise ConfigError(
            f"{label}: the upstream request header {bad!r} holds a line break",
            code="config.invalid",
        )
    return text.encode()
