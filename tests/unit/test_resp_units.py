"""The Redis client's parts without sockets: RESP2 replies fed in any split, commands encoded,
URLs read as redis-py reads them, and one connection's FIFO, batching and bounds."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import redis.connection
from hypothesis import given, settings
from hypothesis import strategies as st

from godex.limits.resp import (
    Parser,
    ProtocolError,
    RedisConnectionError,
    RedisTimeout,
    ReplyError,
    encode,
)
from godex.limits.resp_client import Address, parse_url
from godex.limits.resp_conn import Connection

# -- replies --------------------------------------------------------------------------------

# A reply as a test writes it: ("+", b"OK"), ("-", "ERR x"), (":", 5), ("$", b"..."),
# ("$", None) (null bulk), ("*", None) (null array), ("*", [replies...]).
Reply = tuple[str, Any]

_line = st.binary(max_size=30).filter(lambda b: b"\r" not in b and b"\n" not in b)
_leaf: st.SearchStrategy[Reply] = st.one_of(
    st.tuples(st.just("+"), _line),
    st.tuples(st.just("-"), st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdef0123", min_size=1)),
    st.tuples(st.just(":"), st.integers(min_value=-(2**63), max_value=2**63 - 1)),
    st.tuples(st.just("$"), st.binary(max_size=200)),
    st.tuples(st.just("$"), st.none()),
    st.tuples(st.just("*"), st.none()),
)
_reply: st.SearchStrategy[Reply] = st.recursive(
    _leaf, lambda inner: st.tuples(st.just("*"), st.lists(inner, max_size=5)), max_leaves=20
)


def _wire(r: Reply) -> bytes:
    """RESP2 as a server writes it (spelled out here, independent of the client's code)."""
    kind, v = r
    if kind == "+":
        return b"+%s\r\n" % v
    if kind == "-":
        return b"-%s\r\n" % v.encode()
    if kind == ":":
        return b":%d\r\n" % v
    if kind == "$":
        return b"$-1\r\n" if v is None else b"$%d\r\n%s\r\n" % (len(v), v)
    if v is None:
        return b"*-1\r\n"
    return b"*%d\r\n" % len(v) + b"".join(_wire(x) for x in v)


def _expected(r: Reply) -> Any:
    kind, v = r
    if kind == "-":
        return ("error", v)
    if kind == "*" and v is not None:
        return [_expected(x) for x in v]
    return v  # simple and bulk strings are bytes, integers int, nulls None


def _seen(reply: Any) -> Any:
    if isinstance(reply, ReplyError):
        return ("error", str(reply))
    if isinstance(reply, list):
        return [_seen(x) for x in reply]
    return reply


@settings(max_examples=200, deadline=None)
@given(
    replies=st.lists(_reply, min_size=1, max_size=12),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=40),
)
def test_any_split_of_a_reply_stream_gives_the_same_replies(
    replies: list[Reply], cuts: list[int]
) -> None:
    wire = b"".join(_wire(r) for r in replies)
    parser, got, last = Parser(), [], 0
    for cut in [*sorted({c % (len(wire) + 1) for c in cuts}), len(wire)]:
        got += list(parser.feed(wire[last:cut]))
        last = max(last, cut)
    assert [_seen(x) for x in got] == [_expected(r) for r in replies]


def test_an_error_reply_is_a_value_and_the_stream_goes_on() -> None:
    got = list(Parser().feed(b"-NOSCRIPT No matching script.\r\n:1\r\n"))
    assert isinstance(got[0], ReplyError) and str(got[0]).startswith("NOSCRIPT")
    assert got[1] == 1


def test_a_stream_that_is_not_resp_raises_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        list(Parser().feed(b"HTTP/1.1 400 Bad Request\r\n"))


# -- commands -------------------------------------------------------------------------------

_arg = st.one_of(
    st.binary(max_size=100),
    st.text(max_size=50),
    st.integers(min_value=-(2**64), max_value=2**64),
)


def _as_bytes(a: bytes | str | int) -> bytes:
    return a if isinstance(a, bytes) else str(a).encode()


@settings(max_examples=200, deadline=None)
@given(args=st.lists(_arg, min_size=1, max_size=20))
def test_a_command_is_an_array_of_bulk_strings_that_parses_back(
    args: list[bytes | str | int],
) -> None:
    wire = encode(tuple(args))
    spelled = b"*%d\r\n" % len(args) + b"".join(
        b"$%d\r\n%s\r\n" % (len(_as_bytes(a)), _as_bytes(a)) for a in args
    )
    assert wire == spelled
    assert list(Parser().feed(wire)) == [[_as_bytes(a) for a in args]]


