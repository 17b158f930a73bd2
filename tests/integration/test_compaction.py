"""Remote compaction (Codex's built-in provider), through the SDK and raw HTTP."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import pytest

from godex.config.schema import CompactionConfig
from tests.fakes.replay_upstream import FakeUpstream, Reply, completion_body
from tests.support.gateway import make_config, provider, run_gateway
from tests.support.stream_checker import check_stream

HISTORY: list[dict[str, Any]] = [
    {
        "type": "message",
        "role": "developer",
        "content": [{"type": "input_text", "text": "You are Codex."}],
    },
    {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "Fix the bug in app.py"}],
    },
    {
        "type": "function_call",
        "call_id": "c1",
        "name": "exec_command",
        "arguments": '{"cmd":"cat app.py"}',
    },
    {"type": "function_call_output", "call_id": "c1", "output": "print(1/0)"},
    {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Found it."}],
    },
]
TRIGGER = {"type": "compaction_trigger"}
TOOLS: Any = [
    {
        "type": "function",
        "name": "exec_command",
        "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}},
    }
]


def _compact(client: openai.OpenAI, upstream: FakeUpstream, **kw: Any) -> Any:
    upstream.push(
        Reply.json(completion_body("SUMMARY: user wants app.py fixed; division by zero found."))
    )
    return client.responses.create(model="gpt-5.5", input=[*HISTORY, TRIGGER], tools=TOOLS, **kw)


def test_trigger_yields_one_compaction_item(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    resp = _compact(client, upstream, store=False)
    assert [i.type for i in resp.output] == ["compaction"]
    item = resp.output[0].model_dump()
    assert item["id"].startswith("cmp_")
    assert item["encrypted_content"]
    sent = upstream.last
    assert "tools" not in sent  # no tools offered to the summary call
    assert "summar" in sent["messages"][-1]["content"].lower()


def test_trigger_streamed(http: httpx.Client, upstream: FakeUpstream) -> None:
    upstream.push(Reply.json(completion_body("SUMMARY text")))
    with http.stream(
        "POST",
        "/v1/responses",
        json={"model": "gpt-5.5", "input": [*HISTORY, TRIGGER], "stream": True, "store": False},
    ) as resp:
        assert resp.status_code == 200
        raw = resp.read().decode()
    import json

    events = [json.loads(line[5:]) for line in raw.splitlines() if line.startswith("data:")]
    final = check_stream(events)
    assert [i["type"] for i in final["output"]] == ["compaction"]
    assert not any(e["type"].startswith("response.output_text") for e in events)


def test_replayed_compaction_becomes_summary(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    item = _compact(client, upstream, store=False).output[0].model_dump()
    upstream.push(Reply.json(completion_body("continuing")))
    client.responses.create(
        model="gpt-5.5",
        input=[item, {"role": "user", "content": "go on"}],
        store=False,
    )
    msgs = upstream.last["messages"]
    joined = " ".join(str(m.get("content")) for m in msgs)
    assert "SUMMARY: user wants app.py fixed" in joined
    assert "cat app.py" not in joined


def test_foreign_compaction_dropped(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    upstream.push(Reply.json(completion_body("ok")))
    resp = client.responses.create(
        model="gpt-5.5",
        input=[
            {"type": "compaction", "id": "cmp_openai", "encrypted_content": "gAAAAB-openai-blob"},
            {"role": "user", "content": "hi"},
        ],
        store=False,
    )
    assert resp.output_text == "ok"
    assert [m["content"] for m in upstream.last["messages"]] == ["hi"]


def test_misplaced_trigger_is_400(http: httpx.Client) -> None:
    resp = http.post(
        "/v1/responses",
        json={"model": "gpt-5.5", "input": [TRIGGER, {"role": "user", "content": "x"}]},
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == "input"


def test_chain_after_compaction_skips_old_history(
    client: openai.OpenAI, upstream: FakeUpstream
) -> None:
    upstream.push(Reply.json(completion_body("Found it.")))
    first = client.responses.create(model="gpt-5.5", input=HISTORY[:2])
    compacted = _compact_chain(client, upstream, first.id)
    upstream.push(Reply.json(completion_body("next")))
    client.responses.create(model="gpt-5.5", input="and now?", previous_response_id=compacted.id)
    contents = [str(m.get("content")) for m in upstream.last["messages"]]
    assert not any(c == "Fix the bug in app.py" for c in contents)
    assert any("SUMMARY" in c for c in contents)
    assert contents[-1] == "and now?"


def _compact_chain(client: openai.OpenAI, upstream: FakeUpstream, prev: str) -> Any:
    upstream.push(Reply.json(completion_body("SUMMARY of the chain")))
    return client.responses.create(model="gpt-5.5", input=[TRIGGER], previous_response_id=prev)


def test_legacy_compact_endpoint(http: httpx.Client, upstream: FakeUpstream) -> None:
    upstream.push(Reply.json(completion_body("SUMMARY legacy")))
    resp = http.post(
        "/v1/responses/compact",
        json={"model": "gpt-5.5", "input": HISTORY, "instructions": "You are Codex."},
    )
    assert resp.status_code == 200
    out = resp.json()["output"]
    assert [i["type"] for i in out] == ["compaction"]
    assert out[0]["encrypted_content"]


@pytest.fixture
def no_compaction_http(upstream: FakeUpstream, tmp_path: Path) -> Iterator[httpx.Client]:
    cfg = make_config(tmp_path, [provider("ds", "deepseek", upstream.base_url)])
    cfg = dataclasses.replace(cfg, compaction=CompactionConfig(enabled=False))
    with run_gateway(cfg) as gw, httpx.Client(base_url=gw.base_url, timeout=10) as c:
        yield c


def test_legacy_compact_disabled_is_501(no_compaction_http: httpx.Client) -> None:
    resp = no_compaction_http.post("/v1/responses/compact", json={"model": "m", "input": HISTORY})
    assert resp.status_code == 501
    assert resp.json()["error"]["code"] == "responses_compact_not_supported"


def test_additional_tools_are_declared(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    upstream.push(Reply.json(completion_body("ok")))
    client.responses.create(
        model="gpt-5.5",
        tools=[],
        input=[
            {
                "type": "additional_tools",
                "role": "developer",
                "tools": [
                    {
                        "type": "function",
                        "name": "clock_now",
                        "parameters": {"type": "object", "properties": {}},
                    }
                ],
            },
            {"role": "user", "content": "what time is it?"},
        ],
    )
    names = [t["function"]["name"] for t in upstream.last["tools"]]
    assert names == ["clock_now"]
