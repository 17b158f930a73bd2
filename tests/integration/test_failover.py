"""Failover chains, retries, circuit breakers and readiness over real sockets.

Provider A fails on cue; B answers. Every case counts the upstream calls exactly.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from godex.config.schema import (
    BreakerConfig,
    GodexConfig,
    ResilienceConfig,
    RetryConfig,
    TraceConfig,
)
from godex.trace import query
from tests.fakes.replay_upstream import FakeUpstream, Reply, chunk, completion_body, sse, usage
from tests.support.gateway import RunningGateway, make_config, provider, run_gateway
from tests.support.stream_checker import check_stream, sse_events

CHAIN = ("a/model-a", "b/model-b")


@pytest.fixture
def ups() -> Iterator[tuple[FakeUpstream, FakeUpstream]]:
    with FakeUpstream() as a, FakeUpstream() as b:
        b.default = _answer("from B")
        yield a, b


def _answer(text: str) -> Any:
    def reply(body: dict[str, Any]) -> Reply:
        if body.get("stream"):
            return Reply(body=sse(chunk(text), chunk("", finish="stop", usage=usage())))
        return Reply.json(completion_body(text))

    return reply


def _config(
    tmp: Path,
    a_url: str,
    b_url: str,
    *,
    retry: RetryConfig | None = None,
    breaker: BreakerConfig | None = None,
    **a_options: Any,
) -> GodexConfig:
    cfg = make_config(
        tmp,
        [provider("a", "deepseek", a_url, **a_options), provider("b", "deepseek", b_url)],
        aliases={"gpt-5.5": CHAIN, "*": CHAIN},
        trace=TraceConfig(enabled=True, path=str(tmp / "trace.db"), flush_interval_ms=20),
    )
    return dataclasses.replace(
        cfg,
        resilience=ResilienceConfig(
            retry=retry or RetryConfig(), breaker=breaker or BreakerConfig()
        ),
    )


def _post(gw: RunningGateway, *, stream: bool = True) -> httpx.Response:
    body = {"model": "gpt-5.5", "input": "hi", "stream": stream}
    return httpx.post(gw.v1 + "/responses", json=body, timeout=20)


def _trace(tmp: Path, request_id: str) -> dict[str, Any]:
    """A request's trace row, read once the gateway has stopped (which flushes the queue)."""
    row = query.get_request(str(tmp / "trace.db"), request_id)
    assert row is not None
    return row


def _served_by_b(resp: httpx.Response, stream: bool = True) -> None:
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-godex-provider"] == "b/model-b"
    final = check_stream(sse_events(resp.text)) if stream else resp.json()
    assert final["status"] == "completed"
    assert final["output"][0]["content"][0]["text"] == "from B"


def test_refused_connection_fails_over(tmp_path: Path, ups: tuple[FakeUpstream, ...]) -> None:
    _, b = ups
    with run_gateway(_config(tmp_path, "http://127.0.0.1:9", b.base_url)) as gw:
        resp = _post(gw)
        _served_by_b(resp)
        assert len(b.requests) == 1
    row = _trace(tmp_path, resp.headers["x-request-id"])
    assert [(a["provider"], a["outcome"]) for a in row["attempts"]] == [
        ("a", "failed_over"),
        ("b", "served"),
    ]
    assert row["attempts"][0]["code"] == "provider.connect_failed"
    assert row["provider"] == "b"


def test_first_byte_timeout_fails_over(tmp_path: Path, ups: tuple[FakeUpstream, ...]) -> None:
    a, b = ups
    late = threading.Event()
    a.push(Reply.json(completion_body("late"), headers_after=late))
    cfg = _config(tmp_path, a.base_url, b.base_url, first_byte_timeout_ms=200)
    try:
        with run_gateway(cfg) as gw:
            _served_by_b(_post(gw))
    finally:
        late.set()
    assert (len(a.requests), len(b.requests)) == (1, 1)


