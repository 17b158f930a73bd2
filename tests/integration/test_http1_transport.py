"""The built-in HTTP/1.1 transport against raw servers on 127.0.0.1, on asyncio's loop and uvloop.

Each server is a script of what the upstream does on a connection (answer, stall, close, reset),
so every case is one exact behaviour: reuse, framing, decoding, the retry of a stale pooled
connection, each bound's code, TLS, backpressure and cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
import ssl
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import uvloop

from godex.errors import GodexError
from godex.upstream.http1 import Http1Transport
from godex.upstream.http1_conn import HIGH_WATER
from godex.upstream.transport import Timeouts, UpstreamRequest
from tests.support.tls import make_certs

# The loop is chosen per test through event_loop_policy (deprecated, still the one way to run
# only this module on uvloop as well; the gateway serves on uvloop).
pytestmark = pytest.mark.filterwarnings('ignore:Overriding the "event_loop_policy"')

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "RawServer"], Awaitable[None]]


@pytest.fixture(params=["asyncio", "uvloop"])
def event_loop_policy(request: pytest.FixtureRequest) -> asyncio.AbstractEventLoopPolicy:
    return (
        uvloop.EventLoopPolicy() if request.param == "uvloop" else asyncio.DefaultEventLoopPolicy()
    )


class RawServer:
    """Runs ``handler`` for every accepted connection; counts connections and requests."""

    def __init__(
        self, handler: Handler, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1"
    ) -> None:
        self.handler = handler
        self.tls = tls
        self.host = host
        self.connections = 0
        self.requests: list[bytes] = []
        self.eofs = 0  # connections the client closed (read returned EOF)
        self._changed = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.port = 0

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, self.host, 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def url(self, host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}/v1/chat/completions?x=1"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        self._note()
        try:
            await self.handler(reader, writer, self)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        except asyncio.CancelledError:
            pass  # our own __aexit__: ending quietly keeps asyncio's streams from logging it
        finally:
            self._tasks.discard(task)
            writer.close()

    def _note(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def until(self, check: Callable[[], bool]) -> None:
        """Wait (bounded) until ``check()`` holds; woken by each server event, no polling."""
        async with asyncio.timeout(5):
            while not check():
                await self._changed.wait()

    async def request(self, reader: asyncio.StreamReader) -> bytes | None:
        """One request (head and body), or None at the client's EOF."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            self.eofs += 1
            self._note()
            return None
        length = 0
        for line in head.lower().split(b"\r\n"):
            if line.startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        body = await reader.readexactly(length)
        self.requests.append(head + body)
        self._note()
        return head + body

    async def until_eof(self, reader: asyncio.StreamReader) -> None:
        await reader.read()
        self.eofs += 1
        self._note()


async def eventually(check: Callable[[], bool]) -> None:
    """Until a client-side state holds (bounded): a condition checked, not a guessed delay."""
    async with asyncio.timeout(5):
        while not check():
            await asyncio.sleep(0.005)


def ok(body: bytes, *headers: str) -> bytes:
    extra = "".join(f"{h}\r\n" for h in headers)
    return f"HTTP/1.1 200 OK\r\n{extra}content-length: {len(body)}\r\n\r\n".encode() + body


def chunked(*pieces: bytes, headers: str = "") -> bytes:
    out = f"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n{headers}\r\n".encode()
    for p in pieces:
        out += b"%x\r\n%s\r\n" % (len(p), p)
    return out + b"0\r\n\r\n"


def serve_all(answer: Callable[[bytes], bytes]) -> Handler:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, s: RawServer) -> None:
        while (req := await s.request(r)) is not None:
            w.write(answer(req))
            await w.drain()

    return handler


def req(url: str, timeouts: Timeouts | None = None, deadline: float | None = None,
        **headers: str) -> UpstreamRequest:  # fmt: skip
    hdrs = {"content-type": "application/json", "Authorization": "Bearer sk-secret", **headers}
    return UpstreamRequest(url, hdrs, b'{"q": 1}', timeouts or Timeouts(), "ds", deadline)


@pytest.fixture
async def transport() -> AsyncIterator[Http1Transport]:
    t = Http1Transport()
    await t.start()
    try:
        yield t
    finally:
        await t.close()
    assert t.open_connections == 0


async def _code(coro: Awaitable[Any]) -> GodexError:
    with pytest.raises(GodexError) as caught:
        await coro
    return caught.value


