"""The corked transport: one write per loop pass, in order, bounded, flushed before a close."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from godex.server.cork import FLUSH_BYTES, CorkedTransport


class _Sink(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False
        self.protocol: Any = None

    def write(self, data: Any) -> None:
        assert not self.closed, "write after close"
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return 7

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 1)}.get(name, default)


async def _one_pass() -> None:
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def test_writes_of_one_pass_go_out_as_one() -> None:
    sink = _Sink()
    cork = CorkedTransport(sink, asyncio.get_running_loop())
    cork.write(b"HTTP/1.1 200 OK\r\n\r\n")
    cork.write(b"")
    cork.write(bytearray(b"body"))
    cork.writelines([b"-", memoryview(b"end")])
    assert sink.writes == []
    assert cork.get_write_buffer_size() == 7 + len(b"HTTP/1.1 200 OK\r\n\r\nbody-end")
    await _one_pass()
    assert sink.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody-end"]
    cork.write(b"next")
    await _one_pass()
    assert sink.writes[-1] == b"next" and len(sink.writes) == 2


async def test_a_large_write_goes_out_at_once() -> None:
    sink = _Sink()
    cork = CorkedTransport(sink, asyncio.get_running_loop())
    cork.write(b"a")
    cork.write(b"b" * FLUSH_BYTES)
    assert sink.writes == [b"a" + b"b" * FLUSH_BYTES]
    await _one_pass()
    assert len(sink.writes) == 1


async def test_close_flushes_first_and_abort_drops() -> None:
    sink = _Sink()
    cork = CorkedTransport(sink, asyncio.get_running_loop())
    cork.write(b"last words")
    cork.close()
    assert sink.writes == [b"last words"] and sink.closed
    await _one_pass()  # the pass-end flush finds nothing (and writes nothing after the close)
    assert sink.writes == [b"last words"]

    sink2 = _Sink()
    cork2 = CorkedTransport(sink2, asyncio.get_running_loop())
    cork2.write(b"never")
    cork2.abort()
    await _one_pass()
    assert sink2.writes == [] and sink2.aborted


async def test_passes_through_the_rest() -> None:
    sink = _Sink()
    cork = CorkedTransport(sink, asyncio.get_running_loop())
    proto = asyncio.Protocol()
    cork.set_protocol(proto)
    assert sink.protocol is proto and cork.inner is sink
    assert cork.get_extra_info("peername") == ("127.0.0.1", 1)
    assert cork.get_extra_info("nothing", 3) == 3
    assert not cork.is_closing()


@given(st.lists(st.tuples(st.binary(max_size=40_000), st.booleans()), max_size=30))
def test_bytes_arrive_whole_and_in_order(plan: list[tuple[bytes, bool]]) -> None:
    async def run() -> tuple[bytes, bytes]:
        sink = _Sink()
        cork = CorkedTransport(sink, asyncio.get_running_loop())
        sent = b""
        for data, yield_after in plan:
            cork.write(data)
            sent += data
            assert cork.get_write_buffer_size() - 7 < FLUSH_BYTES
            if yield_after:
                await asyncio.sleep(0)
        await _one_pass()
        return sent, b"".join(sink.writes)

    sent, got = asyncio.run(run())
    assert got == sent


@pytest.mark.parametrize("n", [1, 3])
async def test_one_write_per_pass(n: int) -> None:
    sink = _Sink()
    cork = CorkedTransport(sink, asyncio.get_running_loop())
    for i in range(n):
        cork.write(b"x%d" % i)
        await _one_pass()
    assert len(sink.writes) == n
