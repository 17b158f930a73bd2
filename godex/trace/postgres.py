"""Trace rows in PostgreSQL: the schema, and the writer thread's sink.

The sink owns one synchronous connection on the writer thread (never the event loop), writes
each batch in one transaction, and reconnects on the next batch after the server dropped it.
Retention runs on one instance at a time: the holder of the ``trace_retention`` lease.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from godex import postgres_db
from godex.config.schema import TraceConfig
from godex.logging import get_logger
from godex.trace import rollup
from godex.trace.readers import POSTGRES
from godex.trace.schema import COLUMNS, FACT

log = get_logger("godex.trace")

MIGRATIONS: list[str] = [
    """
    CREATE TABLE requests (
        request_id TEXT PRIMARY KEY,
        ts DOUBLE PRECISION NOT NULL,
        route TEXT NOT NULL,
        method TEXT NOT NULL,
        http_status INTEGER NOT NULL,
        client_key_id TEXT,
        requested_model TEXT,
        provider TEXT,
        upstream_model TEXT,
        stream INTEGER NOT NULL,
        status TEXT NOT NULL,
        error_code TEXT,
        error_message TEXT,
        upstream_message TEXT,
        duration_ms DOUBLE PRECISION NOT NULL,
        upstream_first_byte_ms DOUBLE PRECISION,
        first_client_byte_ms DOUBLE PRECISION,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        cached_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        reasoning_tokens INTEGER NOT NULL DEFAULT 0,
        total_tokens INTEGER NOT NULL DEFAULT 0,
        event_count INTEGER NOT NULL DEFAULT 0,
        terminal_event TEXT,
        diagnostics TEXT,
        response_id TEXT,
        attempts TEXT,
        team TEXT,
        cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0
    );
    CREATE INDEX requests_ts ON requests(ts);
    CREATE INDEX requests_response ON requests(response_id);
    CREATE TABLE payloads (
        request_id TEXT PRIMARY KEY REFERENCES requests(request_id) ON DELETE CASCADE,
        request BYTEA,
        response BYTEA
    );
    """,
    # The dashboard's rollup (godex/trace/rollup.py), filled from the rows already there, and
    # the index its per-key request lists use.
    "CREATE INDEX requests_client_key ON requests(client_key_id, ts);"
    + rollup.TABLES
    + ";"
    + rollup.backfill(POSTGRES),
]

_NAMES = [c.strip() for c in COLUMNS.split(",")]
# Each column's type, read from the table's definition above (every column is in it).
_DECLARED = dict(re.findall(r"^\s*(\w+) (TEXT|DOUBLE PRECISION|INTEGER)\b", MIGRATIONS[0], re.M))
_TYPES = [_DECLARED[c].lower() for c in _NAMES]
_PAYLOAD_TYPES = ("text", "bytea", "bytea")
# A batch's rows and payloads go in one statement each, one array parameter per column,
# where an executemany ran a statement per row.
_INSERT = (
    f"INSERT INTO requests ({COLUMNS}) "
    f"SELECT * FROM unnest({', '.join(f'%s::{t}[]' for t in _TYPES)}) "
    f"ON CONFLICT (request_id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in _NAMES[1:])
)
_PAYLOAD = (
    "INSERT INTO payloads SELECT * FROM unnest(%s::text[], %s::bytea[], %s::bytea[]) "
    "ON CONFLICT (request_id) DO UPDATE SET "
    "request = EXCLUDED.request, response = EXCLUDED.response"
)
_ROLLUP = rollup.upsert_sql(POSTGRES, "%s", arrays=True)
# Retention runs every minute on some instance; a lease longer than that keeps one holder.
RETENTION_LEASE_S = 180.0


def prepare(dsn: str) -> None:
    with postgres_db.connect(dsn) as conn:
        postgres_db.migrate(conn, "core", postgres_db.CORE_MIGRATIONS)
        postgres_db.migrate(conn, "traces", MIGRATIONS)


class PostgresSink:
    def __init__(self, cfg: TraceConfig) -> None:
        self.dsn = postgres_db.require_dsn(cfg.postgres.dsn, "trace.postgres.dsn")
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"
        prepare(self.dsn)
        self._conn: psycopg.Connection[Any] | None = None

    def _db(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            if self._conn is not None:
                self._conn.close()
            self._conn = postgres_db.connect(self.dsn, lazy_commit=True)
        return self._conn

    def write(self, rows: list[tuple[Any, ...]], payloads: list[tuple[Any, ...]]) -> None:
        db = self._db()
        # Pipelined: the writes and the commit go out together after the one read, two round
        # trips a batch instead of seven.
        with db.pipeline(), db.transaction(), db.cursor() as cur:
            # The rollup moves in the batch's transaction: it never disagrees with the rows.
            ids = [r[0] for r in rows]
            old = list(rollup.replaced(_select(cur), ids, "%s", arrays=True))
            cur.execute(_INSERT, postgres_db.columns(_TYPES, _last(rows)))
            if payloads:
                cur.execute(_PAYLOAD, postgres_db.columns(_PAYLOAD_TYPES, _last(payloads)))
            deltas = rollup.batch(rows, FACT, old)
            rollup.apply(cur, _ROLLUP, deltas, arrays=postgres_db.columns)

    def prune(self, before_ts: float) -> None:
        db = self._db()
        if postgres_db.take_lease(db, "trace_retention", self.holder, RETENTION_LEASE_S):
            with db.transaction():
                db.execute("DELETE FROM requests WHERE ts < %s", (before_ts,))
                for span in rollup.SPANS:
                    for sql in rollup.prune_sql("%s"):
                        db.execute(sql.encode(), (span, before_ts - span))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


def _last(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    # One statement cannot update a row twice: a request recorded twice in a batch keeps its
    # last version, as the statements run in turn did.
    return list({r[0]: r for r in rows}.values())


def _select(cur: psycopg.Cursor[Any]) -> Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]:
    def run(sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        # Planned afresh each time: a plan prepared while the table was small scans it whole,
        # and keeps doing so as it grows.
        # A list is the batch's ids: a text array, dumped without psycopg's per-element work.
        params = tuple(postgres_db.array("text", a) if isinstance(a, list) else a for a in args)
        return list(cur.execute(sql.encode(), params, prepare=False).fetchall())

    return run
