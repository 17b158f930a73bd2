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

from tests.fakes.replay_upstream import FakeUpstream, Reply
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
