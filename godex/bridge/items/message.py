"""``message`` items: the assistant's answer text out; user, system and developer text in."""

from __future__ import annotations

from typing import Any

KIND = "message"
ID_PREFIX = "msg"


def output_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def opened_item(item_id: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": KIND,
        "role": "assistant",
        "status": "in_progress",
        "content": [],
    }


def final_item(item_id: str, text: str, status: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": KIND,
        "role": "assistant",
        "status": status,
        "content": [output_part(text)],
    }


def stored_text(item: dict[str, Any]) -> str:
    return "".join(
        p.get("text", "")
        for p in item.get("content") or []
        if isinstance(p, dict) and p.get("type") == "output_text"
    )
