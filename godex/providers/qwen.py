"""Alibaba Qwen on Model Studio (DashScope) in OpenAI-compatible mode.

Thinking is a top-level ``enable_thinking`` switch with an optional ``thinking_budget``;
errors carry a string ``error.code`` naming the failure.
"""

from __future__ import annotations

from godex.providers.base import THREE_LEVEL_EFFORT_MAP, ChatHooks
from godex.providers.errors import Classified
from godex.providers.spec import ChatRequest, ProviderSpec

# help.aliyun.com/model-studio/error-code: the code names the failure.
ERROR_CODES: dict[str, Classified] = {
    "invalid_api_key": Classified("provider.auth", 502),
    "InvalidApiKey": Classified("provider.auth", 502),
    "Arrearage": Classified("provider.insufficient_quota", 400),
    "data_inspection_failed": Classified("provider.content_filter", 400),
    "DataInspectionFailed": Classified("provider.content_filter", 400),
    "limit_requests": Classified("provider.rate_limited", 429),
    "Throttling": Classified("provider.rate_limited", 429),
    "model_not_found": Classified("provider.invalid_request", 400),
}


class QwenHooks(ChatHooks):
    error_names = ERROR_CODES

    def patch_request(self, spec: ProviderSpec, req: ChatRequest) -> None:
        spec = spec.for_model(str(req.body.get("model", "")))
        if spec.reasoning_control == "none":
            return
        if not req.stream:
            # "enable_thinking must be set to false for non-streaming calls" (open Qwen3).
            req.body["enable_thinking"] = False
            return
        if req.thinking is not None:
            req.body["enable_thinking"] = req.thinking
        budgets = spec.extra.get("thinking_budgets") or {}
        if req.thinking and req.effort in budgets:
            req.body["thinking_budget"] = budgets[req.effort]


SPEC = ProviderSpec(
    name="qwen",
    display_name="Qwen (Model Studio)",
    # China (Beijing): https://dashscope.aliyuncs.com/compatible-mode/v1
    default_base_url="https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
    default_model="qwen3-coder-plus",
    models=("qwen3-coder-plus", "qwen3-coder-flash", "qwen3-max", "qwen-plus", "qwen-flash"),
    api_key_env="DASHSCOPE_API_KEY",
    hooks=QwenHooks(),
    token_limit_field="max_tokens",
    # The effort value only picks a thinking_budget; None turns thinking off.
    reasoning_control="effort",
    effort_map=THREE_LEVEL_EFFORT_MAP,
    # Budgets stay well under every hybrid model's limit; "high" leaves the model's default.
    extra={"thinking_budgets": {"low": 2048, "medium": 8192}},
    replay_reasoning=False,  # history reasoning is not read back by Qwen's templates
    tool_choices=frozenset({"auto", "none", "function"}),
    response_formats=frozenset({"text", "json_object"}),
    max_tools=128,
    parallel_tool_calls=True,
    developer_role=False,
    temperature_range=(0.0, 1.99),  # [0, 2): 2 itself is rejected
    model_overrides=(
        # The coder models have no thinking mode.
        ("qwen3-coder*", {"reasoning_control": "none"}),
        # Thinking-only models (QwQ, *-thinking-*): thinking cannot be switched.
        ("qwq*", {"reasoning_control": "none"}),
        ("*-thinking*", {"reasoning_control": "none"}),
        ("qwen*-vl-*", {"accepts_images": True}),
        ("qwen-vl-*", {"accepts_images": True}),
    ),
)
