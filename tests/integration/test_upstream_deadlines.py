"""Each upstream bound is enforced and named when it fires."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import httpx2 as httpx
import pytest
import uvloop

from godex.config.schema import UpstreamConfig
from godex.errors import GodexError
from godex.upstream.aiohttp_transport import _mapped
from godex.upstream.transport import Timeouts, UpstreamRequest
from tests.fakes.replay_upstream import FakeUpstream, Reply, chunk, completion_body, sse, usage
from tests.support.gateway import RunningGateway, make_config, provider, run_gateway
from tests.support.stream_checker import check_stream, sse_events


@pytest.fixture(scope="module", params=["builtin", "aiohttp"])
def gw(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[tuple[RunningGateway, FakeUpstream]]:
    # Both transports: each bounds a whole-body read by the request's deadline itself.
    tmp: Path = tmp_path_factory.mktemp("deadline")
    with FakeUpstream() as upstream:
        ds = provider("ds", "deepseek", upstream.base_url, timeout_ms=800)
        cfg = dataclasses.replace(
            make_config(tmp, [ds]), upstream=UpstreamConfig(transport=request.param)
        )
        with run_gateway(cfg) as gateway:
            yield gateway, upstream


def _drip(body: bytes) -> Reply:
    """Every byte on its own, 0.1 s apart: never idle, never done in time."""
    return Reply(body=body, chunks=[body[i : i + 1] for i in range(len(body))], pause_s=0.1)


def test_a_dripping_sync_answer_ends_at_timeout_ms(gw: tuple[RunningGateway, FakeUpstream]) -> None:
    gateway, upstream = gw
    reply = _drip(json.dumps(completion_body("slow")).encode())
    reply.content_type = "application/json"
    upstream.push(reply)
    started = time.monotonic()
    with httpx.Client(base_url=gateway.base_url, timeout=20) as c:
        resp = c.post("/v1/responses", json={"model": "m", "input": "x"})
    elapsed = time.monotonic() - started
    assert resp.status_code == 504
    error = resp.json()["error"]
    assert error["godex_code"] == "provider.deadline_exceeded"
    assert "timeout_ms" in error["message"] and "800 ms" in error["message"]
    assert elapsed < 5


def test_a_dripping_stream_fails_at_timeout_ms(gw: tuple[RunningGateway, FakeUpstream]) -> None:
    gateway, upstream = gw
    body = sse(*[chunk(f"w{i} ") for i in range(40)], chunk("", finish="stop", usage=usage()))
    upstream.push(Reply(body=body, chunks=[body[i : i + 60] for i in range(0, len(body), 60)],
                        pause_s=0.1))  # fmt: skip
    with httpx.Client(base_url=gateway.base_url, timeout=20) as c:
        resp = c.post("/v1/responses", json={"model": "m", "input": "x", "stream": True})
    final = check_stream(sse_events(resp.text))
    assert final["status"] == "failed"
    assert final["error"]["code"] == "provider.deadline_exceeded"
    assert final["output"] and final["output"][0]["status"] == "incomplete"


def test_a_connect_timeout_names_connect_timeout_ms() -> None:
    import aiohttp

    with (
        pytest.raises(GodexError) as caught,
        _mapped("ds", "http://x", "open", Timeouts(connect_ms=1234)),
    ):
        raise aiohttp.ConnectionTimeoutError("connect timed out")
    assert caught.value.code == "provider.connect_timeout" and caught.value.status == 504
    assert "1234 ms" in caught.value.message and "connect_timeout_ms" in caught.value.message


def test_a_body_that_never_arrives_is_a_408_in_openai_shape(
    gw: tuple[RunningGateway, FakeUpstream],
) -> None:
    import socket

    gateway, _ = gw
    gateway.app.state.body_timeout_s = 0.3
    try:
        with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as s:
            s.sendall(
                b"POST /v1/responses HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                b'content-length: 100\r\n\r\n{"model": '
            )
            started = time.monotonic()
            raw = b""
            while b"\r\n\r\n" not in raw or not raw.rstrip().endswith(b"}"):
                piece = s.recv(65536)
                if not piece:
                    break
                raw += piece
            waited = time.monotonic() - started
    finally:
        gateway.app.state.body_timeout_s = 30.0
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408")
    error = json.loads(body)["error"]
    assert error["godex_code"] == "server.body_timeout" and error["type"] == "invalid_request_error"
    assert 0.25 < waited < 3


class _NeverDone:
    """An aiohttp response whose body never finishes."""

    status = 200
    headers: ClassVar[dict[str, str]] = {}

    async def read(self) -> bytes:
        await asyncio.Event().wait()
        return b""


def test_a_body_read_cut_by_the_deadline_is_named_so_on_uvloop() -> None:
    # uvloop's timers step by milliseconds and often fire just before the deadline by the
    # loop's own clock: the bound that fired is asked of the timer, not of the clock.
    from godex.upstream.aiohttp_transport import _Response

    async def codes() -> list[str]:
        loop = asyncio.get_running_loop()
        got = []
        for i in range(40):
            request = UpstreamRequest(
                "http://up", {}, b"", Timeouts(total_ms=3), "ds", loop.time() + 0.001 + i / 10_000
            )
            with pytest.raises(GodexError) as caught:
                await _Response(_NeverDone(), request).read()  # type: ignore[arg-type]
            got.append(caught.value.code)
        return got

    assert set(uvloop.run(codes())) == {"provider.deadline_exceeded"}
