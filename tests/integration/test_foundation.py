"""Foundation behaviour through real sockets: auth, error shapes, missing keys, shutdown, logs."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.fakes.replay_upstream import FakeUpstream, Reply, chunk, sse, usage
from tests.support.gateway import make_config, provider, run_gateway


@pytest.fixture
def authed(upstream: FakeUpstream, tmp_path: Path) -> Iterator[httpx.Client]:
    cfg = make_config(tmp_path, [provider("ds", "deepseek", upstream.base_url)])
    cfg = dataclasses.replace(
        cfg,
        server=dataclasses.replace(cfg.server, api_keys=("sk-team-one", "sk-team-two")),
    )
    with run_gateway(cfg) as gw, httpx.Client(base_url=gw.base_url, timeout=10) as c:
        yield c


def test_auth_required_when_keys_configured(authed: httpx.Client, upstream: FakeUpstream) -> None:
    body = {"model": "m", "input": "hi"}
    missing = authed.post("/v1/responses", json=body)
    assert missing.status_code == 401
    assert missing.json()["error"]["godex_code"] == "auth.invalid_key"
    wrong = authed.post("/v1/responses", json=body, headers={"authorization": "Bearer sk-nope"})
    assert wrong.status_code == 401
    assert authed.get("/v1/models").status_code == 401
    assert authed.get("/metrics").status_code == 401
    assert authed.get("/health").status_code == 200  # health stays open
    upstream.push(
        Reply.json(
            {
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "ok"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )
    )
    ok = authed.post("/v1/responses", json=body, headers={"authorization": "Bearer sk-team-two"})
    assert ok.status_code == 200, ok.text
    assert authed.get("/v1/models", headers={"x-api-key": "sk-team-one"}).status_code == 200


def test_auth_off_by_default(http: httpx.Client) -> None:
    assert http.get("/v1/models").status_code == 200


def test_missing_key_named_in_health_and_errors(upstream: FakeUpstream, tmp_path: Path) -> None:
    cfg = make_config(
        tmp_path,
        [
            provider(
                "ds", "deepseek", upstream.base_url, api_key=None, api_key_env="DEEPSEEK_API_KEY"
            )
        ],
    )
    with run_gateway(cfg) as gw, httpx.Client(base_url=gw.base_url, timeout=10) as c:
        health = c.get("/health").json()
        (ds,) = health["providers"]
        assert ds["available"] is False
        assert ds["missing_env"] == "DEEPSEEK_API_KEY"
        resp = c.post("/v1/responses", json={"model": "x", "input": "hi"})
        # A 400: Codex shows it at once instead of retrying a 503 for 25 s.
        assert resp.status_code == 400
        assert "DEEPSEEK_API_KEY" in resp.json()["error"]["message"]
        assert not upstream.requests


def test_unexpected_exception_is_500_without_trace(http: httpx.Client) -> None:
    # A body the parser cannot take as UTF-8 JSON is still a clean 400, never a 500.
    resp = http.post(
        "/v1/responses", content=b"\xff\xfe\x00", headers={"content-type": "application/json"}
    )
    assert resp.status_code == 400
    assert "Traceback" not in resp.text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_health(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        threading.Event().wait(0.05)
    raise AssertionError("godex serve did not become healthy")


def test_graceful_shutdown_finishes_inflight_stream(upstream: FakeUpstream, tmp_path: Path) -> None:
    port = _free_port()
    logfile = tmp_path / "logs"
    (tmp_path / "godex.yaml").write_text(
        f"""
server: {{host: 127.0.0.1, port: {port}}}
default_provider: ds
providers:
  ds:
    spec: deepseek
    credentials: {{api_key: sk-upstream-very-secret-123}}
    endpoint: {{base_url: "{upstream.base_url}"}}
session: {{backend: sqlite, sqlite: {{path: {tmp_path}/s.db}}}}
trace: {{enabled: true, path: {tmp_path}/t.db}}
logging:
  level: info
  console: {{enabled: true, pretty: false}}
  file: {{enabled: true, dir: {logfile}, filename: godex.log}}
"""
    )
    gate = threading.Event()
    upstream.push(
        Reply(
            chunks=[
                sse(chunk("first half, "), done=False),
                sse(chunk("second half"), chunk("", finish="stop", usage=usage(3, 4))),
            ],
            gate=gate,
        )
    )
    env = {**os.environ, "GODEX_PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "godex", "serve", "--config", str(tmp_path / "godex.yaml")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_health(port, proc)
        with httpx.stream(
            "POST",
            f"http://127.0.0.1:{port}/v1/responses",
            json={"model": "m", "input": "hi", "stream": True},
            headers={"authorization": "Bearer sk-client-secret-456"},
            timeout=20,
        ) as resp:
            lines = resp.iter_lines()
            first = next(line for line in lines if line.startswith("data:"))
            assert json.loads(first[5:])["type"] == "response.created"
            proc.send_signal(signal.SIGTERM)
            gate.set()
            rest = [line for line in lines if line.startswith("data:")]
        assert json.loads(rest[-1][5:])["type"] == "response.completed"
        assert proc.wait(20) == 0
        out = proc.stdout.read().decode() if proc.stdout else ""
    finally:
        if proc.poll() is None:
            proc.kill()
    logs = out + (logfile / "godex.log").read_text()
    assert "/v1/responses" in logs  # the access line
    for secret in ("sk-upstream-very-secret-123", "sk-client-secret-456"):
        assert secret not in logs
