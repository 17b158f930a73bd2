"""The Messages and Chat Completions doors over real sockets: request mapping, errors in each
protocol's shape, count_tokens, the Anthropic models list, traces and metrics."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2 as httpx
import openai
import pytest

from godex.config.schema import TraceConfig
from tests.fakes.replay_upstream import FakeUpstream, Reply, chunk, completion_body, sse, usage
from tests.support.gateway import RunningGateway, make_config, provider, run_gateway

KEY = "sk-doors-client"
WEATHER: Any = {"name": "get_weather", "input_schema": {"type": "object"}}


@pytest.fixture(scope="module")
def gateway(
    upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    tmp = tmp_path_factory.mktemp("doors")
    cfg = make_config(
        tmp,
        [
            provider("ds", "deepseek", upstream.base_url),
            provider("mm", "minimax", upstream.base_url),
        ],
        aliases={"claude-haiku-*": "ds/deepseek-v4-flash", "claude-*": "ds/deepseek-v4-pro"},
        server={"api_keys": (KEY,)},
    )
    with run_gateway(cfg) as gw:
        yield gw


@pytest.fixture
def claude(gateway: RunningGateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.base_url, api_key=KEY, max_retries=0, timeout=20)


@pytest.fixture
def chat(gateway: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.v1, api_key=KEY, max_retries=0, timeout=20)


def _post(gw: RunningGateway, path: str, body: Any, **headers: str) -> httpx.Response:
    hdrs = {"x-api-key": KEY, "anthropic-version": "2023-06-01", **headers}
    return httpx.post(gw.base_url + path, json=body, headers=hdrs, timeout=20)


# -- Messages: request mapping ---------------------------------------------------------------


def test_glob_aliases_route_claude_model_names(
    claude: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    for model, upstream_model in [
        ("claude-haiku-4-5", "deepseek-v4-flash"),
        ("claude-sonnet-4-5", "deepseek-v4-pro"),
        ("claude-opus-5-5", "deepseek-v4-pro"),
    ]:
        upstream.push(Reply.json(completion_body("hi")))
        claude.messages.create(
            model=model, max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
        assert upstream.last["model"] == upstream_model


def test_messages_parameters_reach_the_provider(
    claude: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    upstream.push(Reply.json(completion_body("ok")))
    claude.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=333,
        system=[{"type": "text", "text": "You are terse."}],
        messages=[{"role": "user", "content": "x"}],
        stop_sequences=["END"],
        extra_body={"temperature": 0.5, "top_p": 0.9},
        metadata={"user_id": "someone"},
        tools=[WEATHER],
        tool_choice={"type": "tool", "name": "get_weather"},
        thinking={"type": "enabled", "budget_tokens": 20000},
    )
    sent = upstream.last
    assert sent["messages"][0] == {"role": "system", "content": "You are terse."}
    assert sent["max_tokens"] == 333 and sent["stop"] == ["END"]
    assert sent["temperature"] == 0.5 and sent["top_p"] == 0.9
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert sent["thinking"] == {"type": "enabled"} and sent["reasoning_effort"] == "high"
    assert "someone" not in json.dumps(sent)


@pytest.mark.parametrize(
    ("choice", "expected"),
    [({"type": "auto"}, "auto"), ({"type": "any"}, "required"), ({"type": "none"}, "none")],
)
def test_tool_choice_kinds(
    choice: Any, expected: str, claude: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    upstream.push(Reply.json(completion_body("ok")))
    claude.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=10,
        messages=[{"role": "user", "content": "x"}],
        tools=[WEATHER],
        tool_choice=choice,
    )
    assert upstream.last["tool_choice"] == expected


def test_thinking_disabled_turns_provider_thinking_off(
    claude: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    upstream.push(Reply.json(completion_body("ok")))
    claude.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=10,
        messages=[{"role": "user", "content": "x"}],
        thinking={"type": "disabled"},
    )
    assert upstream.last["thinking"] == {"type": "disabled"}


def test_sync_tool_use_round_trip_with_an_error_result(
    claude: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    fn = {"name": "get_weather", "arguments": '{"city":"Oslo"}'}
    call = {"id": "call_1", "type": "function", "function": fn}
    upstream.push(
        Reply.json(
            completion_body(None, reasoning="Need weather.", tool_calls=[call], finish="tool_calls")
        )
    )
    first = claude.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=100,
        messages=[{"role": "user", "content": "weather?"}],
        tools=[WEATHER],
    )
    assert first.stop_reason == "tool_use"
    kinds = [b.type for b in first.content]
    assert kinds == ["thinking", "tool_use"]
    tool_use = first.content[1]
    assert tool_use.type == "tool_use" and tool_use.input == {"city": "Oslo"}
    upstream.push(Reply.json(completion_body("It failed.")))
    second = claude.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=100,
        tools=[WEATHER],
        messages=[
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": [b.model_dump() for b in first.content]},
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "call_1",
                        "is_error": True,
                        "content": [{"type": "text", "text": "service down"}],
                    }
                ],
            },
        ],
    )
    assert second.content[0].type == "text" and second.content[0].text == "It failed."
    sent = upstream.last["messages"]
    assistant = next(m for m in sent if m.get("tool_calls"))
    assert assistant["reasoning_content"] == "Need weather."  # unsealed from the signature
    tool = next(m for m in sent if m["role"] == "tool")
    assert tool["tool_call_id"] == "call_1"
    assert tool["content"].startswith("Error") and "service down" in tool["content"]


def test_images_become_image_parts(claude: anthropic.Anthropic, upstream: FakeUpstream) -> None:
    upstream.push(Reply.json(completion_body("a cat")))
    claude.messages.create(
        model="mm/MiniMax-M3",
        max_tokens=10,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is it?"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"},
                    },
                ],
            }
        ],
    )
    parts = upstream.last["messages"][-1]["content"]
    assert {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}} in parts


# -- Messages: errors, count_tokens, models --------------------------------------------------


def test_bad_key_is_an_anthropic_authentication_error(gateway: RunningGateway) -> None:
    r = _post(gateway, "/v1/messages", {}, **{"x-api-key": "wrong"})
    assert r.status_code == 401
    assert r.json() == {
        "type": "error",
        "error": {"type": "authentication_error", "message": r.json()["error"]["message"]},
    }


def test_bad_body_is_an_invalid_request_error(gateway: RunningGateway) -> None:
    r = _post(gateway, "/v1/messages", {"model": "claude-sonnet-4-5", "messages": []})
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("status", "message", "expected_status", "expected_type", "sdk_error"),
    [
        (429, "Rate limit reached", 429, "rate_limit_error", anthropic.RateLimitError),
        (
            400,
            "This model's maximum context length is 131072 tokens",
            400,
            "invalid_request_error",
            anthropic.BadRequestError,
        ),
        (402, "Insufficient Balance", 402, "billing_error", anthropic.APIStatusError),
        (500, "boom", 502, "api_error", anthropic.InternalServerError),
    ],
)
def test_upstream_errors_keep_their_meaning(
    status: int,
    message: str,
    expected_status: int,
    expected_type: str,
    sdk_error: type[Exception],
    claude: anthropic.Anthropic,
    upstream: FakeUpstream,
) -> None:
    upstream.push(Reply.json({"error": {"message": message}}, status=status))
    with pytest.raises(sdk_error) as info:
        claude.messages.create(
            model="claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    exc = info.value
    assert isinstance(exc, anthropic.APIStatusError)
    assert exc.status_code == expected_status
    body: Any = exc.body
    assert body["error"]["type"] == expected_type
    if "context length" in message:
        assert body["error"]["message"].startswith("prompt is too long")


def test_count_tokens_is_an_estimate_without_an_upstream_call(
    claude: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    small = claude.messages.count_tokens(
        model="claude-sonnet-4-5", messages=[{"role": "user", "content": "hello"}]
    )
    large = claude.messages.count_tokens(
        model="claude-sonnet-4-5",
        system="x " * 2000,
        messages=[{"role": "user", "content": "hello"}],
        tools=[WEATHER],
    )
    assert 0 < small.input_tokens < 50
    assert 900 < large.input_tokens < 1500
    assert upstream.requests == []


def test_models_list_has_the_anthropic_shape_when_asked(
    claude: anthropic.Anthropic, gateway: RunningGateway
) -> None:
    page = claude.models.list()
    ids = [m.id for m in page.data]
    assert "ds/deepseek-v4-pro" in ids and all(m.type == "model" for m in page.data)
    assert not any("*" in i for i in ids)
    plain = httpx.get(gateway.v1 + "/models", headers={"authorization": f"Bearer {KEY}"})
    assert plain.json()["object"] == "list"


# -- Chat Completions ------------------------------------------------------------------------


def test_chat_parameters_and_developer_role(chat: openai.OpenAI, upstream: FakeUpstream) -> None:
    upstream.push(Reply.json(completion_body('{"ok": true}')))
    done = chat.chat.completions.create(
        model="ds/deepseek-v4-pro",
        messages=[
            {"role": "developer", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        ],
        max_completion_tokens=77,
        stop="STOP",
        temperature=0.2,
        response_format={"type": "json_object"},
    )
    assert done.choices[0].message.content == '{"ok": true}'
    sent = upstream.last
    assert [m["role"] for m in sent["messages"]][:2] == ["system", "user"]
    assert sent["max_tokens"] == 77 and sent["stop"] == ["STOP"] and sent["temperature"] == 0.2
    assert sent["response_format"] == {"type": "json_object"}


def test_chat_tool_history_and_reasoning_replay(
    chat: openai.OpenAI, upstream: FakeUpstream
) -> None:
    upstream.push(Reply.json(completion_body("sunny")))
    chat.chat.completions.create(
        model="ds/deepseek-v4-pro",
        messages=[
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": None,
                "reasoning_content": "Need weather.",  # type: ignore[typeddict-unknown-key]
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": "{}"},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        ],
        tools=[{"type": "function", "function": {"name": "get_weather"}}],
    )
    sent = upstream.last["messages"]
    assert sent[1]["tool_calls"][0]["id"] == "call_1"
    assert sent[1]["reasoning_content"] == "Need weather."
    assert sent[2] == {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}


def test_chat_stream_without_include_usage_has_no_usage_chunk(
    chat: openai.OpenAI, upstream: FakeUpstream
) -> None:
    upstream.push(Reply(sse(chunk("a"), chunk("b", finish="stop", usage=usage()))))
    chunks = list(
        chat.chat.completions.create(
            model="ds/deepseek-v4-pro", messages=[{"role": "user", "content": "x"}], stream=True
        )
    )
    assert all(c.choices for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "ab"


def test_chat_errors_have_the_openai_shape(gateway: RunningGateway, chat: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        chat.chat.completions.create(model="ds/deepseek-v4-pro", messages=[])
    body: Any = info.value.body
    assert body["param"] == "messages" and body["type"] == "invalid_request_error"
    r = httpx.post(
        gateway.v1 + "/chat/completions", json={}, headers={"authorization": "Bearer no"}
    )
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"


# -- traces and metrics ----------------------------------------------------------------------


def test_both_doors_are_traced_and_counted(upstream: FakeUpstream, tmp_path: Path) -> None:
    db = tmp_path / "trace.db"
    cfg = make_config(
        tmp_path,
        [provider("ds", "deepseek", upstream.base_url)],
        aliases={"claude-*": "ds/deepseek-v4-pro"},
        trace=TraceConfig(enabled=True, path=str(db), flush_interval_ms=20),
    )
    upstream.push(
        Reply(sse(chunk("hi", finish="stop", usage=usage(40, 4, cached=30)))),
        Reply.json(completion_body("yo", prompt=12, completion=2)),
    )
    with run_gateway(cfg) as gw:
        claude = anthropic.Anthropic(base_url=gw.base_url, api_key="k", max_retries=0)
        with claude.messages.stream(
            model="claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        ) as s:
            s.get_final_message()
        chat = openai.OpenAI(base_url=gw.v1, api_key="k", max_retries=0)
        chat.chat.completions.create(
            model="ds/deepseek-v4-pro", messages=[{"role": "user", "content": "x"}], seed=7
        )
        metrics = httpx.get(gw.base_url + "/metrics").text
    assert 'route="messages.create"' in metrics and 'route="chat.completions"' in metrics
    # The gateway has stopped: the recorder flushed at shutdown.
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT route, provider, input_tokens, cached_tokens, stream, diagnostics"
            " FROM requests ORDER BY ts"
        ).fetchall()
    finally:
        conn.close()
    assert [r[:5] for r in rows] == [
        ("messages.create", "ds", 40, 30, 1),
        ("chat.completions", "ds", 12, 0, 0),
    ]
    # A parameter the door had to drop is a diagnostic in the trace, like the bridge's own.
    assert "seed" in str(rows[1][5])


def test_a_sync_answer_that_fails_its_output_check_is_an_error(
    chat: openai.OpenAI, upstream: FakeUpstream
) -> None:
    upstream.push(Reply.json(completion_body("not json at all")))
    with pytest.raises(openai.InternalServerError) as info:
        chat.chat.completions.create(
            model="ds/deepseek-v4-pro",
            messages=[{"role": "user", "content": "x"}],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": {"type": "object"}},
            },
        )
    assert info.value.status_code == 502
    body: Any = info.value.body
    assert "JSON" in body["message"] or "json" in body["message"]
