"""Open the configured session store."""

from __future__ import annotations

from godex.config.schema import SessionConfig
from godex.errors import ConfigError
from godex.sessions.memory import MemoryStore
from godex.sessions.sqlite import SqliteStore
from godex.sessions.store import SessionStore


def open_store(cfg: SessionConfig) -> SessionStore | None:
    if not cfg.enabled:
        return None
    if cfg.backend == "memory":
        return MemoryStore()
    if cfg.backend == "sqlite":
        return SqliteStore(cfg.sqlite_path)
    if cfg.backend == "postgres":
        # Imported here: a SQLite deployment never loads the PostgreSQL driver.
        from godex.sessions.postgres import PostgresStore

        return PostgresStore(cfg.postgres)
    raise ConfigError(f"session.backend: unknown backend {cfg.backend!r}", code="config.invalid")
