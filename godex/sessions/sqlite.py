"""SQLite store: WAL mode, versioned schema, all I/O on one dedicated thread.

The event loop never touches the database: every call is a job for the one thread that owns
the connection (``db_thread``). WAL lets several worker processes share one file.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from godex.background_thread import yield_to_the_loop
from godex.sessions.conversations import Conversation, conversation_items
from godex.sessions.db_thread import DbThread
from godex.sessions.group_commit import GroupCommit, Row, response_row
from godex.sessions.store import KeyRecord, Order, StoredResponse, page
from godex.sqlite_db import connect

T = TypeVar("T")
_enc = msgspec.json.Encoder().encode
_dec = msgspec.json.Decoder().decode

# Each entry moves the schema one version up; never edit a shipped entry, append a new one.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE responses (
        id TEXT PRIMARY KEY,
        previous_response_id TEXT,
        created_at INTEGER NOT NULL,
        status TEXT NOT NULL,
        model TEXT NOT NULL,
        provider TEXT NOT NULL,
        upstream_model TEXT NOT NULL,
        input_items BLOB NOT NULL,
        response BLOB NOT NULL,
        reasoning BLOB NOT NULL
    );
    CREATE INDEX responses_created ON responses(created_at);
    """,
    "ALTER TABLE responses ADD COLUMN replay BLOB",
    """
    ALTER TABLE responses ADD COLUMN owner TEXT;
    CREATE TABLE keys (
        key_sha256 TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        team TEXT,
        policy BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
    );
    CREATE INDEX keys_name ON keys(name);
    """,
    """
    CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL,
        metadata BLOB NOT NULL
    );
    CREATE TABLE conversation_items (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        id TEXT NOT NULL,
        item BLOB NOT NULL
    );
    CREATE INDEX conversation_items_by_conversation ON conversation_items(conversation_id, seq);
    """,
    "ALTER TABLE conversations ADD COLUMN owner TEXT",
]

_COLUMNS = (
    "id, previous_response_id, created_at, status, model, provider, upstream_model, "
    "input_items, response, reasoning, replay, owner"
)
_INSERT = f"INSERT OR REPLACE INTO responses ({_COLUMNS}) VALUES ({','.join('?' * 12)})"
# An owner of NULL (?2) matches every record: admins, or client keys off.
_OWNED = "(?2 IS NULL OR owner = ?2)"
_FIND_ITEMS = """
SELECT item.value FROM responses, json_each(CAST(responses.input_items AS TEXT)) AS item
WHERE json_extract(item.value, '$.id') IN (SELECT value FROM json_each(?1))
    AND (?2 IS NULL OR responses.owner = ?2)
UNION ALL
SELECT item.value FROM responses, json_each(CAST(responses.response AS TEXT), '$.output') AS item
WHERE json_extract(item.value, '$.id') IN (SELECT value FROM json_each(?1))
    AND (?2 IS NULL OR responses.owner = ?2)
"""
# The whole chain in one query: walk previous_response_id links, nearest first. The depth
# bound ends the walk (a cycle included); the caller stops at the first repeated id.
_CHAIN = f"""
WITH RECURSIVE chain(id, depth) AS (
    SELECT id, 0 FROM responses WHERE id = ?1 AND {_OWNED}
    UNION
    SELECT r.previous_response_id, chain.depth + 1
    FROM responses r JOIN chain ON r.id = chain.id
    WHERE r.previous_response_id IS NOT NULL AND chain.depth < ?3
      AND {_OWNED.replace("owner", "r.owner")}
)
SELECT {_COLUMNS} FROM responses JOIN chain USING (id) WHERE {_OWNED} ORDER BY chain.depth
"""

# Items by id across every stored response (a scan: references without previous_response_id
# are rare next to chain loads, and a scan needs no schema change).


CHECKPOINT_INTERVAL_S = 1.0


def open_db(path: str) -> sqlite3.Connection:
    return connect(path, MIGRATIONS)


