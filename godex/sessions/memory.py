"""In-process store: fast, shared by nothing, gone at restart (as documented)."""

from __future__ import annotations

from typing import Any

from godex.sessions.conversations import Conversation, conversation_items
from godex.sessions.store import (
    KeyRecord,
    Order,
    StoredResponse,
    page,
    pick_items,
    visible,
    with_ids,
)


class MemoryStore:
    def __init__(self) -> None:
        self._data: dict[str, StoredResponse] = {}
        self._keys: dict[str, KeyRecord] = {}  # by sha256
        self._conversations: dict[str, tuple[Conversation, list[dict[str, Any]]]] = {}

    async def put(self, rec: StoredResponse) -> None:
        rec.input_items = with_ids(rec.input_items)
        self._data[rec.id] = rec

    async def get(self, response_id: str, *, owner: str | None = None) -> StoredResponse | None:
        return visible(self._data.get(response_id), owner)

    async def load_chain(
        self, response_id: str, max_depth: int, *, owner: str | None = None
    ) -> list[StoredResponse]:
        chain: list[StoredResponse] = []
        seen: set[str] = set()
        current: str | None = response_id
        while current is not None and current not in seen and len(chain) <= max_depth:
            rec = visible(self._data.get(current), owner)
            if rec is None:
                break
            seen.add(current)
            chain.append(rec)
            current = rec.previous_response_id
        return chain

    async def delete(self, response_id: str, *, owner: str | None = None) -> bool:
        if visible(self._data.get(response_id), owner) is None:
            return False
        return self._data.pop(response_id, None) is not None

    async def list_input_items(
        self,
        response_id: str,
        *,
        after: str | None,
        limit: int,
        order: Order,
        owner: str | None = None,
    ) -> dict[str, Any] | None:
        rec = visible(self._data.get(response_id), owner)
        return None if rec is None else page(rec.input_items, after, limit, order)

    async def put_key(self, rec: KeyRecord) -> None:
        self._keys[rec.key_sha256] = rec

    async def get_key(self, key_sha256: str) -> KeyRecord | None:
        return self._keys.get(key_sha256)

    async def list_keys(self) -> list[KeyRecord]:
        return sorted(self._keys.values(), key=lambda k: k.created_at)

    async def revoke_key(self, name: str, revoked_at: int) -> bool:
        hit = False
        for rec in self._keys.values():
            if rec.name == name and rec.revoked_at is None:
                rec.revoked_at = revoked_at
                hit = True
        return hit

    async def find_items(
        self, item_ids: list[str], *, owner: str | None = None
    ) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        mine = [r for r in self._data.values() if visible(r, owner) is not None]
        pick_items(mine, set(item_ids), found)
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

    async def lead(self, task: str, ttl_s: float) -> bool:
        return True  # a local store has one host's instances on it; each may prune

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._data.clear()
        self._conversations.clear()
