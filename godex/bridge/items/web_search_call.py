"""``web_search`` tools and ``web_search_call`` items.

Served by the provider's native search where its spec declares one; otherwise dropped with a
diagnostic, never a 400 (Codex always sends it). The provider's results come back as one whole
``web_search_call`` item.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from godex.bridge.diagnostics import Diagnostics
from godex.providers.spec import ProviderSpec

KIND = "web_search_call"
ID_PREFIX = "ws"
TOOL_TYPES = (
    "web_search",
    "web_search_preview",
    "web_search_2025_08_26",
    "web_search_preview_2025_03_11",
)


def declare(
    tool: dict[str, Any], where: str, spec: ProviderSpec, diags: Diagnostics, chosen: bool
) -> bool:
    """True when this tool is the one served natively."""
    if not spec.native_web_search:
        diags.add("ignored", where, f"{spec.name} has no native web search; tool dropped")
        return False
    if chosen:
        return False
    diags.add("kept", where, "web_search served by the provider's native search")
    return True


# The function GodeX offers a model without native search when it runs searches itself
# (web_search.mode godex_managed, or auto with a backend).
MANAGED_NAME = "web_search"
MANAGED_DESCRIPTION = (
    "Search the web. Returns titles, URLs and snippets of the top results for the query."
)
MANAGED_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {"query": {"type": "string", "description": "What to search for"}},
    "required": ["query"],
}


@dataclass(slots=True)
class SearchStarted:
    """A managed search begins: its item opens (in_progress, then searching)."""

    key: str  # the model's call id: pairs it with its SearchDone
    query: str


@dataclass(slots=True)
class SearchDone:
    key: str
    query: str
    sources: list[dict[str, Any]] = field(default_factory=list)


def opened_item(item_id: str, query: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": KIND,
        "status": "in_progress",
        "action": {"type": "search", "query": query},
    }


def item(item_id: str, query: str | None, sources: list[dict[str, Any]]) -> dict[str, Any]:
    action: dict[str, Any] = {"type": "search", "query": query or ""}
    if sources:
        action["sources"] = sources
    return {"id": item_id, "type": KIND, "status": "completed", "action": action}
