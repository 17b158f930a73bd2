"""PostgreSQL plumbing GodeX's shared backends have in common: connections, versioned
migrations under an advisory lock, the shared sealing secret and leases.

Synchronous on purpose: it runs at start (before the event loop serves anything), in the CLI
and on the trace writer thread. The async session store reuses the SQL text.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import repeat
from typing import Any

import psycopg
from psycopg.adapt import AdaptersMap, Dumper
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import Format

from godex.errors import ConfigError, SessionError

# One advisory lock key for every migration: instances that start together take turns, the
# first migrates and the others find the work done.
MIGRATION_LOCK = 0x60DE7_0001
# A component's migrations move its schema one version up each; never edit a shipped entry.
CORE_MIGRATIONS: list[str] = [
    """
    CREATE TABLE godex_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE godex_leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL
    );
    """,
]
# Take the lease when it is free, expired, or already ours; RETURNING says whether we hold it.
LEASE_SQL = """
INSERT INTO godex_leases (name, holder, expires_at)
VALUES (%(name)s, %(holder)s, now() + make_interval(secs => %(ttl)s))
ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
WHERE godex_leases.expires_at < now() OR godex_leases.holder = EXCLUDED.holder
RETURNING holder
"""


class Array:
    """A one-dimensional array parameter already in PostgreSQL's binary form (see ``array``);
    a wrapper, not a bytes subclass, so a batch's payload is not copied again to build it."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class _ArrayDumper(Dumper):
    format = Format.BINARY

    def dump(self, obj: Any) -> bytes:
        data: bytes = obj.data
        return data


def _array_type(name: str, oid: int) -> type[Array]:
    kind = type(name, (Array,), {"__slots__": ()})
    ADAPTERS.register_dumper(kind, type(f"{name}Dumper", (_ArrayDumper,), {"oid": oid}))
    return kind


# The connections of GodeX's stores dump ``Array`` values as they are: psycopg's generic list
# dumper inspects and dumps each element in Python, about 7 us a column of a four-row batch (a
# stored response's batch has 12 columns, a trace batch's rows 29).
ADAPTERS = AdaptersMap(psycopg.adapters)
_I32 = struct.Struct("!i")
_SIZE = _I32.pack
_NULL = _I32.pack(-1)
_HEADER = struct.Struct("!iiIii")  # dimensions, has nulls, element oid, length, lower bound
_EMPTY = struct.Struct("!iiI")
_FIXED = {"integer": struct.Struct("!ii"), "bigint": struct.Struct("!iq"),
          "double precision": struct.Struct("!id")}  # fmt: skip
_CAST: dict[str, Callable[[Any], Any]] = {"integer": int, "bigint": int, "double precision": float}
# name -> (element oid, array type)
_ELEMENTS: dict[str, tuple[int, type[Array]]] = {
    "text": (25, _array_type("TextArray", 1009)),
    "bytea": (17, _array_type("ByteaArray", 1001)),
    "integer": (23, _array_type("Int4Array", 1007)),
    "bigint": (20, _array_type("Int8Array", 1016)),
    "double precision": (701, _array_type("Float8Array", 1022)),
}
ARRAY_TYPES = frozenset(_ELEMENTS)


def array(sql_type: str, values: Iterable[Any]) -> Array:
    """``values`` (None for NULL) as a ``sql_type[]`` parameter; ``sql_type`` one of
    ``ARRAY_TYPES``. Comprehensions, not a call per element: this runs per column a batch."""
    items = list(values)
    if len(items) == 1:  # a batch of one row, the usual put at low load
        return one(sql_type, items[0])
    return encoded(sql_type, items)


