"""In-process store: fast, shared by nothing, gone at restart (as documented)."""

from __future__ import annotations

from typing import Any

from godex.sessions.store import Order, StoredResponse, page, with_ids


class MemoryStore:
    def __init__(self) -> None:
        self._data: dict[str, StoredResponse] = {}

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
