"""The two doors' encoders under random builder streams, and their parsers under hostile input.

Whatever the ResponseBuilder emits, however the batches are cut, the Messages encoder's output
follows Anthropic's grammar and rebuilds the same message the sync path returns; the Chat
encoder's chunks are well formed and add up to the sync completion. Parsers answer anything
with a parsed turn or a 4xx ``GodexError``, never another exception.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from godex.bridge.builder import ResponseBuilder
from godex.bridge.toolplan import ToolPlan, ToolTarget
from godex.errors import GodexError
from godex.frontdoors.anthropic.encode import MessagesStream, message
from godex.frontdoors.anthropic.request import parse_messages
from godex.frontdoors.chat.encode import ChatStream, completion
from godex.frontdoors.chat.request import parse_chat
from godex.protocol.deltas import (
    Delta,
    Finish,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    UpstreamError,
    Usage,
)
from tests.support.anthropic_stream import check_messages_stream

PLAN = ToolPlan({"get_weather": ToolTarget("function", "get_weather")})
texts = st.text(min_size=0, max_size=10)


@st.composite
def delta_runs(draw: st.DrawFn) -> list[Delta]:
    run: list[Delta] = []
    run += [ReasoningDelta(t) for t in draw(st.lists(texts, max_size=4))]
    run += [TextDelta(t) for t in draw(st.lists(texts, max_size=4))]
    for i in range(draw(st.integers(0, 3))):
        args = json.dumps({"city": draw(texts)})
        cut = draw(st.integers(0, len(args)))
        run.append(ToolCallDelta(i, f"call_{i}", "get_weather", args[:cut]))
        if args[cut:]:
            run.append(ToolCallDelta(i, None, None, args[cut:]))
    ending = draw(st.sampled_from(["stop", "tool_calls", "length", "content_filter", "error"]))
    if ending == "error":
        run.append(UpstreamError("provider.upstream_error", "boom", 502))
    else:
        run.append(Finish(ending))
    run.append(Usage(draw(st.integers(0, 999)), draw(st.integers(0, 999)), 3, 1))
    return run


def _builder(stream: bool) -> ResponseBuilder:
    return ResponseBuilder(
        response_id="resp_x",
        model="claude-sonnet-4-5",
        created_at=1,
        echo={},
        tool_plan=PLAN,
        stream=stream,
        finish_extra={},
        reasoning_as_summary=False,
        seal_reasoning=lambda t: "gdx1.sealed." + str(len(t)),
    )


def _events(deltas: list[Delta]) -> tuple[list[list[dict[str, Any]]], dict[str, Any]]:
    """Builder events in batches (one per delta), and the sync Response for the same deltas."""
    b = _builder(True)
    batches = [b.start()]
    for d in deltas:
        if isinstance(d, UpstreamError):
            batches.append(b.fail(GodexError(d.message, code=d.code, status=502)))
        else:
            batches.append(b.feed(d))
    batches.append(b.finish())
    sync = _builder(False)
    sync.start()
    for d in deltas:
        if not isinstance(d, UpstreamError):
            sync.feed(d)
    sync.finish()
    return batches, sync.response


@settings(max_examples=150, deadline=None)
@given(delta_runs(), st.booleans())
def test_messages_stream_follows_the_grammar_and_matches_sync(
    deltas: list[Delta], display: bool
) -> None:
    batches, sync = _events(deltas)
    enc = MessagesStream(display)
    events = [e for batch in batches for e in enc.feed(batch)]
    streamed = check_messages_stream(events)
    if any(isinstance(d, UpstreamError) for d in deltas):
        assert streamed["error"]["type"] == "api_error"
        return
    expected = message(sync, display)
    assert streamed["content"] == expected["content"]
    assert streamed["stop_reason"] == expected["stop_reason"]
    assert streamed["usage"] == expected["usage"]
    for block in streamed["content"]:
        if block["type"] == "thinking":
            assert block["signature"].startswith("gdx1.")
            if not display:
                assert block["thinking"] == ""


@settings(max_examples=150, deadline=None)
@given(delta_runs(), st.booleans())
def test_chat_chunks_are_well_formed_and_match_sync(deltas: list[Delta], usage: bool) -> None:
    batches, sync = _events(deltas)
    enc = ChatStream(usage)
    chunks = [c for batch in batches for c in enc.feed(batch)]
    if any(isinstance(d, UpstreamError) for d in deltas):
        assert "error" in chunks[-1] and chunks[-1]["error"]["message"] == "boom"
        return
    text, reasoning = "", ""
    calls: dict[int, dict[str, Any]] = {}
    finishes = []
    for c in chunks[: len(chunks) - (1 if usage else 0)]:
        choice = c["choices"][0]
        delta = choice["delta"]
        text += delta.get("content") or ""
        reasoning += delta.get("reasoning_content") or ""
        for tc in delta.get("tool_calls") or []:
            if tc["index"] not in calls:
                assert tc["id"] and tc["type"] == "function" and tc["function"]["name"]
                calls[tc["index"]] = {"id": tc["id"], "name": tc["function"]["name"], "args": ""}
            else:
                assert set(tc) == {"index", "function"} and tc["function"]["arguments"]
            calls[tc["index"]]["args"] += tc["function"]["arguments"]
        if choice["finish_reason"]:
            finishes.append(choice["finish_reason"])
    expected = completion(sync)
    msg = expected["choices"][0]["message"]
    assert text == (msg["content"] or "")
    assert reasoning == msg.get("reasoning_content", "")
    got = [(calls[i]["id"], calls[i]["name"], calls[i]["args"]) for i in sorted(calls)]
    want = [
        (c["id"], c["function"]["name"], c["function"]["arguments"])
        for c in msg.get("tool_calls") or []
    ]
    assert got == want
    assert finishes == [expected["choices"][0]["finish_reason"]]
    if usage:
        assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == expected["usage"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
block = st.fixed_dictionaries(
    {"type": st.sampled_from(["text", "image", "tool_use", "tool_result", "thinking", "x"])},
    optional={
        "text": json_values,
        "id": json_values,
        "name": json_values,
        "input": json_values,
        "tool_use_id": json_values,
        "content": json_values,
        "source": json_values,
        "signature": json_values,
        "is_error": json_values,
    },
)
messages_bodies = st.fixed_dictionaries(
    {"model": st.sampled_from(["claude-sonnet-4-5", 3, ""])},
    optional={
        "max_tokens": json_values,
        "messages": st.lists(
            st.fixed_dictionaries(
                {
                    "role": st.sampled_from(["user", "assistant", "system", "tool"]),
                    "content": st.one_of(
                        st.text(max_size=5), st.lists(block, max_size=3), json_values
                    ),
                }
            ),
            max_size=3,
        )
        | json_values,
        "system": json_values,
        "tools": json_values,
        "tool_choice": json_values,
        "thinking": json_values,
        "stop_sequences": json_values,
        "temperature": json_values,
        "output_config": json_values,
        "stream": json_values,
    },
)


@settings(max_examples=300, deadline=None)
@given(messages_bodies)
def test_messages_parser_answers_anything_with_a_turn_or_a_4xx(body: dict[str, Any]) -> None:
    try:
        parse_messages(json.dumps(body).encode())
    except GodexError as err:
        assert 400 <= err.status < 500, err


chat_bodies = st.fixed_dictionaries(
    {"model": st.sampled_from(["gpt-x", 3])},
    optional={
        "messages": st.lists(
            st.fixed_dictionaries(
                {"role": st.sampled_from(["user", "assistant", "developer", "tool", "x"])},
                optional={
                    "content": json_values,
                    "tool_calls": json_values,
                    "tool_call_id": json_values,
                    "reasoning_content": json_values,
                },
            ),
            max_size=3,
        )
        | json_values,
        "tools": json_values,
        "tool_choice": json_values,
        "stop": json_values,
        "response_format": json_values,
        "max_tokens": json_values,
        "n": json_values,
        "stream_options": json_values,
    },
)


@settings(max_examples=300, deadline=None)
@given(chat_bodies)
def test_chat_parser_answers_anything_with_a_turn_or_a_4xx(body: dict[str, Any]) -> None:
    try:
        parse_chat(json.dumps(body).encode())
    except GodexError as err:
        assert 400 <= err.status < 500, err


@pytest.mark.parametrize(
    ("thinking", "effort"),
    [
        ({"type": "enabled", "budget_tokens": 1024}, "low"),
        ({"type": "enabled", "budget_tokens": 10000}, "medium"),
        ({"type": "enabled", "budget_tokens": 32000}, "high"),
        ({"type": "adaptive"}, "medium"),
        ({"type": "disabled"}, "none"),
    ],
)
def test_thinking_maps_to_a_reasoning_effort(thinking: dict[str, Any], effort: str) -> None:
    body = {"model": "m", "max_tokens": 5, "messages": [], "thinking": thinking}
    turn = parse_messages(json.dumps(body).encode()).turn
    assert turn.reasoning == {"effort": effort}
    assert "reasoning.encrypted_content" in turn.include and turn.store is False


def test_output_config_effort_wins_over_adaptive_default() -> None:
    body = {
        "model": "m",
        "max_tokens": 5,
        "messages": [],
        "thinking": {"type": "adaptive", "display": "omitted"},
        "output_config": {"effort": "max"},
    }
    parsed = parse_messages(json.dumps(body).encode())
    assert parsed.turn.reasoning == {"effort": "max"} and parsed.display_thinking is False


def test_billing_header_block_and_deferred_tools_are_dropped() -> None:
    body = {
        "model": "m",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}],
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=1;"},
            {"type": "text", "text": "Be kind."},
        ],
        "tools": [
            {"name": "Bash", "input_schema": {"type": "object"}},
            {"name": "Later", "input_schema": {"type": "object"}, "defer_loading": True},
            {"type": "bash_20250124", "name": "bash"},
        ],
    }
    turn = parse_messages(json.dumps(body).encode()).turn
    assert turn.instructions == "Be kind."
    assert [t["name"] for t in turn.tools] == ["Bash"]


def test_a_message_keeps_its_block_order() -> None:
    body = {
        "model": "m",
        "max_tokens": 5,
        "messages": [
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                    {"type": "text", "text": "Let me look."},
                    {"type": "tool_use", "id": "t1", "name": "Read", "input": {"p": 1}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": "data"},
                    {"type": "text", "text": "thanks"},
                ],
            },
        ],
    }
    items = parse_messages(json.dumps(body).encode()).turn.input_items
    assert [i["type"] for i in items] == [
        "reasoning",
        "message",
        "function_call",
        "function_call_output",
        "message",
    ]
    assert items[0]["encrypted_content"] == "sig"
    assert json.loads(items[2]["arguments"]) == {"p": 1}
    assert items[3] == {"type": "function_call_output", "call_id": "t1", "output": "data"}
