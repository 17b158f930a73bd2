"""The ToolPlan: how each Responses tool was declared upstream, and how to restore a call.

bridge.tools builds it from the request; the ResponseBuilder uses it to turn an upstream
function call back into the right Responses item.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ToolKind = Literal["function", "custom", "local_shell", "tool_search"]


@dataclass(frozen=True, slots=True)
class ToolTarget:
    kind: ToolKind
    name: str  # the name the client knows (inner name for namespaced tools)
    namespace: str | None = None


@dataclass(slots=True)
class ToolPlan:
    # upstream (sanitised, flattened) function name -> what the client declared
    targets: dict[str, ToolTarget] = field(default_factory=dict)

    def restore(self, upstream_name: str) -> ToolTarget:
        """The Responses-side identity of an upstream call; unknown names stay functions."""
        target = self.targets.get(upstream_name)
        if target is None:
            return ToolTarget("function", upstream_name)
        return target