@pytest.mark.parametrize(
    "reply",
    [
        Reply.json({"error": {"message": "slow down"}}, status=429, headers={"retry-after": "1"}),
        Reply.json({"error": {"message": "overloaded"}}, status=503),
        Reply(body=b'data: {"error": {"message": "busy", "code": "overloaded"}}\n\n'),
    ],
    ids=["429-retry-after", "503", "error-inside-200"],
)
@pytest.mark.parametrize("stream", [True, False])
def test_failures_before_output_fail_over(
    tmp_path: Path, ups: tuple[FakeUpstream, ...], reply: Reply, stream: bool
) -> None:
    a, b = ups
    if not stream and reply.content_type == "text/event-stream":
        reply = Reply.json({"error": {"message": "busy", "code": "overloaded"}})
    a.push(reply)
    with run_gateway(_config(tmp_path, a.base_url, b.base_url)) as gw:
        _served_by_b(_post(gw, stream=stream), stream)
    assert (len(a.requests), len(b.requests)) == (1, 1)


def test_retries_stay_on_the_target_before_failing_over(
    tmp_path: Path, ups: tuple[FakeUpstream, ...]
) -> None:
    a, b = ups
    a.push(Reply.json({"error": {"message": "x"}}, status=503))
    a.push(Reply(body=sse(chunk("from A"), chunk("", finish="stop", usage=usage()))))
    retry = RetryConfig(attempts=3, backoff_ms=1, max_backoff_ms=5)
    with run_gateway(_config(tmp_path, a.base_url, b.base_url, retry=retry)) as gw:
        resp = _post(gw)
    assert resp.headers["x-godex-provider"] == "a/model-a"
    assert check_stream(sse_events(resp.text))["output"][0]["content"][0]["text"] == "from A"
    assert (len(a.requests), len(b.requests)) == (2, 0)


def test_a_client_error_is_never_failed_over(tmp_path: Path, ups: tuple[FakeUpstream, ...]) -> None:
    a, b = ups
    a.push(Reply.json({"error": {"message": "bad param", "type": "invalid_request_error"}}, 400))
    with run_gateway(_config(tmp_path, a.base_url, b.base_url)) as gw:
        resp = _post(gw)
    assert resp.status_code == 400
    assert (len(a.requests), len(b.requests)) == (1, 0)


def test_a_stream_that_failed_after_output_is_not_retried(
    tmp_path: Path, ups: tuple[FakeUpstream, ...]
) -> None:
    a, b = ups
    a.push(Reply(chunks=[sse(chunk("partial"), done=False)], pause_s=0.05, close_abruptly=True))
    with run_gateway(_config(tmp_path, a.base_url, b.base_url)) as gw:
        resp = _post(gw)
    final = check_stream(sse_events(resp.text))
    assert final["status"] == "failed"
    assert final["output"][0]["content"][0]["text"] == "partial"
    assert resp.headers["x-godex-provider"] == "a/model-a"
    assert (len(a.requests), len(b.requests)) == (1, 0)


