"""PostgreSQL store: stored responses every GodeX instance of a deployment shares.

psycopg 3 with its async pool serves the request path; the same driver's synchronous side
migrates the schema at start, keeps the shared secret and runs the trace writer thread, so
one driver covers both. Every call is bounded (pool wait plus statement) and any database
trouble surfaces as ``session.store_unavailable`` (503); the pool reconnects on its own.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

import msgspec
import psycopg
import psycopg_pool

from godex import postgres_db
from godex.config.schema import PostgresConfig
from godex.logging import get_logger
from godex.postgres_db import LEASE_SQL, StoreUnavailable, unavailable
from godex.sessions.conversations import Conversation, conversation_items
from godex.sessions.group_commit import GroupCommit, Row, response_row
from godex.sessions.store import KeyRecord, Order, StoredResponse, page

T = TypeVar("T")
log = get_logger("godex.sessions")
_enc = msgspec.json.Encoder().encode
_dec = msgspec.json.Decoder().decode
# A margin over statement_timeout: the server gives up first and says why.
_CLIENT_MARGIN_S = 1.0
# How long the group commit keeps one connection before handing it back to the pool.
_HOLD_S = 60.0

MIGRATIONS: list[str] = [
    """
    CREATE TABLE responses (
        id TEXT PRIMARY KEY,
        previous_response_id TEXT,
        created_at BIGINT NOT NULL,
        status TEXT NOT NULL,
        model TEXT NOT NULL,
        provider TEXT NOT NULL,
        upstream_model TEXT NOT NULL,
        input_items BYTEA NOT NULL,
        response BYTEA NOT NULL,
        reasoning BYTEA NOT NULL,
        replay BYTEA,
        owner TEXT
    );
    CREATE INDEX responses_created ON responses(created_at);
    CREATE TABLE keys (
        key_sha256 TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        team TEXT,
        policy BYTEA NOT NULL,
        created_at BIGINT NOT NULL,
        revoked_at BIGINT
    );
    CREATE INDEX keys_name ON keys(name);
    """,
    """
    CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        created_at BIGINT NOT NULL,
        metadata BYTEA NOT NULL
    );
    CREATE TABLE conversation_items (
        seq BIGSERIAL PRIMARY KEY,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        id TEXT NOT NULL,
        item BYTEA NOT NULL
    );
    CREATE INDEX conversation_items_by_conversation ON conversation_items(conversation_id, seq);
    """,
    "ALTER TABLE conversations ADD COLUMN owner TEXT",
]

_COLUMNS = (
    "id, previous_response_id, created_at, status, model, provider, upstream_model, "
    "input_items, response, reasoning, replay, owner"
)
_UPDATE = ", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS.split(", ")[1:])
_TYPES = ("text", "text", "bigint", "text", "text", "text", "text", "bytea", "bytea", "bytea",
          "bytea", "text")  # fmt: skip
# A batch is one statement of one array per column: one round trip and one commit, where an
# executemany in a transaction took three round trips and a statement per row (with the
# arrays and the held connection, the store's CPU a put at 16 in flight fell from 65 to 30 us).
_INSERT = (
    f"INSERT INTO responses ({_COLUMNS}) "
    f"SELECT * FROM unnest({', '.join(f'%s::{t}[]' for t in _TYPES)}) "
    f"ON CONFLICT (id) DO UPDATE SET {_UPDATE}"
)
# The whole chain in one round trip, nearest first; the depth bound ends a cycle and the
# caller stops at the first repeated id.
# An owner of NULL matches every record: admins, or client keys off.
_OWNED = "(%(owner)s::text IS NULL OR owner = %(owner)s::text)"
_CHAIN = f"""
WITH RECURSIVE chain(id, depth) AS (
    SELECT id, 0 FROM responses WHERE id = %(id)s AND {_OWNED}
    UNION
    SELECT r.previous_response_id, chain.depth + 1
    FROM responses r JOIN chain ON r.id = chain.id
    WHERE r.previous_response_id IS NOT NULL AND chain.depth < %(depth)s
      AND {_OWNED.replace("owner =", "r.owner =")}
)
SELECT {_COLUMNS} FROM responses JOIN chain USING (id) WHERE {_OWNED} ORDER BY chain.depth
"""
_FIND_ITEMS = f"""
SELECT item FROM responses r,
    jsonb_array_elements(convert_from(r.input_items, 'UTF8')::jsonb) AS item
WHERE item->>'id' = ANY(%(ids)s) AND {_OWNED.replace("owner =", "r.owner =")}
UNION ALL
SELECT item FROM responses r,
    jsonb_array_elements(convert_from(r.response, 'UTF8')::jsonb -> 'output') AS item
