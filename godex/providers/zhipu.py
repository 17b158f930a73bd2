"""Zhipu GLM: thinking toggle with ``clear_thinking:false``, native web search, auto-only tools."""

from __future__ import annotations

from typing import Any

from godex.providers.base import TOGGLE_EFFORT_MAP, ChatHooks
from godex.providers.spec import ChatRequest, ProviderSpec


class ZhipuHooks(ChatHooks):
    def patch_request(self, spec: ProviderSpec, req: ChatRequest) -> None:
        history_reasoning = any(
            "reasoning_content" in m for m in req.body.get("messages", []) if isinstance(m, dict)
        )
        if req.thinking is not None or history_reasoning:
            on = req.thinking if req.thinking is not None else True
            # Preserved thinking: GLM reads back the reasoning we replay only with this off.
            req.body["thinking"] = {
                "type": "enabled" if on else "disabled",
                "clear_thinking": False,
            }
        if req.web_search is not None:
            size = req.web_search.get("search_context_size")
            search: dict[str, Any] = {
                "enable": True,
                "search_engine": "search_std",
                "search_result": True,
                "content_size": "high" if size == "high" else "medium",
            }
            req.body.setdefault("tools", []).append({"type": "web_search", "web_search": search})


SPEC = ProviderSpec(
    name="zhipu",
    display_name="Zhipu GLM",
    default_base_url="https://open.bigmodel.cn/api/coding/paas/v4",  # GLM Coding Plan
    default_model="glm-5.1",
    models=("glm-5.1", "glm-5.2", "glm-5-turbo", "glm-4.7", "glm-4.6"),
    api_key_env="ZHIPUAI_API_KEY",
    hooks=ZhipuHooks(),
    token_limit_field="max_tokens",
    reasoning_control="toggle",
    effort_map=TOGGLE_EFFORT_MAP,
    replay_reasoning=True,
    tool_choices=frozenset({"auto", "none"}),
    response_formats=frozenset({"text", "json_object"}),
    max_tools=128,
    finish_reasons={
        "sensitive": "content_filter",
        "network_error": "error",
        "model_context_window_exceeded": "context_length",
    },
    developer_role=False,
    native_web_search=True,
    tool_description_required=True,
    temperature_range=(0.0, 1.0),
    user_field="user_id",
)
