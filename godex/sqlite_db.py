"""SQLite connections for GodeX's own databases (sessions, traces).

WAL so several worker processes can share one file, ``synchronous=NORMAL`` (durable at every
checkpoint, no fsync per commit), and a ``schema_version`` table with append-only migrations
applied under an immediate transaction, so one process migrates while the others wait.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path


def connect(path: str, migrations: Sequence[str]) -> sqlite3.Connection:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA foreign_keys=ON")
    migrate(conn, migrations)
    return conn


def migrate(conn: sqlite3.Connection, migrations: Sequence[str]) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        version = row[0] if row else 0
        for step in migrations[version:]:
            for stmt in filter(str.strip, step.split(";")):
                conn.execute(stmt)
        if row is None:
            conn.execute("INSERT INTO schema_version VALUES (?)", (len(migrations),))
        elif version < len(migrations):
            conn.execute("UPDATE schema_version SET version = ?", (len(migrations),))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
