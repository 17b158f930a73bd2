"""The trace database: schema, migrations and connection settings."""

from __future__ import annotations

import sqlite3
from pathlib import Path

MIGRATIONS: list[str] = [
    """
    CREATE TABLE requests (
        request_id TEXT PRIMARY KEY,
        ts REAL NOT NULL,
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
        duration_ms REAL NOT NULL,
        upstream_first_byte_ms REAL,
        first_client_byte_ms REAL,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        cached_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        reasoning_tokens INTEGER NOT NULL DEFAULT 0,
        total_tokens INTEGER NOT NULL DEFAULT 0,
        event_count INTEGER NOT NULL DEFAULT 0,
        terminal_event TEXT,
        diagnostics TEXT,
        response_id TEXT
    );
    CREATE INDEX requests_ts ON requests(ts);
    CREATE INDEX requests_model ON requests(requested_model, ts);
    CREATE TABLE payloads (
        request_id TEXT PRIMARY KEY REFERENCES requests(request_id) ON DELETE CASCADE,
        request BLOB,
        response BLOB
    );
    """,
]


def connect(path: str) -> sqlite3.Connection:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        version = row[0] if row else 0
        for step in MIGRATIONS[version:]:
            for stmt in filter(str.strip, step.split(";")):
                conn.execute(stmt)
        if row is None:
            conn.execute("INSERT INTO schema_version VALUES (?)", (len(MIGRATIONS),))
        elif version < len(MIGRATIONS):
            conn.execute("UPDATE schema_version SET version = ?", (len(MIGRATIONS),))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return conn
