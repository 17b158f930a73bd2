"""Provider hooks: request patches, error mapping, and the tolerant stream normalizer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from godex.errors import ConfigError
from godex.protocol.deltas import ReasoningDelta, TextDelta, ToolCallDelta
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