WHERE item->>'id' = ANY(%(ids)s) AND {_OWNED.replace("owner =", "r.owner =")}
"""
_KEY_COLUMNS = "key_sha256, name, team, policy, created_at, revoked_at"
_PUT_KEY = (
    f"INSERT INTO keys ({_KEY_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (key_sha256) DO UPDATE SET name = EXCLUDED.name, team = EXCLUDED.team, "
    "policy = EXCLUDED.policy, created_at = EXCLUDED.created_at, revoked_at = EXCLUDED.revoked_at"
)


def instance_id() -> str:
    """Who holds a lease: unique per process, readable in the database."""
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"


def prepare(dsn: str, timeout_s: float = 10.0) -> None:
    """Apply the core and session migrations (at start, before serving)."""
    with postgres_db.connect(dsn, timeout_s) as conn:
        postgres_db.migrate(conn, "core", postgres_db.CORE_MIGRATIONS)
        postgres_db.migrate(conn, "sessions", MIGRATIONS)


class PostgresStore:
    def __init__(self, cfg: PostgresConfig, *, migrate: bool = True) -> None:
        self.dsn = postgres_db.require_dsn(cfg.dsn, "session.postgres.dsn")
        self.timeout_s = cfg.statement_timeout_s + _CLIENT_MARGIN_S
        if migrate:
            prepare(self.dsn, max(self.timeout_s, 10.0))
        self.holder = instance_id()
        self.up = True
        self._pool = psycopg_pool.AsyncConnectionPool(
            self.dsn,
            min_size=1,
            max_size=max(1, cfg.pool_size),
            open=False,
            timeout=self.timeout_s,
            kwargs=postgres_db.connect_kwargs(self.dsn, cfg.statement_timeout_s, lazy_commit=True),
            name="godex-sessions",
        )
        self._opened = False
        self._open_lock = asyncio.Lock()
        self._commits = GroupCommit(self._insert_rows)
        self._writer: psycopg.AsyncConnection[Any] | None = None
        self._writer_until = 0.0

    async def _run(
        self,
        what: str,
        fn: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]],
        *,
        held: bool = False,
    ) -> T:
        if not self._opened:
            async with self._open_lock:  # calls racing in at start open the pool once
                if not self._opened:
                    await self._pool.open(wait=False)
                    self._opened = True
        try:
            # A timeout scope, not wait_for: that ran each call in a task of its own.
            async with asyncio.timeout(self.timeout_s):
                result = await self._attempt(fn, self._held if held else self._pool.connection)
        except StoreUnavailable:
            self._down(what)
            raise
        except (TimeoutError, psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            self._down(what)
            raise unavailable(what, exc) from exc
        if not self.up:
            log.info("session_store_up")
        self.up = True
        return result

    async def _attempt(
        self,
        fn: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]],
        connection: Callable[[], AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]],
    ) -> T:
        try:
            async with connection() as conn:
                return await fn(conn)
        except psycopg_pool.PoolTimeout:
            raise  # no connection to be had: nothing to retry on
        except psycopg.OperationalError:
            # The server dropped connections (restart, pg_terminate_backend): its siblings in
            # the pool are likely dead too. Weed them out and, every call being idempotent,
            # try once more on a fresh connection.
            await self._pool.check()
            async with connection() as conn:
                return await fn(conn)

    @asynccontextmanager
    async def _held(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """The group commit's connection, kept between its batches (they run one at a time): a
        pool checkout and return cost about 25 us a batch. It goes back to the pool, which
        checks it, after any trouble, and now and then so the pool can recycle it."""
        conn = self._writer
        now = time.monotonic()
        if conn is not None and now > self._writer_until:
            self._writer = None
            await self._pool.putconn(conn)
            conn = None
        if conn is None:
            conn = await self._pool.getconn()
            self._writer, self._writer_until = conn, now + _HOLD_S
        try:
            yield conn
        except BaseException:
            self._writer = None
            await self._pool.putconn(conn)
            raise

    def _down(self, what: str) -> None:
        if self.up:
            log.warning("session_store_down", operation=what)
        self.up = False

    async def put(self, rec: StoredResponse) -> None:
        await self._commits.put(response_row(rec))

    async def _insert_rows(self, rows: list[Row]) -> None:
        # One statement cannot update a row twice: a response put twice in a batch keeps its
        # last version, as the statements run in turn did.
        latest = list({row[0]: row for row in rows}.values())
        columns = postgres_db.columns(_TYPES, latest)

        async def run(conn: psycopg.AsyncConnection[Any]) -> None:
            await conn.execute(_INSERT, columns)

        # Held only with a connection to spare: with a pool of one, reads would wait on it.
        await self._run("put", run, held=self._pool.max_size > 1)

    async def get(self, response_id: str, *, owner: str | None = None) -> StoredResponse | None:
        async def run(conn: psycopg.AsyncConnection[Any]) -> Any:
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM responses WHERE id = %(id)s AND {_OWNED}",
                {"id": response_id, "owner": owner},
            )
            return await cur.fetchone()

        row = await self._run("get", run)
        return None if row is None else _record(row)

    async def load_chain(
        self, response_id: str, max_depth: int, *, owner: str | None = None
    ) -> list[StoredResponse]:
        async def run(conn: psycopg.AsyncConnection[Any]) -> list[Any]:
            cur = await conn.execute(
                _CHAIN, {"id": response_id, "depth": max_depth, "owner": owner}
            )
            return await cur.fetchall()

        chain: list[StoredResponse] = []
        seen: set[str] = set()
        for row in await self._run("load_chain", run):
            if row[0] in seen:
                break
            seen.add(row[0])
            chain.append(_record(row))
        return chain

    async def delete(self, response_id: str, *, owner: str | None = None) -> bool:
        async def run(conn: psycopg.AsyncConnection[Any]) -> int:
            cur = await conn.execute(
                f"DELETE FROM responses WHERE id = %(id)s AND {_OWNED}",
                {"id": response_id, "owner": owner},
            )
            return cur.rowcount

        return await self._run("delete", run) > 0

    async def list_input_items(
        self,
        response_id: str,
        *,
        after: str | None,
        limit: int,
        order: Order,
        owner: str | None = None,
    ) -> dict[str, Any] | None:
        async def run(conn: psycopg.AsyncConnection[Any]) -> Any:
            cur = await conn.execute(
                f"SELECT input_items FROM responses WHERE id = %(id)s AND {_OWNED}",
                {"id": response_id, "owner": owner},
            )
            return await cur.fetchone()

        row = await self._run("list_input_items", run)
        return None if row is None else page(_dec(row[0]), after, limit, order)

    async def put_key(self, rec: KeyRecord) -> None:
        row = (rec.key_sha256, rec.name, rec.team, _enc(rec.policy), rec.created_at,
               rec.revoked_at)  # fmt: skip

        async def run(conn: psycopg.AsyncConnection[Any]) -> None:
            await conn.execute(_PUT_KEY, row)

        await self._run("put_key", run)

    async def get_key(self, key_sha256: str) -> KeyRecord | None:
        async def run(conn: psycopg.AsyncConnection[Any]) -> Any:
            cur = await conn.execute(
                f"SELECT {_KEY_COLUMNS} FROM keys WHERE key_sha256 = %s", (key_sha256,)
            )
            return await cur.fetchone()

        row = await self._run("get_key", run)
        return None if row is None else _key(row)

    async def list_keys(self) -> list[KeyRecord]:
        async def run(conn: psycopg.AsyncConnection[Any]) -> list[Any]:
            cur = await conn.execute(f"SELECT {_KEY_COLUMNS} FROM keys ORDER BY created_at, name")
            return await cur.fetchall()

        return [_key(r) for r in await self._run("list_keys", run)]

    async def revoke_key(self, name: str, revoked_at: int) -> bool:
        async def run(conn: psycopg.AsyncConnection[Any]) -> int:
            cur = await conn.execute(
                "UPDATE keys SET revoked_at = %s WHERE name = %s AND revoked_at IS NULL",
                (revoked_at, name),
            )
            return cur.rowcount

        return await self._run("revoke_key", run) > 0

    async def find_items(
        self, item_ids: list[str], *, owner: str | None = None
    ) -> dict[str, dict[str, Any]]:
        if not item_ids:
            return {}

        async def run(conn: psycopg.AsyncConnection[Any]) -> list[Any]:
            cur = await conn.execute(_FIND_ITEMS, {"ids": list(item_ids), "owner": owner})
            return await cur.fetchall()

        found: dict[str, dict[str, Any]] = {}
        for (item,) in await self._run("find_items", run):
            if isinstance(item, dict) and item.get("type") != "item_reference":
                found[item["id"]] = item  # outputs come last and win
        return found

    # -- conversations ------------------------------------------------------------------------
    async def create_conversation(
        self, conv: Conversation, items: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        stored = conversation_items(items)

        async def run(conn: psycopg.AsyncConnection[Any]) -> None:
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO conversations (id, created_at, metadata, owner) "
                    "VALUES (%s, %s, %s, %s)",
                    (conv.id, conv.created_at, _enc(conv.metadata), conv.owner),
                )
                await _add_items(conn, conv.id, stored)

        await self._run("create_conversation", run)
        return stored

    async def get_conversation(self, conv_id: str) -> Conversation | None:
        async def run(conn: psycopg.AsyncConnection[Any]) -> Any:
            cur = await conn.execute(
                "SELECT id, created_at, metadata, owner FROM conversations WHERE id = %s",
                (conv_id,),
            )
            return await cur.fetchone()

        row = await self._run("get_conversation", run)
        return None if row is None else Conversation(row[0], row[1], _dec(row[2]), row[3])

    async def update_conversation(
        self, conv_id: str, metadata: dict[str, Any]
    ) -> Conversation | None:
        async def run(conn: psycopg.AsyncConnection[Any]) -> None:
            await conn.execute(
                "UPDATE conversations SET metadata = %s WHERE id = %s", (_enc(metadata), conv_id)
            )

        await self._run("update_conversation", run)
        return await self.get_conversation(conv_id)

    async def delete_conversation(self, conv_id: str) -> bool:
        async def run(conn: psycopg.AsyncConnection[Any]) -> int:
            cur = await conn.execute("DELETE FROM conversations WHERE id = %s", (conv_id,))
            return cur.rowcount

        return await self._run("delete_conversation", run) > 0

    async def append_conversation_items(
        self, conv_id: str, items: list[dict[str, Any]]
    ) -> list[dict[str, Any]] | None:
        stored = conversation_items(items)

        async def run(conn: psycopg.AsyncConnection[Any]) -> bool:
            async with conn.transaction():
                cur = await conn.execute(
                    "SELECT 1 FROM conversations WHERE id = %s FOR UPDATE", (conv_id,)
                )
                if await cur.fetchone() is None:
                    return False
                await _add_items(conn, conv_id, stored)
            return True

        return stored if await self._run("append_conversation_items", run) else None

    async def conversation_items(self, conv_id: str) -> list[dict[str, Any]] | None:
        async def run(conn: psycopg.AsyncConnection[Any]) -> list[Any] | None:
            cur = await conn.execute("SELECT 1 FROM conversations WHERE id = %s", (conv_id,))
            if await cur.fetchone() is None:
                return None
            cur = await conn.execute(
                "SELECT item FROM conversation_items WHERE conversation_id = %s ORDER BY seq",
                (conv_id,),
            )
            return [_dec(r[0]) for r in await cur.fetchall()]

        return await self._run("conversation_items", run)

    async def delete_conversation_item(self, conv_id: str, item_id: str) -> bool:
        async def run(conn: psycopg.AsyncConnection[Any]) -> int:
            cur = await conn.execute(
                "DELETE FROM conversation_items WHERE conversation_id = %s AND id = %s",
                (conv_id, item_id),
            )
            return cur.rowcount

        return await self._run("delete_conversation_item", run) > 0

    async def prune(self, before_ts: int) -> int:
        async def run(conn: psycopg.AsyncConnection[Any]) -> int:
            cur = await conn.execute("DELETE FROM responses WHERE created_at < %s", (before_ts,))
            return cur.rowcount

        return int(await self._run("prune", run))

    async def count(self) -> int:
        async def run(conn: psycopg.AsyncConnection[Any]) -> Any:
            cur = await conn.execute("SELECT COUNT(*) FROM responses")
            return await cur.fetchone()

        row = await self._run("count", run)
        return int(row[0])

    async def lead(self, task: str, ttl_s: float) -> bool:
        """Hold the lease on ``task`` for ``ttl_s``: only its holder runs it (one pruner)."""

        async def run(conn: psycopg.AsyncConnection[Any]) -> Any:
            cur = await conn.execute(LEASE_SQL, {"name": task, "holder": self.holder, "ttl": ttl_s})
            return await cur.fetchone()

        return await self._run("lead", run) is not None

    async def ping(self) -> bool:
        async def run(conn: psycopg.AsyncConnection[Any]) -> None:
            await conn.execute("SELECT 1")

        try:
            await self._run("ping", run)
        except StoreUnavailable:
            return False
        return True

    async def close(self) -> None:
        if self._writer is not None:
            await self._pool.putconn(self._writer)
            self._writer = None
        if self._opened:
            await self._pool.close()


def _record(row: tuple[Any, ...]) -> StoredResponse:
    response = _dec(row[8])
    return StoredResponse(
        id=row[0],
        previous_response_id=row[1],
        created_at=int(row[2]),
        status=row[3],
        model=row[4],
        provider=row[5],
        upstream_model=row[6],
        input_items=_dec(row[7]),
        output_items=response.get("output") or [],
        response=response,
        usage=response.get("usage"),
        reasoning=_dec(row[9]),
        replay=None if row[10] is None else bytes(row[10]),
        owner=row[11],
    )


def _key(row: tuple[Any, ...]) -> KeyRecord:
    return KeyRecord(
        key_sha256=row[0], name=row[1], team=row[2], policy=_dec(row[3]),
        created_at=int(row[4]), revoked_at=None if row[5] is None else int(row[5]),
    )  # fmt: skip


async def _add_items(
    conn: psycopg.AsyncConnection[Any], conv_id: str, items: list[dict[str, Any]]
) -> None:
    if items:
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO conversation_items (conversation_id, id, item) VALUES (%s, %s, %s)",
                [(conv_id, item["id"], _enc(item)) for item in items],
            )
