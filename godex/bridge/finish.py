"""Provider finish reasons → Responses status, centrally.

Providers declare their extra reasons in ``ProviderSpec.finish_reasons`` (data); the mapping
to status and ``incomplete_details`` lives only here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

_CANONICAL = {
    "stop": "stop",
    "end_turn": "stop",
    "length": "length",
    "max_tokens": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
    "error": "error",
    "context_length": "context_length",
}


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str  # completed | incomplete | failed
    incomplete_reason: str | None = None
    error_code: str | None = None
    error_message: str | None = None


def outcome(raw: str | None, extra: Mapping[str, str]) -> Outcome:
    reason = extra.get(raw, raw) if raw is not None else None
    canonical = _CANONICAL.get(reason or "", "stop")
    if canonical == "length":
        return Outcome("incomplete", "max_output_tokens")
    if canonical == "content_filter":
        return Outcome("incomplete", "content_filter")
    if canonical == "context_length":
        return Outcome(
            "failed",
            error_code="context_length_exceeded",
            error_message="The conversation is longer than the model's context window.",
        )
    if canonical == "error":
        return Outcome(
            "failed",
            error_code="server_error",
            error_message=f"The provider stopped with an error (finish_reason {raw!r}).",
        )
    return Outcome("completed")


def canonical_reason(raw: str, extra: Mapping[str, str]) -> str:
    """A provider's finish reason in the canonical vocabulary (what ``outcome`` reads)."""
    return _CANONICAL.get(extra.get(raw, raw), "stop")
