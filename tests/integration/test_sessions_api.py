"""previous_response_id chains and the stored-response endpoints, through the SDK."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from godex.config.schema import SessionConfig
from tests.fakes.replay_upstream import FakeUpstream, Reply, chunk, completion_body, sse, usage
from tests.support.gateway import RunningGateway, make_config, provider, run_gateway


def _config(tmp: Path, upstream: FakeUpstream, backend: str) -> Any:
    return make_config(
        tmp,
        [
            provider("ds", "deepseek", upstream.base_url),
            provider("mm", "minimax", upstream.base_url),
        ],
        aliases={"gpt-5.5": "ds/deepseek-v4-pro", "other": "mm/MiniMax-M3"},
        session=SessionConfig(backend=backend, sqlite_path=str(tmp / "sessions.db"), max_depth=60),
    )


@pytest.fixture(scope="module", params=["sqlite", "memory"])
def session_gw(
    request: pytest.FixtureRequest, upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    tmp = tmp_path_factory.mktemp(request.param)
    with run_gateway(_config(tmp, upstream, request.param)) as gw:
        yield gw


@pytest.fixture
def sdk(session_gw: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=session_gw.v1, api_key="k", max_retries=0, timeout=20)


def _answer(upstream: FakeUpstream, text: str) -> None:
    upstream.push(Reply.json(completion_body(text)))


def test_chain_of_one(sdk: openai.OpenAI, upstream: FakeUpstream) -> None:
    _answer(upstream, "first and only")
    first = sdk.responses.create(model="gpt-5.5", input="hello", instructions="Be brief.")
    assert first.output_text == "first and only"
    assert upstream.last["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello"},
    ]
    assert sdk.responses.retrieve(first.id).output_text == "first and only"


def test_chain_of_two(sdk: openai.OpenAI, upstream: FakeUpstream) -> None:
    _answer(upstream, "Nice to meet you, Ada.")
    first = sdk.responses.create(model="gpt-5.5", input="My name is Ada.", instructions="Be brief.")
    _answer(upstream, "Your name is Ada.")
    second = sdk.responses.create(
        model="gpt-5.5", input="What is my name?", previous_response_id=first.id
    )
    assert second.previous_response_id == first.id
    msgs = upstream.last["messages"]
    # instructions are not carried over to the next turn
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    assert msgs[0]["content"] == "My name is Ada."
    assert msgs[1]["content"] == "Nice to meet you, Ada."
    assert msgs[2]["content"] == "What is my name?"


def test_chain_of_fifty(sdk: openai.OpenAI, upstream: FakeUpstream) -> None:
    prev = None
    for i in range(50):
        _answer(upstream, f"a{i}")
        resp = sdk.responses.create(model="gpt-5.5", input=f"q{i}", previous_response_id=prev)
        prev = resp.id
    msgs = upstream.last["messages"]
    assert len(msgs) == 99
    assert [m["content"] for m in msgs[:4]] == ["q0", "a0", "q1", "a1"]
    assert msgs[-1]["content"] == "q49"


def test_unknown_previous_id_is_400(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        sdk.responses.create(model="gpt-5.5", input="x", previous_response_id="resp_nope")
    assert info.value.code == "previous_response_not_found"
    assert info.value.param == "previous_response_id"


def test_retrieve_delete_and_input_items(sdk: openai.OpenAI, upstream: FakeUpstream) -> None:
    _answer(upstream, "stored answer")
    resp = sdk.responses.create(
        model="gpt-5.5",
        input=[
            {"role": "user", "content": "one"},
            {"role": "user", "content": "two"},
            {"role": "user", "content": "three"},
        ],
    )
    got = sdk.responses.retrieve(resp.id)
    assert got.id == resp.id and got.output_text == "stored answer"
    page = sdk.responses.input_items.list(resp.id, limit=2, order="asc")
    texts = [i.content[0].text for i in page.data]  # type: ignore[union-attr]
    assert texts == ["one", "two"]
    assert page.has_more
    rest = sdk.responses.input_items.list(resp.id, after=page.data[-1].id, order="asc")
    assert [i.content[0].text for i in rest.data] == ["three"]  # type: ignore[union-attr]
    sdk.responses.delete(resp.id)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(resp.id)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.delete(resp.id)
    with pytest.raises(openai.BadRequestError):
        sdk.responses.create(model="gpt-5.5", input="more", previous_response_id=resp.id)


def test_retrieve_stream_replays_events(sdk: openai.OpenAI, upstream: FakeUpstream) -> None:
    upstream.push(
        Reply(sse(chunk("streamed "), chunk("and stored"), chunk("", finish="stop", usage=usage())))
    )
    with sdk.responses.stream(model="gpt-5.5", input="x") as s:
        original = s.get_final_response()
    events = list(sdk.responses.retrieve(original.id, stream=True))
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    later = list(sdk.responses.retrieve(original.id, stream=True, starting_after=2))
    assert all(e.sequence_number > 2 for e in later)
    assert later[-1].type == "response.completed"


def test_tool_call_and_output_across_turns(sdk: openai.OpenAI, upstream: FakeUpstream) -> None:
    upstream.push(
        Reply.json(
            completion_body(
                None,
                reasoning="I should look it up.",
                finish="tool_calls",
                tool_calls=[
                    {
                        "id": "call_9",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"q":"x"}'},
                    }
                ],
            )
        )
    )
    tools: Any = [
        {
            "type": "function",
            "name": "lookup",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        }
    ]
    first = sdk.responses.create(model="gpt-5.5", input="find x", tools=tools)
    call = next(i for i in first.output if i.type == "function_call")
    _answer(upstream, "found it")
    sdk.responses.create(
        model="gpt-5.5",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "x=1"}],
        tools=tools,
    )
    msgs = upstream.last["messages"]
    assistant = msgs[1]
    assert assistant["role"] == "assistant"
    assert assistant["tool_calls"][0]["id"] == "call_9"
    # DeepSeek needs its reasoning back on the tool-call turn; the store kept it.
    assert assistant["reasoning_content"] == "I should look it up."
    assert msgs[2] == {"role": "tool", "tool_call_id": "call_9", "content": "x=1"}


def test_chain_across_providers(sdk: openai.OpenAI, upstream: FakeUpstream) -> None:
    _answer(upstream, "from deepseek")
    first = sdk.responses.create(model="gpt-5.5", input="hello")
    _answer(upstream, "from minimax")
    second = sdk.responses.create(model="other", input="again", previous_response_id=first.id)
    assert second.output_text == "from minimax"
    msgs = upstream.last["messages"]
    assert [m["content"] for m in msgs] == ["hello", "from deepseek", "again"]


def test_concurrent_children_of_one_parent(
    session_gw: RunningGateway, upstream: FakeUpstream
) -> None:
    upstream.default = lambda body: Reply.json(completion_body("child"))
    client = openai.AsyncOpenAI(base_url=session_gw.v1, api_key="k", max_retries=0)

    async def run() -> list[str]:
        parent = await client.responses.create(model="gpt-5.5", input="parent")
        kids = await asyncio.gather(
            *[
                client.responses.create(
                    model="gpt-5.5", input=f"kid {i}", previous_response_id=parent.id
                )
                for i in range(8)
            ]
        )
        for kid in kids:
            got = await client.responses.retrieve(kid.id)
            assert got.previous_response_id == parent.id
        await client.close()
        return [k.id for k in kids]

    ids = asyncio.run(run())
    assert len(set(ids)) == 8


def test_sqlite_survives_restart_memory_does_not(upstream: FakeUpstream, tmp_path: Path) -> None:
    for backend, survives in (("sqlite", True), ("memory", False)):
        cfg = _config(tmp_path / backend, upstream, backend)
        (tmp_path / backend).mkdir()
        _answer(upstream, "before restart")
        with run_gateway(cfg) as gw:
            c = openai.OpenAI(base_url=gw.v1, api_key="k", max_retries=0)
            first = c.responses.create(model="gpt-5.5", input="remember me")
        _answer(upstream, "after restart")
        with run_gateway(cfg) as gw:
            c = openai.OpenAI(base_url=gw.v1, api_key="k", max_retries=0)
            if survives:
                second = c.responses.create(
                    model="gpt-5.5", input="still there?", previous_response_id=first.id
                )
                assert second.output_text == "after restart"
            else:
                with pytest.raises(openai.BadRequestError):
                    c.responses.create(
                        model="gpt-5.5", input="still there?", previous_response_id=first.id
                    )
