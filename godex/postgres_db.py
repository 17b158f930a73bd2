"""PostgreSQL plumbing GodeX's shared backends have in common: connections, versioned
migrations under an advisory lock, the shared sealing secret and leases.

Synchronous on purpose: it runs at start (before the event loop serves anything), in the CLI
and on the trace writer thread. The async session store reuses the SQL text.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

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
