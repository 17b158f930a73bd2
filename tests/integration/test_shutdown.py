"""SIGTERM with a stream longer than the drain window: the stream still ends properly."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from pathlib import Path

import httpx2 as httpx

from tests.fakes.replay_upstream import FakeUpstream, Reply, chunk, sse, usage
from tests.support.process import free_port, start_godex, wait_healthy
from tests.support.stream_checker import check_stream


def _config(tmp: Path, port: int, upstream: FakeUpstream) -> Path:
    path = tmp / "godex.yaml"
    path.write_text(
        f"""
server: {{host: 127.0.0.1, port: {port}, shutdown_timeout: 2s}}
default_provider: ds
providers:
  ds:
    spec: deepseek
    credentials: {{api_key: sk-upstream}}
    endpoint: {{base_url: "{upstream.base_url}"}}
session: {{backend: sqlite, sqlite: {{path: {tmp}/s.db}}}}
trace: {{enabled: false}}
logging: {{level: warning}}
"""
    )
    return path


def test_a_stream_cut_by_shutdown_ends_failed_retryable_and_persisted(tmp_path: Path) -> None:
    hold = threading.Event()
    with FakeUpstream() as upstream:
        # The second half never comes before the drain window (2 s) is over.
        upstream.push(
            Reply(
                chunks=[
                    sse(chunk("first half, "), done=False),
                    sse(chunk("never"), chunk("", finish="stop", usage=usage())),
                ],
                gate=hold,
            )
        )
        port = free_port()
        config = _config(tmp_path, port, upstream)
        proc = start_godex(config, port, tmp_path)
        try:
            wait_healthy(port, proc)
            events = []
            with httpx.stream(
                "POST",
                f"http://127.0.0.1:{port}/v1/responses",
                json={"model": "m", "input": "hi", "stream": True},
                timeout=20,
            ) as resp:
                lines = resp.iter_lines()
                for line in lines:
                    if not line.startswith("data:"):
                        continue
                    events.append(json.loads(line[5:]))
                    if events[-1]["type"] == "response.output_text.delta":
                        break
                signalled = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                # New connections are refused while draining.
                deadline = time.monotonic() + 2
                refused = False
                while time.monotonic() < deadline and not refused:
                    try:
                        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                        threading.Event().wait(0.02)
                    except OSError:
                        refused = True
                events += [json.loads(line[5:]) for line in lines if line.startswith("data:")]
            ended = time.monotonic() - signalled
            assert proc.wait(20) == 0
        finally:
            hold.set()
            if proc.poll() is None:
                proc.kill()
        final = check_stream(events)
        assert refused
        assert final["status"] == "failed"
        assert final["error"]["code"] == "server.shutting_down"  # not a code Codex stops on
        assert final["output"][0]["content"][0]["text"] == "first half, "
        assert 0.5 < ended < 2.5

        # Persisted as such: a restarted gateway serves it.
        port2 = free_port()
        proc = start_godex(_config(tmp_path, port2, upstream), port2, tmp_path)
        try:
            wait_healthy(port2, proc)
            stored = httpx.get(f"http://127.0.0.1:{port2}/v1/responses/{final['id']}", timeout=5)
        finally:
            proc.terminate()
            proc.wait(20)
        assert stored.status_code == 200
        assert stored.json()["status"] == "failed"
        assert stored.json()["error"]["code"] == "server.shutting_down"


def test_a_websocket_turn_cut_by_shutdown_ends_failed_then_closes_1012(tmp_path: Path) -> None:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    hold = threading.Event()
    with FakeUpstream() as upstream:
        upstream.push(
            Reply(
                chunks=[
                    sse(chunk("first half, "), done=False),
                    sse(chunk("never"), chunk("", finish="stop", usage=usage())),
                ],
                gate=hold,
            )
        )
        port = free_port()
        proc = start_godex(_config(tmp_path, port, upstream), port, tmp_path)
        try:
            wait_healthy(port, proc)
            with connect(f"ws://127.0.0.1:{port}/v1/responses", open_timeout=10) as ws:
                ws.send(json.dumps({"type": "response.create", "model": "m", "input": "hi"}))
                events = [json.loads(ws.recv(timeout=10))]
                while events[-1]["type"] != "response.output_text.delta":
                    events.append(json.loads(ws.recv(timeout=10)))
                proc.send_signal(signal.SIGTERM)
                # The socket is not cut at the signal: the turn is ended properly first.
                while events[-1]["type"] not in ("response.completed", "response.failed"):
                    events.append(json.loads(ws.recv(timeout=10)))
                try:
                    ws.recv(timeout=10)
                    raise AssertionError("the socket stayed open after the turn ended")
                except ConnectionClosed as closed:
                    code = closed.rcvd.code if closed.rcvd else None
            assert proc.wait(20) == 0
        finally:
            hold.set()
            if proc.poll() is None:
                proc.kill()
    final = events[-1]["response"]
    assert final["status"] == "failed"
    assert final["error"]["code"] == "server.shutting_down"
    assert final["output"][0]["content"][0]["text"] == "first half, "
    assert code == 1012
