"""Managed web search on a provider without native search (DeepSeek): GodeX offers the model a
search function, runs each search against the backend (a fake Tavily on 127.0.0.1), feeds the
results back, and streams ``web_search_call`` items."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import pytest

from godex.config.schema import SessionConfig, WebSearchBackendConfig, WebSearchConfig
from tests.fakes.replay_upstream import (
    FakeUpstream,
    Reply,
    chunk,
    completion_body,
    sse,
    usage,
)
from tests.support.gateway import RunningGateway, make_config, provider, run_gateway

SEARCH_CALL = {
    "index": 0,
    "id": "call_s1",
    "type": "function",
    "function": {"name": "web_search", "arguments": '{"query": "godex gateway"}'},
}
RESULTS = {
    "results": [
        {"title": "GodeX", "url": "https://example.org/godex", "content": "A Responses gateway."}
    ]
}


@pytest.fixture(scope="module")
def search_api() -> Iterator[FakeUpstream]:
    with FakeUpstream() as up:
        yield up


@pytest.fixture(scope="module")
def ws_gw(
    upstream: FakeUpstream, search_api: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    tmp: Path = tmp_path_factory.mktemp("ws")
    cfg = make_config(
        tmp,
        [provider("ds", "deepseek", upstream.base_url)],
        aliases={"gpt-5.5": "ds/deepseek-v4-pro"},
        session=SessionConfig(backend="memory"),
    )
    cfg = dataclasses.replace(
        cfg,
        web_search=WebSearchConfig(
            mode="godex_managed",
            max_iterations=2,
            backend=WebSearchBackendConfig(
                type="tavily", api_key="tvly-key", base_url=search_api.base_url
            ),
        ),
    )
    with run_gateway(cfg) as gw:
        yield gw


@pytest.fixture
def sdk(ws_gw: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=ws_gw.v1, api_key="k", max_retries=0, timeout=20)


def _rounds(upstream: FakeUpstream) -> None:
    upstream.push(
        Reply(
            body=sse(
                chunk(reasoning="I should search."),
                chunk(tool_calls=[SEARCH_CALL]),
                chunk(finish="tool_calls", usage=usage(10, 5)),
            )
        ),
        Reply(
            body=sse(
                chunk("GodeX is a Responses gateway."),
                chunk(finish="stop", usage=usage(30, 7)),
            )
        ),
    )


def test_a_streamed_search_runs_in_godex_and_streams_web_search_call(
    sdk: openai.OpenAI, ws_gw: RunningGateway, upstream: FakeUpstream, search_api: FakeUpstream
) -> None:
    search_api.reset()
    search_api.push(Reply.json(RESULTS))
    _rounds(upstream)
    stream: Any = sdk.responses.create(
        model="gpt-5.5", input="What is GodeX?", tools=[{"type": "web_search"}], stream=True
    )
    events = list(stream)
    kinds = [e.type for e in events]
    for kind in (
        "response.web_search_call.in_progress",
        "response.web_search_call.searching",
        "response.web_search_call.completed",
    ):
        assert kind in kinds
    assert kinds.index("response.web_search_call.searching") < kinds.index(
        "response.web_search_call.completed"
    )
    final = events[-1].response
    assert events[-1].type == "response.completed"
    assert [i.type for i in final.output] == ["reasoning", "web_search_call", "message"]
    search = final.output[1]
    assert search.status == "completed" and search.action.query == "godex gateway"
    assert final.output_text == "GodeX is a Responses gateway."
    assert final.usage.input_tokens == 40 and final.usage.output_tokens == 12

    assert search_api.requests[-1].body == {"query": "godex gateway", "max_results": 5}
    first, second = upstream.requests[-2].body, upstream.requests[-1].body
    assert [t["function"]["name"] for t in first["tools"]] == ["web_search"]
    assistant, tool = second["messages"][-2:]
    assert assistant["tool_calls"][0]["id"] == "call_s1"
    assert assistant["reasoning_content"] == "I should search."
    assert tool["role"] == "tool" and "https://example.org/godex" in tool["content"]

    # The stored stream replays the same events.
    with httpx.Client(base_url=ws_gw.base_url, timeout=10) as c:
        replay = c.get(f"/v1/responses/{final.id}", params={"stream": "true"}).text
    replayed = [
        json.loads(line[5:])["type"] for line in replay.splitlines() if line.startswith("data:")
    ]
    assert replayed == kinds


def test_a_sync_search_answers_with_the_same_items(
    sdk: openai.OpenAI, upstream: FakeUpstream, search_api: FakeUpstream
) -> None:
    search_api.reset()
    search_api.push(Reply.json(RESULTS))
    call = {k: v for k, v in SEARCH_CALL.items() if k != "index"}
    upstream.push(
        Reply.json(completion_body(None, tool_calls=[call], finish="tool_calls")),
        Reply.json(completion_body("Found it.")),
    )
    resp = sdk.responses.create(model="gpt-5.5", input="Search", tools=[{"type": "web_search"}])
    assert [i.type for i in resp.output] == ["web_search_call", "message"]
    assert resp.output_text == "Found it."


def test_a_failing_search_lets_the_model_answer(
    sdk: openai.OpenAI, upstream: FakeUpstream, search_api: FakeUpstream
) -> None:
    search_api.reset()
    search_api.push(Reply.json({"error": "down"}, status=503))
    _rounds(upstream)
    stream: Any = sdk.responses.create(
        model="gpt-5.5", input="x", tools=[{"type": "web_search"}], stream=True
    )
    final = list(stream)[-1].response
    assert final.status == "completed"
    assert final.output[1].type == "web_search_call" and final.output[1].status == "completed"
    assert "The web search failed" in upstream.last["messages"][-1]["content"]


def test_the_last_round_has_no_search_function(
    sdk: openai.OpenAI, upstream: FakeUpstream, search_api: FakeUpstream
) -> None:
    search_api.reset()
    search_api.default = lambda body: Reply.json(RESULTS)
    call = {k: v for k, v in SEARCH_CALL.items() if k != "index"}
    upstream.push(
        Reply.json(completion_body(None, tool_calls=[call], finish="tool_calls")),
        Reply.json(completion_body(None, tool_calls=[call], finish="tool_calls")),
        Reply.json(completion_body("Enough searching.")),
    )
    resp = sdk.responses.create(model="gpt-5.5", input="x", tools=[{"type": "web_search"}])
    assert resp.output_text == "Enough searching."
    assert [i.type for i in resp.output].count("web_search_call") == 2
    assert "tools" not in upstream.last  # max_iterations (2) reached
