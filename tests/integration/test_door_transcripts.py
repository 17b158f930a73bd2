"""Every provider transcript through the two other front doors, read by the official SDKs.

The same rows as test_provider_transcripts.py: the fake upstream replays the recorded bytes, and
the ``anthropic`` SDK (``messages.create`` and its strict ``messages.stream()`` accumulator) and
the ``openai`` SDK (``chat.completions.create`` and ``.stream()``) must read GodeX's answer as the
expectations in index.json say: text, reasoning (as ``thinking`` / ``reasoning_content``), tool
calls, usage and stop reasons. A streamed row is also replayed as the equivalent JSON body for
the sync call (a JSON body built from the row's expectations).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from tests.fakes.replay_upstream import FakeUpstream, Reply, completion_body
from tests.support.gateway import RunningGateway, make_config, provider, run_gateway

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "providers"
INDEX: list[dict[str, Any]] = json.loads((FIXTURES / "index.json").read_text())
PROVIDERS = sorted({case["provider"] for case in INDEX})
IDS = [f"{c['provider']}-{c['file']}" for c in INDEX]

STOP_REASONS = {
    "stop": "end_turn",
    "tool_calls": "tool_use",
    "length": "max_tokens",
    "content_filter": "refusal",
}
TOOLS_ANTHROPIC: Any = [
    {"name": "get_weather", "description": "weather", "input_schema": {"type": "object"}}
]
TOOLS_CHAT: Any = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
]


@pytest.fixture(scope="module")
def gateway(
    upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    cfg = make_config(
        tmp_path_factory.mktemp("doors"),
        [provider(name, name, upstream.base_url) for name in PROVIDERS],
    )
    with run_gateway(cfg) as gw:
        yield gw


def _anthropic(gw: RunningGateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.base_url, api_key="k", max_retries=0, timeout=20)


def _chat(gw: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.v1, api_key="k", max_retries=0, timeout=20)


def _replies(case: dict[str, Any]) -> tuple[Reply, Reply | None]:
    """(the recorded reply, its JSON twin for a sync request or None)."""
    path = FIXTURES / case["provider"] / case["file"]
    if case.get("stream", True):
        recorded = Reply.sse_file(path)
        return recorded, None if case.get("error_code") else Reply.json(_twin(case))
    status = case.get("status", 200)
    return Reply(body=path.read_bytes(), content_type="application/json", status=status), None


def _twin(case: dict[str, Any]) -> dict[str, Any]:
    exp = case.get("usage") or {}
    calls = [
        {"id": f"call_{i}", "type": "function", "function": c}
        for i, c in enumerate(case.get("tool_calls") or [])
    ]
    return completion_body(
        case.get("text") or None,
        reasoning=case.get("reasoning"),
        tool_calls=calls or None,
        finish=case.get("finish", "stop"),
        prompt=exp.get("input_tokens", 10),
        completion=exp.get("output_tokens", 5),
        cached=exp.get("cached_tokens", 0),
        reasoning_tokens=exp.get("reasoning_tokens", 0),
    )


def _expected_calls(case: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(c["name"], json.loads(c["arguments"] or "{}")) for c in case.get("tool_calls") or []]


# -- Anthropic Messages ----------------------------------------------------------------------


def _check_message(case: dict[str, Any], msg: anthropic.types.Message) -> None:
    blocks = msg.content
    text = "".join(b.text for b in blocks if b.type == "text")
    assert text == case.get("text", ""), (text, case.get("text"))
    thinking = [b for b in blocks if b.type == "thinking"]
    assert "".join(b.thinking for b in thinking) == case.get("reasoning", "")
    for block in thinking:
        assert block.signature.startswith("gdx1."), block.signature  # GodeX's seal
    calls = [(b.name, b.input) for b in blocks if b.type == "tool_use"]
    assert calls == _expected_calls(case)
    assert msg.stop_reason == STOP_REASONS[case.get("finish", "stop")]
    exp = case.get("usage")
    if exp:
        cached = exp.get("cached_tokens", 0)
        assert msg.usage.input_tokens == exp["input_tokens"] - cached
        assert msg.usage.cache_read_input_tokens == cached
        assert msg.usage.output_tokens == exp["output_tokens"]


def _messages_kwargs(case: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": f"{case['provider']}/test-model",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "hi"}],
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "tools": TOOLS_ANTHROPIC,
    }


def _anthropic_error(case: dict[str, Any], exc: anthropic.APIStatusError) -> None:
    assert case.get("error_code"), exc
    body: Any = exc.body
    assert body["type"] == "error", body
    assert body["error"]["type"] in (
        "invalid_request_error",
        "api_error",
        "overloaded_error",
        "rate_limit_error",
        "billing_error",
    ), body
    assert body["error"]["message"]


@pytest.mark.parametrize("case", INDEX, ids=IDS)
def test_anthropic_sdk_reads_every_transcript(
    case: dict[str, Any], gateway: RunningGateway, upstream: FakeUpstream
) -> None:
    recorded, twin = _replies(case)
    client = _anthropic(gateway)
    upstream.push(recorded)
    if case.get("stream", True) or case.get("error_code"):
        try:
            with client.messages.stream(**_messages_kwargs(case)) as stream:
                message = stream.get_final_message()
        except anthropic.APIStatusError as exc:
            _anthropic_error(case, exc)
        else:
            assert not case.get("error_code"), message
            _check_message(case, message)
        assert upstream.last["stream"] is True
    else:
        _check_message(case, client.messages.create(**_messages_kwargs(case)))
    if twin is not None:
        upstream.push(twin)
        _check_message(case, client.messages.create(**_messages_kwargs(case)))
        assert upstream.last["stream"] is False


# -- Chat Completions ------------------------------------------------------------------------


def _check_completion(case: dict[str, Any], done: Any) -> None:
    choice = done.choices[0]
    msg = choice.message
    assert (msg.content or "") == case.get("text", ""), (msg.content, case.get("text"))
    reasoning = (msg.model_extra or {}).get("reasoning_content") or ""
    assert reasoning == case.get("reasoning", "")
    calls = [
        (c.function.name, json.loads(c.function.arguments or "{}")) for c in msg.tool_calls or []
    ]
    assert calls == _expected_calls(case)
    for call in msg.tool_calls or []:
        assert call.id and call.type == "function"
    assert choice.finish_reason == case.get("finish", "stop")
    exp = case.get("usage")
    if exp:
        u = done.usage
        assert u.prompt_tokens == exp["input_tokens"]
        assert u.completion_tokens == exp["output_tokens"]
        assert u.prompt_tokens_details.cached_tokens == exp.get("cached_tokens", 0)
        assert u.completion_tokens_details.reasoning_tokens == exp.get("reasoning_tokens", 0)


def _chat_kwargs(case: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": f"{case['provider']}/test-model",
        "messages": [
            {"role": "developer", "content": "be brief"},
            {"role": "user", "content": "hi"},
        ],
        "tools": TOOLS_CHAT,
        "reasoning_effort": "high",
    }


def _check_raw_chunks(chunks: list[Any]) -> None:
    """Tool-call deltas are well formed: named once, then non-empty argument fragments."""
    named: set[int] = set()
    for c in chunks:
        for choice in c.choices:
            for tc in choice.delta.tool_calls or []:
                if tc.index not in named:
                    assert tc.id and tc.function.name, tc
                    named.add(tc.index)
                else:
                    assert tc.function.name is None and tc.function.arguments, tc
    assert chunks[-1].choices == [] and chunks[-1].usage is not None


def _final_completion(stream: Any) -> Any:
    # The helper refuses to hand over a cut-off answer, but attaches it to the error.
    try:
        return stream.get_final_completion()
    except (openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError) as exc:
        assert exc.completion is not None
        return exc.completion


@pytest.mark.parametrize("case", INDEX, ids=IDS)
def test_openai_chat_sdk_reads_every_transcript(
    case: dict[str, Any], gateway: RunningGateway, upstream: FakeUpstream
) -> None:
    recorded, twin = _replies(case)
    client = _chat(gateway)
    upstream.push(recorded)
    if case.get("stream", True) or case.get("error_code"):
        try:
            with client.chat.completions.stream(
                **_chat_kwargs(case), stream_options={"include_usage": True}
            ) as stream:
                done = _final_completion(stream)
        except openai.APIError as exc:
            assert case.get("error_code"), exc
            body: Any = exc.body  # OpenAI's error object, before or inside the stream
            assert isinstance(body, dict) and body.get("message"), body
        else:
            assert not case.get("error_code"), done
            _check_completion(case, done)
            # The same bytes as raw chunks: the shape of every tool-call delta.
            upstream.push(recorded)
            raw = client.chat.completions.create(
                **_chat_kwargs(case), stream=True, stream_options={"include_usage": True}
            )
            _check_raw_chunks(list(raw))
    else:
        _check_completion(case, client.chat.completions.create(**_chat_kwargs(case)))
    if twin is not None:
        upstream.push(twin)
        _check_completion(case, client.chat.completions.create(**_chat_kwargs(case)))
