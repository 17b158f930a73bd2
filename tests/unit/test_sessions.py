"""Session stores (SQLite, memory and PostgreSQL) and chain resolution."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from godex.cli import main
from godex.config.schema import PostgresConfig, SessionConfig
from godex.errors import GodexError
from godex.sessions.chain import chain_history, load_chain, resolve_item
from godex.sessions.factory import open_store
from godex.sessions.maintenance import prune_expired
from godex.sessions.memory import MemoryStore
from godex.sessions.postgres import PostgresStore
from godex.sessions.sqlite import SqliteStore
from godex.sessions.store import SessionStore, StoredResponse


def rec(
    rid: str, prev: str | None = None, status: str = "completed", created: int | None = None
) -> StoredResponse:
    output = [
        {
            "type": "message",
            "id": f"msg_{rid}",
            "role": "assistant",
            "content": [{"type": "output_text", "text": f"out {rid}"}],
        }
    ]
    return StoredResponse(
        id=rid,
        previous_response_id=prev,
        created_at=created if created is not None else int(time.time()),
        status=status,
        model="m",
        provider="p",
        upstream_model="u",
        input_items=[{"type": "message", "role": "user", "content": f"in {rid}"}],
        output_items=output,
        response={"id": rid, "object": "response", "output": output},
        usage=None,
        reasoning={},
    )


@pytest.fixture(params=["sqlite", "memory", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SessionStore]:
    s: SessionStore
    if request.param == "sqlite":
        s = SqliteStore(str(tmp_path / "s.db"))
    elif request.param == "postgres":
        dsn = request.getfixturevalue("pg_dsn")
        s = PostgresStore(PostgresConfig(dsn=dsn))
    else:
        s = MemoryStore()
    yield s
    await s.close()


async def test_put_get_delete_and_list(store: SessionStore) -> None:
    r = rec("r1")
    r.input_items = [{"role": "user", "type": "message", "content": str(i)} for i in range(5)]
    await store.put(r)
    got = await store.get("r1")
    assert got is not None and got.response["id"] == "r1" and got.output_items
    page = await store.list_input_items("r1", after=None, limit=2, order="asc")
    assert page is not None
    assert [i["content"][0]["text"] for i in page["data"]] == ["0", "1"] and page["has_more"]
    rest = await store.list_input_items("r1", after=page["last_id"], limit=10, order="asc")
    assert rest is not None and [i["content"][0]["text"] for i in rest["data"]] == ["2", "3", "4"]
    assert not rest["has_more"]
    desc = await store.list_input_items("r1", after=None, limit=1, order="desc")
    assert desc is not None and desc["data"][0]["content"][0]["text"] == "4"
    assert await store.list_input_items("nope", after=None, limit=1, order="asc") is None
    assert await store.count() == 1
    assert await store.delete("r1") and not await store.delete("r1")
    assert await store.get("r1") is None


async def test_prune(store: SessionStore) -> None:
    await store.put(rec("old", created=100))
    await store.put(rec("new"))
    assert await store.prune(int(time.time()) - 60) == 1
    assert await store.get("old") is None and await store.get("new") is not None


async def test_concurrent_writers(store: SessionStore) -> None:
    await store.put(rec("parent"))
    await asyncio.gather(*(store.put(rec(f"kid{i}", "parent")) for i in range(20)))
    assert await store.count() == 21
    chains = await asyncio.gather(*(load_chain(store, f"kid{i}", 10) for i in range(20)))
    assert all([c.id for c in chain] == ["parent", f"kid{i}"] for i, chain in enumerate(chains))


async def test_a_response_put_twice_in_one_batch_keeps_its_last_version(
    store: SessionStore,
) -> None:
    # The puts gathered here land in one group commit; the later one wins, as in sequence.
    first, last = rec("twice", status="in_progress"), rec("twice")
    last.replay = b'{"log": 1}'
    await asyncio.gather(store.put(rec("other")), store.put(first), store.put(last))
    got = await store.get("twice")
    assert got is not None and got.status == "completed" and got.replay == b'{"log": 1}'
    assert await store.count() == 2


async def test_chain_order_and_policy(store: SessionStore) -> None:
    await store.put(rec("a"))
    await store.put(rec("b", "a", status="failed"))
    await store.put(rec("c", "b", status="incomplete"))
    chain = await load_chain(store, "c", 10)
    texts = [
        i["content"] if isinstance(i["content"], str) else i["content"][0]["text"]
        for i in chain_history(chain)
    ]
    # A failed turn gives its input only; an incomplete one gives input and partial output.
    assert texts == ["in a", "out a", "in b", "in c", "out c"]
    assert resolve_item(chain, "msg_a") is not None and resolve_item(chain, "zzz") is None


async def test_chain_errors(store: SessionStore) -> None:
    await store.put(rec("x", "y"))
    await store.put(rec("y", "x"))
    with pytest.raises(GodexError) as cycle:
        await load_chain(store, "x", 10)
    assert cycle.value.code == "session.chain_cycle" and cycle.value.status == 400

    await store.put(rec("orphan", "deleted-parent"))
    with pytest.raises(GodexError) as broken:
        await load_chain(store, "orphan", 10)
    assert broken.value.code == "session.chain_broken" and "deleted-parent" in broken.value.message

    with pytest.raises(GodexError) as unknown:
        await load_chain(store, "ghost", 10)
    assert unknown.value.wire_code == "previous_response_not_found"
    assert unknown.value.param == "previous_response_id"

    prev = None
    for i in range(6):
        await store.put(rec(f"d{i}", prev))
        prev = f"d{i}"
    assert len(await load_chain(store, "d5", 6)) == 6
    assert [r.id for r in await store.load_chain("d5", 2)] == ["d5", "d4", "d3"]
    with pytest.raises(GodexError) as deep:
        await load_chain(store, "d5", 5)
    assert deep.value.code == "session.chain_too_deep"


async def test_stored_bytes_come_back_as_written(store: SessionStore) -> None:
    r = rec("raw")
    r.response_json = b'{"id":"raw","object":"response","output":[],"extra":"\xc3\xa9"}'
    r.replay = b"\x00\x01replay-log"
    r.reasoning = {"rs_1": "thinking"}
    await store.put(r)
    got = await store.get("raw")
    assert got is not None and got.reasoning == {"rs_1": "thinking"}
    assert got.replay == b"\x00\x01replay-log"
    if not isinstance(store, MemoryStore):  # memory keeps the record, not the encoding
        assert got.response["extra"] == "\u00e9" and got.output_items == []


async def test_sqlite_survives_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "nested" / "dir" / "s.db")
    first = SqliteStore(path)
    await first.put(rec("keep"))
    await first.close()
    second = SqliteStore(path)
    assert (await second.get("keep")) is not None
    await second.close()


async def test_sqlite_puts_wait_for_another_writer_without_blocking_the_loop(
    tmp_path: Path,
) -> None:
    # Stored responses commit on the loop's own connection when the write lock is free; when
    # another writer holds it (a second worker), the put goes to the database thread, which
    # waits for the lock while the loop goes on serving.
    import sqlite3

    path = str(tmp_path / "s.db")
    store = SqliteStore(path)
    await store.put(rec("first"))  # opens and migrates the file
    await store.put(rec("inline"))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    put = asyncio.ensure_future(store.put(rec("waits")))
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(20):
        await asyncio.sleep(0.005)
    # The loop kept its pace (a put stuck on the lock on the loop would hold it for 30 s).
    assert loop.time() - started < 2 and not put.done()
    other.execute("COMMIT")
    other.close()
    await asyncio.wait_for(put, 10)
    for rid in ("first", "inline", "waits"):
        assert (await store.get(rid)) is not None
    await store.close()
    reopened = SqliteStore(path)
    assert (await reopened.get("waits")) is not None
    await reopened.close()


async def test_sqlite_loop_connection_never_checkpoints(tmp_path: Path) -> None:
    # A checkpoint fsyncs: on the loop's connection it would stall every request for
    # milliseconds once the WAL passed 1,000 pages (SQLite's per-connection default). Only
    # the checkpointer thread checkpoints.
    store = SqliteStore(str(tmp_path / "s.db"))
    await store.put(rec("first"))  # opens and migrates the file
    await store.put(rec("inline"))  # on the loop's own connection
    writer = store._writer
    assert writer is not None
    assert writer.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    await store.close()


def test_factory_and_prune_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert open_store(SessionConfig(enabled=False)) is None
    path = tmp_path / "s.db"

    async def seed() -> None:
        s = SqliteStore(str(path))
        await s.put(rec("ancient", created=1000))
        await s.put(rec("fresh", created=int(time.time()) - 30))
        await s.close()

    asyncio.run(seed())
    cfg = SessionConfig(backend="sqlite", sqlite_path=str(path), ttl_s=86400)
    assert prune_expired(cfg) == 1
    assert prune_expired(cfg) == 0
    (tmp_path / "godex.yaml").write_text(
        f"providers: {{d: {{spec: deepseek, credentials: {{api_key: k}}}}}}\n"
        f"session: {{sqlite: {{path: {path}}}}}\n"
    )
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(main, ["sessions", "prune", "--older-than", "10s"])
    assert out.exit_code == 0, out.output
    assert "removed 1" in out.output


async def test_conversations_and_item_lookup_on_every_backend(store: SessionStore) -> None:
    """The Conversations API's store methods, and item lookup scoped by owner."""
    from godex.sessions.conversations import new_conversation_id
    from godex.sessions.store import Conversation

    conv = Conversation(new_conversation_id(), 1_700_000_000, {"topic": "x"})
    first = await store.create_conversation(conv, [{"role": "user", "content": "hi"}])
    assert [i["type"] for i in first] == ["message"] and first[0]["id"]
    added = await store.append_conversation_items(conv.id, [{"role": "user", "content": "more"}])
    assert added is not None and len(added) == 1
    items = await store.conversation_items(conv.id)
    assert items is not None and [i["id"] for i in items] == [first[0]["id"], added[0]["id"]]
    got = await store.get_conversation(conv.id)
    assert got is not None and got.metadata == {"topic": "x"}
    updated = await store.update_conversation(conv.id, {"topic": "y"})
    assert updated is not None and updated.metadata == {"topic": "y"}
    assert await store.delete_conversation_item(conv.id, first[0]["id"])
    left = await store.conversation_items(conv.id)
    assert left is not None and [i["id"] for i in left] == [added[0]["id"]]
    assert await store.delete_conversation(conv.id)
    assert await store.conversation_items(conv.id) is None
    assert (
        await store.append_conversation_items(conv.id, [{"role": "user", "content": "x"}]) is None
    )

    stored = rec("resp_items")
    stored.owner = "team:a"
    await store.put(stored)
    (out_id,) = [i["id"] for i in stored.output_items]
    assert out_id in await store.find_items([out_id, "nope"])
    assert out_id in await store.find_items([out_id], owner="team:a")
    assert await store.find_items([out_id], owner="team:b") == {}
