"""Readers of the trace database, SQLite or PostgreSQL, behind one small interface.

Queries are written once with ``?`` placeholders; where the two dialects differ (flooring a
float, finding bytes in a blob, the larger of two values) the query asks its reader's
``dialect`` for the fragment, so every difference lives here.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from godex.config.schema import TraceConfig
from godex.errors import GodexError, NotFoundError


class TraceUnavailable(GodexError):
    """The trace database did not answer (PostgreSQL down, a broken connection)."""

    status = 503
    code = "trace.unavailable"


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    greatest: str  # the two-argument maximum: SQLite's scalar MAX, PostgreSQL's GREATEST
    _floor: str
    _contains: str
    _has_table: str

    def floor(self, expr: str) -> str:
        """``expr`` (non-negative) rounded down to an integer."""
        return self._floor.format(expr)

    def contains(self, column: str) -> str:
        """True when the blob ``column`` holds the bytes of the next parameter."""
        return self._contains.format(column)

    def has_table(self) -> str:
        """A query with one row when the table named by the parameter exists."""
        return self._has_table


SQLITE = Dialect(
    "sqlite",
    greatest="MAX",
    _floor="CAST({} AS INTEGER)",  # truncates; the values floored here are never negative
    _contains="instr({}, ?) > 0",
    _has_table="SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = ?",
)
POSTGRES = Dialect(
    "postgres",
    greatest="GREATEST",
    _floor="CAST(floor({}) AS BIGINT)",  # a plain CAST would round, not floor
    _contains="position(? in {}) > 0",
    _has_table="SELECT 1 AS found WHERE to_regclass(?) IS NOT NULL",
)


class Reader(Protocol):
    @property
    def dialect(self) -> Dialect: ...
    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]: ...
    def close(self) -> None: ...


class SqliteReader:
    dialect = SQLITE

    def __init__(self, path: str) -> None:
        if not Path(path).is_file():
            raise NotFoundError(f"no trace database at {path}", code="server.trace_db_missing")
        # Shared across executor threads by SharedReader, which serialises the calls.
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self.db.row_factory = sqlite3.Row

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.execute(sql, tuple(args))]

    def close(self) -> None:
        self.db.close()


class PostgresReader:
    dialect = POSTGRES

    def __init__(self, dsn: str) -> None:
        from godex import postgres_db  # only a postgres deployment loads the driver

        try:
            self.db = postgres_db.connect(dsn)
        except postgres_db.StoreUnavailable as exc:
            raise TraceUnavailable("the trace database is unavailable: cannot connect") from exc

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        import psycopg

        # Queries hold '?' only as placeholders; a literal '%' (LIKE) must be doubled.
        text = sql.replace("%", "%%").replace("?", "%s")
        try:
            cur = self.db.execute(text.encode(), tuple(args))
        except psycopg.Error as exc:
            # The driver's message may name host and port, never the password; keep its class.
            raise TraceUnavailable(
                f"the trace database did not answer ({type(exc).__name__})"
            ) from exc
        names = [d.name for d in cur.description or ()]
        return [{**dict(zip(names, row, strict=True)), **_bytes(names, row)} for row in cur]

    def close(self) -> None:
        self.db.close()


def _bytes(names: list[str], row: Sequence[Any]) -> dict[str, Any]:
    # BYTEA arrives as memoryview; the readers agree on bytes.
    return {n: bytes(v) for n, v in zip(names, row, strict=True) if isinstance(v, memoryview)}


def is_dsn(source: str) -> bool:
    return source.startswith(("postgres://", "postgresql://"))


def source_of(cfg: TraceConfig) -> str:
    """Where a deployment's traces are: the PostgreSQL URL or the SQLite path."""
    if cfg.backend == "postgres" and cfg.postgres.dsn:
        return cfg.postgres.dsn
    return cfg.path


def open_reader(source: str) -> Reader:
    """``source``: a SQLite file, or a PostgreSQL URL (``trace.backend: postgres``)."""
    return PostgresReader(source) if is_dsn(source) else SqliteReader(source)


@contextmanager
def reading(source: str) -> Iterator[Reader]:
    reader = open_reader(source)
    try:
        yield reader
    finally:
        reader.close()


class SharedReader:
    """One connection per process for the dashboard, opened on first use and again after a
    failure, so a chart costs a query, not a connection. Calls come from executor threads and
    take turns on the connection."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.dialect = POSTGRES if is_dsn(source) else SQLITE
        self._lock = threading.Lock()
        self._reader: Reader | None = None

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            if self._reader is None:
                self._reader = open_reader(self.source)
            try:
                return self._reader.rows(sql, args)
            except Exception:
                # A dropped server or a file replaced under us: reconnect on the next call.
                self._reader.close()
                self._reader = None
                raise

    def close(self) -> None:
        with self._lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
