"""In-process store: fast, shared by nothing, gone at restart (as documented)."""

from __future__ import annotations

from typing import Any

from godex.sessions.conversations import Conversation, conversation_items
from godex.sessions.store import Order, StoredResponse, page, pick_items, with_ids


class MemoryStore:
    def __init__(self) -> None:
        self._data: dict[str, StoredResponse] = {}
        self._conversations: dict[str, tuple[Conversation, list[dict[str, Any]]]] = {}

    async def put(self, rec: StoredResponse) -> None:
        rec.input_items = with_ids(rec.input_items)
        self._data[rec.id] = rec

    async def get(self, response_id: str) -> StoredResponse | None:
        return self._data.get(response_id)

    async def load_chain(self, response_id: str, max_depth: int) -> list[StoredResponse]:
        chain: list[StoredResponse] = []
        seen: set[str] = set()
        current: str | None = response_id
        while current is not None and current not in seen and len(chain) <= max_depth:
            rec = self._data.get(current)
            if rec is None:
                break
            seen.add(current)
            chain.append(rec)
            current = rec.previous_response_id
        return chain

    async def delete(self, response_id: str) -> bool:
        return self._data.pop(response_id, None) is not None

    async def list_input_items(
        self, response_id: str, *, after: str | None, limit: int, order: Order
    ) -> dict[str, Any] | None:
        rec = self._data.get(response_id)
        return None if rec is None else page(rec.input_items, after, limit, order)

    async def find_items(self, item_ids: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        pick_items(list(self._data.values()), set(item_ids), found)
        return found

    async def create_conversation(
        self, conv: Conversation, items: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        stored = conversation_items(items)
        self._conversations[conv.id] = (conv, stored)
        return stored

    async def get_conversation(self, conv_id: str) -> Conversation | None:
        found = self._conversations.get(conv_id)
        return None if found is None else found[0]

    async def update_conversation(
        self, conv_id: str, metadata: dict[str, Any]
    ) -> Conversation | None:
        found = self._conversations.get(conv_id)
        if found is None:
            return None
        found[0].metadata = metadata
        return found[0]

    async def delete_conversation(self, conv_id: str) -> bool:
        return self._conversations.pop(conv_id, None) is not None

    async def append_conversation_items(
        self, conv_id: str, items: list[dict[str, Any]]
    ) -> list[dict[str, Any]] | None:
        found = self._conversations.get(conv_id)
        if found is None:
            return None
        stored = conversation_items(items)
        found[1].extend(stored)
        return stored

    async def conversation_items(self, conv_id: str) -> list[dict[str, Any]] | None:
        found = self._conversations.get(conv_id)
        return None if found is None else list(found[1])

    async def delete_conversation_item(self, conv_id: str, item_id: str) -> bool:
        found = self._conversations.get(conv_id)
        if found is None:
            return False
        before = len(found[1])
        found[1][:] = [i for i in found[1] if i.get("id") != item_id]
        return len(found[1]) < before

    async def prune(self, before_ts: int) -> int:
        old = [k for k, v in self._data.items() if v.created_at < before_ts]
        for key in old:
            del self._data[key]
        return len(old)

    async def count(self) -> int:
        return len(self._data)

    async def close(self) -> None:
        self._data.clear()
        self._conversations.clear()
