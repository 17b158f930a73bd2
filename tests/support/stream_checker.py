"""A strict checker for Responses SSE event sequences (contract §3.3), plus the SDK oracle.

``check_stream`` asserts the canonical ordering rules and returns the terminal response.
``sdk_accumulate`` runs the official openai SDK's stream accumulator over the same events.
"""

from __future__ import annotations

from typing import Any

from openai._models import construct_type_unchecked
from openai._types import omit
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import ResponseStreamEvent

TERMINAL = ("response.completed", "response.incomplete", "response.failed")


def check_stream(events: list[dict[str, Any]]) -> dict[str, Any]:
    assert events, "empty stream"
    assert events[0]["type"] == "response.created", events[0]["type"]
    for i, e in enumerate(events):
        assert e.get("sequence_number") == i, (i, e)
    rid = events[0]["response"]["id"]
    terminals = [e for e in events if e["type"] in TERMINAL]
    assert len(terminals) == 1, [e["type"] for e in terminals]
    assert events[-1]["type"] in TERMINAL, events[-1]["type"]
    open_items: dict[int, dict[str, Any]] = {}
    done_items: dict[int, dict[str, Any]] = {}
    text: dict[tuple[int, int], str] = {}
    parts: dict[tuple[int, int], str] = {}
    args: dict[int, str] = {}
    next_index = 0
    current: int | None = None
    for e in events:
        t = e["type"]
        if t in ("response.created", "response.in_progress", *TERMINAL):
            assert e["response"]["id"] == rid, "lifecycle identity changed"
            continue
        if t == "error":
            continue
        idx = e["output_index"]
        if t == "response.output_item.added":
            assert idx == next_index, f"output_index {idx} out of order (expected {next_index})"
            assert current is None, f"item {idx} added while item {current} is still open"
            next_index += 1
            current = idx
            open_items[idx] = e["item"]
            continue
        assert idx in open_items, f"{t} for output_index {idx} before its output_item.added"
        assert idx == current, f"{t} for {idx} while {current} is open (interleaved items)"
        item = open_items[idx]
        if "item_id" in e:
            assert e["item_id"] == item.get("id"), (t, e["item_id"], item.get("id"))
        if t == "response.output_item.done":
            done = e["item"]
            key = "call_id" if item["type"] in ("function_call", "custom_tool_call") else "id"
            assert done.get(key) == item.get(key), "completed output item identity changed"
            assert done["type"] == item["type"]
            done_items[idx] = done
            current = None
            if done["type"] == "function_call":
                assert done["arguments"] == args.get(idx, done["arguments"])
            if done["type"] == "reasoning":
                assert isinstance(done.get("summary"), list), "reasoning without summary list"
            continue
        assert idx not in done_items, f"{t} after output_item.done for {idx}"
        if t in ("response.content_part.added", "response.reasoning_summary_part.added"):
            ci = e.get("content_index", e.get("summary_index"))
            parts[(idx, ci)] = "open"
            text[(idx, ci)] = ""
        elif t in (
            "response.output_text.delta",
            "response.reasoning_text.delta",
            "response.reasoning_summary_text.delta",
        ):
            ci = e.get("content_index", e.get("summary_index"))
            assert parts.get((idx, ci)) == "open", f"{t} before its part was added"
            text[(idx, ci)] += e["delta"]
        elif t in (
            "response.output_text.done",
            "response.reasoning_text.done",
            "response.reasoning_summary_text.done",
        ):
            ci = e.get("content_index", e.get("summary_index"))
            assert text[(idx, ci)] == e["text"], f"{t} text differs from the deltas"
        elif t in ("response.content_part.done", "response.reasoning_summary_part.done"):
            ci = e.get("content_index", e.get("summary_index"))
            assert parts.get((idx, ci)) == "open"
            parts[(idx, ci)] = "done"
        elif t == "response.function_call_arguments.delta":
            assert item["type"] == "function_call"
            args[idx] = args.get(idx, "") + e["delta"]
        elif t == "response.function_call_arguments.done":
            assert e["arguments"] == args.get(idx, ""), "arguments.done differs from the deltas"
        elif t == "response.custom_tool_call_input.delta":
            assert item["type"] == "custom_tool_call"
            args[idx] = args.get(idx, "") + e["delta"]
        elif t == "response.custom_tool_call_input.done":
            assert e["input"] == args.get(idx, ""), "custom input.done differs from the deltas"
    assert current is None, f"item {current} never finished"
    final: dict[str, Any] = events[-1]["response"]
    assert set(open_items) == set(done_items), "an added item was never done"
    assert final["output"] == [done_items[i] for i in sorted(done_items)], "terminal output differs"
    assert all(v == "done" for v in parts.values()), "a content part was never done"
    if final["status"] == "completed" and final.get("usage") is not None:
        u = final["usage"]
        for k in ("input_tokens", "output_tokens", "total_tokens"):
            assert isinstance(u[k], int), k
    return final


def sdk_accumulate(events: list[dict[str, Any]]) -> Any:
    """The openai SDK's own accumulator over ``events``; raises where the SDK would."""
    state: ResponseStreamState[Any] = ResponseStreamState(input_tools=[], text_format=omit)
    for raw in events:
        event = construct_type_unchecked(type_=ResponseStreamEvent, value=raw)  # type: ignore[arg-type]
        state.handle_event(event)
    return state


def sse_events(text: str) -> list[dict[str, Any]]:
    """The JSON ``data`` of every event in a Responses SSE body."""
    import json

    return [
        json.loads(line[5:])
        for block in text.split("\n\n")
        for line in block.splitlines()
        if line.startswith("data:")
    ]
