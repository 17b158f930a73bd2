"""One upstream stream read as neutral deltas: SSE framing, decoding, the provider's normaliser.

Its clocks enforce the idle timeout (on data, not on SSE comments) and the whole-exchange
deadline; a quiet tick reads as an empty list, so the caller can send keep-alives.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from godex.errors import GodexError, UpstreamTimeout
from godex.gateway.pipeline import deadline_exceeded, scrub_errors
from godex.gateway.routing import Route
from godex.protocol.deltas import Delta, UpstreamError
from godex.upstream.decode import decode_payload
from godex.upstream.sse import SSEReader
from godex.upstream.transport import UpstreamResponse


class UpstreamStream:
    def __init__(
        self, route: Route, upstream: UpstreamResponse, tick_s: float, deadline: float | None
    ) -> None:
        spec = route.spec
        self.route = route
        self.upstream = upstream
        self._normalizer = spec.hooks.stream_normalizer(spec)
        self._reader = SSEReader()
        self._loop = asyncio.get_running_loop()
        self._idle = route.provider.timeouts.idle_ms / 1000
        self._last_data = self._loop.time()
        self._deadline = deadline or self._last_data + route.provider.timeouts.total_ms / 1000
        # Quiet ticks at least every second, so the deadline holds on a silent upstream.
        self._chunks: AsyncIterator[bytes | None] = upstream.chunks(min(tick_s, 1.0)).__aiter__()
        self.ended = False
        self._pending: GodexError | None = None

    async def read(self) -> list[Delta] | None:
        """The deltas of the next upstream read (``[]`` on a quiet tick); None after the end.

        A read that breaks halfway (an undecodable event after good ones) first returns the
        deltas before the break and raises on the next call: what the client saw stays whole.
        """
        if self._pending is not None:
            err, self._pending = self._pending, None
            raise err
        if self.ended:
            return None
        try:
            chunk = await anext(self._chunks)
        except StopAsyncIteration:
            return self._end()
        now = self._loop.time()
        out: list[Delta] = []
        if chunk is not None:
            payloads = self._reader.feed(chunk)
            if payloads:
                self._last_data = now
                normalize = self._normalizer.feed
                try:
                    for data in payloads:
                        for obj in decode_payload(data, strict=True):
                            out += normalize(obj)
                except GodexError as err:
                    if not out:
                        raise
                    self._pending = err
                    return out
        if now - self._last_data > self._idle:
            rt = self.route.provider
            raise UpstreamTimeout(
                f"{rt.name}: no data from the upstream for {rt.timeouts.idle_ms} ms "
                "(idle_timeout_ms)",
                code="provider.idle_timeout",
            )
        if now > self._deadline:
            raise deadline_exceeded(self.route)
        if self._reader.done:
            out += self._end()
        if self._errors_possible(out):
            scrub_errors(out, self.route)
        return out

    @staticmethod
    def _errors_possible(out: list[Delta]) -> bool:
        return any(type(d) is UpstreamError for d in out)

    def _end(self) -> list[Delta]:
        """What is left once the stream is over: buffered SSE data, buffered think tags."""
        self.ended = True
        out: list[Delta] = []
        for data in self._reader.close():
            for obj in decode_payload(data, strict=True):
                out += self._normalizer.feed(obj)
        out += self._normalizer.finish()
        return out