@pytest.mark.parametrize("bad", [None, True, [1]])
def test_an_argument_that_is_not_bytes_str_or_int_is_refused(bad: object) -> None:
    with pytest.raises(TypeError):
        encode(("SET", "k", bad))  # type: ignore[arg-type]


# -- URLs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "redis://h:1/2",
        "redis://localhost",
        "redis://h/",
        "redis://h:7000/x",
        "redis://:s3cret@h:6380/3",
        "redis://alice:p%40ss%3Aw%2Fd@h:6379/1",
        "redis://alice@h",
        "redis://Host.Example:6379//4",
    ],
)
def test_a_url_reads_as_redis_py_reads_it(url: str) -> None:
    ours = parse_url(url)
    theirs = redis.connection.parse_url(url)  # type: ignore[no-untyped-call]
    assert ours is not None
    assert ours.host == theirs.get("host", "localhost")
    assert ours.port == theirs.get("port", 6379)
    assert ours.db == theirs.get("db", 0)
    assert ours.username == theirs.get("username")
    assert ours.password == theirs.get("password")


@pytest.mark.parametrize(
    "url", ["rediss://h:6380/0", "unix:///tmp/redis.sock", "redis://h/0?db=2", "http://h:1/0"]
)
def test_tls_sockets_and_url_options_are_left_to_redis_py(url: str) -> None:
    assert parse_url(url) is None


def test_the_password_stays_out_of_the_address_repr() -> None:
    a = parse_url("redis://alice:hunter2@h:6379/0")
    assert a == Address("h", 6379, 0, "alice", "hunter2")
    assert "hunter2" not in repr(a)


# -- one connection ---------------------------------------------------------------------------


class _FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.aborted = self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def abort(self) -> None:
        self.aborted = True

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def _conn(loop: asyncio.AbstractEventLoop, timeout_s: float = 2.0) -> tuple[Connection, Any]:
    conn = Connection(loop, timeout_s)
    fake = _FakeTransport()
    conn.connection_made(fake)  # type: ignore[arg-type]
    return conn, fake


def test_a_tick_of_commands_goes_out_in_one_write_and_replies_settle_in_order(
    loop: asyncio.AbstractEventLoop,
) -> None:
    conn, fake = _conn(loop)

    async def run() -> list[Any]:
        futs = [conn.send(encode(("ECHO", i))) for i in range(5)]
        await asyncio.sleep(0)  # the flush
        assert fake.writes == [b"".join(encode(("ECHO", i)) for i in range(5))]  # one write
        futs[2].cancel()  # a cancelled caller: its reply is dropped, the others keep order
        conn.data_received(b"$1\r\n0\r\n$1\r\n1\r\n$1\r\n2\r\n-ERR three\r\n$1")
        conn.data_received(b"\r\n4\r\n")
        out: list[Any] = []
        for f in futs:
            try:
                out.append(await f)
            except asyncio.CancelledError:
                out.append("cancelled")
            except ReplyError as exc:
                out.append(str(exc))
        return out

    assert loop.run_until_complete(run()) == [b"0", b"1", "cancelled", "ERR three", b"4"]
    assert not conn.closed


def test_a_reply_nobody_asked_for_drops_the_connection(loop: asyncio.AbstractEventLoop) -> None:
    conn, fake = _conn(loop)
    conn.data_received(b"+OK\r\n")
    assert conn.closed and fake.aborted and isinstance(conn.error, ProtocolError)
    with pytest.raises(ProtocolError):
        conn.send(encode(("PING",)))


def test_a_lost_connection_fails_every_command_in_flight(loop: asyncio.AbstractEventLoop) -> None:
    conn, _ = _conn(loop)

    async def run() -> list[BaseException | None]:
        futs = [conn.send(encode(("PING",))) for _ in range(3)]
        conn.connection_lost(ConnectionResetError("reset by peer"))
        return list(await asyncio.gather(*futs, return_exceptions=True))

    errors = loop.run_until_complete(run())
    assert all(isinstance(e, RedisConnectionError) for e in errors)
    assert len({id(e) for e in errors}) == 3  # one instance each
    assert "reset by peer" in str(errors[0])


def test_an_answer_later_than_the_bound_drops_the_connection(
    loop: asyncio.AbstractEventLoop,
) -> None:
    conn, fake = _conn(loop, timeout_s=0.05)

    async def run() -> tuple[Any, BaseException | None]:
        first = conn.send(encode(("PING",)))
        await asyncio.sleep(0.03)
        second = conn.send(encode(("PING",)))
        conn.data_received(b"+PONG\r\n")  # the first is answered in time: the timer re-arms
        await asyncio.sleep(0.035)
        assert not conn.closed
        try:
            await second
        except RedisTimeout as exc:
            return await first, exc
        return await first, None

    got, error = loop.run_until_complete(run())
    assert got == b"PONG" and isinstance(error, RedisTimeout) and fake.aborted
