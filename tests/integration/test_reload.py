"""Reload without restart: SIGHUP swaps the config under load; an invalid one is refused."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from tests.fakes.replay_upstream import FakeUpstream, Reply, completion_body
from tests.support.process import free_port, start_godex, wait_healthy

CONFIG = """
server: {{workers: {workers}, data_dir: {data}}}
default_provider: p
models:
  aliases:
    {alias}: p/{model}
providers:
  p:
    spec: deepseek
    credentials: {{api_key: sk-upstream-1}}
    endpoint: {{base_url: "{url}"}}
session: {{enabled: false}}
trace: {{enabled: false}}
logging: {{console: {{pretty: false}}}}
"""


class Log:
    """The server's output, line by line, read on a thread so the pipe never fills."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            self.lines.put(raw.decode(errors="replace"))

    def wait_for(self, text: str, count: int = 1, timeout_s: float = 20) -> list[str]:
        seen: list[str] = []
        while len(seen) < count:
            line = self.lines.get(timeout=timeout_s)
            if text in line:
                seen.append(line)
        return seen


def _write(path: Path, up: FakeUpstream, alias: str, model: str, workers: int = 1) -> None:
    data = path.parent / "data"
    path.write_text(
        CONFIG.format(workers=workers, data=data, alias=alias, model=model, url=up.base_url)
    )


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream() as up:
        up.default = lambda body: Reply.json(completion_body(f"from {body['model']}"))
        yield up


def _ask(client: httpx.Client, port: int, model: str) -> httpx.Response:
    body: dict[str, Any] = {"model": model, "input": "hi"}
    return client.post(f"http://127.0.0.1:{port}/v1/responses", json=body, timeout=10)


def _serve(tmp_path: Path, workers: int, up: FakeUpstream) -> tuple[subprocess.Popen[bytes], int]:
    config = tmp_path / "godex.yaml"
    _write(config, up, "old-name", "model-a", workers)
    port = free_port()
    proc = start_godex(config, port, tmp_path)
    wait_healthy(port, proc)
    return proc, port


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(20)


def test_sighup_swaps_aliases_under_load_without_a_failed_request(
    tmp_path: Path, fake: FakeUpstream
) -> None:
    proc, port = _serve(tmp_path, 1, fake)
    log = Log(proc)
    try:
        failures: list[str] = []
        done = threading.Event()
        served = threading.Semaphore(0)

        def load() -> None:
            with httpx.Client() as client:
                while not done.is_set():
                    r = _ask(client, port, "old-name")
                    if r.status_code != 200:
                        failures.append(f"{r.status_code} {r.text[:200]}")
                    served.release()

        workers = [threading.Thread(target=load) for _ in range(4)]
        for t in workers:
            t.start()
        for _ in range(20):  # traffic is flowing before the reload
            served.acquire(timeout=10)
        # The new config keeps the old name (requests in flight must go on working) and adds one.
        (tmp_path / "godex.yaml").write_text(
            (tmp_path / "godex.yaml")
            .read_text()
            .replace(
                "    old-name: p/model-a\n", "    old-name: p/model-a\n    new-name: p/model-b\n"
            )
        )
        proc.send_signal(signal.SIGHUP)
        log.wait_for('"reloaded"')
        for _ in range(20):  # and traffic keeps flowing after it
            served.acquire(timeout=10)
        done.set()
        for t in workers:
            t.join(20)
        assert failures == []
        with httpx.Client() as client:
            r = _ask(client, port, "new-name")
        assert r.status_code == 200, r.text
        assert fake.last["model"] == "model-b"

        # An invalid config is refused, its problems logged, and the old one keeps serving.
        (tmp_path / "godex.yaml").write_text("server: {port: nope}\nproviders: {p: {spec: acme}}\n")
        proc.send_signal(signal.SIGHUP)
        refused = log.wait_for('"reload_refused"')[0]
        assert "server.port" in refused and "providers.p.spec" in refused
        with httpx.Client() as client:
            assert _ask(client, port, "new-name").status_code == 200
        assert fake.last["model"] == "model-b"
        assert proc.poll() is None
    finally:
        _stop(proc)


def test_godex_reload_reaches_every_worker(tmp_path: Path, fake: FakeUpstream) -> None:
    proc, port = _serve(tmp_path, 2, fake)
    log = Log(proc)
    try:
        _write(tmp_path / "godex.yaml", fake, "other-name", "model-c", workers=2)
        cli = subprocess.run(
            ["python3", "-m", "godex", "reload", "--config", str(tmp_path / "godex.yaml")],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env={**os.environ},
            timeout=30,
        )
        assert cli.returncode == 0, cli.stderr
        assert "sent SIGHUP to godex" in cli.stdout
        log.wait_for('"reloaded"', count=2)  # once per worker
        for _ in range(10):  # fresh connections land on either worker: all have it
            with httpx.Client() as client:
                r = _ask(client, port, "other-name")
            assert r.status_code == 200, r.text
            assert fake.last["model"] == "model-c"
    finally:
        _stop(proc)


def test_a_stream_in_flight_finishes_on_the_old_config(tmp_path: Path, fake: FakeUpstream) -> None:
    from tests.fakes.replay_upstream import chunk, sse, usage

    gate = threading.Event()

    def reply(body: dict[str, Any]) -> Reply:
        if not body.get("stream"):
            return Reply.json(completion_body("ok"))
        pieces = [sse(chunk("hel"), done=False), sse(chunk("lo", finish="stop", usage=usage()))]
        return Reply(chunks=pieces, gate=gate)

    fake.default = reply
    proc, port = _serve(tmp_path, 1, fake)
    log = Log(proc)
    try:
        body = {"model": "old-name", "input": "hi", "stream": True}
        with (
            httpx.Client() as client,
            client.stream(
                "POST", f"http://127.0.0.1:{port}/v1/responses", json=body, timeout=20
            ) as r,
        ):
            lines = r.iter_lines()
            events = []
            for line in lines:  # until the first text has arrived: the stream is in flight
                events.append(line)
                if "response.output_text.delta" in line:
                    break
            # The new config drops the alias and the provider this stream runs on.
            (tmp_path / "godex.yaml").write_text(
                (tmp_path / "godex.yaml")
                .read_text()
                .replace("old-name: p/model-a", "other: q/model-q")
                .replace("  p:\n", "  q:\n")
                .replace("default_provider: p", "default_provider: q")
            )
            proc.send_signal(signal.SIGHUP)
            log.wait_for('"reloaded"')
            gate.set()
            events.extend(lines)
        assert r.status_code == 200
        assert any("response.completed" in e for e in events), events
        with httpx.Client() as client:  # and the next request runs on the new config
            models = client.get(f"http://127.0.0.1:{port}/v1/models").json()
        ids = {m["id"] for m in models["data"]}
        assert "other" in ids and "old-name" not in ids
    finally:
        _stop(proc)
