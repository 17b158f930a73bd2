"""The ResponseBuilder: one state machine from neutral deltas to Responses output.

Sync and streaming both run through it. It assigns ids, output and content indexes and
sequence numbers, opens and closes items in the canonical order (contract §3.3: items never
interleave), and emits exactly one terminal event. The sync path reads ``response`` at the end;
with ``stream=False`` no event dicts are built at all.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from godex.bridge.deltas import (
    Delta,
    Finish,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    UpstreamError,
    Usage,
    WebSearchResult,
)
from godex.bridge.finish import outcome
from godex.bridge.ids import new_id
from godex.bridge.partial_json import StringFieldStream
from godex.bridge.toolplan import ToolPlan, ToolTarget
from godex.errors import GodexError, ProviderError

Event = dict[str, Any]
OutputCheck = Callable[[dict[str, Any]], GodexError | None]
SealFn = Callable[[str], str | None]

CUSTOM_TOOL_FIELD = "input"


class _ReasoningEvents(NamedTuple):
    part_added: str
    delta: str
    done: str
    part_done: str
    index_key: str
    part_type: str


# Reasoning streams as a summary when the client asked for one, else as raw reasoning text;
# the two differ only in names.
_REASONING_EVENTS = {
    True: _ReasoningEvents(
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "summary_index",
        "summary_text",
    ),
    False: _ReasoningEvents(
        "response.content_part.added",
        "response.reasoning_text.delta",
        "response.reasoning_text.done",
        "response.content_part.done",
        "content_index",
        "reasoning_text",
    ),
}  # the one string parameter a custom tool is declared with upstream


class _Tool:
    __slots__ = (
        "args",
        "call_id",
        "closed",
        "custom",
        "custom_text",
        "index",
        "item_id",
        "opened",
        "output_index",
        "target",
        "upstream_id",
        "upstream_name",
    )

    def __init__(self, index: int) -> None:
        self.index = index
        self.upstream_id: str | None = None
        self.upstream_name: str | None = None
        self.target: ToolTarget | None = None
        self.args: list[str] = []
        self.output_index = -1
        self.item_id = ""
        self.call_id = ""
        self.custom: StringFieldStream | None = None
        self.custom_text: list[str] = []
        self.opened = False
        self.closed = False


class ResponseBuilder:
    def __init__(
        self,
        *,
        response_id: str,
        model: str,
        created_at: int,
        echo: Mapping[str, Any],
        tool_plan: ToolPlan,
        stream: bool,
        finish_extra: Mapping[str, str],
        reasoning_as_summary: bool,
        seal_reasoning: SealFn | None = None,
        output_check: OutputCheck | None = None,
        require_finish: bool | None = None,
    ) -> None:
        self.stream = stream
        self._plan = tool_plan
        self._finish_extra = finish_extra
        self._summary = reasoning_as_summary
        self._seal = seal_reasoning
        self._check = output_check
        self._require_finish = stream if require_finish is None else require_finish
        self._seq = 0
        self.done = False
        self._output: list[dict[str, Any] | None] = []
        # The open item: "message", "reasoning" or "tool", with its state.
        self._open: str | None = None
        self._open_index = -1
        self._item_id = ""
        self._text: list[str] = []
        self._pending_ws = ""
        self._had_message = False
        self._tools: dict[int, _Tool] = {}
        self._open_tool: _Tool | None = None
        self._finish: str | None = None
        self._usage: Usage | None = None
        self.response: dict[str, Any] = {
            "id": response_id,
            "object": "response",
            "created_at": created_at,
            "status": "in_progress",
            "error": None,
            "incomplete_details": None,
            "instructions": echo.get("instructions"),
            "max_output_tokens": echo.get("max_output_tokens"),
            "model": model,
            "output": [],
            "parallel_tool_calls": echo.get("parallel_tool_calls", True),
            "previous_response_id": echo.get("previous_response_id"),
            "reasoning": {"effort": None, "summary": None, **(echo.get("reasoning") or {})},
            "store": echo.get("store", True),
            "temperature": echo.get("temperature"),
            "text": {"format": {"type": "text"}, **(echo.get("text") or {})},
            "tool_choice": echo.get("tool_choice") or "auto",
            "tools": echo.get("tools") or [],
            "top_p": echo.get("top_p"),
            "truncation": echo.get("truncation") or "disabled",
            "usage": None,
            "metadata": echo.get("metadata") or {},
        }
        for key, value in echo.items():
            self.response.setdefault(key, value)

    @property
    def event_count(self) -> int:
        return self._seq

    # -- events ---------------------------------------------------------------------------
    def _ev(self, out: list[Event], kind: str, **fields: Any) -> None:
        if self.stream:
            out.append({"type": kind, "sequence_number": self._seq, **fields})
        self._seq += 1

    def _snapshot(self) -> dict[str, Any]:
        return {**self.response, "output": []}

    def start(self) -> list[Event]:
        out: list[Event] = []
        if self.stream:
            snap = self._snapshot()
            self._ev(out, "response.created", response=snap)
            self._ev(out, "response.in_progress", response=snap)
        return out

    def keepalive(self) -> list[Event]:
        """A real event to keep clients' idle timers from firing (comments don't)."""
        out: list[Event] = []
        if not self.done:
            self._ev(out, "response.in_progress", response=self._snapshot())
        return out

    # -- deltas ---------------------------------------------------------------------------
    def feed(self, delta: Delta) -> list[Event]:
        out: list[Event] = []
        self.feed_into(delta, out)
        return out

    def feed_into(self, delta: Delta, out: list[Event]) -> None:
        """Like ``feed``, appending to ``out``: the streaming loop's allocation-free form."""
        if self.done:
            return
        cls = type(delta)
        if cls is TextDelta:
            self._on_text(delta.text, out)  # type: ignore[union-attr]
        elif cls is ToolCallDelta:
            self._on_tool(delta, out)  # type: ignore[arg-type]
        elif cls is ReasoningDelta:
            self._on_reasoning(delta.text, out)  # type: ignore[union-attr]
        elif cls is Usage:
            self._usage = delta  # type: ignore[assignment]
        elif cls is Finish:
            self._finish = delta.reason  # type: ignore[union-attr]
        elif isinstance(delta, UpstreamError):
            err = ProviderError(delta.message, code=delta.code, status=delta.status or 502)
            out += self.fail(err)
        elif isinstance(delta, WebSearchResult):
            self._on_search(delta, out)

    def _on_text(self, text: str, out: list[Event]) -> None:
        if not text:
            return
        if self._open != "message":
            if not text.strip():
                # Whitespace alone (often sent before tool calls) does not open a message.
                self._pending_ws += text
                return
            # Blank lines before the first answer text (common after reasoning) are dropped;
            # later ones separate parts of the answer and are kept.
            if self._had_message:
                text = self._pending_ws + text
            self._pending_ws = ""
            self._close(out)
            self._begin_message(out)
        self._text.append(text)
        if self.stream:
            # The hottest event: built as one literal, no keyword merging.
            out.append(
                {
                    "type": "response.output_text.delta",
                    "sequence_number": self._seq,
                    "item_id": self._item_id,
                    "output_index": self._open_index,
                    "content_index": 0,
                    "delta": text,
                    "logprobs": [],
                }
            )
        self._seq += 1

    def _begin_message(self, out: list[Event]) -> None:
        self._had_message = True
        self._open = "message"
        self._open_index = len(self._output)
        self._output.append(None)
        self._item_id = new_id("msg")
        self._text = []
        if self.stream:
            item = {
                "id": self._item_id,
                "type": "message",
                "role": "assistant",
                "status": "in_progress",
                "content": [],
            }
            self._ev(out, "response.output_item.added", output_index=self._open_index, item=item)
            self._ev(
                out,
                "response.content_part.added",
                item_id=self._item_id,
                output_index=self._open_index,
                content_index=0,
                part={"type": "output_text", "text": "", "annotations": [], "logprobs": []},
            )

    def _on_reasoning(self, text: str, out: list[Event]) -> None:
        if not text:
            return
        if self._open != "reasoning":
            self._close(out)
            self._open = "reasoning"
            self._open_index = len(self._output)
            self._output.append(None)
            self._item_id = new_id("rs")
            self._text = []
            if self.stream:
                item: dict[str, Any] = {"id": self._item_id, "type": "reasoning", "summary": []}
                if not self._summary:
                    item["content"] = []
                self._ev(
                    out, "response.output_item.added", output_index=self._open_index, item=item
                )
                names = _REASONING_EVENTS[self._summary]
                self._ev(
                    out,
                    names.part_added,
                    item_id=self._item_id,
                    output_index=self._open_index,
                    **{names.index_key: 0},
                    part={"type": names.part_type, "text": ""},
                )
        self._text.append(text)
        if self.stream:
            names = _REASONING_EVENTS[self._summary]
            self._ev(
                out,
                names.delta,
                item_id=self._item_id,
                output_index=self._open_index,
                **{names.index_key: 0},
                delta=text,
            )

    def _on_tool(self, delta: ToolCallDelta, out: list[Event]) -> None:
        tool = self._tools.get(delta.index)
        if tool is None:
            tool = _Tool(delta.index)
            self._tools[delta.index] = tool
            self._close(out)
            self._open = "tool"
            self._open_tool = tool
        elif tool is not self._open_tool and not tool.closed and not tool.opened:
            self._close(out)
            self._open = "tool"
            self._open_tool = tool
        # id and name are set once; providers that repeat them don't change them.
        if delta.id and tool.upstream_id is None:
            tool.upstream_id = delta.id
        if delta.name and tool.upstream_name is None:
            tool.upstream_name = delta.name
        if not tool.opened and tool.upstream_name is not None and tool is self._open_tool:
            self._open_call(tool, out)
        if delta.arguments:
            tool.args.append(delta.arguments)
            if tool.opened and not tool.closed:
                self._stream_args(tool, delta.arguments, out)

    def _open_call(self, tool: _Tool, out: list[Event]) -> None:
        assert tool.upstream_name is not None
        tool.opened = True
        tool.target = target = self._plan.restore(tool.upstream_name)
        tool.output_index = len(self._output)
        self._output.append(None)
        self._open_index = tool.output_index
        tool.call_id = tool.upstream_id or new_id("call")
        if target.kind == "custom":
            tool.custom = StringFieldStream(CUSTOM_TOOL_FIELD)
        item = self._tool_item(tool, "in_progress", initial=True)
        self._ev(out, "response.output_item.added", output_index=tool.output_index, item=item)
        if tool.args:  # fragments that arrived before the name
            buffered = "".join(tool.args)
            self._stream_args(tool, buffered, out)

    def _stream_args(self, tool: _Tool, fragment: str, out: list[Event]) -> None:
        target = tool.target
        if target is None:
            return
        if target.kind == "function":
            self._ev(
                out,
                "response.function_call_arguments.delta",
                item_id=tool.item_id,
                output_index=tool.output_index,
                delta=fragment,
            )
        elif target.kind == "custom" and tool.custom is not None:
            text = tool.custom.feed(fragment)
            if text:
                tool.custom_text.append(text)
                self._ev(
                    out,
                    "response.custom_tool_call_input.delta",
                    item_id=tool.item_id,
                    output_index=tool.output_index,
                    delta=text,
                )

    def _tool_item(self, tool: _Tool, status: str, *, initial: bool) -> dict[str, Any]:
        target = tool.target
        assert target is not None
        if not tool.item_id:
            prefix = {"function": "fc", "custom": "ctc", "local_shell": "lsh", "tool_search": "tsc"}
            tool.item_id = new_id(prefix[target.kind])
        args = "" if initial else "".join(tool.args)
        item: dict[str, Any]
        if target.kind == "function":
            item = {
                "id": tool.item_id,
                "type": "function_call",
                "status": status,
                "call_id": tool.call_id,
                "name": target.name,
                "arguments": args,
            }
        elif target.kind == "custom":
            item = {
                "id": tool.item_id,
                "type": "custom_tool_call",
                "status": status,
                "call_id": tool.call_id,
                "name": target.name,
                "input": "" if initial else self._custom_input(tool, args),
            }
        elif target.kind == "local_shell":
            parsed = {} if initial else _parse_object(args)
            command = parsed.get("command")
            if isinstance(command, str):
                command = ["bash", "-lc", command]
            item = {
                "id": tool.item_id,
                "type": "local_shell_call",
                "status": status,
                "call_id": tool.call_id,
                "action": {
                    "type": "exec",
                    "command": command if isinstance(command, list) else [],
                    "env": parsed.get("env") if isinstance(parsed.get("env"), dict) else {},
                    "timeout_ms": parsed.get("timeout_ms"),
                    "user": parsed.get("user"),
                    "working_directory": parsed.get("workdir") or parsed.get("working_directory"),
                },
            }
        else:
            item = {
                "id": tool.item_id,
                "type": "tool_search_call",
                "status": status,
                "call_id": tool.call_id,
                "execution": "client",
                "arguments": {} if initial else _parse_object(args),
            }
        if target.namespace and target.kind in ("function", "custom"):
            item["namespace"] = target.namespace
        return item

    @staticmethod
    def _custom_input(tool: _Tool, args: str) -> str:
        parsed = _parse_object(args) if args.lstrip().startswith("{") else None
        if parsed is not None and isinstance(parsed.get(CUSTOM_TOOL_FIELD), str):
            value: str = parsed[CUSTOM_TOOL_FIELD]
            return value
        if parsed and len(parsed) == 1:
            only = next(iter(parsed.values()))
            if isinstance(only, str):
                return only
        if tool.custom is not None and tool.custom.raw_mode:
            return args
        return "".join(tool.custom_text) or args

    def _on_search(self, delta: WebSearchResult, out: list[Event]) -> None:
        self._close(out)
        index = len(self._output)
        action: dict[str, Any] = {"type": "search", "query": delta.query or ""}
        if delta.sources:
            action["sources"] = delta.sources
        item = {
            "id": new_id("ws"),
            "type": "web_search_call",
            "status": "completed",
            "action": action,
        }
        self._output.append(item)
        if self.stream:
            self._ev(
                out,
                "response.output_item.added",
                output_index=index,
                item={**item, "status": "in_progress"},
            )
            self._ev(out, "response.output_item.done", output_index=index, item=item)

    # -- closing --------------------------------------------------------------------------
    def _close(self, out: list[Event], status: str = "completed") -> None:
        kind = self._open
        if kind is None:
            return
        self._open = None
        if kind == "message":
            self._close_message(out, status)
        elif kind == "reasoning":
            self._close_reasoning(out)
        else:
            tool = self._open_tool
            self._open_tool = None
            if tool is not None:
                self._close_tool(tool, out, status)

    def _close_message(self, out: list[Event], status: str) -> None:
        text = "".join(self._text)
        part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
        item = {
            "id": self._item_id,
            "type": "message",
            "role": "assistant",
            "status": status,
            "content": [part],
        }
        self._output[self._open_index] = item
        if self.stream:
            ids = {"item_id": self._item_id, "output_index": self._open_index}
            self._ev(
                out, "response.output_text.done", **ids, content_index=0, text=text, logprobs=[]
            )
            self._ev(out, "response.content_part.done", **ids, content_index=0, part=part)
            self._ev(out, "response.output_item.done", output_index=self._open_index, item=item)

    def _close_reasoning(self, out: list[Event]) -> None:
        text = "".join(self._text)
        item: dict[str, Any] = {"id": self._item_id, "type": "reasoning", "summary": []}
        if self._summary:
            item["summary"] = [{"type": "summary_text", "text": text}]
        # The raw text rides along so a stateless client can hand it back next turn.
        item["content"] = [{"type": "reasoning_text", "text": text}]
        if self._seal is not None:
            sealed = self._seal(text)
            if sealed:
                item["encrypted_content"] = sealed
        self._output[self._open_index] = item
        if self.stream:
            ids = {"item_id": self._item_id, "output_index": self._open_index}
            names = _REASONING_EVENTS[self._summary]
            part = {"type": names.part_type, "text": text}
            self._ev(out, names.done, **ids, **{names.index_key: 0}, text=text)
            self._ev(out, names.part_done, **ids, **{names.index_key: 0}, part=part)
            self._ev(out, "response.output_item.done", output_index=self._open_index, item=item)

    def _close_tool(self, tool: _Tool, out: list[Event], status: str) -> None:
        if not tool.opened:
            if tool.upstream_name is None:
                tool.closed = True
                return  # a call with no name cannot be restored; nothing was announced
            self._open_call(tool, out)
        tool.closed = True
        item = self._tool_item(tool, status, initial=False)
        self._output[tool.output_index] = item
        if self.stream:
            ids = {"item_id": tool.item_id, "output_index": tool.output_index}
            assert tool.target is not None
            if tool.target.kind == "function":
                self._ev(
                    out, "response.function_call_arguments.done", **ids, arguments=item["arguments"]
                )
            elif tool.target.kind == "custom":
                self._ev(out, "response.custom_tool_call_input.done", **ids, input=item["input"])
            self._ev(out, "response.output_item.done", output_index=tool.output_index, item=item)

    def _close_all(self, out: list[Event], status: str) -> None:
        self._close(out, status)
        for tool in self._tools.values():
            if not tool.closed:
                self._open_tool = tool
                self._open = "tool"
                self._close(out, status)

    def _usage_dict(self) -> dict[str, Any] | None:
        u = self._usage
        if u is None:
            return None
        return {
            "input_tokens": u.input_tokens,
            "input_tokens_details": {"cached_tokens": u.cached_tokens},
            "output_tokens": u.output_tokens,
            "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
            "total_tokens": u.total,
        }

    def _final(self) -> None:
        self.response["output"] = [item for item in self._output if item is not None]
        self.response["usage"] = self._usage_dict()
        self.response["completed_at"] = int(time.time())

    def finish(self) -> list[Event]:
        if self.done:
            return []
        if self._finish is None and self._require_finish:
            return self.fail(
                ProviderError(
                    "the upstream stream ended before the model finished (no finish_reason)",
                    code="provider.stream_truncated",
                )
            )
        result = outcome(self._finish, self._finish_extra)
        out: list[Event] = []
        self._close_all(out, "incomplete" if result.status == "incomplete" else "completed")
        self.done = True
        self._final()
        resp = self.response
        resp["status"] = result.status
        if result.status == "incomplete":
            resp["incomplete_details"] = {"reason": result.incomplete_reason}
        elif result.status == "failed":
            resp["error"] = {"code": result.error_code, "message": result.error_message}
        elif self._check is not None:
            err = self._check(resp)
            if err is not None:
                resp["status"] = "failed"
                resp["error"] = {"code": err.wire_code, "message": err.message}
        terminal = {
            "completed": "response.completed",
            "incomplete": "response.incomplete",
            "failed": "response.failed",
        }[resp["status"]]
        self._ev(out, terminal, response=resp)
        return out

    def fail(self, err: GodexError) -> list[Event]:
        """End the response as failed: close what is open, then ``error`` + ``response.failed``."""
        if self.done:
            return []
        out: list[Event] = []
        self._close_all(out, "incomplete")
        self.done = True
        self._final()
        code = err.wire_code
        self.response["status"] = "failed"
        self.response["error"] = {"code": code, "message": err.message}
        # Both error shapes in one event (contract §4): the documented flat one and the
        # nested one the live API sends. Codex ignores it; response.failed is what counts.
        self._ev(
            out,
            "error",
            code=code,
            message=err.message,
            param=err.param,
            error={"type": err.type, "code": code, "message": err.message, "param": err.param},
        )
        self._ev(out, "response.failed", response=self.response)
        return out


def _parse_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