async def _read(t: Http1Transport, request: UpstreamRequest) -> tuple[int, bytes]:
    resp = await t.open(request)
    try:
        return resp.status, await resp.read()
    finally:
        resp.release()


async def _stream(t: Http1Transport, request: UpstreamRequest) -> bytes:
    resp = await t.open(request)
    try:
        return b"".join([c async for c in resp.chunks(5.0) if c is not None])
    finally:
        resp.release()


# -- requests, reuse, framing --------------------------------------------------------------


async def test_keep_alive_reuses_one_connection_and_sends_a_lean_head(
    transport: Http1Transport,
) -> None:
    async with RawServer(serve_all(lambda _: ok(b'{"a": 1}'))) as s:
        for _ in range(5):
            assert await _read(transport, req(s.url())) == (200, b'{"a": 1}')
        assert s.connections == 1 and len(s.requests) == 5
        assert transport.open_connections == 1
    head, _, body = s.requests[0].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /v1/chat/completions?x=1 HTTP/1.1"
    names = [line.split(b":", 1)[0].lower() for line in lines[1:]]
    assert names.count(b"host") == 1 and f"Host: 127.0.0.1:{s.port}".encode() in lines
    assert b"Accept-Encoding: gzip, deflate" in lines and b"user-agent" not in names
    assert b"Content-Length: 8" in lines and body == b'{"q": 1}'
    assert b"Authorization: Bearer sk-secret" in lines


async def test_a_callers_accept_encoding_and_host_win(transport: Http1Transport) -> None:
    async with RawServer(serve_all(lambda _: ok(b"{}"))) as s:
        await _read(transport, req(s.url(), **{"accept-encoding": "identity", "Host": "up.x"}))
    lines = s.requests[0].split(b"\r\n")
    assert b"accept-encoding: identity" in lines and b"Host: up.x" in lines
    assert not any(line.lower().startswith(b"accept-encoding: gzip") for line in lines)


async def test_a_line_break_in_a_header_is_refused_without_its_value(
    transport: Http1Transport,
) -> None:
    err = await _code(transport.open(req("http://127.0.0.1:1/", **{"x-k": "sk-1\r\nevil: 1"})))
    assert err.code == "config.invalid" and "x-k" in err.message and "sk-1" not in err.message


@pytest.mark.parametrize("how", ["content-length", "chunked", "until-close"])
async def test_each_body_framing_reads_whole_and_streams(
    transport: Http1Transport, how: str
) -> None:
    pieces = [b"data: %d\n\n" % i * 50 for i in range(20)]
    whole = b"".join(pieces)

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, s: RawServer) -> None:
        while await s.request(r) is not None:
            if how == "content-length":
                w.write(ok(whole, "x-multi: a", "X-Multi: b"))
            elif how == "chunked":
                w.write(chunked(*pieces, headers="x-multi: a\r\nX-Multi: b\r\n"))
            else:
                w.write(b"HTTP/1.1 200 OK\r\nx-multi: a\r\nX-Multi: b\r\n\r\n" + whole)
                await w.drain()
                return  # the end of the body is the end of the connection
            await w.drain()

    async with RawServer(handler) as s:
        resp = await transport.open(req(s.url()))
        assert resp.headers["X-MULTI"] == "a, b" and resp.headers.get("x-multi") == "a, b"
        assert await resp.read() == whole
        resp.release()
        assert await _stream(transport, req(s.url())) == whole
        if how == "until-close":
            assert s.connections == 2 and transport.open_connections == 0
        else:
            assert s.connections == 1 and transport.open_connections == 1


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate"])
async def test_compressed_bodies_are_decoded(transport: Http1Transport, encoding: str) -> None:
    plain = b"".join(b'data: {"n": %d}\n\n' % i for i in range(2000))
    if encoding == "gzip":
        packed = gzip.compress(plain)
    elif encoding == "deflate":
        packed = zlib.compress(plain)
    else:
        c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        packed = c.compress(plain) + c.flush()
    name = "gzip" if encoding == "gzip" else "deflate"
    pieces = [packed[i : i + 100] for i in range(0, len(packed), 100)]
    answers = iter([ok(packed, f"Content-Encoding: {name}"),
                    chunked(*pieces, headers=f"content-encoding: {name}\r\n")])  # fmt: skip
    async with RawServer(serve_all(lambda _: next(answers))) as s:
        assert await _read(transport, req(s.url())) == (200, plain)
        assert await _stream(transport, req(s.url())) == plain


