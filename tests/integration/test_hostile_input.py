"""Hostile input against the real gateway: schemas, nesting, giant labels, leaked keys, bad HTTP.

Each test asserts the exact outcome (status, error code, param) and, where a request could
stall the event loop, that ``/health`` keeps answering within 50 ms while it runs.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from godex.config.schema import TraceConfig
from tests.fakes.replay_upstream import FakeUpstream, Reply, completion_body, sse
from tests.support.gateway import RunningGateway, make_config, provider, run_gateway

KEY = "sk-live-abc123def456ghi789jkl"  # the provider key an upstream 401 echoes back
HEALTH_BUDGET_S = 0.050


@pytest.fixture(scope="module")
def gw(
    upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    tmp = tmp_path_factory.mktemp("hostile")
    cfg = make_config(
        tmp,
        [provider("ds", "deepseek", upstream.base_url, api_key=KEY)],
        aliases={"gpt-5.5": "ds/deepseek-v4-pro"},
    )
    with run_gateway(cfg) as running:
        yield running


@pytest.fixture
def http(gw: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gw.base_url, timeout=20) as c:
        yield c


def _schema_body(schema: Any) -> dict[str, Any]:
    fmt = {"type": "json_schema", "name": "s", "schema": schema, "strict": True}
    return {"model": "gpt-5.5", "input": "x", "text": {"format": fmt}}


def _error(resp: httpx.Response) -> dict[str, Any]:
    err: dict[str, Any] = resp.json()["error"]
    return err


class HealthProbe:
    """Round trips to /health on one keep-alive connection, timed."""

    def __init__(self, port: int) -> None:
        self.conn = HTTPConnection("127.0.0.1", port, timeout=10)
        self.times: list[float] = []

    def once(self) -> None:
        t0 = time.perf_counter()
        self.conn.request("GET", "/health")
        resp = self.conn.getresponse()
        resp.read()
        self.times.append(time.perf_counter() - t0)
        assert resp.status == 200

    def while_alive(self, threads: list[threading.Thread]) -> None:
        self.once()  # warm the connection
        self.times.clear()
        while any(t.is_alive() for t in threads):
            self.once()
        self.conn.close()


def _run_in_threads(n: int, work: Any) -> list[threading.Thread]:
    threads = [threading.Thread(target=work, daemon=True) for _ in range(n)]
    for t in threads:
        t.start()
    return threads


# -- schemas -------------------------------------------------------------------------------


def test_remote_refs_are_a_400_and_nothing_is_fetched(
    http: httpx.Client, upstream: FakeUpstream
) -> None:
    # A listener that would stall any fetch: it must never see a connection.
    trap = socket.socket()
    trap.bind(("127.0.0.1", 0))
    trap.listen(8)
    trap.setblocking(False)
    url = f"http://127.0.0.1:{trap.getsockname()[1]}/schema.json"
    try:
        for ref in (url, "file:///etc/passwd"):
            schema = {"type": "object", "properties": {"a": {"$ref": ref}}}
            resp = http.post("/v1/responses", json=_schema_body(schema))
            err = _error(resp)
            assert resp.status_code == 400
            assert (err["code"], err["param"]) == ("invalid_json_schema_ref", "text.format.schema")
            assert err["type"] == "invalid_request_error" and ref in err["message"]
        with pytest.raises(BlockingIOError):
            trap.accept()
    finally:
        trap.close()
    assert upstream.requests == []


@pytest.mark.parametrize(
    ("schema", "code", "needle"),
    [
        ({"$ref": "#"}, "invalid_json_schema_ref", "'#'"),
        (
            {"anyOf": [{"$ref": "#/$defs/a"}], "$defs": {"a": {"$ref": "#"}}},
            "invalid_json_schema_ref",
            "'#",
        ),
        ({"type": "string", "pattern": "(("}, "invalid_json_schema", "'(('"),
        ({"type": "object", "patternProperties": {"(?<=a)": {}}}, "invalid_json_schema", "(?<=a)"),
    ],
)
def test_uncheckable_schemas_are_a_400_with_param(
    http: httpx.Client, upstream: FakeUpstream, schema: Any, code: str, needle: str
) -> None:
    resp = http.post("/v1/responses", json=_schema_body(schema))
    err = _error(resp)
    assert resp.status_code == 400
    assert (err["code"], err["param"], err["godex_code"]) == (
        code,
        "text.format.schema",
        "bridge.invalid_request",
    )
    assert needle in err["message"]
    assert upstream.requests == []


def test_redos_pattern_does_not_stall_health(gw: RunningGateway, upstream: FakeUpstream) -> None:
    hostile = json.dumps("a" * 200_000 + "!")
    upstream.default = lambda body: Reply.json(completion_body(hostile))
    body = _schema_body({"type": "string", "pattern": "^(a+)+$"})
    outcomes: list[tuple[int, str]] = []

    def work() -> None:
        with httpx.Client(base_url=gw.base_url, timeout=30) as c:
            for _ in range(8):
                r = c.post("/v1/responses", json=body)
                outcomes.append((r.status_code, (r.json().get("error") or {}).get("code")))

    probe = HealthProbe(gw.port)
    probe.while_alive(_run_in_threads(3, work))
    assert outcomes == [(200, "bridge.output_contract_violation")] * 24
    assert probe.times, "no health round trip overlapped the hostile requests"
    assert max(probe.times) < HEALTH_BUDGET_S, f"/health took {max(probe.times) * 1000:.1f} ms"


# -- request limits ------------------------------------------------------------------------


@pytest.mark.parametrize(("levels", "param"), [(100, "input"), (1_000, None), (100_000, None)])
def test_deep_nesting_is_a_400(
    http: httpx.Client, upstream: FakeUpstream, levels: int, param: str | None
) -> None:
    raw = b'{"model":"gpt-5.5","input":' + b"[" * levels + b"]" * levels + b"}"
    resp = http.post("/v1/responses", content=raw, headers={"content-type": "application/json"})
    err = _error(resp)
    assert resp.status_code == 400
    assert (err["code"], err["godex_code"], err["param"]) == (
        "json_nesting_too_deep",
        "limits.nesting_too_deep",
        param,
    )
    assert upstream.requests == []


def test_deep_nesting_does_not_stall_health(gw: RunningGateway) -> None:
    raw = b'{"model":"gpt-5.5","input":' + b"[" * 500_000 + b"]" * 500_000 + b"}"
    statuses: list[int] = []

    def work() -> None:
        with httpx.Client(base_url=gw.base_url, timeout=30) as c:
            for _ in range(4):
                statuses.append(c.post("/v1/responses", content=raw).status_code)

    probe = HealthProbe(gw.port)
    probe.while_alive(_run_in_threads(2, work))
    assert statuses == [400] * 8
    assert probe.times and max(probe.times) < HEALTH_BUDGET_S


def test_giant_model_strings_are_a_400_and_do_not_grow_metrics(
    http: httpx.Client, upstream: FakeUpstream
) -> None:
    upstream.default = lambda body: Reply.json(completion_body("ok"))
    http.post("/v1/responses", json={"model": "gpt-5.5", "input": "warm"})

    def series() -> set[str]:
        # Each series once, whatever its value: what a stream of requests must not grow.
        text = http.get("/metrics").text
        assert "qqqq" not in text and "mmmm" not in text
        return {line.rsplit(" ", 1)[0] for line in text.splitlines()}

    def hostile_round(tag: str) -> None:
        for i in range(20):
            model = f"{tag}{i}" + "m" * 1_000_000
            resp = http.post("/v1/responses", json={"model": model, "input": "x"})
            err = _error(resp)
            assert resp.status_code == 400
            assert (err["param"], err["code"]) == ("model", "string_above_max_length")
        for i in range(20):  # long but accepted model names reach the upstream: "other"
            model = f"{tag}{i:03d}" + "q" * 200
            assert (
                http.post("/v1/responses", json={"model": model, "input": "x"}).status_code == 200
            )

    hostile_round("a")  # the first round may add the few "other" series, once
    series()  # and the scrape its own route's series
    before = series()
    hostile_round("b")
    after = series()
    assert after == before, sorted(after ^ before)


# -- upstream credentials --------------------------------------------------------------------


def test_upstream_401_echoing_the_key_is_scrubbed_for_client_and_trace(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    db = tmp_path / "trace.db"
    cfg = make_config(
        tmp_path,
        [provider("ds", "deepseek", upstream.base_url, api_key=KEY)],
        trace=TraceConfig(enabled=True, path=str(db), flush_interval_ms=20, capture_payload=True),
    )
    echo = {
        "error": {
            "message": f"Incorrect API key provided: {KEY}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
    upstream.push(
        Reply.json(echo, status=401),
        Reply.json(echo, status=401),
        Reply(sse({"error": {"message": f"Authentication failed for Bearer {KEY}"}})),
    )
    with run_gateway(cfg) as gw, httpx.Client(base_url=gw.base_url, timeout=20) as c:
        sync = c.post("/v1/responses", json={"model": "m", "input": "x"})
        stream = c.post("/v1/responses", json={"model": "m", "input": "x", "stream": True})
        frame = c.post("/v1/responses", json={"model": "m", "input": "x", "stream": True})
    assert sync.status_code == 502 and _error(sync)["code"] == "provider.auth"
    assert "Incorrect API key provided: [redacted]" in _error(sync)["message"]
    # A stream refused before its first byte is a plain 502; an error frame mid-stream fails it.
    assert stream.status_code == 502 and _error(stream)["code"] == "provider.auth"
    assert frame.status_code == 200 and "response.failed" in frame.text
    dump = db.read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("trace.db-*"))
    conn = sqlite3.connect(db)
    try:
        messages = [r[0] for r in conn.execute("SELECT upstream_message FROM requests")]
    finally:
        conn.close()
    assert len(messages) == 3 and all("[redacted]" in (m or "") for m in messages[:2]), messages
    assert "Authentication failed for Bearer [redacted]" in frame.text
    for text in (sync.text, stream.text, frame.text):
        assert KEY not in text and "abc123def456" not in text
    assert KEY.encode() not in dump and b"abc123def456" not in dump


# -- HTTP-level malformed requests -----------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Bad: a\rb\r\n\r\n",
        b"POST /v1/responses HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n",
        b"NOT A REQUEST LINE\r\n\r\n",
        b"GET /health HTTP/9.9\r\nHost: x\r\n\r\n",
    ],
    ids=["cr-in-header", "bad-chunk-size", "bad-request-line", "bad-version"],
)
def test_malformed_http_gets_an_openai_shaped_400(gw: RunningGateway, raw: bytes) -> None:
    with socket.create_connection(("127.0.0.1", gw.port), timeout=5) as s:
        s.sendall(raw)
        data = b""
        while chunk_ := s.recv(65536):
            data += chunk_
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 400 Bad Request"
    assert "content-type: application/json" in [h.lower() for h in lines[1:]]
    err = json.loads(body)["error"]
    assert err["type"] == "invalid_request_error" and err["param"] is None
    assert err["code"] == "server.bad_http_request" and err["message"]


# -- generated bodies --------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=20,
)
_fields = st.sampled_from(
    ["model", "input", "tools", "tool_choice", "text", "stream", "store", "include", "reasoning"]
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=st.dictionaries(_fields, _json, max_size=6))
def test_generated_bodies_never_get_a_500(gw: RunningGateway, body: dict[str, Any]) -> None:
    with httpx.Client(base_url=gw.base_url, timeout=20) as c:
        resp = c.post("/v1/responses", json=body)
    assert resp.status_code < 500 or _error(resp)["godex_code"].startswith("provider."), resp.text
    if resp.status_code >= 400:
        assert set(_error(resp)) >= {"message", "type", "param", "code"}
