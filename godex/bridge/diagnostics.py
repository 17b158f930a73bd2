"""Compatibility diagnostics: what the bridge kept, degraded, ignored or rejected, and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Action = Literal["kept", "degraded", "ignored", "rejected"]


@dataclass(frozen=True, slots=True)
class Diagnostic:
    action: str
    subject: str  # the request path it is about, e.g. "tools[3]" or "tool_choice"
    detail: str


@dataclass(slots=True)
class Diagnostics:
    items: list[Diagnostic] = field(default_factory=list)

    def add(self, action: str, subject: str, detail: str) -> None:
        self.items.append(Diagnostic(action, subject, detail))

    def as_dicts(self) -> list[dict[str, str]]:
        return [{"action": d.action, "subject": d.subject, "detail": d.detail} for d in self.items]
