"""The built-in transport's parts without sockets: the parser fed any split, headers, errors."""

from __future__ import annotations

import asyncio
import gzip
import socket
import zlib
from collections.abc import Iterator

import httptools
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from godex.errors import GodexError
from godex.upstream.http1 import _Decoder, _head
from godex.upstream.http1_conn import INF, Connection, Headers
from godex.upstream.http1_errors import BoundExceeded, Closed, ConnectFailed, translate
from godex.upstream.http1_pool import Target
from godex.upstream.transport import Timeouts


class _FakeTransport:
    """What Connection calls on its transport; records it instead of using a socket."""

    def __init__(self) -> None:
        self.written = b""
        self.paused = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.written += data

    def writelines(self, parts: tuple[bytes, ...]) -> None:
        self.written += b"".join(parts)

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def abort(self) -> None:
        self.aborted = True


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()  # only its clock and call_at: it never runs
    yield loop
    loop.close()


def _conn(loop: asyncio.AbstractEventLoop) -> tuple[Connection, _FakeTransport]:
    conn = Connection(loop, ("http", "h", 80), lambda _c: None)
    fake = _FakeTransport()
    conn.connection_made(fake)  # type: ignore[arg-type]
    conn.begin(b"POST / HTTP/1.1\r\n\r\n", b"", INF, "first_byte", INF)
    return conn, fake


def _chunked(body: bytes, cuts: list[int]) -> bytes:
    head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
    out, last = [head], 0
    for cut in [*sorted(set(cuts)), len(body)]:
        if cut > last:
            piece = body[last:cut]
            out.append(b"%x\r\n%s\r\n" % (len(piece), piece))
            last = cut
    out.append(b"0\r\n\r\n")
    return b"".join(out)


@settings(max_examples=150, deadline=None)
@given(
    text=st.binary(min_size=0, max_size=4000),
    chunk_cuts=st.lists(st.integers(min_value=0, max_value=5000), max_size=12),
    wire_cuts=st.lists(st.integers(min_value=0, max_value=6000), max_size=30),
)
def test_any_split_of_a_chunked_gzip_body_decodes_to_the_body(
    loop: asyncio.AbstractEventLoop, text: bytes, chunk_cuts: list[int], wire_cuts: list[int]
) -> None:
    packed = gzip.compress(text)
    wire = _chunked(packed, [c % (len(packed) + 1) for c in chunk_cuts])
    conn, _ = _conn(loop)
    dec = _Decoder("gzip")
    out = b""
    last = 0
    for cut in [*sorted({c % (len(wire) + 1) for c in wire_cuts}), len(wire)]:
        conn.data_received(wire[last:cut]) if cut > last else None
        last = max(last, cut)
        if conn.buffered:
            out += dec.decompress(conn.take())
    assert conn.done and conn.keep_alive and conn.error is None
    assert conn.status == 200 and conn.encoding == "gzip"
    assert out + dec.flush() == text


@settings(max_examples=50, deadline=None)
@given(text=st.binary(min_size=1, max_size=2000), cut=st.integers(min_value=0, max_value=3000))
def test_deflate_either_way_decodes_from_any_first_piece(text: bytes, cut: int) -> None:
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    for packed in (zlib.compress(text), raw.compress(text) + raw.flush()):
        dec = _Decoder("deflate")
        at = cut % (len(packed) + 1)
        assert dec.decompress(packed[:at]) + dec.decompress(packed[at:]) + dec.flush() == text


def test_the_body_buffer_pauses_reading_past_the_high_water_mark(
    loop: asyncio.AbstractEventLoop,
) -> None:
    conn, fake = _conn(loop)
    conn.data_received(b"HTTP/1.1 200 OK\r\ncontent-length: 400000\r\n\r\n" + b"a" * 200_000)
    assert not fake.paused
    conn.data_received(b"a" * 100_000)
    assert fake.paused and conn.pauses == 1 and conn.buffered == 300_000
    assert len(conn.take()) == 300_000
    assert not fake.paused and conn.buffered == 0
    conn.data_received(b"a" * 100_000)
    assert conn.done


