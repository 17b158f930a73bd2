"""The ResponseBuilder under random delta sequences: always a valid stream, sync == stream."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from godex.bridge.builder import ResponseBuilder
from godex.bridge.toolplan import ToolPlan, ToolTarget
from godex.gateway.upstream_stream import coalesced
from godex.protocol.deltas import (
    Delta,
    Finish,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    UpstreamError,
    Usage,
)
from tests.support.stream_checker import check_stream, sdk_accumulate

PLAN = ToolPlan(
    {
        "get_weather": ToolTarget("function", "get_weather"),
        "apply_patch": ToolTarget("custom", "apply_patch"),
        "multi__spawn": ToolTarget("function", "spawn", "multi"),
        "shell": ToolTarget("local_shell", "shell"),
    }
)
NAMES = ["get_weather", "apply_patch", "multi__spawn", "shell", "unknown_tool"]

texts = st.text(min_size=0, max_size=12)


def _split(s: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(s) + 1) for c in cuts})
    out, prev = [], 0
    for p in points:
        out.append(s[prev:p])
        prev = p
    out.append(s[prev:])
    return [x for x in out if x]


@st.composite
def tool_calls(draw: st.DrawFn, index: int) -> list[Delta]:
    name = draw(st.sampled_from(NAMES))
    if name == "apply_patch":
        payload = draw(st.text(max_size=30))
        args = json.dumps({"input": payload})
    elif name == "shell":
        args = json.dumps({"command": ["echo", draw(texts)]})
    else:
        args = json.dumps({"x": draw(texts)})
    pieces = _split(args, draw(st.lists(st.integers(0, 200), max_size=6)))
    out: list[Delta] = [ToolCallDelta(index, f"call_{index}", name, pieces[0] if pieces else "")]
    for p in pieces[1:]:
        # Providers repeat id/name on later fragments sometimes; they must be ignored.
        repeat = draw(st.booleans())
        out.append(
            ToolCallDelta(index, f"call_{index}" if repeat else None, name if repeat else None, p)
        )
    return out


@st.composite
def delta_runs(draw: st.DrawFn) -> list[Delta]:
    run: list[Delta] = []
    for _ in range(draw(st.integers(0, 4))):
        run += [ReasoningDelta(t) for t in draw(st.lists(texts, max_size=4))]
        run += [TextDelta(t) for t in draw(st.lists(texts, max_size=4))]
    for i in range(draw(st.integers(0, 3))):
        run += draw(tool_calls(i))
    ending = draw(
        st.sampled_from(["stop", "tool_calls", "length", "content_filter", "none", "error"])
    )
    if ending == "error":
        run.append(UpstreamError("provider.upstream_error", "boom", 502))
    elif ending != "none":
        run.append(Finish(ending))
    if draw(st.booleans()):
        run.append(Usage(draw(st.integers(0, 999)), draw(st.integers(0, 999)), 1, 2))
    return run


def _run(deltas: list[Delta], stream: bool, summary: bool) -> tuple[list[dict[str, Any]], Any]:
    b = ResponseBuilder(
        response_id="resp_x",
        model="m",
        created_at=1,
        echo={},
        tool_plan=PLAN,
        stream=stream,
        finish_extra={},
        reasoning_as_summary=summary,
        seal_reasoning=lambda t: "sealed:" + t,
    )
    events = b.start()
    for d in deltas:
        events += b.feed(d)
    events += b.finish()
    assert b.done
    return events, b.response


def _shape(r: dict[str, Any]) -> Any:
    """A response without what differs between two runs of the same deltas (ids, times)."""
    r = {k: v for k, v in r.items() if k not in ("completed_at",)}
    r["output"] = [{k: v for k, v in i.items() if k != "id"} for i in r["output"]]
    return r


@settings(max_examples=300, deadline=None)
@given(delta_runs(), st.booleans())
def test_every_delta_sequence_gives_a_valid_stream(deltas: list[Delta], summary: bool) -> None:
    events, response = _run(deltas, True, summary)
    final = check_stream(events)
    assert final is response
    state = sdk_accumulate(events)
    if final["status"] == "completed":
        assert state._completed_response is not None
    # Text is never lost or doubled.
    sent = "".join(d.text for d in deltas if isinstance(d, TextDelta)).lstrip()
    got = "".join(
        p["text"] for i in final["output"] if i["type"] == "message" for p in i["content"]
    )
    errored = any(isinstance(d, UpstreamError) for d in deltas)
    if not errored:
        assert got.strip() == sent.strip()
    for item in final["output"]:
        if item["type"] == "reasoning":
            assert isinstance(item["summary"], list)


@settings(max_examples=200, deadline=None)
@given(delta_runs(), st.booleans())
def test_sync_and_stream_agree(deltas: list[Delta], summary: bool) -> None:
    _, streamed = _run(deltas, True, summary)
    _, synced = _run(deltas, False, summary)

    if any(isinstance(d, (Finish, UpstreamError)) for d in deltas):
        assert _shape(streamed) == _shape(synced)


def test_custom_tool_arguments_stream_as_raw_input() -> None:
    patch = '*** Begin Patch\n*** Add File: a.txt\n+h\u00e9llo "q" \\ \U0001f600\n*** End Patch\n'
    args = json.dumps({"input": patch})
    deltas: list[Delta] = [ToolCallDelta(0, "call_1", "apply_patch", "")]
    deltas += [ToolCallDelta(0, None, None, args[i : i + 3]) for i in range(0, len(args), 3)]
    deltas.append(Finish("tool_calls"))
    events, response = _run(deltas, True, False)
    check_stream(events)
    streamed = "".join(
        e["delta"] for e in events if e["type"] == "response.custom_tool_call_input.delta"
    )
    assert streamed == patch
    assert response["output"][0]["input"] == patch
    assert response["output"][0]["type"] == "custom_tool_call"


def test_truncated_stream_fails_cleanly() -> None:
    events, response = _run([TextDelta("partial")], True, False)
    check_stream(events)
    assert response["status"] == "failed"
    assert response["error"]["code"] == "provider.stream_truncated"
    assert response["output"][0]["status"] == "incomplete"


@settings(max_examples=300, deadline=None)
@given(delta_runs(), st.booleans(), st.booleans())
def test_a_read_coalesced_into_fewer_deltas_builds_the_same_response(
    deltas: list[Delta], summary: bool, stream: bool
) -> None:
    # One upstream read's deltas are joined run by run (gateway.upstream_stream); what the
    # client ends up with must not change, whitespace before a message included.
    joined = coalesced(deltas)
    assert len(joined) <= len(deltas)
    _, whole = _run(deltas, stream, summary)
    _, fewer = _run(joined, stream, summary)

    assert _shape(fewer) == _shape(whole)


def test_a_burst_of_text_chunks_becomes_one_delta_but_leading_blank_lines_stay_apart() -> None:
    burst: list[Delta] = [TextDelta("\n"), TextDelta("\n"), TextDelta("Hel"), TextDelta("lo")]
    burst += [ToolCallDelta(0, "c", "f", '{"a"'), ToolCallDelta(0, None, None, ": 1}")]
    burst.append(Finish("tool_calls"))
    assert coalesced(burst) == [
        TextDelta("\n\n"),
        TextDelta("Hello"),
        ToolCallDelta(0, "c", "f", '{"a": 1}'),
        Finish("tool_calls"),
    ]