def _wait_until(predicate: Any, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        threading.Event().wait(0.02)


def test_breaker_opens_half_opens_with_one_probe_and_closes(
    tmp_path: Path, ups: tuple[FakeUpstream, ...]
) -> None:
    a, b = ups
    failing = True
    probe_release = threading.Event()

    def a_reply(body: dict[str, Any]) -> Reply:
        if failing:
            return Reply.json({"error": {"message": "down"}}, status=503)
        # The probe is held until the test has seen the others go elsewhere.
        reply = _answer("from A")(body)
        reply.headers_after = probe_release
        return reply

    a.default = a_reply
    breaker = BreakerConfig(failures=3, cooldown_s=0.5)
    with run_gateway(_config(tmp_path, a.base_url, b.base_url, breaker=breaker)) as gw:
        for _ in range(3):
            _served_by_b(_post(gw))
        assert len(a.requests) == 3
        health = httpx.get(gw.base_url + "/health").json()
        assert health["providers"][0]["breakers"] == {"model-a": "open"}
        _served_by_b(_post(gw))
        assert len(a.requests) == 3  # open: A is not called
        metrics = httpx.get(gw.base_url + "/metrics").text
        assert 'godex_circuit_breaker_state{provider="a",state="open"} 1.0' in metrics
        assert 'godex_upstream_attempts_total{outcome="skipped",provider="a"} 1.0' in metrics
        # After the cool-down exactly one probe goes to A; while it runs, the rest skip A.
        _wait_until(lambda: gw.app.services.router.runtimes["a"].breaker("model-a").usable)
        failing = False
        with ThreadPoolExecutor(1) as pool:
            probe = pool.submit(_post, gw)
            _wait_until(lambda: len(a.requests) == 4)
            b_before = len(b.requests)
            for _ in range(2):
                _served_by_b(_post(gw))
            assert (len(a.requests), len(b.requests)) == (4, b_before + 2)
            probe_release.set()
            assert probe.result().headers["x-godex-provider"] == "a/model-a"
        health = httpx.get(gw.base_url + "/health").json()
        assert health["providers"][0]["breakers"] == {"model-a": "closed"}
        assert _post(gw).headers["x-godex-provider"] == "a/model-a"
        metrics = httpx.get(gw.base_url + "/metrics").text
        for state in ("open", "half_open", "closed"):
            line = f'godex_circuit_breaker_transitions_total{{provider="a",state="{state}"}}'
            assert line in metrics


def test_the_retry_budget_caps_calls_to_a_failing_provider(
    tmp_path: Path, ups: tuple[FakeUpstream, ...]
) -> None:
    a, b = ups
    a.default = lambda body: Reply.json({"error": {"message": "down"}}, status=503)
    retry = RetryConfig(attempts=5, backoff_ms=1, max_backoff_ms=2, budget_percent=10,
                        min_retries=2)  # fmt: skip
    breaker = BreakerConfig(failures=1000, min_requests=1000)
    cfg = _config(tmp_path, a.base_url, b.base_url, retry=retry, breaker=breaker)
    with run_gateway(cfg) as gw, ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: _post(gw), range(20)))
    assert all(r.headers["x-godex-provider"] == "b/model-b" for r in results)
    # Without the budget: 20 × 5 = 100 calls. With it: every first try, and retries within
    # 10% of the calls in the window plus 2.
    assert 20 <= len(a.requests) <= 20 + 2 + 4


def test_readiness_follows_the_default_route(tmp_path: Path, ups: tuple[FakeUpstream, ...]) -> None:
    a, b = ups
    down = True

    def reply(body: dict[str, Any]) -> Reply:
        if down:
            return Reply.json({"error": {"message": "down"}}, status=503)
        return Reply(body=sse(chunk("ok"), chunk("", finish="stop", usage=usage())))

    a.default = b.default = reply
    breaker = BreakerConfig(failures=1, cooldown_s=0.5)
    with run_gateway(_config(tmp_path, a.base_url, b.base_url, breaker=breaker)) as gw:
        assert httpx.get(gw.base_url + "/health/ready").status_code == 200
        assert httpx.get(gw.base_url + "/health/live").status_code == 200
        assert _post(gw).status_code == 502  # both fail: both breakers open
        assert httpx.get(gw.base_url + "/health/ready").status_code == 503
        assert httpx.get(gw.base_url + "/health/live").status_code == 200
        down = False
        _wait_until(lambda: httpx.get(gw.base_url + "/health/ready").status_code == 200)
        assert _post(gw).status_code == 200


def test_health_hides_upstream_urls_without_a_key(
    tmp_path: Path, ups: tuple[FakeUpstream, ...]
) -> None:
    a, b = ups
    cfg = _config(tmp_path, a.base_url, b.base_url)
    cfg = dataclasses.replace(cfg, server=dataclasses.replace(cfg.server, api_keys=("sk-c",)))
    with run_gateway(cfg) as gw:
        anonymous = httpx.get(gw.base_url + "/health").json()
        keyed = httpx.get(gw.base_url + "/health", headers={"authorization": "Bearer sk-c"}).json()
    assert "base_url" not in anonymous["providers"][0]
    assert a.base_url not in str(anonymous)
    assert keyed["providers"][0]["base_url"] == a.base_url
