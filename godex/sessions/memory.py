"""In-process store: fast, shared by nothing, gone at restart (as documented)."""

from __future__ import annotations

from typing import Any

from godex.sessions.store import KeyRecord, Order, StoredResponse, page, visible, with_ids


class MemoryStore:
    def __init__(self) -> None:
        self._data: dict[str, StoredResponse] = {}
        self._keys: dict[str, KeyRecord] = {}  # by sha256

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
