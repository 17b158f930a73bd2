"""The neutral deltas where providers and the bridge meet.

Provider hooks turn every upstream chunk (or a whole non-stream body) into these; the
ResponseBuilder consumes them. Neither side reads the other's wire format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class TextDelta:
    text: str


@dataclass(slots=True)
class ReasoningDelta:
    text: str


@dataclass(slots=True)
class ToolCallDelta:
    """A piece of a tool call. ``index`` keys the call; ``id`` and ``name`` are set once."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(slots=True)
class Usage:
    """Token counts. The last complete Usage seen wins."""

    input_tokens: int
    output_tokens: int
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    total_tokens: int | None = None
    cache_write_tokens: int = 0  # input tokens written to the provider's prompt cache

    @property
    def total(self) -> int:
        return (
            self.total_tokens
            if self.total_tokens is not None
            else self.input_tokens + self.output_tokens
        )


@dataclass(slots=True)
class Finish:
    """The provider's finish reason, raw; the bridge maps it centrally."""

    reason: str


@dataclass(slots=True)
class UpstreamError:
    """An error found inside a 200 stream or body."""

    code: str
    message: str
    status: int | None = None


@dataclass(slots=True)
class WebSearchResult:
    """Results of a provider's native web search (Zhipu ``web_search``, MiMo annotations)."""

    query: str | None = None
    sources: list[dict[str, Any]] = field(default_factory=list)


Delta = (
    TextDelta | ReasoningDelta | ToolCallDelta | Usage | Finish | UpstreamError | WebSearchResult
)
