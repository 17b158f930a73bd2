"""Self-hosted engines: vLLM, SGLang, Ollama (its /v1) and llama.cpp's server.

What they share: no key needed, reasoning that is either split out by the engine (under
``reasoning_content`` or, in newer vLLM and Ollama, ``reasoning``) or left inline as
``<think>`` tags, and a thinking switch that is a chat-template variable.
"""

from __future__ import annotations

from typing import Any

from godex.protocol.deltas import Delta
from godex.providers.base import (
    THREE_LEVEL_EFFORT_MAP,
    TOGGLE_EFFORT_MAP,
    ChatHooks,
    StreamNormalizer,
)
from godex.providers.errors import Classified
from godex.providers.spec import ChatRequest, ProviderSpec


def _renamed(part: Any) -> Any:
    """A delta or message with ``reasoning`` read as ``reasoning_content``."""
    if (
        isinstance(part, dict)
        and isinstance(part.get("reasoning"), str)
        and not part.get("reasoning_content")
    ):
        out = {k: v for k, v in part.items() if k != "reasoning"}
        out["reasoning_content"] = part["reasoning"]
        return out
    return part


def _with_reasoning_content(obj: dict[str, Any], key: str) -> dict[str, Any]:
    choices = obj.get("choices")
    if not isinstance(choices, list):
        return obj
    fixed = []
    changed = False
    for choice in choices:
        if isinstance(choice, dict) and key in choice:
            part = _renamed(choice[key])
            if part is not choice[key]:
                choice = {**choice, key: part}
                changed = True
        fixed.append(choice)
    return {**obj, "choices": fixed} if changed else obj


class LocalNormalizer(StreamNormalizer):
    def feed(self, obj: dict[str, Any]) -> list[Delta]:
        return super().feed(_with_reasoning_content(obj, "delta"))


class LocalHooks(ChatHooks):
    """Thinking via ``chat_template_kwargs`` (vLLM, SGLang, llama.cpp with --jinja)."""

    think_tags = True  # without a reasoning parser the tags stay in content

    def patch_request(self, spec: ProviderSpec, req: ChatRequest) -> None:
        if req.thinking is not None:
            # Qwen3-style templates read enable_thinking, DeepSeek-V3.1/Granite read
            # thinking; a template ignores the variable it does not use.
            kwargs = req.body.setdefault("chat_template_kwargs", {})
            kwargs["enable_thinking"] = req.thinking
            kwargs["thinking"] = req.thinking

    def stream_normalizer(self, spec: ProviderSpec) -> LocalNormalizer:
        return LocalNormalizer(spec, self)

    def normalize_body(self, spec: ProviderSpec, body: dict[str, Any]) -> list[Delta]:
        return super().normalize_body(spec, _with_reasoning_content(body, "message"))


class OllamaHooks(LocalHooks):
    """Ollama's /v1 maps ``reasoning_effort`` (high|medium|low|none) to its think switch."""

    def patch_request(self, spec: ProviderSpec, req: ChatRequest) -> None:
        if req.thinking is False:
            req.body["reasoning_effort"] = "none"
        elif req.thinking and req.effort:
            req.body["reasoning_effort"] = req.effort


# llama-server names its errors in error.type; error.code is an HTTP status (500 in older
# builds even for an oversized prompt).
LLAMA_CPP_ERRORS: dict[str, Classified] = {
    "exceed_context_size_error": Classified("provider.context_length_exceeded", 400),
    "authentication_error": Classified("provider.auth", 502),
    "unavailable_error": Classified("provider.overloaded", 502),
    "not_supported_error": Classified("provider.invalid_request", 400),
}


class LlamaCppHooks(LocalHooks):
    error_names = LLAMA_CPP_ERRORS


_LOCAL: dict[str, Any] = {
    "api_key_required": False,
    "auth_scheme": "bearer",
    "token_limit_field": "max_tokens",
    "replay_reasoning": False,  # chat templates drop past reasoning themselves
    "max_tools": 128,
    "developer_role": False,  # most chat templates know no developer role
    "temperature_range": (0.0, 2.0),
}


def _serving_engine(name: str, display: str, base_url: str, key_env: str) -> ProviderSpec:
    """vLLM and SGLang: the same OpenAI-compatible server surface, on their own ports."""
    return ProviderSpec(
        name=name,
        display_name=display,
        default_base_url=base_url,
        default_model="default",
        api_key_env=key_env,
        hooks=LocalHooks(),
        reasoning_control="toggle",
        effort_map=TOGGLE_EFFORT_MAP,
        tool_choices=frozenset({"auto", "none", "required", "function"}),
        response_formats=frozenset({"text", "json_object", "json_schema"}),
        parallel_tool_calls=True,
        finish_reasons={"abort": "error"},
        **_LOCAL,
    )


# VLLM_API_KEY is also what `vllm serve --api-key` reads.
VLLM = _serving_engine("vllm", "vLLM", "http://127.0.0.1:8000/v1", "VLLM_API_KEY")
SGLANG = _serving_engine("sglang", "SGLang", "http://127.0.0.1:30000/v1", "SGLANG_API_KEY")

OLLAMA = ProviderSpec(
    name="ollama",
    display_name="Ollama",
    default_base_url="http://127.0.0.1:11434/v1",  # Ollama's cloud: https://ollama.com/v1
    default_model="qwen3-coder:30b",
    models=("qwen3-coder:30b", "gpt-oss:20b", "qwen3:8b", "deepseek-r1:8b"),
    api_key_env="OLLAMA_API_KEY",
    hooks=OllamaHooks(),
    reasoning_control="effort",
    effort_map=THREE_LEVEL_EFFORT_MAP,
    tool_choices=frozenset({"auto", "none", "required", "function"}),
    response_formats=frozenset({"text", "json_object", "json_schema"}),
    accepts_images=True,
    **_LOCAL,
)

LLAMA_CPP = ProviderSpec(
    name="llamacpp",
    display_name="llama.cpp server",
    default_base_url="http://127.0.0.1:8080/v1",
    default_model="default",
    api_key_env="LLAMA_API_KEY",  # what `llama-server --api-key` also reads
    hooks=LlamaCppHooks(),
    reasoning_control="toggle",
    effort_map=TOGGLE_EFFORT_MAP,
    # A named tool_choice is silently treated as "auto": declare it unsupported so the
    # bridge says so.
    tool_choices=frozenset({"auto", "none", "required"}),
    response_formats=frozenset({"text", "json_object", "json_schema"}),
    parallel_tool_calls=True,
    **_LOCAL,
)
