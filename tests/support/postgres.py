"""The real PostgreSQL the suite runs against (127.0.0.1:5432, trust auth, user postgres).

One throwaway database per run (random name, dropped at the end); each test gets a schema of
its own in it, selected through the DSN's search_path, so tests never see each other's rows.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import psycopg

SERVER = "postgresql://postgres@127.0.0.1:5432"


def admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(f"{SERVER}/postgres", autocommit=True, connect_timeout=5)


@contextmanager
def throwaway_database() -> Iterator[str]:
    name = f"godex_test_{secrets.token_hex(6)}"
    with admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        yield f"{SERVER}/{name}"
    finally:
        with admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def schema_dsn(database_url: str) -> str:
    """A fresh schema in the run's database, as a DSN whose search_path selects it."""
    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"'.encode())
    return f"{database_url}?options={quote(f'-c search_path={schema}')}"


def database_name(database_url: str) -> str:
    return database_url.rsplit("/", 1)[1].split("?")[0]
