"""The agent frameworks' own WebSocket transports against GodeX: the Agents SDK's
``OpenAIResponsesWSModel`` and pydantic-ai's ``openai_transport='websocket'``.

Each runs a tool loop; the recording wrapper proves every turn went over one socket and none
fell back to HTTPS.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openai import AsyncOpenAI

from tests.e2e.gateway_log import GatewayLog, attach
from tests.fakes.replay_upstream import FakeUpstream, Reply, chunk, sse, text_stream, usage
from tests.support.gateway import RunningGateway, make_config, provider, run_gateway

KEY = "sk-frameworks"


def tool_call(call_id: str, name: str, args: dict[str, Any]) -> Reply:
    head = {"index": 0, "id": call_id, "type": "function"}
    fn = {"name": name, "arguments": json.dumps(args)}
    return Reply(
        body=sse(
            chunk(tool_calls=[{**head, "function": fn}]),
            chunk(finish="tool_calls", usage=usage(20, 5)),
        )
    )


@pytest.fixture
def gateway(upstream: FakeUpstream, tmp_path: Path) -> Iterator[tuple[RunningGateway, GatewayLog]]:
    cfg = make_config(
        tmp_path,
        [provider("generic", "openai_compatible", upstream.base_url)],
        aliases={"plain": "generic/some-model"},
        server={"api_keys": (KEY,)},
    )
    with run_gateway(cfg) as gw:
        yield gw, attach(gw)


def _only_websocket(log: GatewayLog, turns: int) -> None:
    assert log.posts() == [], [e.path for e in log.posts()]
    sockets = [s for s in log.accepted_sockets() if s.creates()]
    assert len(sockets) == 1, len(sockets)
    done = [t[-1]["type"] for t in sockets[0].turns()]
    assert done == ["response.completed"] * turns, done


async def test_agents_sdk_websocket_model_runs_a_tool_loop(
    gateway: tuple[RunningGateway, GatewayLog], upstream: FakeUpstream
) -> None:
    from agents import Agent, Runner, function_tool, set_tracing_disabled
    from agents.models.openai_responses import OpenAIResponsesWSModel

    set_tracing_disabled(True)  # the SDK would export traces to OpenAI otherwise
    gw, log = gateway
    upstream.push(
        tool_call("call_w", "get_weather", {"city": "Paris"}),
        Reply(body=text_stream("Sunny in Paris.")),
    )
    calls: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        calls.append(city)
        return f"sunny in {city}"

    client = AsyncOpenAI(base_url=gw.v1, api_key=KEY, max_retries=0)
    model = OpenAIResponsesWSModel("plain", client)
    agent = Agent(name="weather", instructions="Answer briefly.", tools=[get_weather], model=model)
    try:
        result = await Runner.run(agent, "Weather in Paris?")
    finally:
        await model.close()
    assert calls == ["Paris"]
    assert result.final_output == "Sunny in Paris."
    tool_msg = [m for m in upstream.requests[-1].body["messages"] if m["role"] == "tool"]
    assert tool_msg and "sunny in Paris" in str(tool_msg[0]["content"])
    _only_websocket(log, 2)


async def test_pydantic_ai_websocket_transport_runs_a_tool_loop(
    gateway: tuple[RunningGateway, GatewayLog], upstream: FakeUpstream
) -> None:
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIResponsesModel, OpenAIResponsesModelSettings
    from pydantic_ai.providers.openai import OpenAIProvider

    gw, log = gateway
    upstream.push(
        tool_call("call_p", "add", {"a": 2, "b": 3}),
        Reply(body=text_stream("2 + 3 = 5")),
    )
    model = OpenAIResponsesModel(
        "plain",
        provider=OpenAIProvider(base_url=gw.v1, api_key=KEY),
        settings=OpenAIResponsesModelSettings(openai_transport="websocket"),
    )
    agent = Agent(model, instructions="Use the tool.")
    seen: list[tuple[int, int]] = []

    @agent.tool_plain
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        seen.append((a, b))
        return a + b

    result = await agent.run("What is 2 + 3?")
    assert seen == [(2, 3)]
    assert result.output == "2 + 3 = 5"
    _only_websocket(log, 2)
