"""Failure modes, timeouts, keep-alive events, structured output and Codex tool shapes."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import pytest

from tests.fakes.replay_upstream import FakeUpstream, Reply, chunk, completion_body, sse, usage
from tests.support.gateway import make_config, provider, run_gateway
from tests.support.stream_checker import check_stream
from tests.support.stream_checker import sse_events as _events


def _wait(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_client_disconnect_cancels_upstream(upstream: FakeUpstream, tmp_path: Path) -> None:
    pieces = [sse(chunk("first"), done=False)] + [b": keep-alive\n\n"] * 400
    upstream.push(Reply(chunks=pieces, pause_s=0.02))
    cfg = make_config(tmp_path, [provider("ds", "deepseek", upstream.base_url)])
    with run_gateway(cfg) as gw, httpx.Client(timeout=10) as c:
        body = {"model": "m", "input": "x", "stream": True}
        with c.stream("POST", gw.v1 + "/responses", json=body) as resp:
            for line in resp.iter_lines():
                if "output_text.delta" in line:
                    break  # the client walks away mid-stream
        assert _wait(lambda: upstream.disconnects >= 1), "upstream request was not cancelled"


def test_idle_timeout_ignores_keepalive_comments(upstream: FakeUpstream, tmp_path: Path) -> None:
    pieces = [sse(chunk("slow"), done=False)] + [b": keep-alive\n\n"] * 100
    upstream.push(Reply(chunks=pieces, pause_s=0.05))
    cfg = make_config(
        tmp_path, [provider("ds", "deepseek", upstream.base_url, idle_timeout_ms=400)]
    )
    with run_gateway(cfg, keepalive_s=0.1) as gw, httpx.Client(timeout=20) as c:
        resp = c.post(gw.v1 + "/responses", json={"model": "m", "input": "x", "stream": True})
    events = _events(resp.text)
    final = check_stream(events)
    assert final["status"] == "failed"
    assert "no data" in final["error"]["message"]
    # Real events kept flowing while the upstream only sent comments.
    assert any(e["type"] == "response.in_progress" for e in events[2:])


def test_slow_upstream_gets_in_progress_events(upstream: FakeUpstream, tmp_path: Path) -> None:
    upstream.push(
        Reply(
            chunks=[
                sse(chunk("a"), done=False),
                b"",
                b"",
                sse(chunk("b"), chunk("", finish="stop", usage=usage(1, 2))),
            ],
            pause_s=0.2,
        )
    )
    cfg = make_config(tmp_path, [provider("ds", "deepseek", upstream.base_url)])
    with run_gateway(cfg, keepalive_s=0.05) as gw:
        client = openai.OpenAI(base_url=gw.v1, api_key="k", max_retries=0)
        with client.responses.stream(model="m", input="x") as stream:
            kinds = [e.type for e in stream]
            final = stream.get_final_response()
    assert final.output_text == "ab"
    assert kinds.count("response.in_progress") >= 3


def test_connect_failure_is_typed(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, [provider("ds", "deepseek", "http://127.0.0.1:9")])
    with run_gateway(cfg) as gw, httpx.Client(timeout=10) as c:
        resp = c.post(gw.v1 + "/responses", json={"model": "m", "input": "x"})
    assert resp.status_code == 502
    assert resp.json()["error"]["godex_code"] == "provider.connect_failed"


@pytest.mark.parametrize("junk", [b"data: {not json\n\n", b'data: {"a": "\xff\xfe"}\n\n'])
def test_malformed_chunk_fails_the_stream_keeping_the_partial_output(
    http: httpx.Client, upstream: FakeUpstream, junk: bytes
) -> None:
    # Issue 14 reversed the old tolerance: skipping a chunk silently lost answer text.
    upstream.push(
        Reply(
            sse(chunk("ok "), done=False)
            + junk
            + sse(chunk("still"), chunk("", finish="stop", usage=usage()))
        )
    )
    resp = http.post("/v1/responses", json={"model": "gpt-5.5", "input": "x", "stream": True})
    events = _events(resp.text)
    final = check_stream(events)
    assert final["status"] == "failed"
    assert final["error"]["code"] == "provider.bad_response"
    assert final["output"][0]["content"][0]["text"] == "ok "
    assert final["output"][0]["status"] == "incomplete"
    errors = [e for e in events if e["type"] == "error"]
    assert len(errors) == 1 and errors[0]["code"] == "provider.bad_response"


SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "integer"}},
    "required": ["answer"],
    "additionalProperties": False,
}
FORMAT: Any = {"format": {"type": "json_schema", "name": "sum", "schema": SCHEMA, "strict": True}}


def test_structured_output_downgraded_and_validated(
    client: openai.OpenAI, upstream: FakeUpstream
) -> None:
    upstream.push(Reply.json(completion_body('{"answer": 4}')))
    ok = client.responses.create(model="gpt-5.5", input="2+2", text=FORMAT)
    assert ok.status == "completed" and json.loads(ok.output_text) == {"answer": 4}
    sent = upstream.last
    assert sent["response_format"] == {"type": "json_object"}
    assert "sum" in sent["messages"][-1]["content"]

    upstream.push(Reply.json(completion_body('{"answer": "four"}')))
    bad = client.responses.create(model="gpt-5.5", input="2+2", text=FORMAT)
    assert bad.status == "failed"
    assert bad.error is not None and bad.error.code == "bridge.output_contract_violation"  # type: ignore[comparison-overlap]


def test_structured_output_checked_before_terminal_event(
    http: httpx.Client, upstream: FakeUpstream
) -> None:
    upstream.push(Reply(sse(chunk("not "), chunk("json"), chunk("", finish="stop", usage=usage()))))
    body = {
        "model": "gpt-5.5",
        "input": "x",
        "stream": True,
        "text": {"format": {"type": "json_object"}},
    }
    with http.stream("POST", "/v1/responses", json=body) as resp:
        events = _events(resp.read().decode())
    final = check_stream(events)
    assert events[-1]["type"] == "response.failed"
    assert final["error"]["code"] == "bridge.output_contract_violation"


def test_json_schema_native_for_capable_provider(
    client: openai.OpenAI, upstream: FakeUpstream
) -> None:
    upstream.push(Reply.json(completion_body('{"answer": 1}')))
    client.responses.create(model="plain", input="x", text=FORMAT)
    assert upstream.last["response_format"]["type"] == "json_schema"
    assert upstream.last["response_format"]["json_schema"]["schema"] == SCHEMA


def test_tampered_reasoning_is_ignored(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    upstream.push(Reply.json(completion_body("fine")))
    items: Any = [
        {"role": "user", "content": "go"},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gdx1.AAAA.BBBB"},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "x"},
    ]
    resp = client.responses.create(model="gpt-5.5", input=items, store=False)
    assert resp.status == "completed"
    assistant = upstream.last["messages"][1]
    assert "reasoning_content" not in assistant
    assert upstream.last["thinking"] == {"type": "disabled"}


def test_codex_tool_shapes_round_trip(http: httpx.Client, upstream: FakeUpstream) -> None:
    patch = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch\n"
    args = json.dumps({"input": patch})
    upstream.push(
        Reply(
            sse(
                chunk(
                    tool_calls=[
                        {
                            "index": 0,
                            "id": "c_p",
                            "type": "function",
                            "function": {"name": "apply_patch", "arguments": args[:9]},
                        }
                    ]
                ),
                chunk(tool_calls=[{"index": 0, "function": {"arguments": args[9:]}}]),
                chunk(
                    tool_calls=[
                        {
                            "index": 1,
                            "id": "c_s",
                            "type": "function",
                            "function": {"name": "multi__spawn", "arguments": "{}"},
                        }
                    ]
                ),
                chunk(
                    tool_calls=[
                        {
                            "index": 2,
                            "id": "c_l",
                            "type": "function",
                            "function": {"name": "shell", "arguments": '{"command":["ls","-l"]}'},
                        }
                    ]
                ),
                chunk(finish="tool_calls", usage=usage()),
            )
        )
    )
    tools = [
        {
            "type": "custom",
            "name": "apply_patch",
            "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"},
        },
        {
            "type": "namespace",
            "name": "multi",
            "description": "agents",
            "tools": [
                {
                    "type": "function",
                    "name": "spawn",
                    "parameters": {"type": "object", "properties": {}},
                }
            ],
        },
        {"type": "local_shell"},
        {"type": "web_search"},
    ]
    body = {"model": "gpt-5.5", "input": "go", "stream": True, "tools": tools}
    with http.stream("POST", "/v1/responses", json=body) as resp:
        events = _events(resp.read().decode())
    final = check_stream(events)
    kinds = [i["type"] for i in final["output"]]
    assert kinds == ["custom_tool_call", "function_call", "local_shell_call"]
    assert final["output"][0]["input"] == patch
    assert final["output"][1]["namespace"] == "multi" and final["output"][1]["name"] == "spawn"
    assert final["output"][2]["action"]["command"] == ["ls", "-l"]
    streamed = "".join(
        e["delta"] for e in events if e["type"] == "response.custom_tool_call_input.delta"
    )
    assert streamed == patch


def test_first_byte_timeout_is_504(upstream: FakeUpstream, tmp_path: Path) -> None:
    release = threading.Event()
    upstream.push(Reply.json(completion_body("late"), headers_after=release))
    cfg = make_config(
        tmp_path, [provider("ds", "deepseek", upstream.base_url, first_byte_timeout_ms=300)]
    )
    try:
        with run_gateway(cfg) as gw, httpx.Client(timeout=10) as c:
            resp = c.post(gw.v1 + "/responses", json={"model": "m", "input": "x"})
    finally:
        release.set()
    assert resp.status_code == 504
    assert resp.json()["error"]["godex_code"] == "provider.timeout"
    assert "300 ms" in resp.json()["error"]["message"]
