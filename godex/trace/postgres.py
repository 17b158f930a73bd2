"""Trace rows in PostgreSQL: the schema, and the writer thread's sink.

The sink owns one synchronous connection on the writer thread (never the event loop), writes
each batch in one transaction, and reconnects on the next batch after the server dropped it.
Retention runs on one instance at a time: the holder of the ``trace_retention`` lease.
"""

from __future__ import annotations

import os
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
_INSERT = (
    f"INSERT INTO requests ({COLUMNS}) VALUES ({', '.join(['%s'] * len(_NAMES))}) "
    f"ON CONFLICT (request_id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in _NAMES[1:])
)
_PAYLOAD = (
    "INSERT INTO payloads VALUES (%s, %s, %s) ON CONFLICT (request_id) DO UPDATE SET "
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
        with db.transaction(), db.cursor() as cur:
            # The rollup moves in the batch's transaction: it never disagrees with the rows.
            ids = [r[0] for r in rows]
            old = list(rollup.replaced(_select(cur), ids, "%s", arrays=True))
            cur.executemany(_INSERT, rows)
            if payloads:
                cur.executemany(_PAYLOAD, payloads)
            rollup.apply(cur, _ROLLUP, rollup.batch(rows, FACT, old), arrays=True)

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


def _select(cur: psycopg.Cursor[Any]) -> Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]:
    def run(sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        # Planned afresh each time: a plan prepared while the table was small scans it whole,
        # and keeps doing so as it grows.
        return list(cur.execute(sql.encode(), tuple(args), prepare=False).fetchall())

    return run