def encoded(sql_type: str, items: list[Any]) -> Array:
    """``array``'s general path, for any number of elements."""
    elem_oid, kind = _ELEMENTS[sql_type]
    if not items:
        return kind(_EMPTY.pack(0, 0, elem_oid))
    nulls = None in items
    if nulls and items.count(None) == len(items):  # a column no row of the batch has
        return kind(_HEADER.pack(1, 1, elem_oid, len(items), 1) + _NULL * len(items))
    fixed = _FIXED.get(sql_type)
    if fixed is not None:
        width, pack = fixed.size - 4, fixed.pack
        try:
            body = _fixed(items, pack, width, nulls)
        except struct.error:  # a float for an integer column, say: as the server would cast
            cast = _CAST[sql_type]
            body = _fixed([v if v is None else cast(v) for v in items], pack, width, nulls)
        return kind(b"".join((_HEADER.pack(1, nulls, elem_oid, len(items), 1), *body)))
    data: list[Any] = items
    if sql_type == "text":
        data = [v if v is None else (v if type(v) is str else str(v)).encode() for v in items]
    parts: list[Any] = [b""] * (2 * len(data))
    if nulls:
        parts[0::2] = [_NULL if d is None else _SIZE(len(d)) for d in data]
        parts[1::2] = [b"" if d is None else d for d in data]
    else:
        parts[0::2] = map(_SIZE, map(len, data))
        parts[1::2] = data
    return kind(b"".join((_HEADER.pack(1, nulls, elem_oid, len(items), 1), *parts)))


# A one-element array's header, per element type: (value present, NULL). A batch of one row is
# the usual put at low load, and this path builds it in about half of ``array``'s time.
_ONE: dict[str, tuple[bytes, bytes]] = {
    name: (_HEADER.pack(1, 0, oid, 1, 1), _HEADER.pack(1, 1, oid, 1, 1) + _NULL)
    for name, (oid, _kind) in _ELEMENTS.items()
}


def one(sql_type: str, value: Any) -> Array:
    """``encoded(sql_type, [value])``, the same bytes, from a ready header."""
    kind = _ELEMENTS[sql_type][1]
    head, null = _ONE[sql_type]
    if value is None:
        return kind(null)
    fixed = _FIXED.get(sql_type)
    if fixed is not None:
        try:
            return kind(head + fixed.pack(fixed.size - 4, value))
        except struct.error:
            return kind(head + fixed.pack(fixed.size - 4, _CAST[sql_type](value)))
    if sql_type == "text":
        value = (value if type(value) is str else str(value)).encode()
    return kind(b"".join((head, _SIZE(len(value)), value)))


def _fixed(items: list[Any], pack: Callable[..., bytes], width: int, nulls: bool) -> list[bytes]:
    if nulls:
        return [_NULL if v is None else pack(width, v) for v in items]
    return list(map(pack, repeat(width), items))


