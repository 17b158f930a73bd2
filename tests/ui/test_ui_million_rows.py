"""The overview over a trace table of a million rows, on SQLite and on PostgreSQL: every range
(an hour, a day, a week, the whole month, a custom one) under 500 ms, read from the rollup.

Each database is loaded the way an existing deployment's is upgraded: a million requests in
the schema from before the rollup, then the migration that adds the rollup and fills it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import pytest

from godex import postgres_db, sqlite_db
from godex.trace import overview
from godex.trace.postgres import MIGRATIONS as PG_MIGRATIONS
from godex.trace.postgres import prepare
from godex.trace.query import page_of_requests, request_of
from godex.trace.readers import Reader, open_reader
from godex.trace.schema import MIGRATIONS, ROLLUP_VERSION, connect
from tests.support.postgres import schema_dsn

ROWS = 1_000_000
SPAN_S = 30 * 86400  # a month of traffic, about 33,000 requests a day
_PAIRS = [("ds", "deepseek-v4-pro"), ("ds", "deepseek-v4-flash"), ("glm", "glm-5"), ("mm", "m2")]
_ATTEMPTS_OK = '[{"provider": "ds", "model": "m", "outcome": "served"}]'
_ATTEMPTS_FO = (
    '[{"provider": "ds", "model": "m", "outcome": "failed_over"},'
    ' {"provider": "glm", "model": "glm-5", "outcome": "served"}]'
)
_COLUMNS = (
    "request_id, ts, route, method, http_status, client_key_id, requested_model, provider,"
    " upstream_model, stream, status, error_code, duration_ms, first_client_byte_ms,"
    " input_tokens, cached_tokens, output_tokens, reasoning_tokens, attempts, response_id"
)
# (name, seconds before now it starts, seconds it lasts); the custom one ends inside the data.
RANGES = [
    ("last-hour", 3600, 3600 + 1),
    ("last-day", 86400, 86400 + 1),
    ("last-week", 7 * 86400, 7 * 86400 + 1),
    ("full-month", SPAN_S + 60, SPAN_S + 61),
    ("custom", 19 * 86400 + 4321.5, 11 * 86400 + 7777.25),
]


def _rows(now: float) -> Iterator[tuple[object, ...]]:
    start = now - SPAN_S
    for i in range(ROWS):
        prov, model = _PAIRS[i % 4]
        err = i % 37 == 0
        duration = 200.0 + (i * 7919) % 9000
        yield (
            f"req_{i:09d}",
            start + i * SPAN_S / ROWS,
            "responses.create",
            "POST",
            502 if err else 200,
            f"key_{i % 25:012d}",
            "gpt-5.5",
            prov,
            model,
            1,
            "error" if err else "completed",
            "provider.upstream_error" if err else None,
            duration,
            duration / 4,
            1000 + i % 5000,
            i % 3000,
            50 + i % 700,
            i % 90,
            _ATTEMPTS_FO if i % 101 == 0 else _ATTEMPTS_OK,
            f"resp_{i:09d}",
        )


# The same rows, made by PostgreSQL itself (far faster than sending a million over the wire);
# `%%` is the modulo operator in a query with parameters.
_PG_LOAD = f"""
INSERT INTO requests ({_COLUMNS})
SELECT 'req_' || lpad(i::text, 9, '0'), %(start)s + i * {SPAN_S}.0 / {ROWS}, 'responses.create',
    'POST', CASE WHEN i %% 37 = 0 THEN 502 ELSE 200 END, 'key_' || lpad((i %% 25)::text, 12, '0'),
    'gpt-5.5', (ARRAY['ds', 'ds', 'glm', 'mm'])[i %% 4 + 1],
    (ARRAY['deepseek-v4-pro', 'deepseek-v4-flash', 'glm-5', 'm2'])[i %% 4 + 1], 1,
    CASE WHEN i %% 37 = 0 THEN 'error' ELSE 'completed' END,
    CASE WHEN i %% 37 = 0 THEN 'provider.upstream_error' END,
    200.0 + (i * 7919) %% 9000, (200.0 + (i * 7919) %% 9000) / 4, 1000 + i %% 5000, i %% 3000,
    50 + i %% 700, i %% 90, CASE WHEN i %% 101 = 0 THEN %(fo)s ELSE %(ok)s END,
    'resp_' || lpad(i::text, 9, '0')
