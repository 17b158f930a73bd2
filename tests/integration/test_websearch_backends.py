"""The search backends GodeX calls for managed web search, against a fake API on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator

import pytest

from godex.config.schema import WebSearchBackendConfig, WebSearchConfig
from godex.errors import ConfigError, ProviderError, UpstreamTimeout
from godex.gateway.websearch import (
    TavilySearch,
    ZhipuSearch,
    build_backend,
    results_text,
    sources,
)
from godex.upstream.aiohttp_transport import AiohttpTransport
from godex.upstream.http1 import Http1Transport
from godex.upstream.transport import Transport
from tests.fakes.replay_upstream import FakeUpstream, Reply


@pytest.fixture(params=[Http1Transport, AiohttpTransport], ids=["builtin", "aiohttp"])
async def transport(request: pytest.FixtureRequest) -> AsyncIterator[Transport]:
    t: Transport = request.param()
    await t.start()
    try:
        yield t
    finally:
        await t.close()


async def test_zhipu_search_sends_its_shape_and_reads_search_result(
    upstream: FakeUpstream, transport: Transport
) -> None:
    upstream.push(
        Reply.json(
            {
                "id": "x",
                "search_result": [
                    {"title": "GodeX", "link": "https://example.org/g", "content": "A gateway."}
                ],
            }
        )
    )
    backend = ZhipuSearch(transport, upstream.base_url + "/api/paas/v4", "zk-secret", 5000)
    hits = await backend.search("what is godex", 3)
    seen = upstream.requests[-1]
    assert seen.path == "/api/paas/v4/web_search"
    assert seen.body == {"search_query": "what is godex", "search_engine": "search_std", "count": 3}
    assert seen.headers["Authorization"] == "Bearer zk-secret"
    assert [h.url for h in hits] == ["https://example.org/g"]
    assert sources(hits) == [{"type": "url", "url": "https://example.org/g"}]
    assert "[1] GodeX" in results_text("what is godex", hits)


async def test_tavily_search_sends_its_shape_and_reads_results(
    upstream: FakeUpstream, transport: Transport
) -> None:
    upstream.push(
        Reply.json({"results": [{"title": "T", "url": "https://t.example", "content": "c"}]})
    )
    backend = TavilySearch(transport, upstream.base_url, "tvly-secret", 5000)
    hits = await backend.search("q", 5)
    seen = upstream.requests[-1]
    assert seen.path == "/search"
    assert seen.body == {"query": "q", "max_results": 5}
    assert hits[0].title == "T" and hits[0].snippet == "c"


async def test_a_failing_search_is_a_typed_error_without_the_key(
    upstream: FakeUpstream, transport: Transport
) -> None:
    upstream.push(Reply.json({"error": {"message": "bad key tvly-secret"}}, status=401))
    backend = TavilySearch(transport, upstream.base_url, "tvly-secret", 5000)
    with pytest.raises(ProviderError) as info:
        await backend.search("q", 5)
    assert info.value.code == "provider.web_search_failed"
    assert "tvly-secret" not in info.value.message


async def test_a_slow_search_times_out_as_a_typed_error(
    upstream: FakeUpstream, transport: Transport
) -> None:
    release = threading.Event()
    upstream.push(Reply.json({"results": []}, headers_after=release))
    backend = TavilySearch(transport, upstream.base_url, "k", 200)
    try:
        with pytest.raises(UpstreamTimeout):
            await backend.search("q", 5)
    finally:
        release.set()


def test_a_zhipu_backend_given_a_bare_host_calls_its_api_path() -> None:
    backend = ZhipuSearch(AiohttpTransport(), "https://open.bigmodel.cn", "k", 1000)
    assert backend.url == "https://open.bigmodel.cn/api/paas/v4/web_search"


def test_the_backend_comes_from_the_web_search_config() -> None:
    tavily = WebSearchConfig(
        mode="godex_managed", backend=WebSearchBackendConfig(type="tavily", api_key="k")
    )
    assert isinstance(build_backend(tavily, {}, AiohttpTransport()), TavilySearch)
    assert build_backend(WebSearchConfig(), {}, AiohttpTransport()) is None
    keyless = WebSearchConfig(backend=WebSearchBackendConfig(type="zhipu"))
    assert build_backend(keyless, {}, AiohttpTransport()) is None  # an unset ${VAR}: still starts
    with pytest.raises(ConfigError):
        build_backend(
            WebSearchConfig(mode="godex_managed", backend=WebSearchBackendConfig(type="bing")),
            {},
            AiohttpTransport(),
        )