def columns(sql_types: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[Array]:
    """Rows as one array parameter per column, for ``unnest``."""
    if not rows:
        return [array(t, ()) for t in sql_types]
    return [array(t, col) for t, col in zip(sql_types, zip(*rows, strict=True), strict=True)]


class StoreUnavailable(SessionError):
    """The shared store cannot be reached or did not answer in time: retry later."""

    status = 503


def unavailable(what: str, exc: BaseException | None = None) -> StoreUnavailable:
    # The driver's message names host and port at most, never the password; keep only its class.
    cause = f" ({type(exc).__name__})" if exc is not None else ""
    return StoreUnavailable(
        f"the session store is unavailable: {what}{cause}; retry shortly",
        code="session.store_unavailable",
        type="server_error",
    )


def require_dsn(dsn: str | None, key: str) -> str:
    if not dsn:
        raise ConfigError(f"{key} is required for the postgres backend", code="config.invalid")
    return dsn


def connect_kwargs(
    dsn: str, statement_timeout_s: float, *, lazy_commit: bool = False
) -> dict[str, Any]:
    """Connection settings GodeX adds to ``dsn``: they join any ``options`` the DSN already
    has (a search_path, say) instead of replacing them.

    ``lazy_commit``: no wait for the WAL flush at each commit (``synchronous_commit=off``), the
    guarantee the SQLite backend gives (WAL, ``synchronous=NORMAL``): a server crash may lose
    the last fraction of a second of writes, never consistency. Stored responses and traces
    take it; the schema and the secret do not.
    """
    given = conninfo_to_dict(dsn).get("options") or ""
    extra = f"-c statement_timeout={int(statement_timeout_s * 1000)}"
    if lazy_commit:
        extra += " -c synchronous_commit=off"
    return {
        "autocommit": True,
        "context": ADAPTERS,
        "connect_timeout": max(1, int(statement_timeout_s)),
        "options": f"{given} {extra}".strip(),
    }


def connect(
    dsn: str, timeout_s: float = 10.0, *, lazy_commit: bool = False
) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(dsn, **connect_kwargs(dsn, timeout_s, lazy_commit=lazy_commit))
    except psycopg.Error as exc:
        raise unavailable("cannot connect to PostgreSQL", exc) from exc


def _statements(step: str) -> list[str]:
    return [s for s in (part.strip() for part in step.split(";")) if s]


def migrate(conn: psycopg.Connection[Any], component: str, migrations: Sequence[str]) -> int:
    """Bring ``component`` to ``len(migrations)``; returns the number of steps applied."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS godex_schema "
            "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
        )
        row = conn.execute(
            "SELECT version FROM godex_schema WHERE component = %s", (component,)
        ).fetchone()
        version = int(row[0]) if row else 0
        if version > len(migrations):
            raise ConfigError(
                f"the {component} schema in PostgreSQL is version {version}, newer than this "
                f"GodeX knows ({len(migrations)}): upgrade GodeX",
                code="config.schema_too_new",
            )
        for step in migrations[version:]:
            for stmt in _statements(step):
                conn.execute(stmt.encode())
        conn.execute(
            "INSERT INTO godex_schema VALUES (%s, %s) "
            "ON CONFLICT (component) DO UPDATE SET version = EXCLUDED.version",
            (component, len(migrations)),
        )
    return len(migrations) - version


def status(conn: psycopg.Connection[Any], known: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """The applied version of each known component (0: never migrated)."""
    exists = conn.execute("SELECT to_regclass('godex_schema')").fetchone()
    applied: dict[str, int] = {}
    if exists and exists[0] is not None:
        applied = {
            str(c): int(v) for c, v in conn.execute("SELECT component, version FROM godex_schema")
        }
    return {name: applied.get(name, 0) for name in known}


def _fingerprint(secret: bytes) -> str:
    # A keyed hash, so the stored value says nothing useful about the secret itself.
    return hmac.new(secret, b"godex.server.secret", hashlib.sha256).hexdigest()


def shared_secret(conn: psycopg.Connection[Any], configured: str | None) -> bytes:
    """The sealing secret every instance on this database uses.

    Not configured: one is created once (the first INSERT wins) and read back by everyone.
    Either way the fingerprint of the secret in use is recorded once, and an instance whose
    secret does not match it is refused: blobs it sealed would not open elsewhere.
    """
    if configured:
        value = configured.encode()
    else:
        conn.execute(
            "INSERT INTO godex_meta VALUES ('secret', %s) ON CONFLICT DO NOTHING",
            (secrets.token_hex(32),),
        )
        found = conn.execute("SELECT value FROM godex_meta WHERE key = 'secret'").fetchone()
        assert found is not None  # inserted just above or by another instance
        value = str(found[0]).encode()
    mine = _fingerprint(value)
    conn.execute(
        "INSERT INTO godex_meta VALUES ('secret_fingerprint', %s) ON CONFLICT DO NOTHING", (mine,)
    )
    row = conn.execute("SELECT value FROM godex_meta WHERE key = 'secret_fingerprint'").fetchone()
    if row is None or not hmac.compare_digest(str(row[0]), mine):
        raise ConfigError(
            "server.secret differs from the secret the other GodeX instances on this database "
            "use: blobs sealed by one would not open on the other. Give every instance the "
            "same server.secret (or none, to share the one kept in the database).",
            code="config.secret_mismatch",
        )
    return value


def take_lease(conn: psycopg.Connection[Any], name: str, holder: str, ttl_s: float) -> bool:
    row = conn.execute(LEASE_SQL, {"name": name, "holder": holder, "ttl": ttl_s}).fetchone()
    return row is not None
