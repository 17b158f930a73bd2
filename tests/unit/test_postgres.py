"""The PostgreSQL backend against a real server: migrations, the shared secret, the prune
lease, failure as a typed 503, recovery, and trace rows written, read and pruned."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from godex import postgres_db
from godex.cli import main
from godex.config.schema import (
    GodexConfig,
    PostgresConfig,
    ServerConfig,
    SessionConfig,
    TraceConfig,
    TracePostgresConfig,
)
from godex.errors import ConfigError, GodexError
from godex.gateway.wiring import load_secret
from godex.sessions.postgres import MIGRATIONS, PostgresStore, prepare
from godex.trace import query
from godex.trace.postgres import MIGRATIONS as TRACE_MIGRATIONS
from godex.trace.record import TraceRecord
from godex.trace.recorder import TraceRecorder
from tests.unit.test_sessions import rec


def shared(dsn: str, secret: str | None = None, data_dir: str = "./data") -> GodexConfig:
    return GodexConfig(
        server=ServerConfig(secret=secret, data_dir=data_dir),
        session=SessionConfig(backend="postgres", postgres=PostgresConfig(dsn=dsn)),
    )


def test_instances_starting_together_migrate_once(pg_dsn: str) -> None:
    errors: list[BaseException] = []
    go = threading.Barrier(6)

    def start() -> None:
        go.wait()
        try:
            prepare(pg_dsn)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with postgres_db.connect(pg_dsn) as conn:
        versions = postgres_db.status(conn, {"core": [], "sessions": MIGRATIONS})
        assert versions == {"core": len(postgres_db.CORE_MIGRATIONS), "sessions": len(MIGRATIONS)}
        assert postgres_db.migrate(conn, "sessions", MIGRATIONS) == 0  # nothing left to apply


def test_db_status_and_migrate_commands(pg_dsn: str, tmp_path: Path) -> None:
    cfg = tmp_path / "godex.yaml"
    cfg.write_text(
        "providers: {d: {spec: deepseek, credentials: {api_key: k}}}\n"
        f"session: {{backend: postgres, postgres: {{dsn: '{pg_dsn}'}}}}\n"
        f"trace: {{backend: postgres, postgres: {{dsn: '{pg_dsn}'}}}}\n"
    )
    before = CliRunner().invoke(main, ["db", "status", "--config", str(cfg)])
    pending = f"sessions: version 0 of {len(MIGRATIONS)} (PENDING)"
    assert before.exit_code == 1 and pending in before.output
    done = CliRunner().invoke(main, ["db", "migrate", "--config", str(cfg)])
    assert done.exit_code == 0, done.output
    traces = len(TRACE_MIGRATIONS)
    assert f"traces: version {traces} ({traces} applied)" in done.output
    after = CliRunner().invoke(main, ["db", "status", "--config", str(cfg)])
    assert after.exit_code == 0 and "PENDING" not in after.output
    assert "postgres" in CliRunner().invoke(main, ["config", "check", "--config", str(cfg)]).output


def test_db_commands_need_a_postgres_backend(tmp_path: Path) -> None:
    cfg = tmp_path / "godex.yaml"
    cfg.write_text("providers: {d: {spec: deepseek, credentials: {api_key: k}}}\n")
    out = CliRunner().invoke(main, ["db", "status", "--config", str(cfg)])
    assert out.exit_code == 1 and "no PostgreSQL backend configured" in out.output


def test_instances_share_one_generated_secret(pg_dsn: str, tmp_path: Path) -> None:
    first = load_secret(shared(pg_dsn, data_dir=str(tmp_path / "a")))
    second = load_secret(shared(pg_dsn, data_dir=str(tmp_path / "b")))
    assert first == second and len(first) == 64
    assert not (tmp_path / "a" / "secret").exists()  # kept in the database, not a file


def test_a_different_configured_secret_is_refused(pg_dsn: str) -> None:
    assert load_secret(shared(pg_dsn, "team-secret")) == b"team-secret"
    assert load_secret(shared(pg_dsn, "team-secret")) == b"team-secret"
    with pytest.raises(ConfigError) as refused:
        load_secret(shared(pg_dsn, "other-secret"))
    assert refused.value.code == "config.secret_mismatch"
    assert "other-secret" not in refused.value.message and "team-secret" not in str(refused.value)
    with pytest.raises(ConfigError):  # nor may one fall back to a generated secret
        load_secret(shared(pg_dsn))
    with psycopg.connect(pg_dsn) as conn:
        stored = [str(v) for (v,) in conn.execute("SELECT value FROM godex_meta")]
    assert all("team-secret" not in v for v in stored)  # only a keyed fingerprint is kept


async def test_one_instance_holds_the_prune_lease(pg_dsn: str) -> None:
    a, b = PostgresStore(PostgresConfig(dsn=pg_dsn)), PostgresStore(PostgresConfig(dsn=pg_dsn))
    try:
        assert await a.lead("prune", 60)
        assert not await b.lead("prune", 60)
        assert await a.lead("prune", 60)  # the holder renews
        assert await b.lead("other", 60)
        assert await a.lead("short", 0.01) and not await b.lead("short", 60)
        await asyncio.sleep(0.05)  # let the 10 ms lease expire (a real clock, not a sync point)
        assert await b.lead("short", 60)
    finally:
        await a.close()
        await b.close()


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_unreachable_store_is_a_typed_503_within_the_timeout() -> None:
    dsn = f"postgresql://postgres@127.0.0.1:{_dead_port()}/none"
    store = PostgresStore(PostgresConfig(dsn=dsn, statement_timeout_s=0.5), migrate=False)
    try:
        started = time.monotonic()
        for call in (store.get("x"), store.put(rec("x")), store.load_chain("x", 5)):
            with pytest.raises(GodexError) as failed:
                await call
            assert failed.value.status == 503 and failed.value.code == "session.store_unavailable"
            assert "postgres@" not in failed.value.message
        assert time.monotonic() - started < 3 * 1.5 + 1
        assert not store.up and not await store.ping()
    finally:
        await store.close()


def test_unreachable_store_at_start_is_a_clear_error() -> None:
    dsn = f"postgresql://postgres@127.0.0.1:{_dead_port()}/none"
    with pytest.raises(GodexError) as failed:
        PostgresStore(PostgresConfig(dsn=dsn))
    assert failed.value.code == "session.store_unavailable"
    with pytest.raises(ConfigError):
        PostgresStore(PostgresConfig(dsn=None))


async def test_store_reconnects_after_its_connections_are_killed(pg_dsn: str) -> None:
    store = PostgresStore(PostgresConfig(dsn=pg_dsn, pool_size=2))
    try:
        await store.put(rec("before"))
        with psycopg.connect(pg_dsn, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = '' AND pid <> pg_backend_pid() "
                "AND datname = current_database()"
            ).fetchone()
        assert killed is not None and killed[0] >= 1
        assert (await store.get("before")) is not None  # a fresh connection, no restart
        # The group commit's held connection was killed too: the write retries on a fresh one.
        await store.put(rec("after"))
        assert (await store.get("after")) is not None
        assert store.up and await store.ping()
    finally:
        await store.close()


def _trace(request_id: str, ts: float, provider: str = "p") -> TraceRecord:
    return TraceRecord(
        request_id=request_id,
        ts=ts,
        route="/v1/responses",
        method="POST",
        http_status=200,
        client_key_id=None,
        requested_model="m",
        provider=provider,
        upstream_model="u",
        stream=True,
        status="completed",
        error_code=None,
        error_message=None,
        upstream_message=None,
        duration_ms=12.5,
        upstream_first_byte_ms=3.0,
        first_client_byte_ms=4.0,
        input_tokens=10,
        cached_tokens=5,
        output_tokens=2,
        total_tokens=12,
        diagnostics=[{"code": "bridge.dropped"}],
        request_payload=b'{"model":"m"}',
        response_payload=b"{}",
        response_id=f"resp_{request_id}",
        attempts=[{"provider": provider, "outcome": "served"}],
        team="ops",
        cost_usd=0.01,
    )


def test_trace_rows_are_written_in_batches_read_and_pruned(pg_dsn: str) -> None:
    cfg = TraceConfig(
        backend="postgres",
        postgres=TracePostgresConfig(dsn=pg_dsn),
        flush_interval_ms=10,
        batch_size=3,
        capture_payload=True,
        retention_s=3600,
    )
    recorder = TraceRecorder(cfg)
    recorder.start()
    now = time.time()
    for i in range(7):
        recorder.record(_trace(f"req_{i}", now - i))
    recorder.record(_trace("req_old", now - 7200, provider="q"))
    recorder.stop()
    assert recorder.written == 8
    rows = query.list_requests(pg_dsn, limit=100)
    # Retention ran on the writer thread (it holds the trace_retention lease).
    assert [r["request_id"] for r in rows] == [f"req_{i}" for i in range(7)]
    assert rows[0]["stream"] is True and rows[0]["attempts"][0]["outcome"] == "served"
    one = query.get_request(pg_dsn, "resp_req_3")
    assert one is not None and one["request_payload"] == '{"model":"m"}'
    usage = query.usage_summary(pg_dsn)
    assert [(u["provider"], u["requests"], u["cached_tokens"]) for u in usage] == [("p", 7, 35)]
    assert query.list_requests(pg_dsn, provider="q") == []
    by_team = query.usage_summary(pg_dsn, by="team")
    assert [(u["team"], u["requests"], u["cost_usd"]) for u in by_team] == [("ops", 7, 0.07)]


def test_a_request_recorded_twice_in_one_batch_keeps_its_last_version(pg_dsn: str) -> None:
    cfg = TraceConfig(
        backend="postgres",
        postgres=TracePostgresConfig(dsn=pg_dsn),
        flush_interval_ms=200,  # both records wait for the same batch
        capture_payload=True,
    )
    recorder = TraceRecorder(cfg)
    recorder.start()
    now = time.time()
    recorder.record(_trace("req_twice", now, provider="first"))
    recorder.record(_trace("req_twice", now, provider="last"))
    recorder.stop()
    rows = query.list_requests(pg_dsn, limit=10)
    assert [(r["request_id"], r["provider"]) for r in rows] == [("req_twice", "last")]


def test_traces_command_reads_postgres(pg_dsn: str, tmp_path: Path) -> None:
    cfg = TraceConfig(backend="postgres", postgres=TracePostgresConfig(dsn=pg_dsn))
    recorder = TraceRecorder(dataclasses.replace(cfg, flush_interval_ms=10))
    recorder.start()
    recorder.record(_trace("req_cli", time.time()))
    recorder.stop()
    yaml_cfg = tmp_path / "godex.yaml"
    yaml_cfg.write_text(
        "providers: {d: {spec: deepseek, credentials: {api_key: k}}}\n"
        f"trace: {{backend: postgres, postgres: {{dsn: '{pg_dsn}'}}}}\n"
    )
    listed = CliRunner().invoke(main, ["traces", "--config", str(yaml_cfg), "--json"])
    assert listed.exit_code == 0 and "req_cli" in listed.output
    usage = CliRunner().invoke(main, ["traces", "usage", "--config", str(yaml_cfg)])
    assert usage.exit_code == 0 and "p" in usage.output


async def test_session_writes_take_the_sqlite_durability_not_an_fsync_each(pg_dsn: str) -> None:
    store = PostgresStore(PostgresConfig(dsn=pg_dsn, statement_timeout_s=2))

    async def settings(conn: psycopg.AsyncConnection[Any]) -> list[Any]:
        cur = await conn.execute(
            "SELECT current_setting('synchronous_commit'), current_setting('statement_timeout')"
        )
        return list(await cur.fetchone() or [])

    try:
        assert await store._run("settings", settings) == ["off", "2s"]
    finally:
        await store.close()


def test_array_parameters_arrive_as_the_values_given(pg_dsn: str) -> None:
    cases: list[tuple[str, list[Any]]] = [
        ("text", ["a", "é", None, ""]),
        ("text", ["a", "b"]),
        ("bytea", [b"\x00\xff", None, b""]),
        ("bytea", [b"q", memoryview(b"zz")]),
        ("integer", [1, -2, None, True]),
        ("bigint", [2**40, None]),
        ("double precision", [1.5, None, 3]),
        ("text", []),
        ("bigint", [None, None]),
    ]
    with postgres_db.connect(pg_dsn) as conn:
        for sql_type, values in cases:
            row = conn.execute(
                f"SELECT %s::{sql_type}[]".encode(), (postgres_db.array(sql_type, values),)
            ).fetchone()
            assert row is not None
            assert row[0] == [v if not isinstance(v, memoryview) else bytes(v) for v in values]
        floats = postgres_db.array("integer", [2.0, None, 3])  # cast, as the server would
        assert conn.execute("SELECT %s::integer[]", (floats,)).fetchone() == ([2, None, 3],)
        got = conn.execute(
            "SELECT * FROM unnest(%s::text[], %s::bigint[])",
            postgres_db.columns(("text", "bigint"), [("x", 1), ("y", None)]),
        ).fetchall()
        assert got == [("x", 1), ("y", None)]
        # A batch of one row takes the one-element path: the same values arrive.
        one_row = ("é", None, b"\x00", 7, 2.0, True)
        types = ("text", "text", "bytea", "bigint", "integer", "integer")
        cast = ", ".join(f"%s::{t}[]" for t in types)
        got = conn.execute(
            f"SELECT * FROM unnest({cast})".encode(), postgres_db.columns(types, [one_row])
        ).fetchall()
        assert got == [("é", None, b"\x00", 7, 2, 1)]


_ELEMENT = {
    "text": st.one_of(st.none(), st.text(), st.integers()),
    "bytea": st.one_of(st.none(), st.binary()),
    "integer": st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)),
    "bigint": st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
    "double precision": st.one_of(st.none(), st.floats(allow_nan=False), st.integers(-9, 9)),
}


@settings(deadline=None)  # pure, but the first example pays imports on a loaded machine
@given(st.sampled_from(sorted(_ELEMENT)).flatmap(lambda t: st.tuples(st.just(t), _ELEMENT[t])))
def test_a_one_element_array_is_the_general_arrays_bytes(case: tuple[str, Any]) -> None:
    sql_type, value = case
    assert postgres_db.one(sql_type, value).data == postgres_db.encoded(sql_type, [value]).data
