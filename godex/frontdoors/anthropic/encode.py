"""Responses events (or a final Response) → Anthropic Messages events (or a Message).

``MessagesStream`` is a small state machine over the one event stream the ``ResponseBuilder``
writes: every output item becomes one content block (reasoning → ``thinking`` with the sealed
reasoning as its ``signature``, message text → ``text``, a function call → ``tool_use``), and the
terminal Responses event becomes ``message_delta`` + ``message_stop``, or an ``error`` event.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from godex.frontdoors.anthropic.errors import error_type_for_code

Event = dict[str, Any]


def stop_reason(response: dict[str, Any]) -> str:
    details = response.get("incomplete_details") or {}
    if response.get("status") == "incomplete":
        return "refusal" if details.get("reason") == "content_filter" else "max_tokens"
    if any(item.get("type") == "function_call" for item in response.get("output") or []):
        return "tool_use"
    return "end_turn"


def usage(response: dict[str, Any] | None) -> dict[str, Any]:
    """Anthropic counts cache reads apart from ``input_tokens`` (OpenAI counts them inside)."""
    u = (response or {}).get("usage") or {}
    total_in = int(u.get("input_tokens") or 0)
    cached = int((u.get("input_tokens_details") or {}).get("cached_tokens") or 0)
    return {
        "input_tokens": max(total_in - cached, 0),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
        "output_tokens": int(u.get("output_tokens") or 0),
    }


def message_id(response_id: str) -> str:
    return "msg_" + response_id.removeprefix("resp_")


def _tool_input(arguments: str) -> Any:
    try:
        value = json.loads(arguments) if arguments else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def content_blocks(response: dict[str, Any], display_thinking: bool) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for item in response.get("output") or []:
        kind = item.get("type")
        if kind == "reasoning":
            text = "".join(p.get("text", "") for p in item.get("content") or [])
            blocks.append(
                {
                    "type": "thinking",
                    "thinking": text if display_thinking else "",
                    "signature": item.get("encrypted_content") or "",
                }
            )
        elif kind == "message":
            for part in item.get("content") or []:
                if part.get("type") == "output_text" and part.get("text"):
                    blocks.append({"type": "text", "text": part["text"]})
        elif kind == "function_call":
            blocks.append(
                {
                    "type": "tool_use",
                    "id": item["call_id"],
                    "name": item["name"],
                    "input": _tool_input(item.get("arguments") or ""),
                }
            )
    return blocks


def message(response: dict[str, Any], display_thinking: bool) -> dict[str, Any]:
    """A finished (completed or incomplete) Response as an Anthropic Message."""
    return {
        "id": message_id(response["id"]),
        "type": "message",
        "role": "assistant",
        "model": response.get("model"),
        "content": content_blocks(response, display_thinking),
        "stop_reason": stop_reason(response),
        "stop_sequence": None,
        "usage": usage(response),
    }


class MessagesStream:
    """One streaming exchange: feed Responses event batches, get Anthropic events back."""

    def __init__(self, display_thinking: bool) -> None:
        self.display_thinking = display_thinking
        self._next_index = 0
        self._open: dict[int, tuple[int, str]] = {}  # output_index -> (block index, kind)
        self._streamed_args: set[int] = set()
        self.done = False

    def feed(self, events: list[Event]) -> list[Event]:
        out: list[Event] = []
        for event in events:
            handle = _HANDLERS.get(event["type"])
            if handle is not None:  # the other Responses events have no Messages form
                handle(self, event, out)
        return out

    def block_index(self, output_index: int) -> int | None:
        """The content block an output item's deltas go to, if one is open."""
        opened = self._open.get(output_index)
        return None if opened is None else opened[0]

    def _open_block(
        self, output_index: int, kind: str, block: dict[str, Any], out: list[Event]
    ) -> int:
        index = self._next_index
        self._next_index += 1
        self._open[output_index] = (index, kind)
        out.append({"type": "content_block_start", "index": index, "content_block": block})
        return index

    def _delta(self, output_index: int, delta: dict[str, Any], out: list[Event]) -> None:
        opened = self._open.get(output_index)
        if opened is not None:
            out.append({"type": "content_block_delta", "index": opened[0], "delta": delta})

    def _created(self, event: Event, out: list[Event]) -> None:
        resp = event["response"]
        out.append(
            {
                "type": "message_start",
                "message": {
                    "id": message_id(resp["id"]),
                    "type": "message",
                    "role": "assistant",
                    "model": resp.get("model"),
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": 0,
                        "cache_creation_input_tokens": 0,
                        "cache_read_input_tokens": 0,
                        "output_tokens": 0,
                    },
                },
            }
        )
        out.append({"type": "ping"})

    def _in_progress(self, event: Event, out: list[Event]) -> None:
        if not any(e["type"] == "message_start" for e in out):
            out.append({"type": "ping"})  # the builder's keep-alive

    def _item_added(self, event: Event, out: list[Event]) -> None:
        item = event["item"]
        oi = event["output_index"]
        if item["type"] == "reasoning":
            self._open_block(
                oi, "thinking", {"type": "thinking", "thinking": "", "signature": ""}, out
            )
        elif item["type"] == "function_call":
            block = {"type": "tool_use", "id": item["call_id"], "name": item["name"], "input": {}}
            self._open_block(oi, "tool_use", block, out)

    def _part_added(self, event: Event, out: list[Event]) -> None:
        if event["part"].get("type") == "output_text":
            self._open_block(event["output_index"], "text", {"type": "text", "text": ""}, out)

    def _text(self, event: Event, out: list[Event]) -> None:
        if event["delta"]:
            self._delta(event["output_index"], {"type": "text_delta", "text": event["delta"]}, out)

    def _reasoning(self, event: Event, out: list[Event]) -> None:
        if self.display_thinking and event["delta"]:
            delta = {"type": "thinking_delta", "thinking": event["delta"]}
            self._delta(event["output_index"], delta, out)

    def _arguments(self, event: Event, out: list[Event]) -> None:
        if event["delta"]:
            self._streamed_args.add(event["output_index"])
            delta = {"type": "input_json_delta", "partial_json": event["delta"]}
            self._delta(event["output_index"], delta, out)

    def _done_item(self, event: Event, out: list[Event]) -> None:
        self._item_done(event["output_index"], event["item"], out)

    def _ended(self, event: Event, out: list[Event]) -> None:
        self._close_all(out)
        resp = event["response"]
        out.append(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason(resp), "stop_sequence": None},
                "usage": usage(resp),
            }
        )
        out.append({"type": "message_stop"})
        self.done = True

    def _failed(self, event: Event, out: list[Event]) -> None:
        self._close_all(out)
        err = event["response"].get("error") or {}
        code = str(err.get("code") or "")
        out.append(
            {
                "type": "error",
                "error": {
                    "type": error_type_for_code(code),
                    "message": err.get("message") or "the upstream model failed",
                },
            }
        )
        self.done = True

    def _item_done(self, oi: int, item: dict[str, Any], out: list[Event]) -> None:
        opened = self._open.pop(oi, None)
        if opened is None:
            return
        index, kind = opened
        if kind == "thinking" and item.get("encrypted_content"):
            delta = {"type": "signature_delta", "signature": item["encrypted_content"]}
            out.append({"type": "content_block_delta", "index": index, "delta": delta})
        elif kind == "tool_use" and oi not in self._streamed_args and item.get("arguments"):
            # Arguments the builder held back (or repaired) arrive whole with the item.
            delta = {"type": "input_json_delta", "partial_json": item["arguments"]}
            out.append({"type": "content_block_delta", "index": index, "delta": delta})
        out.append({"type": "content_block_stop", "index": index})

    def _close_all(self, out: list[Event]) -> None:
        for oi in sorted(self._open):
            out.append({"type": "content_block_stop", "index": self._open[oi][0]})
        self._open.clear()


# Responses event type → its handler: one lookup an event instead of a chain of comparisons.
_HANDLERS: dict[str, Callable[[MessagesStream, Event, list[Event]], None]] = {
    "response.created": MessagesStream._created,
    "response.in_progress": MessagesStream._in_progress,
    "response.output_item.added": MessagesStream._item_added,
    "response.content_part.added": MessagesStream._part_added,
    "response.output_text.delta": MessagesStream._text,
    "response.reasoning_text.delta": MessagesStream._reasoning,
    "response.reasoning_summary_text.delta": MessagesStream._reasoning,
    "response.function_call_arguments.delta": MessagesStream._arguments,
    "response.output_item.done": MessagesStream._done_item,
    "response.completed": MessagesStream._ended,
    "response.incomplete": MessagesStream._ended,
    "response.failed": MessagesStream._failed,
}
