"""The gateway core without HTTP or sockets: a parsed turn in, events out, on a memory transport."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from godex.bridge.request import parse_request
from godex.errors import GodexError
from godex.gateway.context import RequestContext
from godex.gateway.core import Gateway
from godex.gateway.wiring import build_services
from godex.upstream.memory import MemoryTransport, Scripted
from tests.fakes.replay_upstream import chunk, completion_body, sse, usage
from tests.support.gateway import make_config, provider
from tests.support.stream_checker import check_stream


def _gateway(tmp_path: Path, *answers: Scripted) -> tuple[Gateway, MemoryTransport]:
    transport = MemoryTransport(answers)
    cfg = make_config(tmp_path, [provider("ds", "deepseek", "http://upstream.invalid")])
    return Gateway(build_services(cfg, transport)), transport


def _ctx() -> RequestContext:
    return RequestContext("req_test", "POST", "/v1/responses", "responses.create")


def _turn(**body: Any) -> Any:
    return parse_request(
        json.dumps({"model": "ds/deepseek-v4-pro", "input": "hi", **body}).encode()
    )


async def test_a_sync_turn_completes_from_one_body(tmp_path: Path) -> None:
    body = json.dumps(completion_body("hello")).encode()
    gateway, transport = _gateway(tmp_path, Scripted(200, [body]))
    ctx = _ctx()
    exchange = await gateway.open(_turn(), ctx)
    done = await exchange.complete()
    exchange.close()
    assert done.response["status"] == "completed"
    assert done.response["output"][0]["content"][0]["text"] == "hello"
    assert json.loads(done.encoded) == done.response
    sent = transport.requests[0]
    assert sent.url == "http://upstream.invalid/chat/completions"
    assert json.loads(sent.body)["model"] == "deepseek-v4-pro"
    assert sent.timeouts.total_ms == 600_000 and sent.label == "ds"
    assert ctx.provider == "ds" and ctx.upstream_model == "deepseek-v4-pro"


async def test_a_streamed_turn_yields_batches_ending_in_one_terminal_event(tmp_path: Path) -> None:
    stream = sse(chunk("a"), chunk("b"), chunk("", finish="stop", usage=usage()))
    gateway, _ = _gateway(tmp_path, Scripted(200, [stream[:30], stream[30:]]))
    exchange = await gateway.open(_turn(stream=True), _ctx())
    events = exchange.start()
    async for batch in exchange.stream():
        events += batch
    exchange.close()
    assert exchange.finished
    final = check_stream(events)
    assert final["output"][0]["content"][0]["text"] == "ab"


async def test_an_upstream_error_status_raises_before_any_output(tmp_path: Path) -> None:
    err = json.dumps({"error": {"message": "Model Not Exist", "type": "invalid_request_error"}})
    gateway, _ = _gateway(tmp_path, Scripted(400, [err.encode()]))
    with pytest.raises(GodexError) as caught:
        await gateway.open(_turn(), _ctx())
    assert caught.value.status == 400 and caught.value.code.startswith("provider.")


async def test_a_truncated_stream_fails_with_one_terminal_event(tmp_path: Path) -> None:
    gateway, _ = _gateway(tmp_path, Scripted(200, [sse(chunk("half"), done=False)]))
    exchange = await gateway.open(_turn(stream=True), _ctx())
    events = exchange.start()
    async for batch in exchange.stream():
        events += batch
    final = check_stream(events)
    assert final["status"] == "failed"
    assert final["error"]["code"] == "provider.stream_truncated"
