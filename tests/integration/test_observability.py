"""Traces, usage accounting, /metrics and `godex traces`, against a real gateway."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import httpx2 as httpx
import openai
import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from godex.cli import main
from godex.config.schema import TraceConfig
from godex.trace.record import TraceRecord
from godex.trace.recorder import TraceRecorder
from tests.fakes.replay_upstream import FakeUpstream, Reply, chunk, completion_body, sse, usage
from tests.support.gateway import make_config, provider, run_gateway


def _rows(db: Path) -> list[dict[str, object]]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM requests ORDER BY ts")]
    finally:
        conn.close()


def test_rows_for_sync_stream_and_error(upstream: FakeUpstream, tmp_path: Path) -> None:
    db = tmp_path / "trace.db"
    cfg = make_config(
        tmp_path,
        [provider("ds", "deepseek", upstream.base_url)],
        aliases={"gpt-5.5": "ds/deepseek-v4-pro"},
        trace=TraceConfig(enabled=True, path=str(db), flush_interval_ms=20, capture_payload=True),
        server={"api_keys": ("sk-client-key-123456",)},
    )
    upstream.push(
        Reply.json(completion_body("sync", prompt=11, completion=7, cached=5, reasoning_tokens=2)),
        Reply(sse(chunk("str"), chunk("eam", finish="stop", usage=usage(13, 3, cached=1)))),
        Reply.json({"error": {"message": "Insufficient Balance"}}, status=402),
    )
    with run_gateway(cfg) as gw:
        client = openai.OpenAI(base_url=gw.v1, api_key="sk-client-key-123456", max_retries=0)
        client.responses.create(model="gpt-5.5", input="one")
        with client.responses.stream(model="gpt-5.5", input="two") as s:
            s.get_final_response()
        with pytest.raises(openai.BadRequestError):
            client.responses.create(model="gpt-5.5", input="three")
        metrics = httpx.get(
            gw.base_url + "/metrics", headers={"authorization": "Bearer sk-client-key-123456"}
        )
        denied = httpx.get(gw.base_url + "/metrics")
    # The gateway has stopped: the recorder flushed at shutdown.
    rows = _rows(db)
    assert [r["status"] for r in rows] == ["completed", "completed", "error"]
    sync, stream, error = rows
    assert (sync["input_tokens"], sync["output_tokens"], sync["cached_tokens"]) == (11, 7, 5)
    assert (sync["reasoning_tokens"], sync["total_tokens"]) == (2, 18)
    assert sync["stream"] == 0 and stream["stream"] == 1
    assert (stream["input_tokens"], stream["output_tokens"], stream["cached_tokens"]) == (13, 3, 1)
    assert stream["terminal_event"] == "response.completed" and stream["event_count"] > 5
    assert error["error_code"] == "provider.insufficient_quota"
    assert error["upstream_message"] == "Insufficient Balance"
    for r in rows:
        assert r["provider"] == "ds" and r["upstream_model"] == "deepseek-v4-pro"
        assert r["client_key_id"] and str(r["client_key_id"]).startswith("key_")
        assert r["duration_ms"] > 0 and r["upstream_first_byte_ms"] is not None
    dump = db.read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("trace.db-*"))
    assert b"sk-client-key-123456" not in dump and b"sk-upstream-secret" not in dump

    assert metrics.status_code == 200 and denied.status_code == 401
    text = metrics.text
    assert (
        'godex_requests_total{model="gpt-5.5",provider="ds",'
        'route="responses.create",status="completed"} 2.0' in text
    )
    assert 'godex_tokens_total{kind="input",model="gpt-5.5",provider="ds"} 24.0' in text
    assert (
        'godex_upstream_errors_total{code="provider.insufficient_quota",provider="ds"} 1.0' in text
    )
    assert "godex_gateway_overhead_seconds_bucket" in text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    requests = {
        tuple(sorted(smp.labels.items())): smp.value
        for smp in families["godex_requests"].samples
        if smp.name == "godex_requests_total"
    }
    assert sum(requests.values()) == 3
    tokens = {
        smp.labels["kind"]: smp.value
        for smp in families["godex_tokens"].samples
        if smp.name == "godex_tokens_total"
    }
    assert tokens == {"input": 24.0, "cached": 6.0, "output": 10.0, "reasoning": 2.0}
    assert families["godex_streams_in_flight"].samples[0].value == 0

    runner = CliRunner()
    listing = runner.invoke(main, ["traces", "--db", str(db)])
    assert listing.exit_code == 0, listing.output
    assert "gpt-5.5 → ds/deepseek-v4-pro" in listing.output
    assert "provider.insufficient_quota" in listing.output
    as_json = json.loads(
        runner.invoke(main, ["traces", "--db", str(db), "--json", "--status", "error"]).output
    )
    assert len(as_json) == 1 and as_json[0]["error_code"] == "provider.insufficient_quota"
    detail = runner.invoke(
        main, ["traces", "show", str(sync["request_id"]), "--db", str(db), "--json"]
    )
    shown = json.loads(detail.output)
    assert shown["input_tokens"] == 11
    assert "sk-client-key-123456" not in detail.output
    assert shown["request_payload"] and "one" in shown["request_payload"]
    summary = json.loads(runner.invoke(main, ["traces", "usage", "--db", str(db), "--json"]).output)
    (entry,) = summary
    assert entry["requests"] == 3 and entry["input_tokens"] == 24 and entry["cached_tokens"] == 6
    assert entry["cache_hit_ratio"] == round(6 / 24, 4)
    table = runner.invoke(main, ["traces", "usage", "--db", str(db)])
    assert "ds/deepseek-v4-pro" in table.output and "p95" in table.output


def _record(i: int, payload: bytes | None = None) -> TraceRecord:
    return TraceRecord(
        request_id=f"req_{i}",
        ts=time.time(),
        route="responses.create",
        method="POST",
        http_status=200,
        client_key_id=None,
        requested_model="m",
        provider="p",
        upstream_model="u",
        stream=False,
        status="completed",
        error_code=None,
        error_message=None,
        upstream_message=None,
        duration_ms=1.0,
        upstream_first_byte_ms=None,
        first_client_byte_ms=None,
        request_payload=payload,
        response_payload=payload,
    )


def test_payload_redaction_and_truncation(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    rec = TraceRecorder(
        TraceConfig(path=str(db), capture_payload=True, payload_max_bytes=120, flush_interval_ms=10)
    )
    rec.start()
    body = json.dumps(
        {
            "api_key": "abc123secret",
            "headers": {"Authorization": "Bearer sk-zzzzzzzzzz"},
            "pad": "x" * 500,
        }
    ).encode()
    rec.record(_record(1, body))
    rec.stop()
    conn = sqlite3.connect(db)
    (request,) = conn.execute("SELECT request FROM payloads").fetchone()
    conn.close()
    assert b"abc123secret" not in request and b"sk-zzzzzzzzzz" not in request
    assert b"[REDACTED]" in request
    assert request.endswith(b"bytes]") and b"truncated" in request


def test_queue_overflow_drops_without_blocking(tmp_path: Path) -> None:
    rec = TraceRecorder(TraceConfig(path=str(tmp_path / "t.db"), max_queue_size=5))
    # The writer is not started: nothing drains, so the queue fills and then drops.
    started = time.perf_counter()
    for i in range(1000):
        rec.record(_record(i))
    assert time.perf_counter() - started < 1.0  # generous: it must never wait on the queue
    assert rec.queue_depth == 5 and rec.dropped == 995
    rec.start()
    rec.stop()
    assert rec.queue_depth == 0


def test_retention_deletes_old_rows(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    rec = TraceRecorder(TraceConfig(path=str(db), retention_s=3600, flush_interval_ms=10))
    old = _record(1)
    old.ts = time.time() - 7200
    rec.record(old)
    rec.record(_record(2))
    rec.start()  # the first wake writes both, then applies retention
    seen_old = False
    deadline = time.monotonic() + 5
    ids: set[object] = set()
    while time.monotonic() < deadline:
        try:
            ids = {r["request_id"] for r in _rows(db)}
        except sqlite3.OperationalError:
            ids = set()  # the writer has not created its schema yet
        seen_old = seen_old or "req_1" in ids
        if "req_2" in ids and "req_1" not in ids:
            break
        time.sleep(0.01)
    rec.stop()
    # The background writer applied retention on its own: the old row is gone, the new kept.
    assert "req_2" in ids and "req_1" not in ids
