"""Freeform ``custom`` tools (Codex's ``apply_patch``): one string parameter upstream.

The grammar's intent travels in the description; the call comes back as a ``custom_tool_call``
with the raw ``input``, streamed as it is decoded out of the upstream's JSON arguments.
"""

from __future__ import annotations

import json
from typing import Any

from godex.bridge.items.base import (
    CUSTOM_TOOL_FIELD,
    CallCodec,
    DeclareContext,
    EventFields,
    ToolCall,
    parse_object,
)
from godex.bridge.partial_json import StringFieldStream

_GRAMMAR_LIMIT = 6000
_PARAMETERS = {
    "type": "object",
    "properties": {CUSTOM_TOOL_FIELD: {"type": "string", "description": "The raw input."}},
    "required": [CUSTOM_TOOL_FIELD],
}


def _description(tool: dict[str, Any]) -> str:
    desc = tool.get("description") or ""
    fmt = tool.get("format") or {}
    text = (
        f"{desc}\n\nThis is a freeform tool: put the raw text in the '{CUSTOM_TOOL_FIELD}' "
        "string parameter exactly as it should be received, not JSON-encoded content."
    )
    if fmt.get("type") == "grammar" and isinstance(fmt.get("definition"), str):
        definition = fmt["definition"][:_GRAMMAR_LIMIT]
        syntax = fmt.get("syntax") or "lark"
        text += f"\nThe text must match this {syntax} grammar:\n{definition}"
    return text.strip()


class CustomToolCall(CallCodec):
    kind = "custom"
    item_type = "custom_tool_call"
    output_types = ("custom_tool_call_output",)
    tool_types = ("custom",)
    id_prefix = "ctc"

    def declare(
        self, tool: dict[str, Any], where: str, ctx: DeclareContext, namespace: str | None
    ) -> None:
        name = tool.get("name")
        if not isinstance(name, str):
            ctx.diags.add("ignored", where, "custom tool without a name; dropped")
            return
        ctx.add("custom", name, namespace, _PARAMETERS, _description(tool))

    def history_call(self, item: dict[str, Any]) -> tuple[str, str]:
        args = json.dumps({CUSTOM_TOOL_FIELD: item.get("input") or ""}, ensure_ascii=False)
        return item.get("name") or "", args

    def begin(self, call: ToolCall) -> None:
        call.custom = StringFieldStream(CUSTOM_TOOL_FIELD)

    def item(self, call: ToolCall, status: str, *, initial: bool) -> dict[str, Any]:
        assert call.target is not None
        out: dict[str, Any] = {
            "id": call.item_id,
            "type": "custom_tool_call",
            "status": status,
            "call_id": call.call_id,
            "name": call.target.name,
            "input": "" if initial else _input(call, "".join(call.args)),
        }
        if call.target.namespace:
            out["namespace"] = call.target.namespace
        return out

    def delta_event(self, call: ToolCall, fragment: str) -> EventFields | None:
        if call.custom is None:
            return None
        text = call.custom.feed(fragment)
        if not text:
            return None
        call.custom_text.append(text)
        return (
            "response.custom_tool_call_input.delta",
            {"item_id": call.item_id, "output_index": call.output_index, "delta": text},
        )

    def done_event(self, call: ToolCall, item: dict[str, Any]) -> EventFields | None:
        return (
            "response.custom_tool_call_input.done",
            {"item_id": call.item_id, "output_index": call.output_index, "input": item["input"]},
        )


def _input(call: ToolCall, args: str) -> str:
    """The raw input, whatever shape the model's arguments took."""
    parsed = parse_object(args) if args.lstrip().startswith("{") else None
    if parsed is not None and isinstance(parsed.get(CUSTOM_TOOL_FIELD), str):
        value: str = parsed[CUSTOM_TOOL_FIELD]
        return value
    if parsed and len(parsed) == 1:
        only = next(iter(parsed.values()))
        if isinstance(only, str):
            return only
    if call.custom is not None and call.custom.raw_mode:
        return args
    return "".join(call.custom_text) or args


CODEC = CustomToolCall()
