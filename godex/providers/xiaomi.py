"""Xiaomi MiMo: ``api-key`` auth, a thinking toggle, native web search, snapshot tool calls."""

from __future__ import annotations

from godex.providers.base import TOGGLE_EFFORT_MAP, ChatHooks, set_thinking
from godex.providers.spec import ChatRequest, ProviderSpec


class XiaomiHooks(ChatHooks):
    snapshot_tool_calls = True  # mimo-v2.5-pro repeats argument snapshots

    def patch_request(self, spec: ProviderSpec, req: ChatRequest) -> None:
        set_thinking(req)
        if req.web_search is not None:
            size = req.web_search.get("search_context_size")
            tool = {"type": "web_search", "max_keyword": 3, "limit": 5 if size == "high" else 3}
            if isinstance(req.web_search.get("user_location"), dict):
                tool["user_location"] = req.web_search["user_location"]
            req.body.setdefault("tools", []).append(tool)


SPEC = ProviderSpec(
    name="xiaomi",
    display_name="Xiaomi MiMo",
    default_base_url="https://api.xiaomimimo.com/v1",
    default_model="mimo-v2.5-pro",
    models=("mimo-v2.5-pro", "mimo-v2.5", "mimo-v2-pro", "mimo-v2-flash"),
    api_key_env="MIMO_API_KEY",
    hooks=XiaomiHooks(),
    auth_scheme="api-key",
    token_limit_field="max_completion_tokens",
    reasoning_control="toggle",
    effort_map=TOGGLE_EFFORT_MAP,
    replay_reasoning=True,
    tool_choices=frozenset({"auto"}),
    response_formats=frozenset({"text", "json_object"}),
    max_tools=128,
    finish_reasons={"repetition_truncation": "length"},
    developer_role=True,
    native_web_search=True,
    temperature_range=(0.0, 1.5),
)
