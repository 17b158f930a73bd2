"""The store contract for owners and runtime keys (each backend must pass it; PostgreSQL too)."""

from __future__ import annotations

import dataclasses

from godex.sessions.store import KeyRecord, SessionStore
from tests.unit.test_sessions import rec, store  # noqa: F401  (the backend fixture)

A, B = "team:a", "key:b"


async def test_every_read_and_delete_is_scoped_by_owner(store: SessionStore) -> None:  # noqa: F811
    await store.put(dataclasses.replace(rec("r1"), owner=A))
    await store.put(dataclasses.replace(rec("r2", "r1"), owner=A))
    assert await store.get("r1", owner=B) is None
    assert await store.list_input_items("r1", after=None, limit=5, order="asc", owner=B) is None
    assert await store.load_chain("r2", 10, owner=B) == []
    assert await store.delete("r1", owner=B) is False
    got = await store.get("r1", owner=A)
    assert got is not None and got.owner == A
    assert [r.id for r in await store.load_chain("r2", 10, owner=A)] == ["r2", "r1"]
    assert [r.id for r in await store.load_chain("r2", 10)] == ["r2", "r1"]  # admin: all
    assert await store.list_input_items("r1", after=None, limit=5, order="asc", owner=A)
    assert await store.delete("r1", owner=A) is True


async def test_a_chain_stops_at_another_owners_ancestor(store: SessionStore) -> None:  # noqa: F811
    await store.put(dataclasses.replace(rec("p"), owner=A))
    await store.put(dataclasses.replace(rec("c", "p"), owner=B))
    assert [r.id for r in await store.load_chain("c", 10, owner=B)] == ["c"]


async def test_records_made_with_keys_off_are_seen_only_unscoped(store: SessionStore) -> None:  # noqa: F811
    await store.put(rec("open"))
    assert await store.get("open", owner=A) is None
    assert await store.get("open") is not None


async def test_runtime_keys_are_kept_by_digest_and_revoked_by_name(store: SessionStore) -> None:  # noqa: F811
    policy = {"models": ["m*"], "limits": {"rpm": 5}, "budget": {}}
    await store.put_key(KeyRecord("svc", "ab" * 32, "ops", policy, 10))
    got = await store.get_key("ab" * 32)
    assert got == KeyRecord("svc", "ab" * 32, "ops", policy, 10, None)
    assert [k.name for k in await store.list_keys()] == ["svc"]
    assert await store.revoke_key("svc", 11) is True
    assert await store.revoke_key("svc", 12) is False  # already revoked
    revoked = await store.get_key("ab" * 32)
    assert revoked is not None and revoked.revoked_at == 11
    assert await store.get_key("cd" * 32) is None
