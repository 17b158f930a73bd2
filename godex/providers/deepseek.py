"""DeepSeek: ``thinking`` + ``reasoning_effort``; reasoning must come back on tool-call turns."""

from __future__ import annotations

from godex.providers.base import ChatHooks, set_thinking
from godex.providers.spec import ChatRequest, ProviderSpec


class DeepSeekHooks(ChatHooks):
    def patch_request(self, spec: ProviderSpec, req: ChatRequest) -> None:
        set_thinking(req)
        if req.thinking and req.effort:
            req.body["reasoning_effort"] = req.effort


SPEC = ProviderSpec(
    name="deepseek",
    display_name="DeepSeek",
    default_base_url="https://api.deepseek.com",
    default_model="deepseek-v4-pro",
    models=("deepseek-v4-pro", "deepseek-v4-flash"),
    api_key_env="DEEPSEEK_API_KEY",
    hooks=DeepSeekHooks(),
    token_limit_field="max_tokens",
    reasoning_control="effort",
    effort_map={
        "none": None,
        "minimal": None,
        "low": "high",
        "medium": "high",
        "high": "high",
        "xhigh": "max",
        "max": "max",
        "ultra": "max",
    },
    replay_reasoning=True,
    requires_reasoning_replay=True,
    tool_choices=frozenset({"auto", "none", "required", "function"}),
    response_formats=frozenset({"text", "json_object"}),
    max_tools=128,
    accepts_images=False,
    finish_reasons={"insufficient_system_resource": "error"},
    developer_role=False,
    system_anywhere=True,
    tool_name_pattern=r"^[a-zA-Z0-9_-]{1,64}$",
    temperature_range=(0.0, 2.0),
    user_field="user_id",
)