def test_a_malformed_answer_is_recorded_and_the_connection_dropped(
    loop: asyncio.AbstractEventLoop,
) -> None:
    conn, fake = _conn(loop)
    conn.data_received(b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n")
    assert isinstance(conn.error, httptools.HttpParserError) and fake.aborted


def test_an_interim_answer_is_skipped(loop: asyncio.AbstractEventLoop) -> None:
    conn, _ = _conn(loop)
    conn.data_received(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nx-a: 1\r\n")
    assert not conn.headers_done
    conn.data_received(b"content-length: 2\r\n\r\nok")
    assert conn.status == 201 and conn.headers == {"x-a": "1", "content-length": "2"}
    assert conn.done and conn.take() == b"ok"


def test_headers_are_case_insensitive_and_read_only() -> None:
    h = Headers({"retry-after": "7", "x-a": "1, 2"})
    assert h["Retry-After"] == "7" and h.get("RETRY-AFTER") == "7" and h.get("nope") is None
    assert "X-A" in h and 3 not in h and len(h) == 2 and sorted(h) == ["retry-after", "x-a"]
    assert not hasattr(h, "__setitem__")


def test_the_head_is_one_block_with_our_framing() -> None:
    t = Target(("http", "h", 80), "h", 80, False, "/v1/x?a=1", "Host: h\r\n")
    head = _head(t, {"Content-Length": "99", "X-Key": "k", "transfer-encoding": "chunked"}, 5, "ds")
    assert head == (
        b"POST /v1/x?a=1 HTTP/1.1\r\nHost: h\r\nX-Key: k\r\n"
        b"Accept-Encoding: gzip, deflate\r\nContent-Length: 5\r\n\r\n"
    )


T = Timeouts(connect_ms=1234, first_byte_ms=2345, idle_ms=3456, total_ms=4567)


@pytest.mark.parametrize(
    ("exc", "phase", "code", "words"),
    [
        (BoundExceeded("connect"), "open", "provider.connect_timeout", "1234 ms (connect_"),
        (BoundExceeded("first_byte"), "open", "provider.timeout", "2345 ms (first_byte_"),
        (BoundExceeded("idle"), "stream", "provider.idle_timeout", "3456 ms (idle_timeout_ms)"),
        (BoundExceeded("deadline"), "body", "provider.deadline_exceeded", "4567 ms (timeout_ms)"),
        (ConnectFailed(), "open", "provider.connect_failed", "cannot connect to http://h/x"),
        (httptools.HttpParserError("bad"), "open", "provider.bad_response", "malformed"),
        (zlib.error("bad"), "body", "provider.bad_response", "decompress"),
        (Closed("gone"), "open", "provider.connection", "request failed: gone"),
        (ConnectionResetError(104, "reset"), "body", "provider.connection", "body broke"),
        (ConnectionResetError(104, "reset"), "stream", "provider.stream_broken", "stream broke"),
    ],
)  # fmt: skip
def test_every_failure_maps_to_one_typed_error(
    exc: BaseException, phase: str, code: str, words: str
) -> None:
    err = translate(exc, "ds", "http://h/x", phase, T)  # type: ignore[arg-type]
    assert isinstance(err, GodexError) and err.code == code and words in err.message
    assert err.message.startswith("ds: ")


def test_a_dns_failure_is_connect_failed_and_says_why() -> None:
    try:
        raise ConnectFailed() from socket.gaierror(-2, "Name or service not known")
    except ConnectFailed as exc:
        err = translate(exc, "ds", "http://no.such.host/x", "open", T)
    assert err.code == "provider.connect_failed" and "Name or service not known" in err.message


def test_bytes_after_a_complete_answer_make_the_connection_unusable(
    loop: asyncio.AbstractEventLoop,
) -> None:
    conn, fake = _conn(loop)
    conn.data_received(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
    assert conn.done and conn.error is None
    conn.data_received(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
    assert conn.status == 200 and conn.take() == b"ok"  # the answer stays as it was
    assert fake.aborted and conn.error is not None  # and the connection is never pooled
