"""One upstream stream read as neutral deltas: SSE framing, decoding, the provider's normaliser.

Its clocks enforce the idle timeout (on data, not on SSE comments) and the whole-exchange
deadline; a quiet tick reads as an empty list, so the caller can send keep-alives.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from godex.errors import GodexError, UpstreamTimeout
from godex.gateway.pipeline import deadline_exceeded, scrub_errors
from godex.gateway.routing import Route
from godex.protocol.deltas import Delta, ReasoningDelta, TextDelta, ToolCallDelta, UpstreamError
from godex.upstream.decode import decode_payload, decode_plain_payloads
from godex.upstream.sse import SSEReader
from godex.upstream.text_frames import TextFrames
from godex.upstream.transport import UpstreamResponse


class UpstreamStream:
    def __init__(
        self, route: Route, upstream: UpstreamResponse, tick_s: float, deadline: float | None
    ) -> None:
        spec = route.spec
        self.route = route
        self.upstream = upstream
        self._normalizer = spec.hooks.stream_normalizer(spec)
        # Plain text chunks read by their frame, where the normaliser allows it.
        self._frames = TextFrames() if self._normalizer.takes_text_frames else None
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
                try:
                    if self._frames is not None and self._frames.known:
                        self._framed(payloads, out)
                    else:
                        self._decoded(payloads, out)
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
        return coalesced(out) if len(out) > 2 else out

    def _framed(self, payloads: list[bytes], out: list[Delta]) -> None:
        """A read with the stream's text frame known: the run of plain text chunks in it (the
        whole read, or all but a role chunk first and the finish chunk last) by the frame,
        the rest decoded."""
        frames = self._frames
        assert frames is not None
        n = len(payloads)
        for lo, hi in ((0, n), (1, n), (0, n - 1), (1, n - 1)) if n > 2 else ((0, n),):
            texts = frames.texts(payloads if hi - lo == n else payloads[lo:hi])
            if texts is not None:
                if lo:
                    self._decoded(payloads[:lo], out)
                _add_texts(out, texts)
                if hi < n:
                    self._decoded(payloads[hi:], out)
                return
        self._decoded(payloads, out)

    def _decoded(self, payloads: list[bytes], out: list[Delta]) -> None:
        normalize = self._normalizer.feed
        frames = self._frames
        if frames is not None and frames.learning:
            # One by one until a plain text chunk teaches the frame; the rest of the read
            # (in a burst, most of the stream) is then read by it.
            for i, data in enumerate(payloads):
                objs = decode_payload(data, strict=True)
                if len(objs) == 1:
                    self._learn(data, objs[0])
                for obj in objs:
                    out += normalize(obj)
                if frames.known:
                    if i + 1 < len(payloads):
                        self._framed(payloads[i + 1 :], out)
                    return
            return
        plain = decode_plain_payloads(payloads)
        if plain is None:
            for data in payloads:
                for obj in decode_payload(data, strict=True):
                    out += normalize(obj)
            return
        for obj in plain:
            out += normalize(obj)

    def _learn(self, payload: bytes, obj: dict[str, Any]) -> None:
        assert self._frames is not None
        text = self._normalizer.plain_content(obj)
        if text:
            self._frames.learn(payload, obj, text)

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


def _add_texts(out: list[Delta], texts: list[str]) -> None:
    """A run of text chunks as ``coalesced`` would leave them: the whitespace-only pieces
    before the first real text apart, the rest as one delta."""
    k = 0
    while k < len(texts) and not texts[k].strip():
        k += 1
    blank = "".join(texts[:k])
    if blank:
        out.append(TextDelta(blank))
    text = "".join(texts[k:])
    if text:
        out.append(TextDelta(text))


def coalesced(deltas: list[Delta]) -> list[Delta]:
    """One read's deltas with each run of text (or reasoning, or one tool call's arguments)
    joined into one delta.

    What arrived in one read reaches the client at the same instant anyway; as one event
    instead of dozens it costs the builder, the encoder and the client a fraction (an upstream
    that is ahead of us sends many chunks per read). A paced stream, one chunk per read, is
    untouched. The builder's log records the joined delta, so a stored replay matches. A text
    run's leading whitespace-only pieces stay one delta of their own: the builder drops
    whitespace that comes before a message opens, and must still see it alone.
    """
    out: list[Delta] = []
    run: list[str] = []
    kind: type | None = None
    blank = True  # the run so far is whitespace only
    for d in deltas:
        t = type(d)
        if t is TextDelta or t is ReasoningDelta:
            text: str = d.text  # type: ignore[union-attr]
            if t is not kind:
                _close_run(out, kind, run)
                kind, blank = t, True
            if blank and text.strip():
                if t is TextDelta:
                    _close_run(out, kind, run)  # the whitespace before the text, on its own
                blank = False
            run.append(text)
            continue
        _close_run(out, kind, run)
        kind = None
        if (
            t is ToolCallDelta
            and out
            and type(prev := out[-1]) is ToolCallDelta
            and prev.index == d.index  # type: ignore[union-attr]
            and d.id is None  # type: ignore[union-attr]
            and d.name is None  # type: ignore[union-attr]
        ):
            out[-1] = ToolCallDelta(
                prev.index,
                prev.id,
                prev.name,
                prev.arguments + d.arguments,  # type: ignore[union-attr]
            )
            continue
        out.append(d)
    _close_run(out, kind, run)
    return out


def _close_run(out: list[Delta], kind: type | None, run: list[str]) -> None:
    if kind is not None and run:
        out.append(kind("".join(run)))
        run.clear()
