"""MiniMax: split reasoning, adaptive thinking, one leading system message, strict history."""

from __future__ import annotations

import json

from godex.providers.base import TOGGLE_EFFORT_MAP, ChatHooks, set_thinking
from godex.providers.spec import ChatRequest, ProviderSpec


class MiniMaxHooks(ChatHooks):
    think_tags = True  # without split (or when it leaks) reasoning is inline <think>

    def patch_request(self, spec: ProviderSpec, req: ChatRequest) -> None:
        req.body["reasoning_split"] = True
        set_thinking(req, on="adaptive", off="disabled")  # "enabled" is rejected (2013)
        # History arguments are validated as JSON (2013): send them canonical.
        for msg in req.body.get("messages", []):
            for call in msg.get("tool_calls") or []:
                fn = call.get("function") or {}
                raw = fn.get("arguments") or ""
                try:
                    fn["arguments"] = json.dumps(json.loads(raw) if raw.strip() else {})
                except ValueError:
                    fn["arguments"] = json.dumps({"input": raw})


SPEC = ProviderSpec(
    name="minimax",
    display_name="MiniMax",
    default_base_url="https://api.minimaxi.com/v1",
    default_model="MiniMax-M3",
    models=("MiniMax-M3", "MiniMax-M2.7", "MiniMax-M2.7-highspeed"),
    api_key_env="MINIMAX_API_KEY",
    hooks=MiniMaxHooks(),
    token_limit_field="max_completion_tokens",
    reasoning_control="toggle",
    effort_map=TOGGLE_EFFORT_MAP,
    replay_reasoning=False,
    tool_choices=frozenset({"auto", "none", "required", "function"}),
    response_formats=frozenset({"text", "json_object"}),
    max_tools=128,
    accepts_images=True,
    developer_role=False,
    system_anywhere=False,
    temperature_range=(0.01, 1.0),
)
