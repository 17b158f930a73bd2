"""The trace rollup on SQLite and PostgreSQL: rows written through the real recorder land in
it (replaced rows counted once), the overview read from it equals the overview read from the
rows, pruning keeps them agreeing, and the migration's backfill builds what the writer builds."""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from godex import postgres_db, sqlite_db
from godex.config.schema import TraceConfig, TracePostgresConfig
from godex.trace import overview, rollup
from godex.trace.postgres import MIGRATIONS as PG_MIGRATIONS
from godex.trace.postgres import PostgresSink
from godex.trace.readers import Reader, open_reader, reading
from godex.trace.record import TraceRecord
from godex.trace.recorder import SqliteSink, TraceRecorder, TraceSink, _row
from godex.trace.schema import COLUMNS, MIGRATIONS, ROLLUP_VERSION
from tests.support.postgres import schema_dsn

DAY = 86400


def _record(i: int, now: float, rng: random.Random, **changes: Any) -> TraceRecord:
    failed_over = rng.random() < 0.1
    rec = TraceRecord(
        request_id=f"req_{i}",
        ts=now - rng.random() * 12 * DAY,
        route="responses.create",
        method="POST",
        http_status=200,
        client_key_id=rng.choice([None, "alice", "bob", "carol"]),
        requested_model="gpt-5.5",
        provider=rng.choice([None, "ds", "glm"]),
        upstream_model=rng.choice(["m1", "m2"]),
        stream=rng.random() < 0.5,
        status=rng.choice(["completed", "completed", "failed", "incomplete"]),
        error_code=None,
        error_message=None,
        upstream_message=None,
        duration_ms=rng.choice([rng.random() * 150, rng.random() * 5000, rng.random() * 90_000]),
        upstream_first_byte_ms=None,
        first_client_byte_ms=rng.choice([None, rng.random() * 3000]),
        input_tokens=rng.randint(0, 5000),
        cached_tokens=rng.randint(0, 100),
        output_tokens=rng.randint(0, 900),
        reasoning_tokens=rng.randint(0, 90),
        total_tokens=rng.randint(0, 6000),
        attempts=[{"outcome": "failed_over"}, {"outcome": "served"}]
        if failed_over
        else [{"outcome": "served"}],
        cost_usd=rng.random() / 100,
    )
    return dataclasses.replace(rec, **changes)


@pytest.fixture(params=["sqlite", "postgres"])
def trace_cfg(request: pytest.FixtureRequest, tmp_path: Path) -> TraceConfig:
    if request.param == "sqlite":
        return TraceConfig(
            path=str(tmp_path / "trace.db"), flush_interval_ms=10, batch_size=50, retention_s=None
        )
    dsn: str = request.getfixturevalue("pg_dsn")
    return TraceConfig(
        backend="postgres",
        postgres=TracePostgresConfig(dsn=dsn),
        flush_interval_ms=10,
        batch_size=50,
        retention_s=None,  # the pruning test prunes on its own
    )


def _source(cfg: TraceConfig) -> str:
    return cfg.postgres.dsn if cfg.backend == "postgres" and cfg.postgres.dsn else cfg.path


@pytest.fixture
def recorded(trace_cfg: TraceConfig) -> Iterator[tuple[TraceConfig, Reader, float]]:
    """600 requests through the real recorder, 40 of them recorded again with new values."""
    now = time.time()
    rng = random.Random(23)
    recorder = TraceRecorder(trace_cfg)
    recorder.start()
    for i in range(600):
        recorder.record(_record(i, now, rng))
    for i in range(0, 400, 10):
        recorder.record(_record(i, now, rng, provider="ds", status="failed"))
    recorder.stop()
    assert recorder.written == 640 and recorder.dropped == 0
    reader = open_reader(_source(trace_cfg))
    yield trace_cfg, reader, now
    reader.close()


def _ranges(now: float) -> list[tuple[float, float]]:
    return [
        (now - 3600, now + 1),
        (now - DAY, now + 1),
        (now - 7 * DAY, now + 1),
        (now - 30 * DAY, now + 1),
        (now - 9 * DAY - 4321.5, now - 2 * DAY + 77.25),
        (now - 5 * DAY - 1234.5, now - 5 * DAY + 60.0),
    ]


def _same(reader: Reader, since: float, until: float) -> None:
    fast = overview.overview(reader, since, until, use_rollup=True)
    slow = overview.overview(reader, since, until, use_rollup=False)
    assert fast == slow, (since, until)


def test_recorded_rows_land_in_the_rollup_once_each(
    recorded: tuple[TraceConfig, Reader, float],
) -> None:
    _, reader, _ = recorded
    for span in rollup.SPANS:
        (row,) = reader.rows(
            "SELECT CAST(SUM(n) AS BIGINT) AS n, CAST(SUM(failovers) AS BIGINT) AS f"
            " FROM trace_rollup WHERE span = ?",
            (span,),
        )
        (want,) = reader.rows(
            "SELECT COUNT(*) AS n, CAST(SUM(CASE WHEN attempts LIKE '%failed_over%' THEN 1"
            " ELSE 0 END) AS BIGINT) AS f FROM requests"
        )
        assert row == want == {"n": 600, "f": want["f"]}, span
    for span in rollup.LATENCY_SPANS:
        (row,) = reader.rows(
            "SELECT CAST(SUM(n) AS BIGINT) AS n FROM trace_latency WHERE span = ? AND kind = 'd'",
            (span,),
        )
        assert row["n"] == 600
    # The replaced requests count as what they became.
    (ds_failed,) = reader.rows(
        "SELECT CAST(SUM(errors) AS BIGINT) AS e FROM trace_rollup"
        " WHERE span = 86400 AND provider = 'ds'"
    )
    (raw,) = reader.rows(
        "SELECT COUNT(*) AS e FROM requests WHERE provider = 'ds' AND status <> 'completed'"
    )
    assert ds_failed["e"] == raw["e"] >= 40


