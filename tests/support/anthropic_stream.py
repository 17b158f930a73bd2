"""Check an Anthropic Messages event stream against the grammar, and rebuild its message.

message_start, then content blocks (start, deltas of the block's own kind, stop; one open at a
time, indexes from 0 in order), then one message_delta and message_stop last; ping anywhere after
message_start; an error event ends the stream.
"""

from __future__ import annotations

import json
from typing import Any

DELTA_FOR_BLOCK = {
    "text": {"text_delta"},
    "thinking": {"thinking_delta", "signature_delta"},
    "tool_use": {"input_json_delta"},
}


def sse_events(data: str) -> list[dict[str, Any]]:
    events = []
    for block in data.replace("\r\n", "\n").split("\n\n"):
        name = None
        payload = None
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                payload = json.loads(line[5:])
        if payload is not None:
            assert name == payload["type"], (name, payload)
            events.append(payload)
    return events


def check_messages_stream(events: list[dict[str, Any]]) -> dict[str, Any]:
    assert events and events[0]["type"] == "message_start", events[:1]
    message = dict(events[0]["message"])
    assert message["content"] == [] and message["stop_reason"] is None
    blocks: list[dict[str, Any]] = []
    json_parts: dict[int, list[str]] = {}
    open_index: int | None = None
    ended = False
    for event in events[1:]:
        kind = event["type"]
        assert not ended, f"event after the end: {event}"
        if kind == "ping":
            continue
        if kind == "error":
            assert set(event["error"]) >= {"type", "message"}, event
            message["error"] = event["error"]
            return message
        if kind == "content_block_start":
            assert open_index is None, f"block {open_index} still open: {event}"
            assert event["index"] == len(blocks), event
            blocks.append(dict(event["content_block"]))
            open_index = event["index"]
            json_parts[open_index] = []
        elif kind == "content_block_delta":
            assert event["index"] == open_index, event
            block = blocks[open_index]
            delta = event["delta"]
            assert delta["type"] in DELTA_FOR_BLOCK[block["type"]], (block, delta)
            if delta["type"] == "text_delta":
                assert delta["text"], event
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                assert delta["thinking"], event
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                assert delta["signature"], event
                block["signature"] = delta["signature"]
            else:
                assert delta["partial_json"], event
                json_parts[open_index].append(delta["partial_json"])
        elif kind == "content_block_stop":
            assert event["index"] == open_index, event
            block = blocks[open_index]
            if block["type"] == "tool_use":
                raw = "".join(json_parts[open_index])
                block["input"] = json.loads(raw) if raw else {}
            open_index = None
        elif kind == "message_delta":
            assert open_index is None, "message_delta with a block open"
            assert "stop_reason" in event["delta"], event
            message["stop_reason"] = event["delta"]["stop_reason"]
            message["usage"] = {**message["usage"], **event["usage"]}
        elif kind == "message_stop":
            assert message["stop_reason"] is not None, "message_stop before message_delta"
            ended = True
        else:
            raise AssertionError(f"unknown event {kind}")
    assert ended, "the stream did not end with message_stop"
    message["content"] = blocks
    return message
