"""Responses item kinds, one module each; this table is the only place that lists them.

Adding a call kind is a ``CallCodec`` module plus a row in ``CALLS``.
"""

from __future__ import annotations

from godex.bridge.items import custom_tool_call, function_call, local_shell_call, tool_search_call
from godex.bridge.items.base import CallCodec
from godex.bridge.toolplan import ToolKind

CALLS: tuple[CallCodec, ...] = (
    function_call.CODEC,
    custom_tool_call.CODEC,
    local_shell_call.CODEC,
    tool_search_call.CODEC,
)

BY_KIND: dict[ToolKind, CallCodec] = {c.kind: c for c in CALLS}
BY_TOOL_TYPE: dict[str, CallCodec] = {t: c for c in CALLS for t in c.tool_types}
BY_CALL_ITEM: dict[str, CallCodec] = {c.item_type: c for c in CALLS}
BY_OUTPUT_ITEM: dict[str, CallCodec] = {t: c for c in CALLS for t in c.output_types}
