"""``reasoning`` items: provider reasoning out, and back into history for providers that need it.

Reasoning streams as a summary when the client asked for one, else as raw reasoning text; the
two differ only in event and part names. The raw text also rides in ``encrypted_content``
(sealed) so a stateless client hands it back next turn.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from godex.bridge.diagnostics import Diagnostics
from godex.bridge.sealing import Sealer

KIND = "reasoning"
ID_PREFIX = "rs"


class ReasoningEvents(NamedTuple):
    part_added: str
    delta: str
    done: str
    part_done: str
    index_key: str
    part_type: str


EVENTS = {
    True: ReasoningEvents(
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "summary_index",
        "summary_text",
    ),
    False: ReasoningEvents(
        "response.content_part.added",
        "response.reasoning_text.delta",
        "response.reasoning_text.done",
        "response.content_part.done",
        "content_index",
        "reasoning_text",
    ),
}


def opened_item(item_id: str, as_summary: bool) -> dict[str, Any]:
    item: dict[str, Any] = {"id": item_id, "type": KIND, "summary": []}
    if not as_summary:
        item["content"] = []
    return item


def final_item(item_id: str, text: str, as_summary: bool, sealed: str | None) -> dict[str, Any]:
    item: dict[str, Any] = {"id": item_id, "type": KIND, "summary": []}
    if as_summary:
        item["summary"] = [{"type": "summary_text", "text": text}]
    item["content"] = [{"type": "reasoning_text", "text": text}]
    if sealed:
        item["encrypted_content"] = sealed
    return item


def text_of(item: dict[str, Any], sealer: Sealer, diags: Diagnostics) -> str | None:
    """The provider reasoning an input item carries: sealed first, then its plain parts."""
    blob = item.get("encrypted_content")
    if blob:
        payload = sealer.open(KIND, blob)
        if payload is not None and isinstance(payload.get("text"), str):
            text: str = payload["text"]
            return text
        diags.add(
            "ignored",
            "input.reasoning.encrypted_content",
            "encrypted_content was not made by this gateway or was altered; ignored",
        )
    for key, part_type in (("content", "reasoning_text"), ("summary", "summary_text")):
        parts = item.get(key)
        if isinstance(parts, list):
            texts = [
                p.get("text", "")
                for p in parts
                if isinstance(p, dict)
                and p.get("type") == part_type
                and isinstance(p.get("text"), str)
            ]
            if any(texts):
                return "\n".join(t for t in texts if t)
    return None


def stored_text(item: dict[str, Any]) -> str:
    """The text a finished reasoning item was built from (raw content first)."""
    parts = item.get("content") or item.get("summary") or []
    return "".join(p.get("text", "") for p in parts if isinstance(p, dict))
