"""Client edge cases OpenAI answers in a particular way (issue 15), through real sockets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import openai
import pytest

from tests.fakes.replay_upstream import FakeUpstream, Reply, completion_body
from tests.integration.conftest import stored_gateway
from tests.support.gateway import RunningGateway

TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
CALL = [
    {
        "id": "call_w1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
    }
]


@pytest.fixture(scope="module", params=["sqlite", "memory"])
def edge_gw(
    request: pytest.FixtureRequest, upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    with stored_gateway(request.param, upstream, tmp_path_factory) as gw:
        yield gw


@pytest.fixture
def sdk(edge_gw: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=edge_gw.v1, api_key="k", max_retries=0, timeout=20)


@pytest.fixture
def raw(edge_gw: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=edge_gw.base_url, timeout=20) as c:
        yield c


def test_item_references_resolve_from_the_store_without_previous_response_id(
    sdk: openai.OpenAI, upstream: FakeUpstream
) -> None:
    upstream.push(
        Reply.json(completion_body(None, reasoning="I need the weather tool.", tool_calls=CALL))
    )
    first = sdk.responses.create(model="gpt-5.5", input="Weather in Paris?", tools=[TOOL])
    refs = [{"type": "item_reference", "id": item.id} for item in first.output]
    assert [i.type for i in first.output] == ["reasoning", "function_call"]
    upstream.push(Reply.json(completion_body("Sunny.")))
    second = sdk.responses.create(
        model="gpt-5.5",
        tools=[TOOL],
        input=[
            {"role": "user", "content": "Weather in Paris?"},
            *refs,
            {"type": "function_call_output", "call_id": "call_w1", "output": "sunny, 21C"},
        ],  # type: ignore[list-item]
    )
    assert second.output_text == "Sunny."
    msgs = upstream.last["messages"]
    assert msgs[1]["role"] == "assistant"
    assert msgs[1]["reasoning_content"] == "I need the weather tool."
    assert msgs[1]["tool_calls"][0]["id"] == "call_w1"
    assert msgs[2] == {"role": "tool", "tool_call_id": "call_w1", "content": "sunny, 21C"}
    # Thinking stays on: the reasoning came back with the tool call.
    assert upstream.last.get("thinking", {}).get("type") != "disabled"


def test_an_unknown_item_reference_is_a_400_naming_it(
    sdk: openai.OpenAI, upstream: FakeUpstream
) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        sdk.responses.create(
            model="gpt-5.5",
            input=[{"type": "item_reference", "id": "msg_nowhere"}],  # type: ignore[list-item]
        )
    body: Any = info.value.body
    assert "msg_nowhere" in body["message"]
    assert body["param"] == "input"
    assert not upstream.requests


def test_an_orphaned_tool_output_is_openais_400(raw: httpx.Client, upstream: FakeUpstream) -> None:
    resp = raw.post(
        "/v1/responses",
        json={
            "model": "gpt-5.5",
            "input": [
                {"role": "user", "content": "hi"},
                {"type": "function_call_output", "call_id": "call_lost", "output": "42"},
            ],
        },
    )
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["message"] == (
        "No tool call found for function call output with call_id call_lost."
    )
    assert error["type"] == "invalid_request_error"
    assert error["param"] == "input"
    assert error["code"] is None
    assert not upstream.requests


def test_allowed_tools_declares_only_the_allowed_ones(
    sdk: openai.OpenAI, upstream: FakeUpstream
) -> None:
    other = {**TOOL, "name": "get_time", "description": "Time in a city"}
    upstream.push(Reply.json(completion_body("ok")))
    sdk.responses.create(
        model="gpt-5.5",
        input="Weather?",
        tools=[TOOL, other],  # type: ignore[list-item]
        tool_choice={
            "type": "allowed_tools",
            "mode": "required",
            "tools": [{"type": "function", "name": "get_time"}],
        },
    )
    body = upstream.last
    assert [t["function"]["name"] for t in body["tools"]] == ["get_time"]
    assert body["tool_choice"] == "required"


def test_models_retrieve_answers_like_openai(sdk: openai.OpenAI) -> None:
    model = sdk.models.retrieve("gpt-5.5")
    assert model.id == "gpt-5.5"
    assert model.object == "model"
    assert isinstance(model.created, int)
    assert model.owned_by


def test_a_provider_429_carries_openais_type_code_and_wait(
    raw: httpx.Client, upstream: FakeUpstream
) -> None:
    upstream.push(
        Reply.json(
            {"error": {"message": "Rate limit reached for tokens per minute"}},
            status=429,
            headers={"retry-after": "12"},
        )
    )
    resp = raw.post("/v1/responses", json={"model": "gpt-5.5", "input": "x"})
    assert resp.status_code == 429
    error = resp.json()["error"]
    assert error["code"] == "rate_limit_exceeded"
    assert error["type"] == "tokens"
    assert "Please try again in 12s." in error["message"]
    assert resp.headers["retry-after"] == "12"


def test_an_unknown_response_is_openais_404(raw: httpx.Client) -> None:
    resp = raw.get("/v1/responses/resp_nowhere")
    assert resp.status_code == 404
    error = resp.json()["error"]
    assert error["message"] == "Response with id 'resp_nowhere' not found."
    assert error["type"] == "invalid_request_error"
    assert error["code"] is None
