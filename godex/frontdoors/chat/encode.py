"""Responses events (or a final Response) → Chat Completions chunks (or a completion).

Reasoning always comes back as ``reasoning_content``, whatever the provider's native shape (the
provider hooks already split ``<think>`` tags and MiniMax's fields into neutral reasoning).
Tool-call chunks are well formed: the first for a call carries its id, type and name, later ones
only non-empty argument fragments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Event = dict[str, Any]


def finish_reason(response: dict[str, Any]) -> str:
    if response.get("status") == "incomplete":
        reason = (response.get("incomplete_details") or {}).get("reason")
        return "content_filter" if reason == "content_filter" else "length"
    if any(item.get("type") == "function_call" for item in response.get("output") or []):
        return "tool_calls"
    return "stop"


def usage(response: dict[str, Any]) -> dict[str, Any]:
    """Always an object: clients that asked for usage get zeros rather than nothing."""
    u = response.get("usage") or {}
    return {
        "prompt_tokens": int(u.get("input_tokens") or 0),
        "completion_tokens": int(u.get("output_tokens") or 0),
        "total_tokens": int(u.get("total_tokens") or 0),
        "prompt_tokens_details": {
            "cached_tokens": int((u.get("input_tokens_details") or {}).get("cached_tokens") or 0)
        },
        "completion_tokens_details": {
            "reasoning_tokens": int(
                (u.get("output_tokens_details") or {}).get("reasoning_tokens") or 0
            )
        },
    }


def completion_id(response_id: str) -> str:
    return "chatcmpl-" + response_id.removeprefix("resp_")


def completion(response: dict[str, Any]) -> dict[str, Any]:
    """A finished (completed or incomplete) Response as a ``chat.completion``."""
    text: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for item in response.get("output") or []:
        kind = item.get("type")
        if kind == "message":
            text.extend(p.get("text", "") for p in item.get("content") or [])
        elif kind == "reasoning":
            reasoning.extend(p.get("text", "") for p in item.get("content") or [])
        elif kind == "function_call":
            calls.append(
                {
                    "id": item["call_id"],
                    "type": "function",
                    "function": {"name": item["name"], "arguments": item.get("arguments") or ""},
                }
            )
    message: dict[str, Any] = {"role": "assistant", "content": "".join(text) or None}
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    if calls:
        message["tool_calls"] = calls
    body: dict[str, Any] = {
        "id": completion_id(response["id"]),
        "object": "chat.completion",
        "created": response.get("created_at") or 0,
        "model": response.get("model"),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": finish_reason(response),
                "logprobs": None,
            }
        ],
    }
    body["usage"] = usage(response)
    return body


class ChatStream:
    """One streaming exchange: Responses event batches in, ``chat.completion.chunk`` objects out."""

    def __init__(self, include_usage: bool) -> None:
        self.include_usage = include_usage
        self.base: dict[str, Any] = {}  # every chunk's id, object, created and model
        self._tool_index: dict[int, int] = {}  # output_index -> tool_calls[].index
        self._streamed_args: set[int] = set()
        self.done = False

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> Event:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return {**self.base, "choices": [choice]}

    def feed(self, events: list[Event]) -> list[Event]:
        out: list[Event] = []
        for event in events:
            handle = _HANDLERS.get(event["type"])
            if handle is not None:  # the other Responses events have no chunk of their own
                handle(self, event, out)
        return out

    def _created(self, event: Event, out: list[Event]) -> None:
        resp = event["response"]
        self.base = {
            "id": completion_id(resp["id"]),
            "object": "chat.completion.chunk",
            "created": resp.get("created_at") or 0,
            "model": resp.get("model"),
        }
        out.append(self._chunk({"role": "assistant", "content": ""}))

    def _text(self, event: Event, out: list[Event]) -> None:
        if event["delta"]:
            out.append(self._chunk({"content": event["delta"]}))

    def _reasoning(self, event: Event, out: list[Event]) -> None:
        if event["delta"]:
            out.append(self._chunk({"reasoning_content": event["delta"]}))

    def _item_added(self, event: Event, out: list[Event]) -> None:
        item = event["item"]
        if item["type"] == "function_call":
            index = len(self._tool_index)
            self._tool_index[event["output_index"]] = index
            call = {
                "index": index,
                "id": item["call_id"],
                "type": "function",
                "function": {"name": item["name"], "arguments": ""},
            }
            out.append(self._chunk({"tool_calls": [call]}))

    def _arguments(self, event: Event, out: list[Event]) -> None:
        at = self._tool_index.get(event["output_index"])
        if at is not None and event["delta"]:
            self._streamed_args.add(event["output_index"])
            call = {"index": at, "function": {"arguments": event["delta"]}}
            out.append(self._chunk({"tool_calls": [call]}))

    def _item_done(self, event: Event, out: list[Event]) -> None:
        oi = event["output_index"]
        item = event["item"]
        at = self._tool_index.get(oi)
        if at is not None and oi not in self._streamed_args and item.get("arguments"):
            call = {"index": at, "function": {"arguments": item["arguments"]}}
            out.append(self._chunk({"tool_calls": [call]}))

    def _ended(self, event: Event, out: list[Event]) -> None:
        resp = event["response"]
        out.append(self._chunk({}, finish_reason(resp)))
        if self.include_usage:
            out.append({**self.base, "choices": [], "usage": usage(resp)})
        self.done = True

    def _failed(self, event: Event, out: list[Event]) -> None:
        err = event["response"].get("error") or {}
        # What OpenAI sends when a stream fails after its 200: one error object.
        out.append(
            {
                "error": {
                    "message": err.get("message") or "the upstream model failed",
                    "type": "server_error",
                    "param": None,
                    "code": err.get("code"),
                }
            }
        )
        self.done = True


# Responses event type → its handler: one lookup an event instead of a chain of comparisons.
_HANDLERS: dict[str, Callable[[ChatStream, Event, list[Event]], None]] = {
    "response.created": ChatStream._created,
    "response.output_text.delta": ChatStream._text,
    "response.reasoning_text.delta": ChatStream._reasoning,
    "response.reasoning_summary_text.delta": ChatStream._reasoning,
    "response.output_item.added": ChatStream._item_added,
    "response.function_call_arguments.delta": ChatStream._arguments,
    "response.output_item.done": ChatStream._item_done,
    "response.completed": ChatStream._ended,
    "response.incomplete": ChatStream._ended,
    "response.failed": ChatStream._failed,
}
