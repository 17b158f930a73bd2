"""The ResponseBuilder: one state machine from neutral deltas to Responses output.

Sync and streaming both run through it, and so do whole items (compaction, web search
results) and replays of stored responses: it is the only writer of Responses events. It assigns
ids, output and content indexes and sequence numbers, opens and closes items in the canonical
order (contract §3.3: items never interleave), and emits exactly one terminal event. The sync
path reads ``response`` at the end; with ``stream=False`` no event dicts are built at all.

With ``record=True`` it also keeps a log of everything it was fed (and the ids it made), so a
stored stream can be replayed into exactly the events the client saw (``bridge.replay``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from godex.bridge import items
from godex.bridge.finish import canonical_reason, outcome
from godex.bridge.items import message, reasoning, web_search_call
from godex.bridge.items.base import ToolCall
from godex.bridge.toolplan import ToolPlan
from godex.errors import GodexError, ProviderError
from godex.ids import new_id
from godex.protocol.deltas import (
    Delta,
    Finish,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    UpstreamError,
    Usage,
    WebSearchResult,
)

Event = dict[str, Any]
# What the builder is fed: the provider's deltas, and the steps of a search GodeX runs itself.
Fed = Delta | web_search_call.SearchStarted | web_search_call.SearchDone
OutputCheck = Callable[[dict[str, Any]], GodexError | None]
SealFn = Callable[[str], str | None]  # reasoning text -> encrypted_content


def _now() -> int:
    return int(time.time())


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
        record: bool = False,
        ids: Iterator[str] | None = None,
        clock: Callable[[], int] = _now,
    ) -> None:
        self.stream = stream
        # The log of a recording builder: what it was fed, in order, as JSON-able lists.
        self.log: list[list[Any]] | None = [] if record else None
        self._made_ids: list[str] = []
        self._used_targets: dict[str, list[Any]] = {}
        self._ids = ids  # a replay hands back the ids the original run made
        self._clock = clock
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
        self._tools: dict[int, ToolCall] = {}
        self._open_tool: ToolCall | None = None
        self._finish: str | None = None
        self._usage: Usage | None = None
        self._searches: dict[str, tuple[int, str]] = {}  # managed search key -> (index, id)
        self.response = response_object(response_id, model, created_at, echo)

    @property
    def event_count(self) -> int:
        return self._seq

    # -- recording ------------------------------------------------------------------------
    def recording(self) -> dict[str, Any] | None:
        """What a replay needs to re-run this builder exactly; None when not recording."""
        if self.log is None:
            return None
        return {
            "v": 1,
            "summary": self._summary,
            "ids": self._made_ids,
            "targets": self._used_targets,
            "ops": self.log,
        }

    def _new_id(self, prefix: str) -> str:
        value = next(self._ids) if self._ids is not None else new_id(prefix)
        if self.log is not None:
            self._made_ids.append(value)
        return value

    # -- events ---------------------------------------------------------------------------
    def _ev(self, out: list[Event], kind: str, **fields: Any) -> None:
        if self.stream:
            out.append({"type": kind, "sequence_number": self._seq, **fields})
        self._seq += 1

    def _snapshot(self) -> dict[str, Any]:
        return {**self.response, "output": []}

    def start(self) -> list[Event]:
        if self.log is not None:
            self.log.append(["s"])
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
            if self.log is not None:
                self.log.append(["k"])
            self._ev(out, "response.in_progress", response=self._snapshot())
        return out

    # -- deltas ---------------------------------------------------------------------------
    def feed(self, delta: Fed) -> list[Event]:
        out: list[Event] = []
        self.feed_into(delta, out)
        return out

    def feed_into(self, delta: Fed, out: list[Event]) -> None:
        """Like ``feed``, appending to ``out``: the streaming loop's allocation-free form."""
        if self.done:
            return
        log = self.log
        if type(delta) is TextDelta:  # most deltas: skip the pattern match (a third the cost)
            if log is not None:
                log.append(["t", delta.text])
            self._on_text(delta.text, out)
            return
        match delta:
            case ToolCallDelta():
                if log is not None:
                    log.append(["c", delta.index, delta.id, delta.name, delta.arguments])
                self._on_tool(delta, out)
            case ReasoningDelta(text=text):
                if log is not None:
                    log.append(["r", text])
                self._on_reasoning(text, out)
            case Usage():
                if log is not None:
                    log.append(["u", *_usage_fields(delta)])
                self._usage = delta
            case Finish(reason=reason):
                if log is not None:
                    # Recorded already mapped, so a replay needs no provider spec.
                    log.append(["f", canonical_reason(reason, self._finish_extra)])
                self._finish = reason
            case UpstreamError():
                if log is not None:
                    log.append(["e", delta.code, delta.message, delta.status])
                err = ProviderError(delta.message, code=delta.code, status=delta.status or 502)
                out += self._fail(err)
            case web_search_call.SearchStarted():
                if log is not None:
                    log.append(["Ws", delta.key, delta.query])
                self._search_started(delta, out)
            case web_search_call.SearchDone():
                if log is not None:
                    log.append(["Wd", delta.key, delta.query, delta.sources])
                self._search_done(delta, out)
            case WebSearchResult():
                if log is not None:
                    log.append(["w", delta.query, delta.sources])
                self._close(out)
                item = web_search_call.item(
                    self._new_id(web_search_call.ID_PREFIX), delta.query, delta.sources
                )
                self._whole_item(item, out)

    def _search_started(self, delta: web_search_call.SearchStarted, out: list[Event]) -> None:
        self._close(out)
        item_id = self._new_id(web_search_call.ID_PREFIX)
        index = len(self._output)
        opened = web_search_call.opened_item(item_id, delta.query)
        self._output.append(opened)
        self._searches[delta.key] = (index, item_id)
        at = {"item_id": item_id, "output_index": index}
        self._ev(out, "response.output_item.added", output_index=index, item=opened)
        self._ev(out, "response.web_search_call.in_progress", **at)
        self._ev(out, "response.web_search_call.searching", **at)

    def _search_done(self, delta: web_search_call.SearchDone, out: list[Event]) -> None:
        found = self._searches.pop(delta.key, None)
        if found is None:
            return
        index, item_id = found
        final = web_search_call.item(item_id, delta.query, delta.sources)
        self._output[index] = final
        self._ev(out, "response.web_search_call.completed", item_id=item_id, output_index=index)
        self._ev(out, "response.output_item.done", output_index=index, item=final)

    def emit_item(self, item: dict[str, Any]) -> list[Event]:
        """A whole, finished item (a compaction), announced and done in canonical order."""
        out: list[Event] = []
        if self.done:
            return out
        if self.log is not None:
            self.log.append(["i", item])
        self._close(out)
        self._whole_item(item, out)
        return out

    def _whole_item(self, item: dict[str, Any], out: list[Event]) -> None:
        index = len(self._output)
        self._output.append(item)
        if self.stream:
            added = {**item, "status": "in_progress"} if "status" in item else item
            self._ev(out, "response.output_item.added", output_index=index, item=added)
            self._ev(out, "response.output_item.done", output_index=index, item=item)

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
        self._item_id = self._new_id(message.ID_PREFIX)
        self._text = []
        if self.stream:
            item = message.opened_item(self._item_id)
            self._ev(out, "response.output_item.added", output_index=self._open_index, item=item)
            self._ev(
                out,
                "response.content_part.added",
                item_id=self._item_id,
                output_index=self._open_index,
                content_index=0,
                part=message.output_part(""),
            )

    def _on_reasoning(self, text: str, out: list[Event]) -> None:
        if not text:
            return
        names = reasoning.EVENTS[self._summary]
        if self._open != "reasoning":
            self._close(out)
            self._open = "reasoning"
            self._open_index = len(self._output)
            self._output.append(None)
            self._item_id = self._new_id(reasoning.ID_PREFIX)
            self._text = []
            if self.stream:
                item = reasoning.opened_item(self._item_id, self._summary)
                self._ev(
                    out, "response.output_item.added", output_index=self._open_index, item=item
                )
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
            tool = ToolCall(delta.index)
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

    def _open_call(self, tool: ToolCall, out: list[Event]) -> None:
        assert tool.upstream_name is not None
        tool.opened = True
        tool.target = target = self._plan.restore(tool.upstream_name)
        if self.log is not None:
            self._used_targets[tool.upstream_name] = [target.kind, target.name, target.namespace]
        tool.output_index = len(self._output)
        self._output.append(None)
        self._open_index = tool.output_index
        tool.call_id = tool.upstream_id or self._new_id("call")
        codec = items.BY_KIND[target.kind]
        tool.item_id = self._new_id(codec.id_prefix)
        codec.begin(tool)
        item = codec.item(tool, "in_progress", initial=True)
        self._ev(out, "response.output_item.added", output_index=tool.output_index, item=item)
        if tool.args:  # fragments that arrived before the name
            self._stream_args(tool, "".join(tool.args), out)

    def _stream_args(self, tool: ToolCall, fragment: str, out: list[Event]) -> None:
        if tool.target is None:
            return
        event = items.BY_KIND[tool.target.kind].delta_event(tool, fragment)
        if event is not None:
            self._ev(out, event[0], **event[1])

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
        item = message.final_item(self._item_id, text, status)
        self._output[self._open_index] = item
        if self.stream:
            part = item["content"][0]
            ids = {"item_id": self._item_id, "output_index": self._open_index}
            self._ev(
                out, "response.output_text.done", **ids, content_index=0, text=text, logprobs=[]
            )
            self._ev(out, "response.content_part.done", **ids, content_index=0, part=part)
            self._ev(out, "response.output_item.done", output_index=self._open_index, item=item)

    def _close_reasoning(self, out: list[Event]) -> None:
        text = "".join(self._text)
        sealed = self._seal(text) if self._seal is not None else None
        item = reasoning.final_item(self._item_id, text, self._summary, sealed)
        self._output[self._open_index] = item
        if self.stream:
            ids = {"item_id": self._item_id, "output_index": self._open_index}
            names = reasoning.EVENTS[self._summary]
            part = {"type": names.part_type, "text": text}
            self._ev(out, names.done, **ids, **{names.index_key: 0}, text=text)
            self._ev(out, names.part_done, **ids, **{names.index_key: 0}, part=part)
            self._ev(out, "response.output_item.done", output_index=self._open_index, item=item)

    def _close_tool(self, tool: ToolCall, out: list[Event], status: str) -> None:
        if not tool.opened:
            if tool.upstream_name is None:
                tool.closed = True
                return  # a call with no name cannot be restored; nothing was announced
            self._open_call(tool, out)
        tool.closed = True
        assert tool.target is not None
        codec = items.BY_KIND[tool.target.kind]
        item = codec.item(tool, status, initial=False)
        self._output[tool.output_index] = item
        if self.stream:
            event = codec.done_event(tool, item)
            if event is not None:
                self._ev(out, event[0], **event[1])
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
            "input_tokens_details": {
                "cached_tokens": u.cached_tokens,
                "cache_write_tokens": u.cache_write_tokens,
            },
            "output_tokens": u.output_tokens,
            "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
            "total_tokens": u.total,
        }

    def _final(self) -> None:
        self.response["output"] = [item for item in self._output if item is not None]
        self.response["usage"] = self._usage_dict()
        self.response["completed_at"] = self._clock()

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
        if self.log is not None:
            self.log.append(["z"])
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

    def cancel(self) -> list[Event]:
        """End a background response cancelled by its owner: open items close incomplete,
        then ``response.cancelled`` (the status OpenAI reports; the event is the webhook's)."""
        if self.done:
            return []
        if self.log is not None:
            self.log.append(["q"])
        out: list[Event] = []
        self._close_all(out, "incomplete")
        self.done = True
        self._final()
        self.response["status"] = "cancelled"
        self._ev(out, "response.cancelled", response=self.response)
        return out

    def fail(self, err: GodexError) -> list[Event]:
        """End the response as failed: close what is open, then ``error`` + ``response.failed``."""
        if self.done:
            return []
        if self.log is not None:
            self.log.append(
                ["x", err.code, err.message, err.type, err.param, err.wire_code, err.status]
            )
        return self._fail(err)

    def _fail(self, err: GodexError) -> list[Event]:
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


