"""Conversations (the Conversations API): a record and the item shape both backends share.

A conversation is an ordered list of items that ``POST /v1/responses`` with ``conversation``
reads in front of its input and appends its input and output to.
"""

from __future__ import annotations

from typing import Any

from godex.ids import new_id
from godex.sessions.store import Conversation, with_ids

__all__ = ["Conversation", "conversation_items", "new_conversation_id"]


def new_conversation_id() -> str:
    return new_id("conv")


def conversation_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items as a conversation keeps and lists them: an id each, messages as parts with a
    status (the SDK's ``Message`` requires one). References are not kept: they point at items
    that are stored in full elsewhere."""
    kept: list[dict[str, Any]] = []
    for item in items:
        if item.get("type", "message") == "item_reference":
            continue
        if "type" not in item:
            item = {"type": "message", **item}
        if not isinstance(item.get("id"), str):
            item = {k: v for k, v in item.items() if k != "id"}  # a fresh one below
        kept.append(item)
    out: list[dict[str, Any]] = []
    for item in with_ids(kept):
        if item.get("type") == "message":
            item = {"status": "completed", **item}
        out.append(item)
    return out
