"""A scripted fake Chat Completions provider for the Codex e2e suite.

Each test hands it the replies for the upstream calls it expects, in order. A step is either a
fixed ``Reply`` or a function of the request body, so a step can check what GodeX sent (for
example DeepSeek's ``reasoning_content`` on a replayed tool call) and answer the way the real
provider would when the check fails. Requests beyond the script get a 400, which Codex never
retries, so an unexpected extra call fails the test quickly and visibly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from tests.fakes.replay_upstream import FakeUpstream, Reply, chunk, sse, usage

Step = Reply | Callable[[dict[str, Any]], Reply]


class ScriptedUpstream(FakeUpstream):
    def __init__(self) -> None:
        super().__init__()
        self.steps: list[Step] = []
        self.problems: list[str] = []  # what a checking step found wrong, for the test message

    def script(self, *steps: Step) -> None:
        self.reset()
        self.steps = list(steps)
        self.problems.clear()
        self.default = self._next

    def __enter__(self) -> ScriptedUpstream:
        super().__enter__()
        return self

    @property
    def chat_bodies(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.path.endswith("/chat/completions")]

    def _next(self, body: dict[str, Any]) -> Reply:
        index = len(self.requests) - 1  # FakeUpstream records the request before asking us
        if index >= len(self.steps):
            self.problems.append(f"unexpected upstream call #{index + 1}")
            return deepseek_error(400, f"scripted upstream: no step for call #{index + 1}")
        step = self.steps[index]
        reply = step(body) if callable(step) else step
        if not body.get("stream") and reply.content_type == "text/event-stream":
            # Like a real provider, answer a non-streaming request with one JSON body.
            return Reply.json(sse_to_completion(reply.body), status=reply.status)
        return reply


# -- replies -------------------------------------------------------------------------------


def _pieces(text: str, n: int) -> list[str]:
    step = max(1, -(-len(text) // n))
    return [text[i : i + step] for i in range(0, len(text), step)]


def text_reply(
    text: str, *, reasoning: str | None = None, prompt: int = 50, completion: int = 10
) -> Reply:
    objs: list[dict[str, Any]] = [chunk(reasoning=p) for p in _pieces(reasoning or "", 3)]
    objs += [chunk(p) for p in _pieces(text, 3)]
    objs.append(chunk("", finish="stop", usage=usage(prompt, completion)))
    return Reply(body=sse(*objs))


def tool_calls_reply(
    calls: Iterable[tuple[str, str, dict[str, Any] | str]],
    *,
    reasoning: str | None = None,
    prompt: int = 50,
    completion: int = 10,
) -> Reply:
    """Stream ``(call_id, name, arguments)`` tool calls, arguments split over several chunks."""
    objs: list[dict[str, Any]] = [chunk(reasoning=p) for p in _pieces(reasoning or "", 3)]
    for index, (call_id, name, args) in enumerate(calls):
        raw = args if isinstance(args, str) else json.dumps(args)
        head = {"index": index, "id": call_id, "type": "function"}
        objs.append(chunk(tool_calls=[{**head, "function": {"name": name, "arguments": ""}}]))
        objs += [
            chunk(tool_calls=[{"index": index, "function": {"arguments": p}}])
            for p in _pieces(raw, 3)
        ]
    objs.append(chunk(finish="tool_calls", usage=usage(prompt, completion)))
    return Reply(body=sse(*objs))


def tool_call_reply(call_id: str, name: str, arguments: dict[str, Any] | str, **kw: Any) -> Reply:
    return tool_calls_reply([(call_id, name, arguments)], **kw)


def finish_reply(reason: str, text: str = "") -> Reply:
    """A stream that ends with a provider-specific finish reason (e.g. Zhipu's overflow)."""
    return Reply(body=sse(chunk(text), chunk("", finish=reason, usage=usage(50, 1))))


def deepseek_error(status: int, message: str) -> Reply:
    """DeepSeek's HTTP error body shape."""
    return Reply.json(
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_request_error",
            }
        },
        status=status,
    )


def sse_to_completion(body: bytes) -> dict[str, Any]:
    """Fold a scripted chunk stream into the equivalent non-streaming chat completion."""
    text, reasoning, finish = "", "", "stop"
    calls: dict[int, dict[str, Any]] = {}
    used: dict[str, Any] | None = None
    for line in body.decode().splitlines():
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        obj = json.loads(line[6:])
        used = obj.get("usage") or used
        for choice in obj["choices"]:
            delta = choice.get("delta", {})
            text += delta.get("content") or ""
            reasoning += delta.get("reasoning_content") or ""
            finish = choice.get("finish_reason") or finish
            for tc in delta.get("tool_calls") or []:
                call = calls.setdefault(
                    tc["index"],
                    {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
                )
                call["id"] = tc.get("id") or call["id"]
                fn = tc.get("function", {})
                call["function"]["name"] += fn.get("name") or ""
                call["function"]["arguments"] += fn.get("arguments") or ""
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if reasoning:
        message["reasoning_content"] = reasoning
    if calls:
        message["tool_calls"] = [calls[i] for i in sorted(calls)]
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "scripted",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": used or usage(),
    }


# -- reading requests ----------------------------------------------------------------------


def tool_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in body.get("messages", []) if m.get("role") == "tool"]


def assistant_tool_call_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        m for m in body.get("messages", []) if m.get("role") == "assistant" and m.get("tool_calls")
    ]


def declared_tools(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Function name -> its declaration, as GodeX sent it upstream."""
    return {t["function"]["name"]: t["function"] for t in body.get("tools", [])}


def content_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""
