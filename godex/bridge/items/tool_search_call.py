"""Client-executed ``tool_search``: a function upstream, back as ``tool_search_call``.

Its output (``tool_search_output``) carries more tool definitions, which are declared upstream
like the request's own tools.
"""

from __future__ import annotations

import json
from typing import Any

from godex.bridge.items.base import CallCodec, DeclareContext, ToolCall, parse_object


class ToolSearchCall(CallCodec):
    kind = "tool_search"
    item_type = "tool_search_call"
    output_types = ("tool_search_output",)
    tool_types = ("tool_search",)
    id_prefix = "tsc"

    def declare(
        self, tool: dict[str, Any], where: str, ctx: DeclareContext, namespace: str | None
    ) -> None:
        if tool.get("execution", "client") != "client":
            ctx.diags.add("ignored", where, "server-executed tool_search is not supported; dropped")
            return
        params = tool.get("parameters")
        if not isinstance(params, dict):
            params = {"type": "object", "properties": {"query": {"type": "string"}}}
        desc = tool.get("description") or "Search for more tools to load."
        ctx.add("tool_search", "tool_search", None, params, desc)

    def history_call(self, item: dict[str, Any]) -> tuple[str, str]:
        return "tool_search", json.dumps(item.get("arguments") or {}, ensure_ascii=False)

    def item(self, call: ToolCall, status: str, *, initial: bool) -> dict[str, Any]:
        return {
            "id": call.item_id,
            "type": "tool_search_call",
            "status": status,
            "call_id": call.call_id,
            "execution": "client",
            "arguments": {} if initial else parse_object("".join(call.args)),
        }


def loaded_tools(item: dict[str, Any]) -> list[dict[str, Any]]:
    tools = item.get("tools")
    return [t for t in tools if isinstance(t, dict)] if isinstance(tools, list) else []


CODEC = ToolSearchCall()
