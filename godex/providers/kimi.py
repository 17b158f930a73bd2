"""Moonshot Kimi: a thinking switch, reasoning that must come back on tool-call turns.

Two wire differences from the base: the streamed usage can sit inside the finishing choice
rather than at the top level, and errors are named by ``error.type`` (a quota error is a 429).
"""

from __future__ import annotations

from typing import Any

from godex.protocol.deltas import Delta
from godex.providers.base import TOGGLE_EFFORT_MAP, ChatHooks, StreamNormalizer, set_thinking
from godex.providers.errors import Classified
from godex.providers.spec import ChatRequest, ProviderSpec

# platform.kimi.ai/docs/api/errors: the type decides, whatever the status says.
ERROR_TYPES: dict[str, Classified] = {
    "content_filter": Classified("provider.content_filter", 400),
    "invalid_authentication_error": Classified("provider.auth", 502),
    "incorrect_api_key_error": Classified("provider.auth", 502),
    "permission_denied_error": Classified("provider.auth", 502),
    "exceeded_current_quota_error": Classified("provider.insufficient_quota", 400),
    "rate_limit_reached_error": Classified("provider.rate_limited", 429),
    "engine_overloaded_error": Classified("provider.rate_limited", 429),
    "resource_not_found_error": Classified("provider.invalid_request", 400),
}


K3_EFFORT: dict[str, str | None] = {
    "none": "low",
    "minimal": "low",
    "low": "low",
    "medium": "high",
    "high": "high",
    "xhigh": "max",
    "max": "max",
    "ultra": "max",
}


class KimiNormalizer(StreamNormalizer):
    def feed(self, obj: dict[str, Any]) -> list[Delta]:
        choices = obj.get("choices")
        if "usage" not in obj and isinstance(choices, list):
            for choice in choices:
                if isinstance(choice, dict) and isinstance(choice.get("usage"), dict):
                    # The usage of the finishing chunk rides inside its choice.
                    obj = {**obj, "usage": choice["usage"]}
                    break
        return super().feed(obj)


class KimiHooks(ChatHooks):
    error_names = ERROR_TYPES

    def patch_request(self, spec: ProviderSpec, req: ChatRequest) -> None:
        spec = spec.for_model(str(req.body.get("model", "")))
        if spec.reasoning_control == "toggle":
            set_thinking(req)
        elif spec.reasoning_control == "effort" and req.effort:
            req.body["reasoning_effort"] = req.effort

    def stream_normalizer(self, spec: ProviderSpec) -> KimiNormalizer:
        return KimiNormalizer(spec, self)


SPEC = ProviderSpec(
    name="kimi",
    display_name="Moonshot Kimi",
    default_base_url="https://api.moonshot.ai/v1",  # China: https://api.moonshot.cn/v1
    default_model="kimi-k2.6",
    models=("kimi-k2.6", "kimi-k2.5", "kimi-k2-thinking", "kimi-k2-thinking-turbo"),
    api_key_env="MOONSHOT_API_KEY",
    hooks=KimiHooks(),
    token_limit_field="max_tokens",
    reasoning_control="toggle",  # kimi-k2.6 / k2.5: thinking on by default, can be disabled
    effort_map=TOGGLE_EFFORT_MAP,
    replay_reasoning=True,
    # "thinking is enabled but reasoning_content is missing in assistant tool call message"
    requires_reasoning_replay=True,
    tool_choices=frozenset({"auto", "none"}),
    response_formats=frozenset({"text", "json_object"}),
    max_tools=128,
    accepts_images=True,
    developer_role=False,
    temperature_range=None,  # kimi-k2.x: sampling fixed by the platform
    model_overrides=(
        # Thinking forced on: nothing to switch, and it cannot be switched off.
        ("kimi-k2-thinking*", {"reasoning_control": "none", "accepts_images": False}),
        ("kimi-k2.7-code*", {"reasoning_control": "none"}),
        # kimi-k3: always thinks; its depth is reasoning_effort low | high | max.
        ("kimi-k3*", {"reasoning_control": "effort", "effort_map": K3_EFFORT}),
        # The older generation models: no thinking, free sampling.
        (
            "moonshot-v1-*",
            {
                "reasoning_control": "none",
                "replay_reasoning": False,
                "requires_reasoning_replay": False,
                "temperature_range": (0.0, 1.0),
                "accepts_images": False,
            },
        ),
        ("moonshot-v1-*-vision-preview", {"accepts_images": True}),
    ),
)
