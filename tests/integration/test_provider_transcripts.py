"""Every provider transcript under tests/fixtures/providers replays end to end.

The fake upstream sends the recorded bytes exactly (keep-alives, split arguments, trailing
usage chunks, terminal frames, errors as SSE); the official SDK consumes GodeX's answer, and
the result must match the expectations written next to the transcript in index.json.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.fakes.replay_upstream import FakeUpstream, Reply, completion_body
from tests.support.gateway import RunningGateway, make_config, provider, run_gateway
from tests.support.stream_checker import check_stream

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "providers"
INDEX: list[dict[str, Any]] = json.loads((FIXTURES / "index.json").read_text())
PROVIDERS = sorted({case["provider"] for case in INDEX})


@pytest.fixture(scope="module")
def gateway(
    upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    cfg = make_config(
        tmp_path_factory.mktemp("providers"),
        [provider(name, name, upstream.base_url) for name in PROVIDERS],
    )
    with run_gateway(cfg) as gw:
        yield gw


def _events(gw: RunningGateway, model: str) -> list[dict[str, Any]]:
    import httpx2 as httpx

    body = {"model": model, "input": "hi", "stream": True, "reasoning": {"summary": "auto"}}
    with httpx.Client(timeout=20) as c, c.stream("POST", gw.v1 + "/responses", json=body) as r:
        assert r.status_code == 200, r.read()
        data = r.read().decode()
    return [
        json.loads(line[5:])
        for block in data.split("\n\n")
        for line in block.splitlines()
        if line.startswith("data:")
    ]


def _check(case: dict[str, Any], response: dict[str, Any]) -> None:
    output = response["output"]
    if case.get("error_code"):
        assert response["status"] == "failed", response
        return
    text = "".join(
        p.get("text", "") for i in output if i["type"] == "message" for p in i["content"]
    )
    assert text == case.get("text", ""), (text, case.get("text"))
    reasoning = "".join(
        p.get("text", "")
        for i in output
        if i["type"] == "reasoning"
        for p in (i["summary"] or i.get("content") or [])
    )
    assert reasoning == case.get("reasoning", ""), (reasoning, case.get("reasoning"))
    calls = [
        {"name": i["name"], "arguments": i["arguments"]}
        for i in output
        if i["type"] == "function_call"
    ]
    expected_calls = [
        {"name": c["name"], "arguments": c["arguments"]} for c in case.get("tool_calls") or []
    ]
    assert [(c["name"], json.loads(c["arguments"] or "{}")) for c in calls] == [
        (c["name"], json.loads(c["arguments"] or "{}")) for c in expected_calls
    ]
    exp_usage = case.get("usage")
    if exp_usage:
        u = response["usage"]
        assert u["input_tokens"] == exp_usage["input_tokens"]
        assert u["output_tokens"] == exp_usage["output_tokens"]
        assert u["input_tokens_details"]["cached_tokens"] == exp_usage.get("cached_tokens", 0)
        assert u["output_tokens_details"]["reasoning_tokens"] == exp_usage.get(
            "reasoning_tokens", 0
        )
    finish = case.get("finish")
    if finish in ("length", "content_filter"):
        assert response["status"] == "incomplete"
        reason = "max_output_tokens" if finish == "length" else "content_filter"
        assert response["incomplete_details"]["reason"] == reason
    elif finish in ("stop", "tool_calls"):
        assert response["status"] == "completed"


@pytest.mark.parametrize("case", INDEX, ids=lambda c: f"{c['provider']}-{c['file']}")
def test_transcript(case: dict[str, Any], gateway: RunningGateway, upstream: FakeUpstream) -> None:
    path = FIXTURES / case["provider"] / case["file"]
    model = f"{case['provider']}/test-model"
    if case.get("stream", True):
        upstream.push(Reply.sse_file(path))
        events = _events(gateway, model)
        response = check_stream(events)
        if not case.get("error_code"):
            # The same bytes through the SDK's strict responses.stream() accumulator.
            upstream.push(Reply.sse_file(path))
            client = openai.OpenAI(base_url=gateway.v1, api_key="k", max_retries=0)
            with client.responses.stream(
                model=model, input="hi", reasoning={"summary": "auto"}
            ) as stream:
                if response["status"] == "completed":
                    accumulated = stream.get_final_response()
                    assert accumulated.output_text == case.get("text", "")
                else:
                    # The accumulator still checks every event; only the final getter refuses.
                    kinds = [event.type for event in stream]
                    assert kinds[-1] == "response." + response["status"]
    else:
        upstream.push(
            Reply(
                body=path.read_bytes(),
                content_type="application/json",
                status=case.get("status", 200),
            )
        )
        client = openai.OpenAI(base_url=gateway.v1, api_key="k", max_retries=0)
        try:
            response = client.responses.create(model=model, input="hi").model_dump()
        except openai.APIStatusError as exc:
            assert case.get("error_code"), exc
            assert exc.body["godex_code"] == case["error_code"]  # type: ignore[index]
            return
    _check(case, response)
    if case.get("error_code") and case.get("stream", True):
        godex_or_wire = case["error_code"]
        wire = godex_or_wire.removeprefix("provider.")
        assert response["error"]["code"] in (godex_or_wire, wire), response["error"]


def _tool_turn(
    gateway: RunningGateway, upstream: FakeUpstream, model: str, transcript: Path
) -> Any:
    """Turn 1 from a transcript, then the stateless follow-up a Codex-style client sends."""
    client = openai.OpenAI(base_url=gateway.v1, api_key="k", max_retries=0)
    upstream.push(Reply.sse_file(transcript))
    with client.responses.stream(
        model=model,
        input="go",
        store=False,
        include=["reasoning.encrypted_content"],
        reasoning={"summary": "auto"},
    ) as stream:
        first = stream.get_final_response()
    items: list[Any] = [{"role": "user", "content": "go"}]
    items += [i.model_dump(exclude_none=True) for i in first.output]
    for item in first.output:
        if item.type == "function_call":
            items.append(
                {"type": "function_call_output", "call_id": item.call_id, "output": "done"}
            )
    upstream.push(Reply.json(completion_body("finished")))
    second = client.responses.create(model=model, input=items, store=False)
    assert second.output_text == "finished"
    return upstream.last


def test_deepseek_follow_up_gets_reasoning_back(
    gateway: RunningGateway, upstream: FakeUpstream, tmp_path: Path
) -> None:
    transcript = tmp_path / "ds.sse"
    chunks = [
        {"choices": [{"index": 0, "delta": {"reasoning_content": "I need the weather."}}]},
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "call_00_x",
                                "type": "function",
                                "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                            }
                        ]
                    },
                }
            ]
        },
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    ]
    transcript.write_text(
        "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    )
    sent = _tool_turn(gateway, upstream, "deepseek/deepseek-v4-pro", transcript)
    assistant = next(m for m in sent["messages"] if m.get("tool_calls"))
    assert assistant["reasoning_content"] == "I need the weather."
    assert sent["messages"][-1] == {"role": "tool", "tool_call_id": "call_00_x", "content": "done"}


def test_minimax_follow_up_gets_valid_json_arguments(
    gateway: RunningGateway, upstream: FakeUpstream
) -> None:
    sent = _tool_turn(
        gateway, upstream, "minimax/MiniMax-M3", FIXTURES / "minimax" / "tool_call_then_frame.sse"
    )
    assistant = next(m for m in sent["messages"] if m.get("tool_calls"))
    for call in assistant["tool_calls"]:
        json.loads(call["function"]["arguments"])
    assert [m["role"] for m in sent["messages"]].count("system") <= 1


def test_native_web_search_round_trip(gateway: RunningGateway, upstream: FakeUpstream) -> None:
    """GLM serves web_search natively: declared in its own form, results become an item."""
    results = [{"title": "GodeX", "link": "https://example.com/godex", "content": "a gateway"}]
    frames = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Found it."}}]},
        {
            "web_search": results,
            "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
        },
    ]
    body = "".join(f"data: {json.dumps(f)}\n\n" for f in frames) + "data: [DONE]\n\n"
    upstream.push(Reply(body=body.encode()))
    client = openai.OpenAI(base_url=gateway.v1, api_key="k", max_retries=0)
    with client.responses.stream(
        model="zhipu/glm-5.1",
        input="what is godex?",
        tools=[{"type": "web_search", "search_context_size": "high"}],  # type: ignore[list-item]
    ) as stream:
        final = stream.get_final_response()
    kinds = [i.type for i in final.output]
    assert kinds == ["message", "web_search_call"] or kinds == ["web_search_call", "message"]
    search = next(i for i in final.output if i.type == "web_search_call")
    assert search.action.sources[0].url == "https://example.com/godex"  # type: ignore[union-attr]
    declared = upstream.last["tools"]
    assert declared[0]["type"] == "web_search"
    assert declared[0]["web_search"]["content_size"] == "high"
