"""/metrics you can trust: totals summed over workers, counters typed as counters, bounded."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.replay_upstream import FakeUpstream, Reply, completion_body
from tests.support.gateway import make_config, provider, run_gateway
from tests.support.process import free_port, start_godex, wait_healthy

CONFIG = """
server: {{workers: 2, data_dir: {data}, metrics_public: true}}
default_provider: p
models: {{aliases: {{gpt-5.5: p/m}}}}
providers:
  p:
    spec: deepseek
    credentials: {{api_key: sk-upstream-1}}
    endpoint: {{base_url: "{url}"}}
session: {{enabled: false}}
trace: {{enabled: false}}
"""


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream() as up:
        up.default = lambda body: Reply.json(completion_body("ok"))
        yield up


def _samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    out: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                out[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def _types(text: str) -> dict[str, str]:
    return {f.name: f.type for f in text_string_to_metric_families(text)}


def test_two_workers_report_the_summed_totals_on_every_scrape(
    tmp_path: Path, fake: FakeUpstream
) -> None:
    config = tmp_path / "godex.yaml"
    config.write_text(CONFIG.format(data=tmp_path / "data", url=fake.base_url))
    port = free_port()
    proc = start_godex(config, port, tmp_path)
    try:
        wait_healthy(port, proc)
        base = f"http://127.0.0.1:{port}"
        for _ in range(10):  # a fresh connection each: the kernel spreads them over workers
            with httpx.Client() as client:
                r = client.post(f"{base}/v1/responses", json={"model": "gpt-5.5", "input": "x"})
                assert r.status_code == 200, r.text
        for _ in range(3):
            with httpx.Client() as client:
                assert client.get(f"{base}/v1/nope").status_code == 404
        for _ in range(8):  # whichever worker answers, the totals are the same
            with httpx.Client() as client:
                text = client.get(f"{base}/metrics").text
            requests = _samples(text, "godex_requests_total")
            served = sum(v for k, v in requests.items() if ("route", "responses.create") in k)
            assert served == 10.0, requests
            by_class = _samples(text, "godex_responses_total")
            key_ok = (("code", ""), ("route", "responses.create"), ("status_class", "2xx"))
            key_404 = (("code", "server.not_found"), ("route", "other"), ("status_class", "4xx"))
            assert by_class[key_ok] == 10.0 and by_class[key_404] == 3.0, by_class
            info = _samples(text, "godex_build_info")
            assert list(info.values()) == [1.0]
        types = _types(text)
        assert types["godex_trace_dropped"] == "counter"
        assert types["godex_requests"] == "counter"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)


def test_one_process_exports_process_metrics_and_counter_types(
    tmp_path: Path, fake: FakeUpstream
) -> None:
    config = make_config(tmp_path, [provider("p", "deepseek", fake.base_url)])
    with run_gateway(config) as gw, httpx.Client() as client:
        client.post(f"{gw.v1}/responses", json={"model": "p/m", "input": "x"})
        text = client.get(f"{gw.base_url}/metrics").text
    types = _types(text)
    assert types["process_cpu_seconds"] == "counter"
    assert "process_resident_memory_bytes" in types
    assert types["godex_trace_dropped"] == "counter"
    assert types["godex_circuit_breaker_transitions"] == "counter"
    assert _samples(text, "godex_circuit_breaker_state")[(("provider", "p"), ("state", "closed"))]
    assert "godex_build_info" in types
