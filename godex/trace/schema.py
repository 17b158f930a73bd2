"""The trace database: schema, migrations and connection settings."""

from __future__ import annotations

import sqlite3
from operator import itemgetter

from godex import sqlite_db
from godex.trace import rollup
from godex.trace.readers import SQLITE

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
    CREATE TABLE payloads (
        request_id TEXT PRIMARY KEY REFERENCES requests(request_id) ON DELETE CASCADE,
        request BLOB,
        response BLOB
    );
    """,
    "ALTER TABLE requests ADD COLUMN attempts TEXT",
    # The client key's name (client_key_id) and team, and the request's estimated cost.
    """
    ALTER TABLE requests ADD COLUMN team TEXT;
    ALTER TABLE requests ADD COLUMN cost_usd REAL NOT NULL DEFAULT 0;
    """,
    # (Superseded by the rollup below.) The dashboard's overview: every column it aggregates, so a
    # time range is read from the index alone; failovers from a partial index of the few rows
    # that had one. Check with EXPLAIN QUERY PLAN ("COVERING INDEX requests_overview").
    """
    CREATE INDEX requests_overview ON requests(ts, provider, upstream_model, client_key_id,
        status, input_tokens, cached_tokens, output_tokens, reasoning_tokens, duration_ms,
        first_client_byte_ms, cost_usd);
    CREATE INDEX requests_failovers ON requests(ts, provider, upstream_model)
        WHERE attempts LIKE '%failed_over%';
    CREATE INDEX requests_client_key ON requests(client_key_id, ts)
    """,
    # The overview reads the rollup (godex/trace/rollup.py), filled here from the rows already
    # in the table; the covering indexes only cost every write from now on. A request's page
    # looks it up by request or response id: without the second index that is a full scan.
    "DROP INDEX requests_overview; DROP INDEX requests_failovers; "
    "CREATE INDEX requests_response ON requests(response_id); "
    + rollup.TABLES
    + ";"
    + rollup.backfill(SQLITE),
]
# The schema version from which the writer keeps the rollup (the migration above).
ROLLUP_VERSION = len(MIGRATIONS)

COLUMNS = (
    "request_id, ts, route, method, http_status, client_key_id, requested_model, provider, "
    "upstream_model, stream, status, error_code, error_message, upstream_message, duration_ms, "
    "upstream_first_byte_ms, first_client_byte_ms, input_tokens, cached_tokens, output_tokens, "
    "reasoning_tokens, total_tokens, event_count, terminal_event, diagnostics, response_id, "
    "attempts, team, cost_usd"
)

_NAMES = [c.strip() for c in COLUMNS.split(",")]
# A row as the writer inserts it (COLUMNS order) -> what it adds to the rollup (rollup.Fact).
FACT = itemgetter(*(_NAMES.index(c.strip()) for c in rollup.FACT_COLUMNS.split(",")))


def connect(path: str) -> sqlite3.Connection:
    return sqlite_db.connect(path, MIGRATIONS)
