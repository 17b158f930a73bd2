"""Real ``codex exec`` on DeepSeek (no native search) with Codex's ``web_search`` tool: GodeX runs
the search against its backend (a fake Tavily on 127.0.0.1) and the model answers from it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from godex.config.schema import WebSearchBackendConfig, WebSearchConfig
from tests.e2e.conftest import ALIASES, CodexSession
from tests.e2e.gateway_log import GatewayLog
from tests.e2e.scripted_upstream import (
    ScriptedUpstream,
    declared_tools,
    text_reply,
    tool_call_reply,
    tool_messages,
)
from tests.fakes.replay_upstream import FakeUpstream, Reply
from tests.support.gateway import RunningGateway, make_config, provider, run_gateway


@pytest.fixture(scope="module")
def search_api() -> Iterator[FakeUpstream]:
    with FakeUpstream() as up:
        yield up


@pytest.fixture(scope="module")
def gateway(
    upstream: ScriptedUpstream, search_api: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    """The suite's gateway, with managed web search on a fake Tavily."""
    cfg = make_config(
        tmp_path_factory.mktemp("gw-search"),
        [provider("ds", "deepseek", upstream.base_url + "/v1")],
        aliases=ALIASES,
        default_provider="ds",
    )
    cfg = dataclasses.replace(
        cfg,
        web_search=WebSearchConfig(
            mode="auto",
            backend=WebSearchBackendConfig(
                type="tavily", api_key="tvly-e2e", base_url=search_api.base_url
            ),
        ),
    )
    with run_gateway(cfg) as gw:
        yield gw


def test_codex_web_search_works_on_deepseek(
    codex: CodexSession,
    upstream: ScriptedUpstream,
    search_api: FakeUpstream,
    gateway_log: GatewayLog,
) -> None:
    search_api.reset()
    search_api.push(
        Reply.json(
            {
                "results": [
                    {
                        "title": "GodeX release notes",
                        "url": "https://example.org/godex/releases",
                        "content": "GodeX 1.0 serves the Responses API.",
                    }
                ]
            }
        )
    )
    upstream.script(
        tool_call_reply("call_ws_1", "web_search", {"query": "GodeX release"}),
        text_reply("GodeX 1.0 serves the Responses API (example.org)."),
    )

    run = codex.custom("Search the web: what does GodeX 1.0 do?", model="godex-e2e-deepseek")

    assert run.returncode == 0, run.explain()
    assert not upstream.problems, upstream.problems
    assert "GodeX 1.0 serves the Responses API" in run.last_message
    first, second = upstream.chat_bodies
    assert "web_search" in declared_tools(first)
    assert search_api.requests[-1].body == {"query": "GodeX release", "max_results": 5}
    (result,) = [m for m in tool_messages(second) if m.get("tool_call_id") == "call_ws_1"]
    assert "https://example.org/godex/releases" in str(result["content"])
    # One client request: the search ran inside GodeX, not as a Codex tool round trip.
    assert [e.status for e in gateway_log.posts()] == [200]