async def test_a_body_that_does_not_decompress_is_a_bad_response(transport: Http1Transport) -> None:
    async with RawServer(
        serve_all(lambda _: ok(b"not gzip at all", "content-encoding: gzip"))
    ) as s:
        resp = await transport.open(req(s.url()))
        err = await _code(resp.read())
        resp.release()
    assert err.code == "provider.bad_response"


async def test_a_malformed_answer_is_a_bad_response(transport: Http1Transport) -> None:
    async with RawServer(serve_all(lambda _: b"HTTP/1.1 2x0 Nope\r\n\r\n")) as s:
        err = await _code(transport.open(req(s.url())))
    assert err.code == "provider.bad_response" and err.status == 502


# -- stale pooled connections, resets --------------------------------------------------------


async def test_a_pooled_connection_the_server_closed_is_retried_once(
    transport: Http1Transport,
) -> None:
    """The server takes the second request on the kept-alive connection and closes it without
    a byte of answer: the request goes again, on a new connection, and succeeds."""

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, s: RawServer) -> None:
        first = s.connections == 1
        await s.request(r)
        w.write(ok(b'{"n": %d}' % len(s.requests)))
        await w.drain()
        if first:
            await s.request(r)  # read it, then hang up: "closed while idle" as the client sees it

    async with RawServer(handler) as s:
        assert await _read(transport, req(s.url())) == (200, b'{"n": 1}')
        assert await _read(transport, req(s.url())) == (200, b'{"n": 3}')
        assert s.connections == 2 and len(s.requests) == 3


async def test_a_pooled_connection_closed_while_idle_is_not_used(
    transport: Http1Transport,
) -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, s: RawServer) -> None:
        await s.request(r)
        w.write(ok(b"{}"))
        await w.drain()  # and close: the client sees EOF while the connection sits in its pool

    async with RawServer(handler) as s:
        await _read(transport, req(s.url()))
        await eventually(lambda: transport.open_connections == 0)  # it saw the close
        assert await _read(transport, req(s.url())) == (200, b"{}")
        assert s.connections == 2 and len(s.requests) == 2


@pytest.mark.parametrize("phase", ["body", "stream"])
async def test_a_reset_after_the_headers_is_typed_and_never_retried(
    transport: Http1Transport, phase: str
) -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, s: RawServer) -> None:
        await s.request(r)
        w.write(ok(b"{}"))  # one good exchange, so the next one is on a reused connection
        await s.request(r)
        w.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n" + b"x" * 10)
        await w.drain()
        sock = w.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        w.transport.abort()  # RST

    async with RawServer(handler) as s:
        await _read(transport, req(s.url()))
        resp = await transport.open(req(s.url()))
        if phase == "body":
            err = await _code(resp.read())
            assert err.code == "provider.connection"
        else:
            with pytest.raises(GodexError) as caught:
                async for _ in resp.chunks(5.0):
                    pass
            err = caught.value
            assert err.code == "provider.stream_broken"
        resp.release()
        assert len(s.requests) == 2 and s.connections == 1
        assert "sk-secret" not in err.message


async def test_a_close_after_part_of_the_status_line_is_not_retried(
    transport: Http1Transport,
) -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, s: RawServer) -> None:
        await s.request(r)
        w.write(ok(b"{}"))
        await s.request(r)
        w.write(b"HTTP/1.1 20")
        await w.drain()

    async with RawServer(handler) as s:
        await _read(transport, req(s.url()))
        err = await _code(transport.open(req(s.url())))
        assert err.code == "provider.connection"
        assert len(s.requests) == 2 and s.connections == 1


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback here")
async def test_an_ipv6_literal_url(transport: Http1Transport) -> None:
    async with RawServer(serve_all(lambda _: ok(b"{}")), host="::1") as s:
        assert await _read(transport, req(s.url("[::1]"))) == (200, b"{}")
    assert f"Host: [::1]:{s.port}".encode() in s.requests[0].split(b"\r\n")


async def test_connection_refused_is_connect_failed(transport: Http1Transport) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: refused
        err = await _code(transport.open(req(f"http://127.0.0.1:{port}/")))
    assert err.code == "provider.connect_failed" and f"127.0.0.1:{port}" in err.message


