"""``function`` tools and ``function_call`` items: declared as is, restored with their arguments."""

from __future__ import annotations

from typing import Any

from godex.bridge.items.base import (
    CallCodec,
    DeclareContext,
    EventFields,
    ToolCall,
    description,
)


class FunctionCall(CallCodec):
    kind = "function"
    item_type = "function_call"
    output_types = ("function_call_output",)
    tool_types = ("function",)
    id_prefix = "fc"

    def declare(
        self, tool: dict[str, Any], where: str, ctx: DeclareContext, namespace: str | None
    ) -> None:
        name = tool.get("name")
        if not isinstance(name, str):
            ctx.diags.add("ignored", where, "function tool without a name; dropped")
            return
        params = tool.get("parameters")
        if not isinstance(params, dict):
            params = {"type": "object", "properties": {}}
        ctx.add(
            "function",
            name,
            namespace,
            params,
            description(tool, ctx.spec, name),
            tool.get("strict"),
        )

    def history_call(self, item: dict[str, Any]) -> tuple[str, str]:
        return item.get("name") or "", item.get("arguments") or "{}"

    def item(self, call: ToolCall, status: str, *, initial: bool) -> dict[str, Any]:
        assert call.target is not None
        out: dict[str, Any] = {
            "id": call.item_id,
            "type": "function_call",
            "status": status,
            "call_id": call.call_id,
            "name": call.target.name,
            "arguments": "" if initial else "".join(call.args),
        }
        if call.target.namespace:
            out["namespace"] = call.target.namespace
        return out

    def delta_event(self, call: ToolCall, fragment: str) -> EventFields | None:
        return (
            "response.function_call_arguments.delta",
            {"item_id": call.item_id, "output_index": call.output_index, "delta": fragment},
        )

    def done_event(self, call: ToolCall, item: dict[str, Any]) -> EventFields | None:
        return (
            "response.function_call_arguments.done",
            {
                "item_id": call.item_id,
                "output_index": call.output_index,
                "arguments": item["arguments"],
            },
        )


CODEC = FunctionCall()
