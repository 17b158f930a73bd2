"""The Conversations API and ``conversation`` on responses: the openai SDK and the Agents SDK."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import openai
import pytest

from tests.fakes.replay_upstream import FakeUpstream, Reply, completion_body
from tests.integration.conftest import stored_gateway
from tests.support.gateway import RunningGateway


@pytest.fixture(scope="module", params=["sqlite", "memory"])
def conv_gw(
    request: pytest.FixtureRequest, upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    with stored_gateway(request.param, upstream, tmp_path_factory) as gw:
        yield gw


@pytest.fixture
def sdk(conv_gw: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=conv_gw.v1, api_key="k", max_retries=0, timeout=20)


def test_conversations_crud_through_the_sdk(sdk: openai.OpenAI) -> None:
    conv = sdk.conversations.create(
        items=[{"type": "message", "role": "user", "content": "Hello"}],
        metadata={"topic": "greeting"},
    )
    assert conv.id.startswith("conv_") and conv.object == "conversation"
    assert sdk.conversations.retrieve(conv.id).metadata == {"topic": "greeting"}
    updated = sdk.conversations.update(conv.id, metadata={"topic": "other"})
    assert updated.metadata == {"topic": "other"}

    added = sdk.conversations.items.create(
        conv.id,
        items=[
            {"type": "message", "role": "assistant", "content": "Hi!"},
            {"type": "message", "role": "user", "content": "How are you?"},
        ],
    )
    assert len(added.data) == 2
    listed = sdk.conversations.items.list(conv.id, order="asc")
    texts = [item.content[0].text for item in listed.data]  # type: ignore[union-attr]
    assert texts == ["Hello", "Hi!", "How are you?"]
    assert [i.role for i in listed.data] == ["user", "assistant", "user"]  # type: ignore[union-attr]
    newest = sdk.conversations.items.list(conv.id, limit=1)
    assert newest.data[0].id == added.data[-1].id and newest.has_more

    one = sdk.conversations.items.retrieve(added.data[0].id, conversation_id=conv.id)
    assert one.id == added.data[0].id
    after = sdk.conversations.items.delete(added.data[0].id, conversation_id=conv.id)
    assert after.id == conv.id
    assert len(sdk.conversations.items.list(conv.id).data) == 2

    deleted = sdk.conversations.delete(conv.id)
    assert deleted.deleted and deleted.id == conv.id
    with pytest.raises(openai.NotFoundError):
        sdk.conversations.retrieve(conv.id)


def test_an_unknown_conversation_is_a_404(sdk: openai.OpenAI, upstream: FakeUpstream) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        sdk.conversations.items.list("conv_missing")
    body: Any = info.value.body
    assert body["message"] == "Conversation with id 'conv_missing' not found."
    assert body["type"] == "invalid_request_error"
    with pytest.raises(openai.NotFoundError):
        sdk.responses.create(model="gpt-5.5", input="hi", conversation="conv_missing")
    assert not upstream.requests


def test_a_response_in_a_conversation_reads_and_extends_it(
    sdk: openai.OpenAI, upstream: FakeUpstream
) -> None:
    conv = sdk.conversations.create(
        items=[{"type": "message", "role": "user", "content": "My name is Ada."}]
    )
    upstream.push(Reply.json(completion_body("Hello Ada.")))
    first = sdk.responses.create(model="gpt-5.5", input="Greet me.", conversation=conv.id)
    assert first.conversation is not None and first.conversation.id == conv.id
    assert [m["content"] for m in upstream.last["messages"]] == ["My name is Ada.", "Greet me."]

    upstream.push(Reply.json(completion_body("Ada.")))
    sdk.responses.create(model="gpt-5.5", input="What is my name?", conversation={"id": conv.id})
    assert [m["content"] for m in upstream.last["messages"]] == [
        "My name is Ada.",
        "Greet me.",
        "Hello Ada.",
        "What is my name?",
    ]
    items = sdk.conversations.items.list(conv.id, order="asc").data
    assert [i.type for i in items] == ["message"] * 5


def test_conversation_and_previous_response_id_are_exclusive(
    sdk: openai.OpenAI, upstream: FakeUpstream
) -> None:
    conv = sdk.conversations.create()
    with pytest.raises(openai.BadRequestError):
        sdk.responses.create(
            model="gpt-5.5", input="x", conversation=conv.id, previous_response_id="resp_1"
        )


def test_the_agents_sdk_runs_a_tool_loop_with_conversation_id(
    conv_gw: RunningGateway, upstream: FakeUpstream
) -> None:
    from agents import Agent, OpenAIResponsesModel, Runner, function_tool, set_tracing_disabled

    set_tracing_disabled(True)
    calls: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        calls.append(city)
        return f"sunny in {city}"

    call = {
        "id": "call_a1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
    }
    upstream.push(
        Reply.json(completion_body(None, reasoning="Use the tool.", tool_calls=[call])),
        Reply.json(completion_body("It is sunny in Paris.")),
        Reply.json(completion_body("You asked about Paris.")),
    )

    async def run() -> tuple[str, str]:
        client = openai.AsyncOpenAI(base_url=conv_gw.v1, api_key="k", max_retries=0)
        model = OpenAIResponsesModel(model="gpt-5.5", openai_client=client)
        agent = Agent(name="weather", instructions="Be brief.", model=model, tools=[get_weather])
        conv = await client.conversations.create()
        first = await Runner.run(agent, "Weather in Paris?", conversation_id=conv.id)
        second = await Runner.run(agent, "Which city did I ask about?", conversation_id=conv.id)
        await client.close()
        return str(first.final_output), str(second.final_output)

    first, second = asyncio.run(run())
    assert first == "It is sunny in Paris."
    assert second == "You asked about Paris."
    assert calls == ["Paris"]
    tool_turn = upstream.requests[1].body["messages"]
    assert tool_turn[-2]["tool_calls"][0]["id"] == "call_a1"
    assert tool_turn[-2]["reasoning_content"] == "Use the tool."
    assert tool_turn[-1] == {"role": "tool", "tool_call_id": "call_a1", "content": "sunny in Paris"}
    last = upstream.requests[2].body["messages"]
    assert [m["role"] for m in last] == ["system", "user", "assistant", "tool", "assistant", "user"]


def test_the_agents_sdk_conversation_session_keeps_the_history(
    conv_gw: RunningGateway, upstream: FakeUpstream
) -> None:
    from agents import Agent, OpenAIResponsesModel, Runner, set_tracing_disabled
    from agents.memory import OpenAIConversationsSession

    set_tracing_disabled(True)
    upstream.push(
        Reply.json(completion_body("Noted, Ada.")), Reply.json(completion_body("You are Ada."))
    )

    async def run() -> list[Any]:
        client = openai.AsyncOpenAI(base_url=conv_gw.v1, api_key="k", max_retries=0)
        model = OpenAIResponsesModel(model="gpt-5.5", openai_client=client)
        agent = Agent(name="memo", model=model)
        session = OpenAIConversationsSession(openai_client=client)
        await Runner.run(agent, "I am Ada.", session=session)
        await Runner.run(agent, "Who am I?", session=session)
        items = await session.get_items()
        await client.close()
        return items

    items = asyncio.run(run())
    assert len(items) == 4
    assert [m["content"] for m in upstream.last["messages"]] == [
        "I am Ada.",
        "Noted, Ada.",
        "Who am I?",
    ]


def test_conversation_routes_answer_json_errors(conv_gw: RunningGateway) -> None:
    with httpx.Client(base_url=conv_gw.base_url, timeout=10) as c:
        resp = c.post("/v1/conversations/conv_x/items", content=b"{not json")
        assert resp.status_code == 400
        assert resp.json()["error"]["type"] == "invalid_request_error"
        resp = c.post("/v1/conversations", json={"items": "nope"})
        assert resp.status_code == 400 and resp.json()["error"]["param"] == "items"
