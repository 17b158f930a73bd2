"""The one interface of the upstream layer: open an exchange, get status, headers, body or chunks.

Everything above this layer talks to a ``Transport``. The default is the built-in HTTP/1.1
client (``http1``, with ``http1_pool`` and ``http1_conn``), which turns every OS, TLS, parser
and zlib error into a typed ``ProviderError`` in one place (``http1_errors.translate``);
``aiohttp_transport`` is the alternative (``upstream.transport: aiohttp``), the only module
that imports aiohttp, with the same codes and messages. A test can swap in ``MemoryTransport``
without sockets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Each bound of one upstream exchange, in milliseconds (messages name the one that fired)."""

    connect_ms: int = 10_000
    first_byte_ms: int = 300_000  # until the response headers
    idle_ms: int = 300_000  # between body chunks
    total_ms: int = 600_000  # the whole exchange, headers to last byte


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    url: str
    headers: Mapping[str, str]
    body: bytes
    timeouts: Timeouts = field(default_factory=Timeouts)
    label: str = "upstream"  # who is called, for error messages (the provider's name)
    # Loop time by which the whole exchange must end (timeout_ms, or what is left of a turn's).
    deadline: float | None = None


class UpstreamResponse(Protocol):
    status: int
    headers: Mapping[str, str]

    async def read(self) -> bytes:
        """The whole body (errors and non-streaming answers), by the request's deadline
        (``provider.deadline_exceeded`` past it)."""
        ...

    def chunks(self, tick_s: float) -> AsyncIterator[bytes | None]:
        """Body chunks as they arrive; ``None`` whenever ``tick_s`` passes with nothing.

        The caller decides what a quiet tick means (a keep-alive to its client, an idle
        deadline); only it can tell data from SSE comments.
        """
        ...

    def release(self) -> None:
        """Give the connection back. One whose body was not read to the end is dropped; the
        built-in transport first finishes it in the background for a moment (a stream's last
        event can come before its last bytes) and gives it back if the end comes."""
        ...


class Transport(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def open(self, request: UpstreamRequest) -> UpstreamResponse:
        """POST the request; returns once the response headers are in."""
        ...
