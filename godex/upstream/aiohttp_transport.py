"""The upstream transport on one pooled aiohttp session; the only module that imports aiohttp.

The alternative to the built-in ``http1`` client (``upstream.transport: aiohttp``); its error
codes and messages are the contract both keep.

Every aiohttp or OS error becomes a typed ``ProviderError`` in ``_mapped`` and nowhere else, so
each timeout is reported under its own name (a connect timeout is not a first-byte timeout).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from typing import Literal

import aiohttp

from godex.errors import ProviderError, UpstreamTimeout
from godex.upstream.transport import Timeouts, UpstreamRequest

Phase = Literal["open", "body", "stream"]


@contextmanager
def _mapped(label: str, url: str, phase: Phase, t: Timeouts) -> Iterator[None]:
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:  # a TimeoutError too: test it first
        raise UpstreamTimeout(
            f"{label}: could not connect to the upstream within {t.connect_ms} ms "
            "(connect_timeout_ms)",
            code="provider.connect_timeout",
        ) from exc
    except aiohttp.ServerTimeoutError as exc:
        raise UpstreamTimeout(
            f"{label}: upstream sent nothing for {t.idle_ms} ms (idle_timeout_ms)",
            code="provider.idle_timeout",
        ) from exc
    except TimeoutError as exc:
        if phase == "open":
            raise UpstreamTimeout(
                f"{label}: no response from the upstream within {t.first_byte_ms} ms "
                "(first_byte_timeout_ms)",
                code="provider.timeout",
            ) from exc
        raise UpstreamTimeout(f"{label}: upstream body timed out", code="provider.timeout") from exc
    except aiohttp.ClientConnectorError as exc:
        raise ProviderError(
            f"{label}: cannot connect to {url}: {exc.os_error or exc}",
            code="provider.connect_failed",
        ) from exc
    except (aiohttp.ClientError, OSError) as exc:
        code = {
            "open": "provider.connection",
            "body": "provider.connection",
            "stream": "provider.stream_broken",
        }[phase]
        what = {"open": "request failed", "body": "body broke", "stream": "stream broke"}[phase]
        raise ProviderError(f"{label}: upstream {what}: {exc}", code=code) from exc


class _Response:
    __slots__ = ("_request", "_resp", "headers", "status")

    def __init__(self, resp: aiohttp.ClientResponse, request: UpstreamRequest) -> None:
        self._resp = resp
        self._request = request
        self.status = resp.status
        self.headers: Mapping[str, str] = resp.headers

    async def read(self) -> bytes:
        r = self._request
        bound: asyncio.Timeout | None = None
        try:
            with _mapped(r.label, r.url, "body", r.timeouts):
                if r.deadline is None:
                    return await self._resp.read()
                bound = asyncio.timeout_at(r.deadline)
                async with bound:
                    return await self._resp.read()
        except UpstreamTimeout as exc:
            # Asked of the timer itself: uvloop's timers have millisecond steps and may fire
            # just before the deadline by the loop's clock, which then read as another bound.
            if bound is not None and bound.expired():
                raise UpstreamTimeout(
                    f"{r.label}: the upstream exchange took longer than "
                    f"{r.timeouts.total_ms} ms (timeout_ms)",
                    code="provider.deadline_exceeded",
                ) from exc
            raise

    async def chunks(self, tick_s: float) -> AsyncIterator[bytes | None]:
        r = self._request
        content = self._resp.content
        while True:
            with _mapped(r.label, r.url, "stream", r.timeouts):
                try:
                    async with asyncio.timeout(tick_s):
                        chunk = await content.readany()
                except TimeoutError as exc:
                    if isinstance(exc, aiohttp.ClientError):
                        raise
                    chunk = None
            if chunk is None:
                yield None
                continue
            if not chunk:
                return
            yield chunk

    def release(self) -> None:
        self._resp.release()


class AiohttpTransport:
    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=0, ttl_dns_cache=300, keepalive_timeout=30, enable_cleanup_closed=True
            )
            # No session-wide timeout: every exchange carries its own.
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=True, skip_auto_headers=("User-Agent",)
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def open(self, request: UpstreamRequest) -> _Response:
        if self._session is None:
            await self.start()
        assert self._session is not None
        t = request.timeouts
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=None,
            sock_connect=t.connect_ms / 1000,
            sock_read=t.idle_ms / 1000,
        )
        # One timer for the headers: the first-byte bound or the exchange's deadline, whichever
        # comes first (a timer each cost ~5% of a short request).
        loop = asyncio.get_running_loop()
        until = loop.time() + t.first_byte_ms / 1000
        by_deadline = request.deadline is not None and request.deadline < until
        if by_deadline:
            assert request.deadline is not None
            until = request.deadline
        try:
            with _mapped(request.label, request.url, "open", t):
                async with asyncio.timeout_at(until):
                    resp = await self._session.post(
                        request.url,
                        data=request.body,
                        headers=dict(request.headers),
                        timeout=timeout,
                    )
        except UpstreamTimeout as exc:
            if by_deadline and exc.code == "provider.timeout":
                raise UpstreamTimeout(
                    f"{request.label}: the upstream exchange took longer than {t.total_ms} ms "
                    "(timeout_ms)",
                    code="provider.deadline_exceeded",
                ) from exc
            raise
        return _Response(resp, request)
