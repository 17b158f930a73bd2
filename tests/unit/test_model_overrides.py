"""Per-model capability overrides: ``spec.for_model`` and its use by planning."""

from __future__ import annotations

import json
from typing import Any

import pytest

from godex.bridge.plan import build_chat_request
from godex.bridge.request import parse_request
from godex.bridge.sealing import Sealer
from godex.errors import ConfigError
from godex.providers import registry
from godex.providers import spec as spec_module
from godex.providers.base import ChatHooks
from godex.providers.spec import ProviderSpec

SPEC = ProviderSpec(
    name="t",
    default_base_url="http://x",
    default_model="chat-1",
    api_key_env="X",
    hooks=ChatHooks(),
    reasoning_control="effort",
    effort_map={"none": None, "high": "high"},
    token_limit_field="max_tokens",
    model_overrides=(
        ("chat-*", {"reasoning_control": "none"}),
        ("*-long", {"token_limit_field": "max_completion_tokens"}),
    ),
)


def _plan(model: str, body: dict[str, Any]) -> Any:
    req = parse_request(json.dumps({"model": "m", "input": "hi", **body}).encode())
    return build_chat_request(req, [], model, SPEC, Sealer(b"k"))


def test_for_model_applies_every_matching_override_case_insensitively() -> None:
    both = SPEC.for_model("CHAT-x-long")
    assert both.reasoning_control == "none"
    assert both.token_limit_field == "max_completion_tokens"
    assert SPEC.for_model("reason-1") is SPEC  # no match: the spec itself


def test_for_model_is_cached_per_spec_and_model() -> None:
    assert SPEC.for_model("chat-2") is SPEC.for_model("chat-2")
    assert SPEC.for_model("chat-2") is not SPEC.for_model("chat-3")


def test_for_model_cache_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spec_module, "_FOR_MODEL_MAX", 4)
    for i in range(20):
        SPEC.for_model(f"chat-{i}")
    assert len(spec_module._FOR_MODEL) <= 4


def test_override_naming_an_unknown_field_is_rejected() -> None:
    with pytest.raises(ValueError, match="bogus"):
        ProviderSpec(
            name="bad",
            default_base_url="http://x",
            default_model="m",
            api_key_env="X",
            hooks=ChatHooks(),
            model_overrides=(("*", {"bogus": 1}),),
        )


def test_planning_uses_the_model_specific_spec() -> None:
    chat = _plan("chat-1", {"reasoning": {"effort": "high"}, "max_output_tokens": 9})
    assert chat.chat.thinking is None  # the chat model has no reasoning control
    assert any(d.subject == "reasoning.effort" for d in chat.diagnostics.items)
    reasoner = _plan("reason-long", {"reasoning": {"effort": "high"}, "max_output_tokens": 9})
    assert reasoner.chat.thinking is True and reasoner.chat.effort == "high"
    assert reasoner.chat.body["max_completion_tokens"] == 9
    assert "max_tokens" not in reasoner.chat.body


@pytest.mark.parametrize(
    ("provider", "model", "field", "value"),
    [
        ("kimi", "kimi-k2-thinking", "reasoning_control", "none"),
        ("kimi", "kimi-k2.6", "reasoning_control", "toggle"),
        ("kimi", "moonshot-v1-32k", "requires_reasoning_replay", False),
        ("kimi", "moonshot-v1-8k-vision-preview", "accepts_images", True),
        ("qwen", "qwen3-coder-plus", "reasoning_control", "none"),
        ("qwen", "qwen-plus", "reasoning_control", "effort"),
        ("qwen", "qwq-plus", "reasoning_control", "none"),
        ("doubao", "doubao-seed-1-6-thinking-250615", "reasoning_control", "none"),
        ("doubao", "doubao-seed-1-8-251228", "reasoning_control", "effort"),
    ],
)
def test_declared_model_overrides(provider: str, model: str, field: str, value: Any) -> None:
    spec = registry.get_spec(provider)
    assert spec is not None
    assert getattr(spec.for_model(model), field) == value


def test_local_engines_do_not_require_a_key_and_clouds_do() -> None:
    for name in ("vllm", "sglang", "ollama", "llamacpp"):
        spec = registry.get_spec(name)
        assert spec is not None and spec.api_key_required is False, name
    for name in ("kimi", "qwen", "doubao", "deepseek"):
        spec = registry.get_spec(name)
        assert spec is not None and spec.api_key_required is True, name


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("moonshot", "kimi"),
        ("dashscope", "qwen"),
        ("volcengine", "doubao"),
        ("ark", "doubao"),
        ("llama.cpp", "llamacpp"),
    ],
)
def test_aliases_resolve(alias: str, name: str) -> None:
    spec = registry.get_spec(alias)
    assert spec is not None and spec.name == name
    assert alias in registry.SPEC_NAMES


def test_openai_compatible_config_can_drop_the_key_requirement_but_not_override_models() -> None:
    spec = registry.build_openai_compatible_spec({"api_key_required": False}, "http://h/v1")
    assert spec.api_key_required is False
    with pytest.raises(ConfigError) as info:
        registry.build_openai_compatible_spec({"model_overrides": []}, None)
    assert "model_overrides" in info.value.message