def _number(value: Any, default: float) -> float:
    return (
        float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default
    )


def _echo_tool(tool: Any) -> Any:
    """Function tools echo every field the spec requires (OpenAI's defaults where unsent)."""
    if not isinstance(tool, dict) or tool.get("type") != "function":
        return tool
    return {
        **tool,
        "description": tool.get("description"),
        "parameters": tool.get("parameters"),
        "strict": tool.get("strict", True),
    }


def _text_field(text: Any) -> dict[str, Any]:
    field: dict[str, Any] = {"format": {"type": "text"}, **(text if isinstance(text, dict) else {})}
    fmt = field.get("format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        field["format"] = {"description": None, **fmt, "strict": bool(fmt.get("strict", False))}
    return field


def response_object(
    response_id: str, model: str, created_at: int, echo: Mapping[str, Any]
) -> dict[str, Any]:
    """A Response in progress: every field the Open Responses ``ResponseResource`` requires,
    from the request where it sent one, else the value OpenAI reports by default."""
    top_logprobs = echo.get("top_logprobs")
    max_tool_calls = echo.get("max_tool_calls")
    response: dict[str, Any] = {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": "in_progress",
        "completed_at": None,
        "error": None,
        "incomplete_details": None,
        "instructions": echo.get("instructions"),
        "max_output_tokens": echo.get("max_output_tokens"),
        "max_tool_calls": max_tool_calls if isinstance(max_tool_calls, int) else None,
        "model": model,
        "output": [],
        "parallel_tool_calls": echo.get("parallel_tool_calls", True),
        "previous_response_id": echo.get("previous_response_id"),
        "reasoning": {"effort": None, "summary": None, **(echo.get("reasoning") or {})},
        "store": echo.get("store", True),
        "background": bool(echo.get("background", False)),
        "temperature": _number(echo.get("temperature"), 1.0),
        "top_p": _number(echo.get("top_p"), 1.0),
        "presence_penalty": _number(echo.get("presence_penalty"), 0.0),
        "frequency_penalty": _number(echo.get("frequency_penalty"), 0.0),
        "top_logprobs": top_logprobs if isinstance(top_logprobs, int) else 0,
        "text": _text_field(echo.get("text")),
        "tool_choice": echo.get("tool_choice") or "auto",
        "tools": [_echo_tool(t) for t in echo.get("tools") or []],
        "truncation": echo.get("truncation") or "disabled",
        "usage": None,
        "metadata": echo.get("metadata") or {},
        "service_tier": echo.get("service_tier") or "default",
        "safety_identifier": echo.get("safety_identifier"),
        "prompt_cache_key": echo.get("prompt_cache_key"),
    }
    for key, value in echo.items():
        response.setdefault(key, value)
    return response


def _usage_fields(u: Usage) -> list[int | None]:
    return [
        u.input_tokens,
        u.output_tokens,
        u.cached_tokens,
        u.reasoning_tokens,
        u.total_tokens,
        u.cache_write_tokens,
    ]
