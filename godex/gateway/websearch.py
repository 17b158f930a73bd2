"""Search backends GodeX calls itself for ``web_search`` on providers without native search
(``web_search.mode: godex_managed``, or ``auto`` with a backend configured).

Two well-known APIs: Zhipu's Web Search API (``type: zhipu``, or ``provider:`` naming a
configured Zhipu provider whose key and host it reuses) and Tavily (``type: tavily``). Each
search is one POST over the gateway's upstream transport, bounded by ``web_search.timeout_ms``;
a failing or slow search is a typed ``provider.*`` error, never a hang.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec

from godex.config.schema import WebSearchConfig
from godex.errors import ConfigError, ProviderError, UpstreamTimeout
from godex.logging import get_logger
from godex.providers.runtime import ProviderRuntime
from godex.redact import scrub
from godex.upstream.transport import Timeouts, Transport, UpstreamRequest

log = get_logger("godex.gateway")
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode

ZHIPU_BASE = "https://open.bigmodel.cn/api/paas/v4"
TAVILY_BASE = "https://api.tavily.com"
BACKEND_TYPES = ("zhipu", "tavily")


@dataclass(frozen=True, slots=True)
class SearchHit:
    title: str
    url: str
    snippet: str


def sources(hits: list[SearchHit]) -> list[dict[str, Any]]:
    """Hits as a ``web_search_call`` action's ``sources``."""
    return [{"type": "url", "url": h.url} for h in hits if h.url]


def results_text(query: str, hits: list[SearchHit]) -> str:
    """What the model reads back as the search function's result."""
    if not hits:
        return f"No web results for {query!r}."
    lines = [f"Web results for {query!r}:"]
    for n, hit in enumerate(hits, start=1):
        lines.append(f"[{n}] {hit.title}\n{hit.url}\n{hit.snippet}".rstrip())
    return "\n\n".join(lines)


class SearchBackend(Protocol):
    name: str

    async def search(self, query: str, count: int) -> list[SearchHit]: ...


class _HttpBackend:
    name = "search"
    path = ""

    def __init__(self, transport: Transport, base_url: str, api_key: str, timeout_ms: int) -> None:
        self.transport = transport
        self.url = base_url.rstrip("/") + self.path
        self.api_key = api_key
        self.timeout_ms = timeout_ms

    def body(self, query: str, count: int) -> dict[str, Any]:
        raise NotImplementedError

    def hits(self, obj: Any) -> list[SearchHit]:
        raise NotImplementedError

    async def search(self, query: str, count: int) -> list[SearchHit]:
        bound = self.timeout_ms
        request = UpstreamRequest(
            self.url,
            {
                "authorization": f"Bearer {self.api_key}",
                "content-type": "application/json",
            },
            _encode(self.body(query, count)),
            Timeouts(connect_ms=bound, first_byte_ms=bound, idle_ms=bound, total_ms=bound),
            f"{self.name} web search",
        )
        try:
            async with asyncio.timeout(bound / 1000):
                resp = await self.transport.open(request)
                try:
                    raw = await resp.read()
                finally:
                    resp.release()
        except TimeoutError as exc:
            raise UpstreamTimeout(
                f"{self.name} web search took longer than {bound} ms (web_search.timeout_ms)",
                code="provider.web_search_timeout",
            ) from exc
        if resp.status >= 400:
            text = scrub(raw.decode("utf-8", "replace")[:300], (self.api_key,))
            raise ProviderError(
                f"{self.name} web search failed (HTTP {resp.status}): {text}",
                code="provider.web_search_failed",
            )
        try:
            return self.hits(_decode(raw))
        except (msgspec.DecodeError, TypeError, AttributeError) as exc:
            raise ProviderError(
                f"{self.name} web search answered something that is not a result list",
                code="provider.web_search_failed",
            ) from exc


class ZhipuSearch(_HttpBackend):
    """POST {base}/web_search {search_query, search_engine, count} → ``search_result``."""

    name = "zhipu"
    path = "/web_search"

    def __init__(self, transport: Transport, base_url: str, api_key: str, timeout_ms: int) -> None:
        if "/paas/" not in base_url:
            base_url = base_url.rstrip("/") + "/api/paas/v4"  # a bare host, as configs give it
        super().__init__(transport, base_url, api_key, timeout_ms)

    def body(self, query: str, count: int) -> dict[str, Any]:
        # The API caps a query at 70 characters.
        return {"search_query": query[:70], "search_engine": "search_std", "count": count}

    def hits(self, obj: Any) -> list[SearchHit]:
        found = obj.get("search_result") or []
        return [
            SearchHit(
                str(r.get("title") or ""), str(r.get("link") or ""), str(r.get("content") or "")
            )
            for r in found
            if isinstance(r, dict)
        ]


class TavilySearch(_HttpBackend):
    """POST {base}/search {query, max_results} → ``results``."""

    name = "tavily"
    path = "/search"

    def body(self, query: str, count: int) -> dict[str, Any]:
        return {"query": query, "max_results": count}

    def hits(self, obj: Any) -> list[SearchHit]:
        found = obj.get("results") or []
        return [
            SearchHit(
                str(r.get("title") or ""), str(r.get("url") or ""), str(r.get("content") or "")
            )
            for r in found
            if isinstance(r, dict)
        ]


def build_backend(
    cfg: WebSearchConfig, runtimes: dict[str, ProviderRuntime], transport: Transport
) -> SearchBackend | None:
    """The configured backend, or None when there is none (or web search is disabled)."""
    backend = cfg.backend
    if cfg.mode in ("disabled", "provider_native") or not backend.configured:
        return None
    kind = backend.type
    api_key = backend.api_key
    base = backend.base_url
    if backend.provider is not None:
        rt = runtimes.get(backend.provider)
        if rt is None:
            raise ConfigError(
                f"web_search.backend.provider: no provider named {backend.provider!r}",
                code="config.invalid",
            )
        kind = kind or ("zhipu" if rt.spec.name == "zhipu" else None)
        api_key = api_key or rt.config.api_key
        base = base or rt.url.removesuffix("/chat/completions")
    if kind not in BACKEND_TYPES:
        raise ConfigError(
            f"web_search.backend.type: {kind!r} is not one of {', '.join(BACKEND_TYPES)}",
            code="config.invalid",
        )
    if not api_key:
        # Usually an unset ${VAR}: the gateway still starts, with web search as without a
        # backend (native where the provider has it, else the tool dropped with a diagnostic).
        log.warning(
            "web_search_backend_unavailable",
            backend=kind,
            reason="no api_key (and no provider key to reuse)",
        )
        return None
    if kind == "zhipu":
        return ZhipuSearch(transport, base or ZHIPU_BASE, api_key, cfg.timeout_ms)
    return TavilySearch(transport, base or TAVILY_BASE, api_key, cfg.timeout_ms)