# -- the bounds ----------------------------------------------------------------------------


async def _hang(r: asyncio.StreamReader, w: asyncio.StreamWriter, s: RawServer) -> None:
    await s.request(r)
    await s.until_eof(r)


async def _part_then_hang(r: asyncio.StreamReader, w: asyncio.StreamWriter, s: RawServer) -> None:
    await s.request(r)
    w.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n")
    await w.drain()
    await s.until_eof(r)


async def test_no_headers_in_time_is_the_first_byte_timeout(transport: Http1Transport) -> None:
    async with RawServer(_hang) as s:
        t = Timeouts(first_byte_ms=150)
        err = await _code(transport.open(req(s.url(), t)))
        await s.until(lambda: s.eofs == 1)  # the stalled connection was closed
    assert err.code == "provider.timeout" and "150 ms" in err.message
    assert "first_byte_timeout_ms" in err.message


async def test_the_deadline_before_the_headers_is_deadline_exceeded(
    transport: Http1Transport,
) -> None:
    async with RawServer(_hang) as s:
        deadline = asyncio.get_running_loop().time() + 0.15
        err = await _code(transport.open(req(s.url(), Timeouts(total_ms=150), deadline)))
    assert err.code == "provider.deadline_exceeded" and "150 ms (timeout_ms)" in err.message


async def test_the_deadline_bounds_a_whole_body_read(transport: Http1Transport) -> None:
    async with RawServer(_part_then_hang) as s:
        deadline = asyncio.get_running_loop().time() + 0.2
        resp = await transport.open(req(s.url(), Timeouts(total_ms=200), deadline))
        err = await _code(resp.read())
        resp.release()
    assert err.code == "provider.deadline_exceeded"


@pytest.mark.parametrize("phase", ["body", "stream"])
async def test_a_quiet_upstream_is_the_idle_timeout(transport: Http1Transport, phase: str) -> None:
    async with RawServer(_part_then_hang) as s:
        resp = await transport.open(req(s.url(), Timeouts(idle_ms=150)))
        got: list[bytes | None] = []
        with pytest.raises(GodexError) as caught:
            if phase == "body":
                await resp.read()
            else:
                async for c in resp.chunks(0.05):  # ticks while quiet, then the bound
                    got.append(c)
        resp.release()
    err = caught.value
    assert err.code == "provider.idle_timeout" and "idle_timeout_ms" in err.message
    if phase == "stream":
        assert got[0] == b"hello" and None in got[1:]


async def test_a_tls_handshake_that_never_ends_is_the_connect_timeout(
    transport: Http1Transport,
) -> None:
    async with RawServer(_hang) as s:  # plain TCP: the ClientHello is never answered
        err = await _code(transport.open(req(s.url(scheme="https"), Timeouts(connect_ms=150))))
    assert err.code == "provider.connect_timeout" and "150 ms" in err.message
    assert "connect_timeout_ms" in err.message


# -- TLS -----------------------------------------------------------------------------------


async def test_https_with_sni_against_a_local_ca(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(certs.cert, certs.key)
    names: list[str | None] = []
    server_ctx.sni_callback = lambda _sock, name, _ctx: names.append(name)  # type: ignore[assignment,func-returns-value]
    client_ctx = ssl.create_default_context(cafile=str(certs.ca))
    t = Http1Transport(ssl_context=client_ctx)
    async with RawServer(serve_all(lambda _: ok(b'{"tls": true}')), tls=server_ctx) as s:
        assert await _read(t, req(s.url("localhost", "https"))) == (200, b'{"tls": true}')
        assert await _read(t, req(s.url("localhost", "https"))) == (200, b'{"tls": true}')
        assert names == ["localhost"] and s.connections == 1
        untrusting = Http1Transport()  # the system's CAs: the local one is not among them
        err = await _code(untrusting.open(req(s.url("localhost", "https"))))
        assert err.code == "provider.connect_failed" and "certificate" in err.message.lower()
        await untrusting.close()
    await t.close()
    assert t.open_connections == 0


# -- backpressure, cancellation, close -------------------------------------------------------


async def test_a_slow_consumer_pauses_reading_and_bounds_the_buffer(
    transport: Http1Transport,
) -> None:
    piece = b"y" * 65536
    total = 256  # 16 MiB: far more than the socket buffers and the high-water mark
    finished = asyncio.Event()

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, s: RawServer) -> None:
        await s.request(r)
        w.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % (len(piece) * total))
        for _ in range(total):
            w.write(piece)
            await w.drain()
        finished.set()
        await s.until_eof(r)

    async with RawServer(handler) as s:
        resp = await transport.open(req(s.url()))
        conn = resp._conn
        assert conn is not None
        await eventually(lambda: conn.pauses == 1)  # nobody reads: the socket stops being read
        assert conn.buffered <= HIGH_WATER + 256 * 1024  # the mark plus one socket read
        assert not finished.is_set()  # the upstream is held back, not buffered whole
        size = 0
        most = 0
        async for c in resp.chunks(5.0):
            size += len(c or b"")
            most = max(most, conn.buffered)
        resp.release()
        assert size == len(piece) * total and finished.is_set()
        assert most <= HIGH_WATER + 256 * 1024


