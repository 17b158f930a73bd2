"""GET /v1/responses/{id}?stream=true replays exactly the events the live stream sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from godex.config.schema import SessionConfig
from tests.fakes.replay_upstream import FakeUpstream, Reply, chunk, completion_body, sse, usage
from tests.support.gateway import RunningGateway, make_config, provider, run_gateway
from tests.support.stream_checker import check_stream
from tests.support.stream_checker import sse_events as _events

PATCH = '*** Begin Patch\n*** Add File: a.txt\n+hello "world"\n*** End Patch\n'
TOOLS = [
    {"type": "function", "name": "get_weather", "parameters": {"type": "object"}},
    {"type": "custom", "name": "apply_patch", "description": "patch files"},
]


def _call(index: int, call_id: str | None, name: str | None, args: str) -> dict[str, Any]:
    fn: dict[str, Any] = {"arguments": args}
    if name:
        fn["name"] = name
    call: dict[str, Any] = {"index": index, "type": "function", "function": fn}
    if call_id:
        call["id"] = call_id
    return call


CASES: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]] = {
    "text": (
        [chunk("Hel"), chunk("lo, "), chunk("world"), chunk("", finish="stop", usage=usage())],
        {},
    ),
    "summary_reasoning": (
        [
            chunk(reasoning="think "),
            chunk(reasoning="hard"),
            chunk("answer"),
            chunk("", finish="stop", usage=usage(reasoning=3)),
        ],
        {"reasoning": {"effort": "high", "summary": "auto"}},
    ),
    "raw_reasoning": (
        [
            chunk(reasoning="step one, "),
            chunk(reasoning="step two"),
            chunk("done"),
            chunk("", finish="stop", usage=usage()),
        ],
        {"reasoning": {"effort": "high"}, "include": ["reasoning.encrypted_content"]},
    ),
    "function_calls": (
        [
            chunk(tool_calls=[_call(0, "call_a", "get_weather", "")]),
            chunk(tool_calls=[_call(0, None, None, '{"city": ')]),
            chunk(tool_calls=[_call(0, None, None, '"Paris"}')]),
            chunk(tool_calls=[_call(1, "call_b", "get_weather", '{"city": "Rome"}')]),
            chunk(None, finish="tool_calls", usage=usage()),
        ],
        {"tools": TOOLS},
    ),
    "custom_tool_call": (
        [
            chunk(tool_calls=[_call(0, "call_p", "apply_patch", '{"input": ')]),
            chunk(tool_calls=[_call(0, None, None, json.dumps(PATCH)[:20])]),
            chunk(tool_calls=[_call(0, None, None, json.dumps(PATCH)[20:] + "}")]),
            chunk(None, finish="tool_calls", usage=usage()),
        ],
        {"tools": TOOLS},
    ),
}


@pytest.fixture(scope="module", params=["memory", "sqlite"])
def gw(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningGateway, FakeUpstream]]:
    tmp: Path = tmp_path_factory.mktemp("replay")
    with FakeUpstream() as upstream:
        session = SessionConfig(backend=request.param, sqlite_path=str(tmp / "sessions.db"))
        cfg = make_config(tmp, [provider("ds", "deepseek", upstream.base_url)], session=session)
        with run_gateway(cfg, keepalive_s=0.05) as gateway:
            yield gateway, upstream


def _live_and_replayed(
    gw: tuple[RunningGateway, FakeUpstream], reply: Reply, extra: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    gateway, upstream = gw
    upstream.push(reply)
    body = {"model": "ds/deepseek-v4-pro", "input": "hi", "stream": True, **extra}
    with httpx.Client(base_url=gateway.base_url, timeout=20) as c:
        live = _events(c.post("/v1/responses", json=body).text)
        rid = live[0]["response"]["id"]
        replayed = _events(c.get(f"/v1/responses/{rid}", params={"stream": "true"}).text)
    return live, replayed


@pytest.mark.parametrize("case", sorted(CASES))
def test_replay_yields_the_live_events(gw: tuple[RunningGateway, FakeUpstream], case: str) -> None:
    chunks, extra = CASES[case]
    live, replayed = _live_and_replayed(gw, Reply(body=sse(*chunks)), extra)
    final = check_stream(live)
    assert final["status"] == "completed"
    assert replayed == live


def test_replay_keeps_the_keepalives_of_a_slow_stream(
    gw: tuple[RunningGateway, FakeUpstream],
) -> None:
    body = sse(chunk("slow "), chunk("answer"), chunk("", finish="stop", usage=usage()))
    pieces = [body[:40], body[40:90], body[90:]]
    live, replayed = _live_and_replayed(gw, Reply(body=body, chunks=pieces, pause_s=0.2), {})
    assert [e["type"] for e in live].count("response.in_progress") >= 2
    assert replayed == live


def test_replay_of_a_failed_stream_ends_failed_the_same_way(
    gw: tuple[RunningGateway, FakeUpstream],
) -> None:
    body = sse(chunk("partial "), done=False)
    live, replayed = _live_and_replayed(gw, Reply(body=body), {})
    assert live[-1]["type"] == "response.failed"
    assert replayed == live


def test_replay_starting_after_cuts_by_sequence_number(
    gw: tuple[RunningGateway, FakeUpstream],
) -> None:
    chunks, extra = CASES["text"]
    live, _ = _live_and_replayed(gw, Reply(body=sse(*chunks)), extra)
    gateway, _ = gw
    rid = live[0]["response"]["id"]
    with httpx.Client(base_url=gateway.base_url, timeout=20) as c:
        resp = c.get(f"/v1/responses/{rid}", params={"stream": "true", "starting_after": "3"})
    assert _events(resp.text) == live[4:]


def test_a_sync_answer_replays_as_a_valid_stream_of_the_same_response(
    gw: tuple[RunningGateway, FakeUpstream],
) -> None:
    gateway, upstream = gw
    calls = [
        {"id": "call_s", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    ]
    upstream.push(
        Reply.json(completion_body("sure", reasoning="mull", tool_calls=calls, finish="tool_calls"))
    )
    body = {
        "model": "ds/deepseek-v4-pro",
        "input": "hi",
        "tools": TOOLS,
        "reasoning": {"effort": "high", "summary": "auto"},
    }
    with httpx.Client(base_url=gateway.base_url, timeout=20) as c:
        sync = c.post("/v1/responses", json=body).json()
        events = _events(c.get(f"/v1/responses/{sync['id']}", params={"stream": "true"}).text)
    assert check_stream(events) == sync
    kinds = [e["type"] for e in events]
    assert "response.reasoning_summary_text.delta" in kinds
    assert "response.function_call_arguments.delta" in kinds
