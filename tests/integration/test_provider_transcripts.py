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


def _assistant_with_calls(sent: dict[str, Any]) -> dict[str, Any]:
    return next(m for m in sent["messages"] if m.get("tool_calls"))


def test_kimi_follow_up_gets_reasoning_back_and_keeps_thinking_on(
    gateway: RunningGateway, upstream: FakeUpstream
) -> None:
    """Kimi rejects a tool-call turn without its reasoning_content while thinking is on."""
    sent = _tool_turn(
        gateway, upstream, "kimi/kimi-k2.6", FIXTURES / "kimi" / "tool_call_split_args.sse"
    )
    assistant = _assistant_with_calls(sent)
    assert assistant["reasoning_content"] == "I need the weather."
    assert assistant["tool_calls"][0]["id"] == "get_weather:0"
    assert sent["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "get_weather:0",
        "content": "done",
    }
    assert sent["thinking"] == {"type": "enabled"}


def test_kimi_history_without_reasoning_turns_thinking_off(
    gateway: RunningGateway, upstream: FakeUpstream
) -> None:
    """A tool call from elsewhere (no reasoning) would be rejected with thinking on."""
    client = openai.OpenAI(base_url=gateway.v1, api_key="k", max_retries=0)
    items: list[Any] = [
        {"role": "user", "content": "go"},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "ok"},
    ]
    upstream.push(Reply.json(completion_body("finished")))
    client.responses.create(model="kimi/kimi-k2.6", input=items, store=False)
    assert upstream.last["thinking"] == {"type": "disabled"}
    # The thinking-only model has no switch at all: nothing is sent for it.
    upstream.push(Reply.json(completion_body("finished")))
    client.responses.create(model="kimi/kimi-k2-thinking", input=items, store=False)
    assert "thinking" not in upstream.last


def test_qwen_follow_up_sends_tool_results_and_model_decides_the_switch(
    gateway: RunningGateway, upstream: FakeUpstream
) -> None:
    sent = _tool_turn(
        gateway, upstream, "qwen/qwen-plus", FIXTURES / "qwen" / "tool_call_split_args.sse"
    )
    assistant = _assistant_with_calls(sent)
    assert assistant["tool_calls"][0]["function"]["name"] == "get_weather"
    json.loads(assistant["tool_calls"][0]["function"]["arguments"])
    assert sent["messages"][-1]["role"] == "tool"
    assert sent["enable_thinking"] is False  # non-streaming follow-up
    client = openai.OpenAI(base_url=gateway.v1, api_key="k", max_retries=0)
    for model, expected in (("qwen/qwen-plus", True), ("qwen/qwen3-coder-plus", None)):
        upstream.push(Reply.sse_file(FIXTURES / "qwen" / "reasoning_then_usage_chunk.sse"))
        with client.responses.stream(
            model=model, input="hi", reasoning={"effort": "medium"}
        ) as stream:
            stream.get_final_response()
        assert upstream.last.get("enable_thinking") is expected, model
    assert upstream.last.get("thinking_budget") is None


def test_doubao_follow_up_sends_tool_results_and_effort(
    gateway: RunningGateway, upstream: FakeUpstream
) -> None:
    sent = _tool_turn(
        gateway,
        upstream,
        "doubao/doubao-seed-1-8-251228",
        FIXTURES / "doubao" / "tool_call_split_args.sse",
    )
    assert sent["messages"][-1]["role"] == "tool"
    assert "reasoning_content" not in _assistant_with_calls(sent)
    client = openai.OpenAI(base_url=gateway.v1, api_key="k", max_retries=0)
    upstream.push(Reply.json(completion_body("ok")))
    client.responses.create(
        model="doubao/doubao-seed-1-8-251228",
        input="hi",
        reasoning={"effort": "low"},
        max_output_tokens=64,
    )
    assert upstream.last["thinking"] == {"type": "enabled"}
    assert upstream.last["reasoning_effort"] == "low"
    assert upstream.last["max_completion_tokens"] == 64


@pytest.mark.parametrize(
    ("engine", "transcript"),
    [
        ("vllm", "reasoning_content_tool_call_split_args.sse"),
        ("sglang", "tool_call_split_args.sse"),
        ("llamacpp", "tool_call_split_args.sse"),
        ("ollama", "whole_tool_call.sse"),
    ],
)
def test_local_engine_follow_up_sends_tool_results_without_reasoning(
    engine: str, transcript: str, gateway: RunningGateway, upstream: FakeUpstream
) -> None:
    """Chat templates drop past reasoning themselves: none is replayed to a local engine."""
    sent = _tool_turn(gateway, upstream, f"{engine}/local-model", FIXTURES / engine / transcript)
    assistant = _assistant_with_calls(sent)
    assert "reasoning_content" not in assistant
    assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {
        "city": "Paris",
        "unit": "celsius",
    }
    assert sent["messages"][-1]["role"] == "tool"
    assert sent["messages"][-1]["content"] == "done"


def test_local_engine_thinking_switch_reaches_the_chat_template(
    gateway: RunningGateway, upstream: FakeUpstream
) -> None:
    client = openai.OpenAI(base_url=gateway.v1, api_key="k", max_retries=0)
    upstream.push(Reply.json(completion_body("ok")))
    client.responses.create(model="vllm/Qwen/Qwen3-8B", input="hi", reasoning={"effort": "none"})
    assert upstream.last["chat_template_kwargs"] == {"enable_thinking": False, "thinking": False}
    upstream.push(Reply.json(completion_body("ok")))
    client.responses.create(model="ollama/qwen3:8b", input="hi", reasoning={"effort": "none"})
    assert upstream.last["reasoning_effort"] == "none"
