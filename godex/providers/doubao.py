"""ByteDance Doubao on Volcengine Ark: ``thinking`` + ``reasoning_effort``, named error codes."""

from __future__ import annotations

from godex.providers.base import THREE_LEVEL_EFFORT_MAP, ChatHooks, set_thinking
from godex.providers.errors import Classified
from godex.providers.spec import ChatRequest, ProviderSpec

# volcengine.com/docs/82379/1299023: the code names the failure; an overdue account is a
# 403 that must not read as a bad key.
ERROR_CODES: dict[str, Classified] = {
    "AuthenticationError": Classified("provider.auth", 502),
    "AccessDenied": Classified("provider.auth", 502),
    "AccountOverdueError": Classified("provider.insufficient_quota", 400),
    "SensitiveContentDetected": Classified("provider.content_filter", 400),
    "InputTextSensitiveContentDetected": Classified("provider.content_filter", 400),
    "OutputTextSensitiveContentDetected": Classified("provider.content_filter", 400),
    "RateLimitExceeded": Classified("provider.rate_limited", 429),
    "QuotaExceeded": Classified("provider.rate_limited", 429),
    "ServerOverloaded": Classified("provider.overloaded", 502),
    "ModelNotOpen": Classified("provider.invalid_request", 400),
    "InvalidEndpointOrModel": Classified("provider.invalid_request", 400),
}


class DoubaoHooks(ChatHooks):
    error_names = ERROR_CODES

    def patch_request(self, spec: ProviderSpec, req: ChatRequest) -> None:
        spec = spec.for_model(str(req.body.get("model", "")))
        if spec.reasoning_control == "none":
            return
        set_thinking(req)
        if req.thinking and req.effort:
            req.body["reasoning_effort"] = req.effort


SPEC = ProviderSpec(
    name="doubao",
    display_name="Doubao (Volcengine Ark)",
    default_base_url="https://ark.cn-beijing.volces.com/api/v3",  # Coding Plan: /api/coding/v3
    default_model="doubao-seed-1-8-251228",
    models=(
        "doubao-seed-1-8-251228",
        "doubao-seed-code-preview-251028",
        "doubao-seed-1-6-250615",
        "doubao-seed-1-6-flash-250615",
        "doubao-seed-1-6-thinking-250615",
    ),
    api_key_env="ARK_API_KEY",
    hooks=DoubaoHooks(),
    # max_completion_tokens counts reasoning too (max_tokens does not): the Responses meaning.
    token_limit_field="max_completion_tokens",
    reasoning_control="effort",
    effort_map=THREE_LEVEL_EFFORT_MAP,
    replay_reasoning=False,
    tool_choices=frozenset({"auto", "none", "required"}),
    response_formats=frozenset({"text", "json_object"}),
    max_tools=128,
    accepts_images=True,
    developer_role=False,
    temperature_range=(0.0, 2.0),
    model_overrides=(
        # Thinking-only models: no switch.
        ("*-thinking-*", {"reasoning_control": "none"}),
        # Pre-Seed generations: no thinking at all.
        ("doubao-1-5-pro-*", {"reasoning_control": "none", "accepts_images": False}),
        ("doubao-pro-*", {"reasoning_control": "none", "accepts_images": False}),
        ("doubao-lite-*", {"reasoning_control": "none", "accepts_images": False}),
    ),
)
