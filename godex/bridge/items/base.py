"""What every tool-call item kind provides, so the bridge can treat kinds as table rows.

A call kind is declared upstream as a chat function, rendered back into history as a chat
``tool_calls`` entry plus a ``tool`` message, restored from an upstream call into its Responses
item, and streamed as that item's events. Each kind is one module implementing ``CallCodec``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

from godex.bridge.diagnostics import Diagnostics
from godex.bridge.partial_json import StringFieldStream
from godex.bridge.toolplan import ToolKind, ToolTarget
from godex.providers.spec import ProviderSpec

# The one string parameter a freeform (custom) tool is declared with upstream.
CUSTOM_TOOL_FIELD = "input"

EventFields = tuple[str, dict[str, Any]]  # (event type, fields without type/sequence_number)


class Declare(Protocol):
    """Adds one upstream function for a client tool (names made unique and valid)."""

    def __call__(
        self,
        kind: ToolKind,
        client_name: str,
        namespace: str | None,
        parameters: dict[str, Any],
        description: str | None,
        strict: Any = None,
    ) -> None: ...


class DeclareContext:
    __slots__ = ("add", "diags", "spec", "visit")

    def __init__(
        self,
        spec: ProviderSpec,
        diags: Diagnostics,
        add: Declare,
        visit: Callable[[dict[str, Any], str, str | None], None],
    ) -> None:
        self.spec = spec
        self.diags = diags
        self.add = add
        self.visit = visit  # declare a nested tool (namespaces)


class ToolCall:
    """The builder's state for one upstream tool call, keyed by its index."""

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


class CallCodec:
    """Defaults shared by the call kinds; each kind overrides what differs."""

    kind: ToolKind
    item_type: str
    output_types: tuple[str, ...]
    tool_types: tuple[str, ...] = ()
    id_prefix: str

    def declare(
        self, tool: dict[str, Any], where: str, ctx: DeclareContext, namespace: str | None
    ) -> None:
        raise NotImplementedError

    # -- history ----------------------------------------------------------------------------
    def history_call(self, item: dict[str, Any]) -> tuple[str, str]:
        """(client-side tool name, upstream arguments JSON) of a call item in the input."""
        raise NotImplementedError

    def output_call_id(self, item: dict[str, Any]) -> Any:
        return item.get("call_id")

    # -- restoring and streaming ------------------------------------------------------------
    def begin(self, call: ToolCall) -> None:
        """The call was announced; set up any per-call decoding."""

    def item(self, call: ToolCall, status: str, *, initial: bool) -> dict[str, Any]:
        raise NotImplementedError

    def delta_event(self, call: ToolCall, fragment: str) -> EventFields | None:
        return None

    def done_event(self, call: ToolCall, item: dict[str, Any]) -> EventFields | None:
        return None

    def upstream_arguments(self, item: dict[str, Any]) -> str:
        """A finished item as the upstream arguments that would restore it (for replay)."""
        return self.history_call(item)[1]


def parse_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def description(tool: dict[str, Any], spec: ProviderSpec, name: str) -> str | None:
    desc = tool.get("description")
    if isinstance(desc, str) and desc:
        return desc
    return name if spec.tool_description_required else None
