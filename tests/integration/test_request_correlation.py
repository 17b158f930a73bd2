"""Every log line of a request carries its id; x-request-id and traceparent are honoured."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from godex.server.correlation import request_id_from, traceparent_from
from tests.fakes.replay_upstream import FakeUpstream, Reply, completion_body
from tests.support.process import free_port, start_godex, wait_healthy

CONFIG = """
server: {{data_dir: {data}}}
default_provider: p
providers:
  p:
    spec: deepseek
    credentials: {{api_key: sk-upstream-1}}
    endpoint: {{base_url: "{url}"}}
resilience: {{retry: {{attempts: 1}}, breaker: {{failures: 1}}}}
session: {{enabled: false}}
trace: {{enabled: false}}
logging: {{console: {{pretty: false}}}}
"""
PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[FakeUpstream, int, subprocess.Popen[bytes]]]:
    with FakeUpstream() as up:
        config = tmp_path / "godex.yaml"
        config.write_text(CONFIG.format(data=tmp_path / "data", url=up.base_url))
        port = free_port()
        proc = start_godex(config, port, tmp_path)
        try:
            wait_healthy(port, proc)
            yield up, port, proc
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)


def _lines(proc: subprocess.Popen[bytes]) -> list[dict[str, object]]:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    lines = []
    for raw in out.decode().splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            continue
    return lines


def test_a_failed_request_logs_its_id_on_every_line_and_forwards_trace_context(
    served: tuple[FakeUpstream, int, subprocess.Popen[bytes]],
) -> None:
    up, port, proc = served
    up.push(Reply.json({"error": {"message": "boom", "type": "server_error"}}, 500))
    headers = {"x-request-id": "lb-7f3a.42", "traceparent": PARENT}
    r = httpx.post(
        f"http://127.0.0.1:{port}/v1/responses",
        json={"model": "m", "input": "x"},
        headers=headers,
        timeout=10,
    )
    assert r.status_code == 502
    assert r.headers["x-request-id"] == "lb-7f3a.42"
    seen = {k.lower(): v for k, v in up.requests[-1].headers.items()}
    assert seen["x-request-id"] == "lb-7f3a.42"
    version, trace_id, parent_id, flags = seen["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", "4bf92f3577b34da6a3ce929d0e0e4736", "01")
    assert parent_id != "00f067aa0ba902b7"  # the gateway's own span is the parent upstream
    lines = _lines(proc)
    ours = [line for line in lines if line.get("request_id") == "lb-7f3a.42"]
    events = {line["event"] for line in ours}
    # The breaker line is logged deep in the failover code, which never names the request.
    assert {"circuit_breaker", "request"} <= events, lines
    access = next(line for line in ours if line["event"] == "request")
    assert access["error_code"] == "provider.upstream_error" and access["provider"] == "p"
    assert access["status"] == 502


def test_an_unsafe_request_id_is_replaced_and_no_traceparent_starts_a_trace(
    served: tuple[FakeUpstream, int, subprocess.Popen[bytes]],
) -> None:
    up, port, _ = served
    up.push(Reply.json(completion_body("ok")))
    r = httpx.post(
        f"http://127.0.0.1:{port}/v1/responses",
        json={"model": "m", "input": "x"},
        headers={"x-request-id": "bad id\twith spaces"},
        timeout=10,
    )
    assert r.status_code == 200
    assert r.headers["x-request-id"].startswith("req_")
    seen = {k.lower(): v for k, v in up.requests[-1].headers.items()}
    assert seen["x-request-id"] == r.headers["x-request-id"]
    assert traceparent_from(seen["traceparent"].encode()) is not None


@given(st.binary(max_size=300))
def test_request_ids_accepted_are_short_and_safe(raw: bytes) -> None:
    got = request_id_from(raw)
    if got is not None:
        assert 0 < len(got) <= 128 and got.isascii() and got.isprintable() and " " not in got


@given(st.binary(max_size=600))
def test_traceparent_parser_accepts_only_well_formed_headers(raw: bytes) -> None:
    got = traceparent_from(raw)
    if got is not None:
        assert len(got.trace_id) == 32 and len(got.parent_id) == 16
        assert got.trace_id != "0" * 32 and got.parent_id != "0" * 16


def test_traceparent_rules() -> None:
    assert traceparent_from(PARENT.encode()) is not None
    assert traceparent_from(b"ff" + PARENT[2:].encode()) is None  # version ff is forbidden
    assert traceparent_from(PARENT.encode() + b"-extra") is None  # 00 has four fields
    assert traceparent_from(b"01" + PARENT[2:].encode() + b"-extra") is not None
    assert traceparent_from(b"00-" + b"0" * 32 + b"-00f067aa0ba902b7-01") is None
