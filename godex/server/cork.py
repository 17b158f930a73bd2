"""A client connection's writes within one event-loop pass, sent as one.

uvicorn writes each ASGI message at once: a response's head, its body, and for a stream every
event batch, each one ``send`` system call. Most of them are made in the same pass of the loop
(a JSON answer's head and body; a stream's head, first events and, when the upstream answered
in one read, its end), so they cost two to four calls where one would do; on this machine a
call is a few microseconds, more than the Python that produced the bytes. Here writes gather
until the end of the pass (``call_soon``) and go out together. Nothing waits longer than the
loop's current pass, and a large write goes out at once, so the kernel's back-pressure (the
transport's pause_writing) is felt as before.
"""

from __future__ import annotations

import asyncio
from typing import Any

# Past this, a gathered write goes out at once: memory stays bounded, flow control stays live.
FLUSH_BYTES = 64 * 1024


class CorkedTransport(asyncio.Transport):
    """Wraps a connected transport; everything but ``write`` passes through (after a flush
    where order matters)."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._t = transport
        self._loop = loop
        self._buf: list[bytes] = []
        self._size = 0
        self._scheduled = False

    @property
    def inner(self) -> asyncio.Transport:
        return self._t

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        self._buf.append(bytes(data) if type(data) is not bytes else data)
        self._size += len(data)
        if self._size >= FLUSH_BYTES:
            self.flush()
        elif not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._on_pass_end)

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def _on_pass_end(self) -> None:
        self._scheduled = False
        self.flush()

    def flush(self) -> None:
        buf = self._buf
        if not buf:
            return
        data = buf[0] if len(buf) == 1 else b"".join(buf)
        self._buf = []
        self._size = 0
        if not self._t.is_closing():
            self._t.write(data)

    def close(self) -> None:
        self.flush()
        self._t.close()

    def abort(self) -> None:
        self._buf = []
        self._size = 0
        self._t.abort()

    def write_eof(self) -> None:
        self.flush()
        self._t.write_eof()

    def can_write_eof(self) -> bool:
        return self._t.can_write_eof()

    def is_closing(self) -> bool:
        return self._t.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._t.get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._t.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._t.get_protocol()

    def pause_reading(self) -> None:
        self._t.pause_reading()

    def resume_reading(self) -> None:
        self._t.resume_reading()

    def is_reading(self) -> bool:
        return self._t.is_reading()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._t.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return self._t.get_write_buffer_size() + self._size

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._t.get_write_buffer_limits()
