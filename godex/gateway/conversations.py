"""The Conversations API as the gateway serves it, and a turn's ``conversation`` link.

A turn with ``conversation`` reads the conversation's items in front of its input and, once it
has an answer, appends its input and output to it (as OpenAI does).
"""

from __future__ import annotations

import time
from typing import Any

from godex.errors import InvalidRequestError, NotFoundError
from godex.gateway.context import OWNER
from godex.sessions.conversations import Conversation, new_conversation_id
from godex.sessions.store import Order, SessionStore, page

MAX_ITEMS_PER_CALL = 20  # OpenAI's limit on items in one create call


def not_found(conv_id: str) -> NotFoundError:
    return NotFoundError(
        f"Conversation with id '{conv_id}' not found.",
        code="session.conversation_not_found",
        param="conversation_id",
        wire_code="",
    )


def item_not_found(item_id: str) -> NotFoundError:
    return NotFoundError(
        f"Item with id '{item_id}' not found.",
        code="session.conversation_item_not_found",
        param="item_id",
        wire_code="",
    )


def _items_param(body: dict[str, Any], required: bool) -> list[dict[str, Any]]:
    items = body.get("items")
    if items is None and not required:
        return []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise InvalidRequestError(
            "Invalid 'items': expected an array of items.", param="items", wire_code="invalid_type"
        )
    if len(items) > MAX_ITEMS_PER_CALL:
        raise InvalidRequestError(
            f"Invalid 'items': at most {MAX_ITEMS_PER_CALL} items can be added at once.",
            param="items",
            wire_code="array_above_max_length",
        )
    return items


def _metadata(body: dict[str, Any]) -> dict[str, Any]:
    metadata = body.get("metadata")
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise InvalidRequestError(
            "Invalid 'metadata': expected an object.", param="metadata", wire_code="invalid_type"
        )
    return metadata


class Conversations:
    def __init__(self, store: SessionStore | None) -> None:
        self.store = store

    def _store(self) -> SessionStore:
        if self.store is None:
            raise InvalidRequestError(
                "Conversations need stored sessions, and sessions are disabled on this gateway "
                "(session.enabled: false)",
                code="session.disabled",
            )
        return self.store

    async def _mine(self, conv_id: str) -> Conversation:
        """The conversation if the caller's key (or team) made it, else the unknown-id 404:
        another tenant's conversation is indistinguishable from none."""
        conv = await self._store().get_conversation(conv_id)
        owner = OWNER.get()
        if conv is None or (owner is not None and conv.owner != owner):
            raise not_found(conv_id)
        return conv

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        conv = Conversation(
            new_conversation_id(), int(time.time()), _metadata(body), owner=OWNER.get()
        )
        await self._store().create_conversation(conv, _items_param(body, required=False))
        return conv.to_object()

    async def get(self, conv_id: str) -> dict[str, Any]:
        return (await self._mine(conv_id)).to_object()

    async def update(self, conv_id: str, body: dict[str, Any]) -> dict[str, Any]:
        await self._mine(conv_id)
        conv = await self._store().update_conversation(conv_id, _metadata(body))
        if conv is None:
            raise not_found(conv_id)
        return conv.to_object()

    async def delete(self, conv_id: str) -> dict[str, Any]:
        await self._mine(conv_id)
        if not await self._store().delete_conversation(conv_id):
            raise not_found(conv_id)
        return {"id": conv_id, "object": "conversation.deleted", "deleted": True}

    async def items(self, conv_id: str) -> list[dict[str, Any]]:
        await self._mine(conv_id)
        found = await self._store().conversation_items(conv_id)
        if found is None:
            raise not_found(conv_id)
        return found

    async def list_items(
        self, conv_id: str, *, after: str | None, limit: int, order: Order
    ) -> dict[str, Any]:
        return page(await self.items(conv_id), after, limit, order)

    async def add_items(self, conv_id: str, body: dict[str, Any]) -> dict[str, Any]:
        await self._mine(conv_id)
        added = await self._store().append_conversation_items(
            conv_id, _items_param(body, required=True)
        )
        if added is None:
            raise not_found(conv_id)
        return {
            "object": "list",
            "data": added,
            "first_id": added[0]["id"] if added else None,
            "last_id": added[-1]["id"] if added else None,
            "has_more": False,
        }

    async def get_item(self, conv_id: str, item_id: str) -> dict[str, Any]:
        for item in await self.items(conv_id):
            if item.get("id") == item_id:
                return item
        raise item_not_found(item_id)

    async def delete_item(self, conv_id: str, item_id: str) -> dict[str, Any]:
        store = self._store()
        conv = await self._mine(conv_id)
        if not await store.delete_conversation_item(conv_id, item_id):
            raise item_not_found(item_id)
        return conv.to_object()  # OpenAI answers with the conversation


async def append_turn(
    store: SessionStore, conv_id: str, response: dict[str, Any], input_items: list[dict[str, Any]]
) -> None:
    """A finished turn joins its conversation: its input, then its output (a failed turn's
    output never reached the user as an answer, so only its input is kept)."""
    items = list(input_items)
    if response.get("status") != "failed":
        items += [i for i in response.get("output") or [] if isinstance(i, dict)]
    await store.append_conversation_items(conv_id, items)
