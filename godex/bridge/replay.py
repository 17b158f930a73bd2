"""The events of a stored Response, for ``GET /v1/responses/{id}?stream=true``.

A stored stream kept its builder's log (what the builder was fed, and the ids it made), so the
replay re-runs a ResponseBuilder on that log and yields exactly the events the live stream sent,
keep-alives included. A response answered without streaming has no log: one is derived from its
output items, giving the stream the same builder would have sent for those items.
"""

from __future__ import annotations

from typing import Any

import msgspec

from godex.bridge import items
from godex.bridge.builder import Event, ResponseBuilder
from godex.bridge.items import message, reasoning, web_search_call
from godex.bridge.toolplan import ToolPlan, ToolTarget
from godex.errors import GodexError
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

_decode = msgspec.json.Decoder().decode
_SUMMARY_MODES = ("auto", "concise", "detailed")
# Whole-response fields the builder derives itself rather than taking from the echo.
_DERIVED = ("id", "object", "created_at", "model", "status", "error", "incomplete_details",
            "output", "usage", "completed_at")  # fmt: skip


def _delta(op: list[Any]) -> Delta | None:
    match op:
        case ["t", text]:
            return TextDelta(text)
        case ["r", text]:
            return ReasoningDelta(text)
        case ["c", index, call_id, name, arguments]:
            return ToolCallDelta(index, call_id, name, arguments)
        case ["u", inp, out, cached, reasoning_tokens, total, *rest]:
            return Usage(inp, out, cached, reasoning_tokens, total, rest[0] if rest else 0)
        case ["f", reason]:
            return Finish(reason)
        case ["e", code, text, status]:
            return UpstreamError(code, text, status)
        case ["w", query, sources]:
            return WebSearchResult(query, sources)
    return None


def _derived_log(response: dict[str, Any]) -> dict[str, Any]:
    """A log for a response that was not streamed: one delta per output item."""
    ops: list[list[Any]] = [["s"]]
    ids: list[str] = []
    targets: dict[str, list[Any]] = {}
    for index, item in enumerate(response.get("output") or []):
        kind = item.get("type")
        codec = items.BY_CALL_ITEM.get(kind)
        if kind == message.KIND:
            ids.append(item["id"])
            ops.append(["t", message.stored_text(item)])
        elif kind == reasoning.KIND:
            ids.append(item["id"])
            ops.append(["r", reasoning.stored_text(item)])
        elif codec is not None:
            upstream = f"call_{index}"
            targets[upstream] = [codec.kind, item.get("name") or "", item.get("namespace")]
            ids.append(item["id"])
            ops.append(["c", index, item.get("call_id"), upstream, codec.upstream_arguments(item)])
        elif kind == web_search_call.KIND:
            ids.append(item["id"])
            action = item.get("action") or {}
            ops.append(["w", action.get("query"), action.get("sources") or []])
        else:
            ops.append(["i", item])
    usage = response.get("usage")
    if isinstance(usage, dict):
        ops.append(
            [
                "u",
                usage.get("input_tokens") or 0,
                usage.get("output_tokens") or 0,
                (usage.get("input_tokens_details") or {}).get("cached_tokens") or 0,
                (usage.get("output_tokens_details") or {}).get("reasoning_tokens") or 0,
                usage.get("total_tokens"),
                (usage.get("input_tokens_details") or {}).get("cache_write_tokens") or 0,
            ]
        )
    status = response.get("status")
    error = response.get("error") or {}
    if status == "failed" and error.get("code") not in ("context_length_exceeded", "server_error"):
        ops.append(["f", "stop"])  # the output check failed it; the stored error says how
        ops.append(["z"])
    elif status == "failed":
        ops.append(
            ["f", "context_length" if error.get("code") == "context_length_exceeded" else "error"]
        )
        ops.append(["z"])
    elif status == "incomplete":
        reason = (response.get("incomplete_details") or {}).get("reason")
        ops.append(["f", "content_filter" if reason == "content_filter" else "length"])
        ops.append(["z"])
    else:
        ops.append(["f", "stop"])
        ops.append(["z"])
    summary = (response.get("reasoning") or {}).get("summary") in _SUMMARY_MODES
    return {"v": 1, "summary": summary, "ids": ids, "targets": targets, "ops": ops}


def replay_events(response: dict[str, Any], recorded: bytes | None) -> list[Event]:
    log = _decode(recorded) if recorded else _derived_log(response)
    plan = ToolPlan(
        {name: ToolTarget(t[0], t[1], t[2]) for name, t in (log.get("targets") or {}).items()}
    )
    # Reasoning items close in output order, so the n-th seal is the n-th stored blob.
    blobs = iter(
        [
            item.get("encrypted_content")
            for item in response.get("output") or []
            if item.get("type") == reasoning.KIND
        ]
    )
    stored_error = response.get("error") or {}

    def seal(text: str) -> str | None:
        sealed = next(blobs, None)
        return sealed if isinstance(sealed, str) else None

    def check(final: dict[str, Any]) -> GodexError | None:
        if response.get("status") != "failed":
            return None
        return GodexError(
            str(stored_error.get("message") or ""), wire_code=stored_error.get("code")
        )

    builder = ResponseBuilder(
        response_id=response["id"],
        model=response.get("model") or "",
        created_at=int(response.get("created_at") or 0),
        echo={k: v for k, v in response.items() if k not in _DERIVED},
        tool_plan=plan,
        stream=True,
        finish_extra={},
        reasoning_as_summary=bool(log.get("summary")),
        seal_reasoning=seal,
        output_check=check,
        ids=iter(log.get("ids") or []),
        clock=lambda: int(response.get("completed_at") or 0),
    )
    events: list[Event] = []
    for op in log.get("ops") or []:
        tag = op[0]
        if tag == "s":
            events += builder.start()
        elif tag == "k":
            events += builder.keepalive()
        elif tag == "z":
            events += builder.finish()
        elif tag == "q":
            events += builder.cancel()
        elif tag == "Ws":
            events += builder.feed(web_search_call.SearchStarted(op[1], op[2]))
        elif tag == "Wd":
            events += builder.feed(web_search_call.SearchDone(op[1], op[2], op[3]))
        elif tag == "i":
            events += builder.emit_item(op[1])
        elif tag == "x":
            _, code, text, kind, param, wire_code, status = op
            err = GodexError(
                text, code=code, type=kind, param=param, wire_code=wire_code, status=status
            )
            events += builder.fail(err)
        else:
            delta = _delta(op)
            if delta is not None:
                events += builder.feed(delta)
    return events