class SqliteStore:
    def __init__(self, path: str) -> None:
        self.path = path
        self._thread = DbThread("godex-sessions")
        self._conn: sqlite3.Connection | None = None
        self._writer: sqlite3.Connection | None = None  # the loop thread's, for stored responses
        # Group commit: puts that arrive while a write is in flight go out together in the
        # next transaction, so under load a thread hand-off is paid per batch, not per request.
        self._commits = GroupCommit(self._insert_rows)
        self._closing = threading.Event()
        self._checkpointer: threading.Thread | None = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = open_db(self.path)
            # Checkpoints fsync the database: run them on a thread of their own, never on the
            # commit a request is waiting for (that was the p99 of every stored request).
            conn.execute("PRAGMA wal_autocheckpoint=0")
            self._conn = conn
            self._checkpointer = threading.Thread(
                target=self._checkpoint_loop, name="godex-sessions-checkpoint", daemon=True
            )
            self._checkpointer.start()
        return self._conn

    def _checkpoint_loop(self) -> None:
        yield_to_the_loop()
        conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        try:
            while not self._closing.wait(CHECKPOINT_INTERVAL_S):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:
                    continue  # busy or locked: the next round catches up
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass
        finally:
            conn.close()

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._thread.run(lambda: fn(self._db()))

    async def put(self, rec: StoredResponse) -> None:
        await self._commits.put(response_row(rec))

    async def _insert_rows(self, rows: list[Row]) -> None:
        # On the loop's own connection when the write lock is free (the usual case): a commit
        # here is a few write() calls into the page cache (checkpoints, which fsync, run on
        # their own thread), cheaper than the hand-off to the database thread and back, which
        # cost 50 µs of CPU a single put (123 -> 73 µs measured; 30 -> 24 µs with 16 at once).
        # Another writer holding the lock (a second worker, the thread's own writes) sends the
        # batch to the thread, which waits for the lock as before.
        if self._insert_here(rows):
            return
        await self._run(functools.partial(_insert, rows=rows))

    def _insert_here(self, rows: list[Row]) -> bool:
        db = self._writer
        if db is None:
            if self._conn is None:
                return False  # the thread's connection migrates the file first
            db = self._writer = sqlite3.connect(self.path, isolation_level=None)
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=0")  # never wait for the lock on the loop
            # Per connection: without it, a commit here past 1,000 WAL pages would run the
            # checkpoint (and its fsync) on the loop, the p99 the checkpointer thread is for.
            db.execute("PRAGMA wal_autocheckpoint=0")
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return False  # busy: the thread waits for it
        _insert(db, rows=rows, begun=True)
        return True

    async def get(self, response_id: str, *, owner: str | None = None) -> StoredResponse | None:
        row = await self._run(
            lambda db: db.execute(
                f"SELECT {_COLUMNS} FROM responses WHERE id = ?1 AND {_OWNED}",
                (response_id, owner),
            ).fetchone()
        )
        return None if row is None else _record(row)

    async def load_chain(
        self, response_id: str, max_depth: int, *, owner: str | None = None
    ) -> list[StoredResponse]:
        rows = await self._run(
            lambda db: db.execute(_CHAIN, (response_id, owner, max_depth)).fetchall()
        )
        chain: list[StoredResponse] = []
        seen: set[str] = set()
        for row in rows:
            if row[0] in seen:
                break
            seen.add(row[0])
            chain.append(_record(row))
        return chain

    async def delete(self, response_id: str, *, owner: str | None = None) -> bool:
        cur = await self._run(
            lambda db: db.execute(
                f"DELETE FROM responses WHERE id = ?1 AND {_OWNED}", (response_id, owner)
            )
        )
        return cur.rowcount > 0

    async def list_input_items(
        self,
        response_id: str,
        *,
        after: str | None,
        limit: int,
        order: Order,
        owner: str | None = None,
    ) -> dict[str, Any] | None:
        row = await self._run(
            lambda db: db.execute(
                f"SELECT input_items FROM responses WHERE id = ?1 AND {_OWNED}",
                (response_id, owner),
            ).fetchone()
        )
        return None if row is None else page(_dec(row[0]), after, limit, order)

    async def put_key(self, rec: KeyRecord) -> None:
        row = (rec.key_sha256, rec.name, rec.team, _enc(rec.policy), rec.created_at,
               rec.revoked_at)  # fmt: skip
        await self._run(
            lambda db: db.execute(
                f"INSERT OR REPLACE INTO keys ({_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)", row
            )
        )

    async def get_key(self, key_sha256: str) -> KeyRecord | None:
        row = await self._run(
            lambda db: db.execute(
                f"SELECT {_KEY_COLUMNS} FROM keys WHERE key_sha256 = ?", (key_sha256,)
            ).fetchone()
        )
        return None if row is None else _key(row)

    async def list_keys(self) -> list[KeyRecord]:
        rows = await self._run(
            lambda db: db.execute(
                f"SELECT {_KEY_COLUMNS} FROM keys ORDER BY created_at, name"
            ).fetchall()
        )
        return [_key(r) for r in rows]

    async def revoke_key(self, name: str, revoked_at: int) -> bool:
        cur = await self._run(
            lambda db: db.execute(
                "UPDATE keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                (revoked_at, name),
            )
        )
        return cur.rowcount > 0

    async def find_items(
        self, item_ids: list[str], *, owner: str | None = None
    ) -> dict[str, dict[str, Any]]:
        if not item_ids:
            return {}
        wanted = _enc(item_ids).decode()
        rows = await self._run(lambda db: db.execute(_FIND_ITEMS, (wanted, owner)).fetchall())
        found: dict[str, dict[str, Any]] = {}
        for (raw,) in rows:
            item = _dec(raw)
            if isinstance(item, dict) and item.get("type") != "item_reference":
                found[item["id"]] = item  # outputs come last and win
        return found

    # -- conversations ------------------------------------------------------------------------
    async def create_conversation(
        self, conv: Conversation, items: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        stored = conversation_items(items)

        def write(db: sqlite3.Connection) -> None:
            db.execute("BEGIN")
            try:
                db.execute(
                    "INSERT INTO conversations (id, created_at, metadata, owner) "
                    "VALUES (?, ?, ?, ?)",
                    (conv.id, conv.created_at, _enc(conv.metadata), conv.owner),
                )
                _add_items(db, conv.id, stored)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

        await self._run(write)
        return stored

    async def get_conversation(self, conv_id: str) -> Conversation | None:
        row = await self._run(
            lambda db: db.execute(
                "SELECT id, created_at, metadata, owner FROM conversations WHERE id = ?",
                (conv_id,),
            ).fetchone()
        )
        return None if row is None else Conversation(row[0], row[1], _dec(row[2]), row[3])

    async def update_conversation(
        self, conv_id: str, metadata: dict[str, Any]
    ) -> Conversation | None:
        await self._run(
            lambda db: db.execute(
                "UPDATE conversations SET metadata = ? WHERE id = ?", (_enc(metadata), conv_id)
            )
        )
        return await self.get_conversation(conv_id)

    async def delete_conversation(self, conv_id: str) -> bool:
        cur = await self._run(
            lambda db: db.execute("DELETE FROM conversations WHERE id = ?", (conv_id,))
        )
        return cur.rowcount > 0

    async def append_conversation_items(
        self, conv_id: str, items: list[dict[str, Any]]
    ) -> list[dict[str, Any]] | None:
        stored = conversation_items(items)

        def write(db: sqlite3.Connection) -> bool:
            db.execute("BEGIN")
            try:
                found = db.execute("SELECT 1 FROM conversations WHERE id = ?", (conv_id,))
                if found.fetchone() is None:
                    db.execute("ROLLBACK")
                    return False
                _add_items(db, conv_id, stored)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return True

        return stored if await self._run(write) else None

    async def conversation_items(self, conv_id: str) -> list[dict[str, Any]] | None:
        def read(db: sqlite3.Connection) -> list[dict[str, Any]] | None:
            if (
                db.execute("SELECT 1 FROM conversations WHERE id = ?", (conv_id,)).fetchone()
                is None
            ):
                return None
            rows = db.execute(
                "SELECT item FROM conversation_items WHERE conversation_id = ? ORDER BY seq",
                (conv_id,),
            ).fetchall()
            return [_dec(r[0]) for r in rows]

        return await self._run(read)

    async def delete_conversation_item(self, conv_id: str, item_id: str) -> bool:
        cur = await self._run(
            lambda db: db.execute(
                "DELETE FROM conversation_items WHERE conversation_id = ? AND id = ?",
                (conv_id, item_id),
            )
        )
        return cur.rowcount > 0

    async def prune(self, before_ts: int) -> int:
        cur = await self._run(
            lambda db: db.execute("DELETE FROM responses WHERE created_at < ?", (before_ts,))
        )
        return int(cur.rowcount)

    async def count(self) -> int:
        row = await self._run(lambda db: db.execute("SELECT COUNT(*) FROM responses").fetchone())
        return int(row[0])

    async def lead(self, task: str, ttl_s: float) -> bool:
        return True  # a local store has one host's instances on it; each may prune

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        def shut(db: sqlite3.Connection) -> None:
            db.close()
            self._conn = None

        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._conn is not None:
            await self._run(shut)
        await asyncio.get_running_loop().run_in_executor(None, self._thread.close)
        self._closing.set()
        if self._checkpointer is not None:
            self._checkpointer.join(10)


def _insert(db: sqlite3.Connection, *, rows: list[tuple[Any, ...]], begun: bool = False) -> None:
    """The rows in one transaction; ``begun``: the caller has opened it (to take the lock)."""
    if not begun:
        db.execute("BEGIN")
    try:
        db.executemany(_INSERT, rows)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _add_items(db: sqlite3.Connection, conv_id: str, items: list[dict[str, Any]]) -> None:
    db.executemany(
        "INSERT INTO conversation_items (conversation_id, id, item) VALUES (?, ?, ?)",
        [(conv_id, item["id"], _enc(item)) for item in items],
    )


def _record(row: tuple[Any, ...]) -> StoredResponse:
    response = _dec(row[8])
    # Output and usage live inside the stored Response; they are not stored twice.
    return StoredResponse(
        id=row[0],
        previous_response_id=row[1],
        created_at=row[2],
        status=row[3],
        model=row[4],
        provider=row[5],
        upstream_model=row[6],
        input_items=_dec(row[7]),
        output_items=response.get("output") or [],
        response=response,
        usage=response.get("usage"),
        reasoning=_dec(row[9]),
        replay=row[10],
        owner=row[11],
    )


_KEY_COLUMNS = "key_sha256, name, team, policy, created_at, revoked_at"


def _key(row: tuple[Any, ...]) -> KeyRecord:
    return KeyRecord(
        key_sha256=row[0], name=row[1], team=row[2], policy=_dec(row[3]),
        created_at=row[4], revoked_at=row[5],
    )  # fmt: skip