def test_the_overview_from_the_rollup_is_the_overview_from_the_rows(
    recorded: tuple[TraceConfig, Reader, float],
) -> None:
    _, reader, now = recorded
    for since, until in _ranges(now):
        _same(reader, since, until)
    fast = overview.usage_by_key(reader, now - 30 * DAY, now + 1, use_rollup=True)
    slow = overview.usage_by_key(reader, now - 30 * DAY, now + 1, use_rollup=False)
    assert fast == slow and sum(u["n"] for u in fast.values()) == 600


def _sink(cfg: TraceConfig) -> TraceSink:
    return PostgresSink(cfg) if cfg.backend == "postgres" else SqliteSink(cfg.path)


def test_pruned_buckets_leave_the_rollup_agreeing_with_the_rows(
    recorded: tuple[TraceConfig, Reader, float],
) -> None:
    cfg, reader, now = recorded
    sink = _sink(cfg)
    try:
        sink.prune(now - 6 * DAY)
    finally:
        sink.close()
    (left,) = reader.rows("SELECT MIN(t) AS t FROM trace_rollup")
    assert left["t"] >= now - 6 * DAY - DAY
    # Every bucket of the range starts after the cutoff.
    _same(reader, now - 4 * DAY - 17.5, now + 1)


def _rollup_rows(reader: Reader) -> list[dict[str, Any]]:
    rows = reader.rows(
        "SELECT span, t, provider, upstream_model, client_key_id, n, errors, input_tokens,"
        " cached_tokens, output_tokens, reasoning_tokens, total_tokens, failovers, last_ts,"
        " cost_usd FROM trace_rollup ORDER BY 1, 2, 3, 4, 5"
    )
    for r in rows:
        r["cost_usd"] = round(r["cost_usd"], 9)
    return rows + reader.rows("SELECT * FROM trace_latency ORDER BY 1, 2, 3, 4, 5, 6")


def test_the_migration_backfills_what_the_writer_keeps(
    trace_cfg: TraceConfig, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    now = time.time()
    rng = random.Random(5)
    rows = [_row(_record(i, now, rng)) for i in range(300)]
    written = _sink(trace_cfg)  # the writer keeps the rollup, batch by batch
    try:
        for i in range(0, 300, 7):
            written.write(rows[i : i + 7], [])
    finally:
        written.close()
    # The same rows in a database from before the rollup, then upgraded.
    if trace_cfg.backend == "sqlite":
        upgraded = str(tmp_path / "old.db")
        db = sqlite_db.connect(upgraded, MIGRATIONS[: ROLLUP_VERSION - 1])
        db.executemany(f"INSERT INTO requests ({COLUMNS}) VALUES ({_marks('?')})", rows)
        sqlite_db.migrate(db, MIGRATIONS)
        db.close()
    else:
        upgraded = schema_dsn(request.getfixturevalue("pg_database"))
        with postgres_db.connect(upgraded) as conn:
            postgres_db.migrate(conn, "core", postgres_db.CORE_MIGRATIONS)
            postgres_db.migrate(conn, "traces", PG_MIGRATIONS[:1])
            with conn.cursor() as cur:
                cur.executemany(f"INSERT INTO requests ({COLUMNS}) VALUES ({_marks('%s')})", rows)
            postgres_db.migrate(conn, "traces", PG_MIGRATIONS)
    with reading(_source(trace_cfg)) as by_writer, reading(upgraded) as by_migration:
        assert _rollup_rows(by_writer) == _rollup_rows(by_migration)


def _marks(placeholder: str) -> str:
    return ", ".join([placeholder] * len(COLUMNS.split(",")))


@given(
    lo=st.floats(0, 1e7, allow_nan=False),
    length=st.floats(0, 1e7, allow_nan=False),
    step=st.sampled_from([60, 300, 1800, 3600, 10800, 86400, 604800]),
)
def test_a_range_is_covered_exactly_by_buckets_that_fit_in_it(
    lo: float, length: float, step: int
) -> None:
    spans = tuple(s for s in rollup.SPANS if step % s == 0)
    segments = overview.cover(lo, lo + length, spans)
    edge = lo
    for span, a, b in segments:
        assert a == edge and b > a
        if span is not None:
            assert a % span == 0 and b % span == 0
        edge = b
    assert edge == (lo + length if length > 0 else lo)


_NOW = 1_800_000_000.0


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    offsets=st.lists(st.floats(0, 3 * DAY), min_size=1, max_size=60),
    seed=st.integers(0, 2**16),
    since=st.floats(0, 3.5 * DAY),
    length=st.floats(1, 3.5 * DAY),
)
def test_any_range_reads_the_same_from_the_rollup_as_from_the_rows(
    tmp_path_factory: pytest.TempPathFactory,
    offsets: list[float],
    seed: int,
    since: float,
    length: float,
) -> None:
    rng = random.Random(seed)
    path = str(tmp_path_factory.mktemp("any") / "trace.db")
    sink = SqliteSink(path)
    try:
        records = [_record(i, _NOW, rng, ts=_NOW - off) for i, off in enumerate(offsets)]
        sink.write([_row(r) for r in records], [])
    finally:
        sink.close()
    with reading(path) as reader:
        _same(reader, _NOW - since, _NOW - since + length)
