"""The Chat Completions request the bridge plans and a provider's hooks patch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class ChatRequest:
    """A Chat Completions request being built: the neutral result of bridge.build.

    ``body`` is already a Chat Completions body with standard field names. ``thinking`` and
    ``effort`` are the bridge's decision; the provider's hook renders them into its own fields.
    """

    body: dict[str, Any]
    stream: bool
    thinking: bool | None = None  # None: leave the provider's default alone
    effort: str | None = None  # already mapped through spec.effort_map
    web_search: dict[str, Any] | None = None  # the Responses web_search tool, served natively