async def test_cancelling_a_request_closes_its_connection(transport: Http1Transport) -> None:
    async with RawServer(_hang) as s:
        task = asyncio.create_task(transport.open(req(s.url())))
        await s.until(lambda: len(s.requests) == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await s.until(lambda: s.eofs == 1)
        assert transport.open_connections == 0


async def test_cancelling_a_body_read_closes_its_connection(transport: Http1Transport) -> None:
    async with RawServer(_part_then_hang) as s:
        resp = await transport.open(req(s.url()))
        conn = resp._conn
        assert conn is not None
        task = asyncio.create_task(resp.read())
        await eventually(lambda: conn._waiter is not None)  # the read waits for more body
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await s.until(lambda: s.eofs == 1)  # closed by the cancelled read, before release()
        assert transport.open_connections == 0
        resp.release()


async def test_an_unfinished_body_is_not_pooled(transport: Http1Transport) -> None:
    async with RawServer(_part_then_hang) as s:
        resp = await transport.open(req(s.url()))
        resp.release()
        await s.until(lambda: s.eofs == 1)
        assert transport.open_connections == 0


async def test_a_stream_released_at_its_last_event_finishes_and_is_reused(
    transport: Http1Transport,
) -> None:
    # The reader stops at the last event; the chunked terminator comes in a later write (as
    # a server flushing the last event, then closing the body, sends it). The connection is
    # read to its end in the background and serves the next request: no new handshake.
    release = asyncio.Event()

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, s: RawServer) -> None:
        while await s.request(r) is not None:
            event = b"data: [DONE]\n\n"
            w.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            w.write(b"%x\r\n%s\r\n" % (len(event), event))
            await w.drain()
            await release.wait()
            w.write(b"0\r\n\r\n")
            await w.drain()

    async with RawServer(handler) as s:
        resp = await transport.open(req(s.url()))
        got = b""
        async for chunk in resp.chunks(5.0):
            got += chunk or b""
            if b"[DONE]" in got:
                break
        resp.release()  # the body's last bytes are still to come
        release.set()
        await eventually(lambda: transport.open_connections == transport.idle_connections == 1)
        assert await _stream(transport, req(s.url())) == b"data: [DONE]\n\n"
        assert s.connections == 1 and len(s.requests) == 2


async def test_an_answer_that_goes_on_after_release_is_closed(transport: Http1Transport) -> None:
    # Past the few bytes a terminator takes, nobody reads what follows: the connection closes.
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, s: RawServer) -> None:
        await s.request(r)
        w.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        piece = b"x" * 8192
        with contextlib.suppress(ConnectionError):
            for _ in range(64):  # 512 KB, more than the pool reads after a release
                w.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                await w.drain()
            await s.until_eof(r)

    async with RawServer(handler) as s:
        resp = await transport.open(req(s.url()))
        resp.release()
        await eventually(lambda: transport.open_connections == 0)
        assert s.connections == 1


async def test_close_closes_every_pooled_connection() -> None:
    t = Http1Transport()

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, s: RawServer) -> None:
        await s.request(r)
        w.write(ok(b"{}"))
        await s.until_eof(r)

    async with RawServer(handler) as s:
        await asyncio.gather(*(_read(t, req(s.url())) for _ in range(3)))
        assert t.open_connections == 3
        await t.close()
        await s.until(lambda: s.eofs == 3)
        assert t.open_connections == 0
