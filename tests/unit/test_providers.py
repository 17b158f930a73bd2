"""Provider hooks: request patches, error mapping, and the tolerant stream normalizer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from godex.errors import ConfigError
from godex.protocol.deltas import ReasoningDelta, TextDelta, ToolCallDelta, UpstreamError, Usage
from godex.providers import registry
from godex.providers.base import ThinkSplitter
from godex.providers.spec import ChatRequest


def _req(**kw: Any) -> ChatRequest:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    return ChatRequest(body=body, stream=True, **kw)


@pytest.mark.parametrize(
    ("spec", "thinking", "effort", "expected"),
    [
        ("deepseek", True, "max", {"thinking": {"type": "enabled"}, "reasoning_effort": "max"}),
        ("deepseek", False, None, {"thinking": {"type": "disabled"}}),
        ("deepseek", None, None, {}),
        ("xiaomi", True, "on", {"thinking": {"type": "enabled"}}),
        ("zhipu", False, None, {"thinking": {"type": "disabled", "clear_thinking": False}}),
        ("minimax", True, None, {"thinking": {"type": "adaptive"}, "reasoning_split": True}),
        ("minimax", False, None, {"thinking": {"type": "disabled"}, "reasoning_split": True}),
        ("kimi", True, None, {"thinking": {"type": "enabled"}}),
        ("kimi", False, None, {"thinking": {"type": "disabled"}}),
        ("kimi", None, None, {}),
        ("qwen", True, "medium", {"enable_thinking": True, "thinking_budget": 8192}),
        ("qwen", True, "high", {"enable_thinking": True}),
        ("qwen", False, None, {"enable_thinking": False}),
        ("doubao", True, "low", {"thinking": {"type": "enabled"}, "reasoning_effort": "low"}),
        ("doubao", False, None, {"thinking": {"type": "disabled"}}),
        (
            "vllm",
            False,
            None,
            {"chat_template_kwargs": {"enable_thinking": False, "thinking": False}},
        ),
        ("sglang", None, None, {}),
        (
            "llamacpp",
            True,
            None,
            {"chat_template_kwargs": {"enable_thinking": True, "thinking": True}},
        ),
        ("ollama", False, None, {"reasoning_effort": "none"}),
        ("ollama", True, "medium", {"reasoning_effort": "medium"}),
        ("ollama", None, None, {}),
    ],
)
def test_thinking_switches(
    spec: str, thinking: bool | None, effort: str | None, expected: dict[str, Any]
) -> None:
    s = registry.get_spec(spec)
    assert s is not None
    req = _req(thinking=thinking, effort=effort)
    s.hooks.patch_request(s, req)
    extra = {k: v for k, v in req.body.items() if k not in ("model", "messages")}
    assert extra == expected


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("kimi-k2-thinking", {}),  # thinking forced on: no switch to send
        ("moonshot-v1-8k", {}),
        ("kimi-k2.6", {"thinking": {"type": "enabled"}}),
    ],
)
def test_kimi_thinking_switch_follows_the_model(model: str, expected: dict[str, Any]) -> None:
    kimi = registry.get_spec("kimi")
    assert kimi is not None
    req = _req(thinking=True)
    req.body["model"] = model
    kimi.hooks.patch_request(kimi, req)
    assert {k: v for k, v in req.body.items() if k not in ("model", "messages")} == expected


def test_kimi_k3_takes_reasoning_effort() -> None:
    kimi = registry.get_spec("kimi")
    assert kimi is not None
    req = _req(thinking=True, effort="max")
    req.body["model"] = "kimi-k3"
    kimi.hooks.patch_request(kimi, req)
    assert req.body["reasoning_effort"] == "max" and "thinking" not in req.body


def test_qwen_non_streaming_turns_thinking_off_and_coder_gets_no_switch() -> None:
    qwen = registry.get_spec("qwen")
    assert qwen is not None
    req = ChatRequest(body={"model": "qwen-plus", "messages": []}, stream=False, thinking=True)
    qwen.hooks.patch_request(qwen, req)
    assert req.body["enable_thinking"] is False  # non-streaming thinking calls are rejected
    coder = ChatRequest(body={"model": "qwen3-coder-plus", "messages": []}, stream=True)
    coder.thinking = True
    qwen.hooks.patch_request(qwen, coder)
    assert "enable_thinking" not in coder.body


def test_doubao_thinking_only_model_gets_no_switch() -> None:
    ark = registry.get_spec("doubao")
    assert ark is not None
    req = _req(thinking=False)
    req.body["model"] = "doubao-seed-1-6-thinking-250615"
    ark.hooks.patch_request(ark, req)
    assert "thinking" not in req.body


@pytest.mark.parametrize("name", ["kimi", "qwen", "doubao", "vllm", "sglang", "ollama", "llamacpp"])
def test_new_providers_use_bearer_auth(name: str) -> None:
    spec = registry.get_spec(name)
    assert spec is not None
    assert spec.hooks.auth_headers(spec, "k") == {"authorization": "Bearer k"}


def test_auth_headers() -> None:
    mimo = registry.get_spec("mimo")
    ds = registry.get_spec("deepseek")
    assert mimo is not None and ds is not None
    assert mimo.hooks.auth_headers(mimo, "k") == {"api-key": "k"}
    assert ds.hooks.auth_headers(ds, "k") == {"authorization": "Bearer k"}


def test_web_search_rendered_natively() -> None:
    glm = registry.get_spec("zhipu")
    assert glm is not None
    req = _req(web_search={"type": "web_search", "search_context_size": "high"})
    glm.hooks.patch_request(glm, req)
    assert req.body["tools"][0]["web_search"]["content_size"] == "high"


def test_minimax_canonicalises_history_arguments() -> None:
    mx = registry.get_spec("minimax")
    assert mx is not None
    req = _req()
    req.body["messages"].append(
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "f", "arguments": ""}}
            ],
        }
    )
    mx.hooks.patch_request(mx, req)
    assert req.body["messages"][1]["tool_calls"][0]["function"]["arguments"] == "{}"


@pytest.mark.parametrize(
    ("spec", "status", "body", "code", "client_status"),
    [
        (
            "deepseek",
            402,
            {"error": {"message": "Insufficient Balance"}},
            "provider.insufficient_quota",
            400,
        ),
        (
            "zhipu",
            429,
            {"error": {"code": "1113", "message": "余额不足"}},
            "provider.insufficient_quota",
            400,
        ),
        (
            "zhipu",
            401,
            {"error": {"code": "1002", "message": "token invalid"}},
            "provider.auth",
            502,
        ),
        (
            "minimax",
            400,
            {"type": "error", "error": {"message": "bad (2013)"}},
            "provider.invalid_request",
            400,
        ),
        ("deepseek", 429, {"error": {"message": "slow down"}}, "provider.rate_limited", 429),
        ("deepseek", 500, {"error": {"message": "boom"}}, "provider.upstream_error", 502),
        (
            "deepseek",
            400,
            {"error": {"message": "maximum context length exceeded"}},
            "provider.context_length_exceeded",
            400,
        ),
        (
            "kimi",
            429,
            {"error": {"type": "exceeded_current_quota_error", "message": "quota"}},
            "provider.insufficient_quota",
            400,
        ),
        (
            "kimi",
            429,
            {"error": {"type": "engine_overloaded_error", "message": "busy"}},
            "provider.rate_limited",
            429,
        ),
        (
            "kimi",
            401,
            {"error": {"type": "invalid_authentication_error", "message": "Invalid"}},
            "provider.auth",
            502,
        ),
        (
            "kimi",
            400,
            {"error": {"type": "invalid_request_error", "message": "Input token length too long"}},
            "provider.context_length_exceeded",
            400,
        ),
        (
            "qwen",
            400,
            {"error": {"code": "Arrearage", "message": "Access denied", "type": "Arrearage"}},
            "provider.insufficient_quota",
            400,
        ),
        (
            "qwen",
            400,
            {"error": {"code": "data_inspection_failed", "message": "inappropriate"}},
            "provider.content_filter",
            400,
        ),
        (
            "qwen",
            429,
            {"error": {"code": "limit_requests", "message": "Requests rate limit exceeded"}},
            "provider.rate_limited",
            429,
        ),
        (
            "doubao",
            403,
            {"error": {"code": "AccountOverdueError", "message": "overdue", "type": "Forbidden"}},
            "provider.insufficient_quota",
            400,
        ),
        (
            "doubao",
            429,
            {"error": {"code": "RateLimitExceeded.EndpointTPMExceeded", "message": "TPM"}},
            "provider.rate_limited",
            429,
        ),
        (
            "doubao",
            400,
            {"error": {"code": "SensitiveContentDetected", "message": "sensitive"}},
            "provider.content_filter",
            400,
        ),
        (
            "vllm",
            400,
            {"object": "error", "message": "bad", "type": "BadRequestError", "code": 400},
            "provider.invalid_request",
            400,
        ),
        (
            "sglang",
            503,
            {"object": "error", "message": "overloaded", "type": "ServiceUnavailable", "code": 503},
            "provider.overloaded",
            502,
        ),
        (
            "llamacpp",
            500,
            {"error": {"code": 500, "message": "x", "type": "exceed_context_size_error"}},
            "provider.context_length_exceeded",
            400,
        ),
        (
            "ollama",
            404,
            {"error": {"message": 'model "m" not found', "type": "api_error", "code": None}},
            "provider.invalid_request",
            400,
        ),
    ],
)
def test_http_errors(spec: str, status: int, body: Any, code: str, client_status: int) -> None:
    s = registry.get_spec(spec)
    assert s is not None
    err = s.hooks.error_from_http(s, status, json.dumps(body).encode(), {"retry-after": "3"})
    assert err.code == code
    assert err.status == client_status
    assert err.upstream_message
    if client_status == 429:
        assert err.headers == {"retry-after": "3"}


def test_openai_compatible_capabilities_validated() -> None:
    spec = registry.build_openai_compatible_spec(
        {"developer_role": False, "max_tools": 8, "tool_choices": ["auto"]}, "http://x/v1"
    )
    assert spec.max_tools == 8 and spec.tool_choices == frozenset({"auto"})
    assert spec.default_base_url == "http://x/v1"
    with pytest.raises(ConfigError) as info:
        registry.build_openai_compatible_spec({"max_tools": "many", "bogus": 1}, None)
    assert "max_tools" in info.value.message and "bogus" in info.value.message


def test_mimo_snapshots_do_not_double_arguments() -> None:
    mimo = registry.get_spec("xiaomi")
    assert mimo is not None
    norm = mimo.hooks.stream_normalizer(mimo)
    full = '{"a": 1}'
    got = ""
    for frag in ['{"a"', full, full]:
        obj = {
            "choices": [
                {
                    "delta": {
                        "tool_calls": [
                            {"index": 0, "id": "c", "function": {"name": "f", "arguments": frag}}
                        ]
                    }
                }
            ]
        }
        for d in norm.feed(obj):
            assert isinstance(d, ToolCallDelta)
            got += d.arguments
    assert got == full


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab<>/thinkx\n", max_size=40), st.lists(st.integers(0, 60), max_size=6))
def test_think_tags_any_split(text: str, cuts: list[int]) -> None:
    whole = "<think>" + text.replace("<", "(") + "</think>answer " + text.replace("<", "(")
    points = sorted({c % (len(whole) + 1) for c in cuts})
    pieces, prev = [], 0
    for p in [*points, len(whole)]:
        pieces.append(whole[prev:p])
        prev = p
    splitter = ThinkSplitter()
    deltas = [d for piece in pieces for d in splitter.feed(piece)] + splitter.flush()
    reasoning = "".join(d.text for d in deltas if isinstance(d, ReasoningDelta))
    answer = "".join(d.text for d in deltas if isinstance(d, TextDelta))
    assert reasoning == text.replace("<", "(")
    assert answer == ("answer " + text.replace("<", "(")).lstrip("\n")


@pytest.mark.parametrize("name", ["vllm", "ollama"])
def test_reasoning_field_read_as_reasoning(name: str) -> None:
    spec = registry.get_spec(name)
    assert spec is not None
    norm = spec.hooks.stream_normalizer(spec)
    got = norm.feed({"choices": [{"index": 0, "delta": {"reasoning": "hmm"}}]})
    assert got == [ReasoningDelta("hmm")]
    # Both fields present (vLLM during the rename): read once, not twice.
    both = norm.feed(
        {"choices": [{"index": 0, "delta": {"reasoning": "a", "reasoning_content": "a"}}]}
    )
    assert both == [ReasoningDelta("a")]
    body = {"choices": [{"message": {"content": "x", "reasoning": "r"}, "finish_reason": "stop"}]}
    deltas = spec.hooks.normalize_body(spec, body)
    assert deltas[0] == ReasoningDelta("r") and deltas[1] == TextDelta("x")


def test_kimi_usage_inside_the_finishing_choice() -> None:
    kimi = registry.get_spec("kimi")
    assert kimi is not None
    norm = kimi.hooks.stream_normalizer(kimi)
    usage = {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11, "cached_tokens": 4}
    deltas = norm.feed(
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop", "usage": usage}]}
    )
    found = [d for d in deltas if isinstance(d, Usage)]
    assert found and found[0].input_tokens == 9 and found[0].cached_tokens == 4


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.text(max_size=5) | st.integers(),
        lambda c: (
            st.lists(c, max_size=3)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "reasoning",
                        "reasoning_content",
                        "content",
                        "delta",
                        "message",
                        "choices",
                        "usage",
                    ]
                ),
                c,
                max_size=4,
            )
        ),
        max_leaves=12,
    )
)
def test_local_normalizer_tolerates_any_shape(obj: Any) -> None:
    spec = registry.get_spec("vllm")
    assert spec is not None
    if isinstance(obj, dict):
        spec.hooks.stream_normalizer(spec).feed(obj)


def test_named_errors_inside_a_stream_use_the_provider_table() -> None:
    ark = registry.get_spec("doubao")
    assert ark is not None
    err = {"error": {"code": "AccountOverdueError", "message": "overdue", "type": "Forbidden"}}
    (delta,) = ark.hooks.stream_normalizer(ark).feed(err)
    assert isinstance(delta, UpstreamError) and delta.code == "provider.insufficient_quota"
    # Without a table the same body falls back to the generic rules.
    ds = registry.get_spec("deepseek")
    assert ds is not None
    (plain,) = ds.hooks.stream_normalizer(ds).feed(err)
    assert isinstance(plain, UpstreamError) and plain.code == "provider.upstream_error"
