"""The doors' SSE framing writes a lone text delta from cached bytes: whatever the builder emits
and however its batches are cut, each batch's bytes are exactly what encoding the door's events
(the general path) gives."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from godex.bridge.builder import ResponseBuilder
from godex.bridge.toolplan import ToolPlan, ToolTarget
from godex.frontdoors.anthropic.encode import MessagesStream
from godex.frontdoors.chat.encode import ChatStream
from godex.protocol.deltas import Delta, Finish, ReasoningDelta, TextDelta, ToolCallDelta, Usage
from godex.server.doors import _ChatFraming, _MessagesFraming
from godex.server.sse import encode_data_events, encode_events

PLAN = ToolPlan({"get_weather": ToolTarget("function", "get_weather")})
# Text that JSON escapes (quotes, control characters, non-ASCII) as well as plain words.
texts = st.one_of(st.text(max_size=8), st.sampled_from(["tok ", "", " ", '"\\\n', "é🙂"]))


@st.composite
def delta_runs(draw: st.DrawFn) -> list[Delta]:
    run: list[Delta] = []
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["text", "text", "reasoning", "tool"]))
        if kind == "text":
            run.append(TextDelta(draw(texts)))
        elif kind == "reasoning":
            run.append(ReasoningDelta(draw(texts)))
        else:
            i = draw(st.integers(0, 1))
            run.append(ToolCallDelta(i, f"call_{i}", "get_weather", json.dumps({"c": draw(texts)})))
    run.append(Finish(draw(st.sampled_from(["stop", "tool_calls", "length"]))))
    run.append(Usage(draw(st.integers(0, 99)), draw(st.integers(0, 99)), 3, 1))
    return run


def _batches(deltas: list[Delta], cuts: list[int], model: str) -> list[list[dict[str, Any]]]:
    b = ResponseBuilder(
        response_id="resp_x",
        model=model,
        created_at=1,
        echo={},
        tool_plan=PLAN,
        stream=True,
        finish_extra={},
        reasoning_as_summary=False,
        seal_reasoning=lambda t: "gdx1.sealed." + str(len(t)),
    )
    batches = [b.start()]
    events: list[dict[str, Any]] = []
    for i, d in enumerate(deltas):
        b.feed_into(d, events)
        if i in cuts or len(events) == 1:
            batches.append(events)
            events = []
    batches.append(events + b.finish())
    return batches


@settings(max_examples=200, deadline=None)
@given(delta_runs(), st.lists(st.integers(0, 14)), st.booleans(), st.sampled_from(["m", 'a"é']))
def test_messages_framing_matches_the_general_path(
    deltas: list[Delta], cuts: list[int], display: bool, model: str
) -> None:
    framing = _MessagesFraming(display)
    general = MessagesStream(display)
    for batch in _batches(deltas, cuts, model):
        assert framing.stream(batch) == encode_events(general.feed(batch))


@settings(max_examples=200, deadline=None)
@given(delta_runs(), st.lists(st.integers(0, 14)), st.booleans(), st.sampled_from(["m", 'a"é']))
def test_chat_framing_matches_the_general_path(
    deltas: list[Delta], cuts: list[int], include_usage: bool, model: str
) -> None:
    framing = _ChatFraming(include_usage)
    general = ChatStream(include_usage)
    for batch in _batches(deltas, cuts, model):
        expected = encode_data_events(general.feed(batch))
        if general.done:
            expected += b"data: [DONE]\n\n"
        assert framing.stream(batch) == expected