FROM generate_series(0::bigint, {ROWS - 1}) AS i
"""


@pytest.fixture(scope="module")
def sqlite_million(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Reader, float]]:
    path = str(tmp_path_factory.mktemp("million") / "trace.db")
    now = time.time()
    db = sqlite_db.connect(path, MIGRATIONS[: ROLLUP_VERSION - 1])  # before the rollup
    db.execute("PRAGMA synchronous=OFF")
    db.execute("BEGIN")
    db.executemany(f"INSERT INTO requests ({_COLUMNS}) VALUES ({', '.join('?' * 20)})", _rows(now))
    db.execute("COMMIT")
    db.close()
    connect(path).close()  # the upgrade: the rollup migration fills it from the million rows
    db = sqlite3.connect(path)
    db.execute("ANALYZE")
    db.close()
    reader = open_reader(path)
    yield reader, now
    reader.close()


@pytest.fixture(scope="module")
def postgres_million(pg_database: str) -> Iterator[tuple[Reader, float]]:
    dsn = schema_dsn(pg_database)
    now = time.time()
    with postgres_db.connect(dsn, 120) as conn:
        postgres_db.migrate(conn, "core", postgres_db.CORE_MIGRATIONS)
        postgres_db.migrate(conn, "traces", PG_MIGRATIONS[:1])  # before the rollup
        conn.execute(
            _PG_LOAD.encode(), {"start": now - SPAN_S, "fo": _ATTEMPTS_FO, "ok": _ATTEMPTS_OK}
        )
    prepare(dsn)  # the upgrade: the rollup migration fills it from the million rows
    with postgres_db.connect(dsn, 120) as conn:
        conn.execute("VACUUM ANALYZE requests")
        conn.execute("VACUUM ANALYZE trace_rollup")
        conn.execute("VACUUM ANALYZE trace_latency")
    reader = open_reader(dsn)
    yield reader, now
    reader.close()


@pytest.fixture(params=["sqlite", "postgres"])
def million(request: pytest.FixtureRequest) -> tuple[Reader, float]:
    found: tuple[Reader, float] = request.getfixturevalue(f"{request.param}_million")
    return found


def _timed(reader: Reader, since: float, until: float) -> tuple[float, dict[str, Any]]:
    overview.overview(reader, since, until)  # a warm cache, as on a serving gateway
    best = float("inf")
    out: dict[str, Any] = {}
    for _ in range(3):
        t0 = time.perf_counter()
        out = overview.overview(reader, since, until)
        best = min(best, time.perf_counter() - t0)
    return best * 1000, out


def _expected(now: float, since: float, until: float) -> int:
    """How many of the generated rows fall in [since, until)."""
    start = now - SPAN_S
    first = max(0, int((since - start) * ROWS / SPAN_S) - 2)
    last = min(ROWS, int((until - start) * ROWS / SPAN_S) + 2)
    return sum(1 for i in range(first, last) if since <= start + i * SPAN_S / ROWS < until)


@pytest.mark.timeout(600)
@pytest.mark.parametrize(("name", "ago", "length"), RANGES, ids=[r[0] for r in RANGES])
def test_the_overview_of_a_million_row_table_takes_under_500_ms(
    million: tuple[Reader, float], name: str, ago: float, length: float
) -> None:
    reader, now = million
    since, until = now - ago, now - ago + length
    elapsed_ms, out = _timed(reader, since, until)
    series = out["series"]
    want = _expected(now, since, until)
    assert sum(p["n"] for p in series) == want
    assert sum(k["n"] for k in out["by_key"]) == want and len(out["by_key"]) == 25
    by_model = out["by_model"]
    assert len(by_model) == 4
    assert all(m["latency_p95_ms"] >= m["latency_p50_ms"] > 0 for m in by_model)
    assert all(m["ttfb_p95_ms"] >= m["ttfb_p50_ms"] > 0 for m in by_model)
    assert sum(f["count"] for f in out["failovers"]) in range(want // 101, want // 101 + 2)
    print(f"{reader.dialect.name} {name}: {elapsed_ms:.1f} ms")
    assert elapsed_ms < 500, f"overview of {name} took {elapsed_ms:.0f} ms"


@pytest.mark.timeout(600)
def test_the_rollup_answers_what_the_rows_answer(million: tuple[Reader, float]) -> None:
    """Over a day of the million (reading the rows themselves takes a while longer)."""
    reader, now = million
    since, until = now - 86400 - 1234.5, now - 3 * 3600 + 17.25
    fast = overview.overview(reader, since, until, use_rollup=True)
    slow = overview.overview(reader, since, until, use_rollup=False)
    for name in ("series", "by_key", "by_model", "failovers"):
        assert fast[name] == slow[name], name


def test_the_overview_reads_the_rollup_by_its_key(
    sqlite_million: tuple[Reader, float],
) -> None:
    reader, now = sqlite_million
    plans = [
        " ".join(str(c) for c in row.values())
        for table in ("trace_rollup", "trace_latency")
        for row in reader.rows(
            f"EXPLAIN QUERY PLAN SELECT SUM(n) FROM {table} WHERE span = ? AND t >= ? AND t < ?",
            (3600, int(now) - 86400, int(now)),
        )
    ]
    assert all("SEARCH" in p and "span=? AND t>? AND t<?" in p for p in plans), plans


def test_a_filtered_page_of_requests_is_quick(million: tuple[Reader, float]) -> None:
    reader, _ = million
    t0 = time.perf_counter()
    page = page_of_requests(
        reader,
        filters={"key": "key_000000000003", "status": "error"},
        since=None,
        until=None,
        text=None,
        limit=50,
        offset=0,
    )
    elapsed_ms = (time.perf_counter() - t0) * 1000
    assert len(page["items"]) == 50 and page["more"]
    assert all(i["client_key_id"] == "key_000000000003" for i in page["items"])
    assert elapsed_ms < 500


def test_a_request_page_is_quick(million: tuple[Reader, float]) -> None:
    reader, _ = million
    for rid, found in (
        ("req_000500000", True),
        ("resp_000400000", True),
        ("resp_not_traced", False),
    ):
        t0 = time.perf_counter()
        page = request_of(reader, rid)
        elapsed_ms = (time.perf_counter() - t0) * 1000
        assert (page is not None) is found
        assert elapsed_ms < 50, f"{rid}: {elapsed_ms:.0f} ms"
