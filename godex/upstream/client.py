"""The upstream HTTP client: one pooled aiohttp session for every provider.

Timeouts: connect, first byte (until the response headers), and idle between SSE data events.
Keep-alive comments do not count as data, so they cannot keep a dead stream open forever.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp

from godex.errors import ProviderError, UpstreamTimeout
from godex.server.routing import ProviderRuntime


class UpstreamClient:
    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=0, ttl_dns_cache=300, keepalive_timeout=30, enable_cleanup_closed=True
            )
            # No response-wide timeout here: each call sets its own from the provider config.
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=True, skip_auto_headers=("User-Agent",)
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, rt: ProviderRuntime, body: bytes) -> aiohttp.ClientResponse:
        """POST the chat request; returns once the response headers are in."""
        if self._session is None:
            await self.start()
        assert self._session is not None
        cfg = rt.config
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=None,
            sock_connect=cfg.connect_timeout_ms / 1000,
            sock_read=cfg.idle_timeout_ms / 1000,
        )
        try:
            async with asyncio.timeout(cfg.first_byte_timeout_ms / 1000):
                return await self._session.post(
                    rt.url, data=body, headers=rt.headers, timeout=timeout
                )
        except TimeoutError as exc:
            raise UpstreamTimeout(
                f"{rt.name}: no response from the upstream within {cfg.first_byte_timeout_ms} ms",
                code="provider.timeout",
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            raise ProviderError(
                f"{rt.name}: cannot connect to {rt.url}: {exc.os_error or exc}",
                code="provider.connect_failed",
            ) from exc
        except aiohttp.ClientError as exc:
            raise ProviderError(
                f"{rt.name}: upstream request failed: {exc}", code="provider.connection"
            ) from exc


async def iter_chunks(
    resp: aiohttp.ClientResponse, rt: ProviderRuntime, keepalive_s: float
) -> AsyncIterator[bytes | None]:
    """Yield body chunks as they arrive; yield None when ``keepalive_s`` passes with nothing.

    The caller decides what a keep-alive means; the idle limit on *data* is enforced by the
    caller too (it alone can tell data from SSE comments).
    """
    content = resp.content
    while True:
        try:
            async with asyncio.timeout(keepalive_s):
                chunk = await content.readany()
        except TimeoutError:
            yield None
            continue
        except aiohttp.ServerTimeoutError as exc:
            raise UpstreamTimeout(
                f"{rt.name}: upstream sent nothing for {rt.config.idle_timeout_ms} ms",
                code="provider.idle_timeout",
            ) from exc
        except aiohttp.ClientError as exc:
            raise ProviderError(
                f"{rt.name}: upstream stream broke: {exc}", code="provider.stream_broken"
            ) from exc
        if not chunk:
            return
        yield chunk
