"""An in-memory transport for unit tests: scripted answers, recorded requests, no sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

from godex.errors import ProviderError
from godex.upstream.transport import UpstreamRequest


@dataclass
class Scripted:
    status: int = 200
    chunks: Sequence[bytes] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    error: ProviderError | None = None  # raised by open() instead of answering


class _Response:
    def __init__(self, answer: Scripted) -> None:
        self.status = answer.status
        self.headers: Mapping[str, str] = dict(answer.headers)
        self._chunks = list(answer.chunks)
        self.released = False

    async def read(self) -> bytes:
        return b"".join(self._chunks)

    async def chunks(self, tick_s: float) -> AsyncIterator[bytes | None]:
        for chunk in self._chunks:
            yield chunk

    def release(self) -> None:
        self.released = True


class MemoryTransport:
    def __init__(self, answers: Sequence[Scripted] = ()) -> None:
        self.answers = list(answers)
        self.requests: list[UpstreamRequest] = []

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def open(self, request: UpstreamRequest) -> _Response:
        self.requests.append(request)
        if not self.answers:
            raise ProviderError(f"{request.label}: no scripted answer left", code="provider.error")
        answer = self.answers.pop(0)
        if answer.error is not None:
            raise answer.error
        return _Response(answer)
