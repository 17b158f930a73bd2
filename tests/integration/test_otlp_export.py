"""OTLP export: one server span per request, a client span per upstream attempt, GenAI attributes.

A test OTLP/HTTP endpoint on 127.0.0.1 receives the export; the body is decoded with the
official protobuf definitions (opentelemetry-proto).
"""

from __future__ import annotations

import dataclasses
import gzip
import queue
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from godex.config.schema import TelemetryConfig
from tests.fakes.replay_upstream import FakeUpstream, Reply, completion_body
from tests.support.gateway import make_config, provider, run_gateway

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


class Collector:
    """A minimal OTLP/HTTP trace receiver: every export request, decoded."""

    def __init__(self) -> None:
        self.exports: queue.Queue[tuple[str, ExportTraceServiceRequest]] = queue.Queue()
        received = self.exports

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                received.put((self.path, request))
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Collector:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def spans(self, count: int) -> tuple[list[str], list[Span], dict[str, Any]]:
        paths: list[str] = []
        spans: list[Span] = []
        resource: dict[str, Any] = {}
        while len(spans) < count:
            path, request = self.exports.get(timeout=20)
            paths.append(path)
            for rs in request.resource_spans:
                resource.update(_attrs(rs.resource.attributes))
                for scope in rs.scope_spans:
                    spans.extend(scope.spans)
        return paths, spans, resource


def _value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


def _attrs(kvs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in kvs}


@pytest.fixture
def fakes() -> Iterator[tuple[FakeUpstream, FakeUpstream]]:
    with FakeUpstream() as a, FakeUpstream() as b:
        a.default = lambda body: Reply.json({"error": {"message": "overloaded"}}, 503)
        b.default = lambda body: Reply.json(completion_body("from b", prompt=12, completion=7))
        yield a, b


def test_a_failed_over_request_exports_one_server_span_and_a_span_per_attempt(
    tmp_path: Path, fakes: tuple[FakeUpstream, FakeUpstream]
) -> None:
    a, b = fakes
    with Collector() as collector:
        config = make_config(
            tmp_path,
            [provider("a", "deepseek", a.base_url), provider("b", "deepseek", b.base_url)],
            aliases={"gpt-5.5": ["a/model-a", "b/model-b"]},  # a failover chain
        )
        config = dataclasses.replace(
            config,
            telemetry=TelemetryConfig(
                otlp_endpoint=f"http://127.0.0.1:{collector.port}", service_name="godex-test"
            ),
        )
        with run_gateway(config) as gw:
            r = httpx.post(
                f"{gw.v1}/responses",
                json={"model": "gpt-5.5", "input": "hi"},
                headers={"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01"},
                timeout=20,
            )
            assert r.status_code == 200, r.text
            gw.app.telemetry.force_flush()
            paths, spans, resource = collector.spans(3)
    assert set(paths) == {"/v1/traces"}
    assert resource["service.name"] == "godex-test"
    server = [s for s in spans if s.kind == Span.SPAN_KIND_SERVER]
    clients = [s for s in spans if s.kind == Span.SPAN_KIND_CLIENT]
    assert len(server) == 1 and len(clients) == 2
    root = server[0]
    assert root.trace_id.hex() == TRACE_ID and root.parent_span_id.hex() == CALLER_SPAN
    attrs = _attrs(root.attributes)
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == "gpt-5.5"
    assert attrs["gen_ai.response.model"] == "model-b"
    assert attrs["gen_ai.provider.name"] == attrs["gen_ai.system"] == "b"
    assert attrs["gen_ai.usage.input_tokens"] == 12
    assert attrs["gen_ai.usage.output_tokens"] == 7
    assert attrs["gen_ai.response.finish_reasons"] == ["stop"]
    assert attrs["http.response.status_code"] == 200
    # Upstream saw the request span as its parent, in the caller's trace.
    seen = {k.lower(): v for k, v in b.requests[-1].headers.items()}
    assert seen["traceparent"] == f"00-{TRACE_ID}-{root.span_id.hex()}-01"
    by_model = {_attrs(c.attributes)["gen_ai.request.model"]: c for c in clients}
    assert set(by_model) == {"model-a", "model-b"}
    for child in clients:
        assert child.trace_id == root.trace_id and child.parent_span_id == root.span_id
        assert root.start_time_unix_nano <= child.start_time_unix_nano
        assert child.end_time_unix_nano <= root.end_time_unix_nano
    failed = _attrs(by_model["model-a"].attributes)
    assert failed["godex.attempt.outcome"] == "failed_over"
    assert failed["gen_ai.provider.name"] == "a"
    assert by_model["model-a"].end_time_unix_nano <= by_model["model-b"].start_time_unix_nano
    assert _attrs(by_model["model-b"].attributes)["godex.attempt.outcome"] == "served"
