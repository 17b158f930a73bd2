"""The provider specs GodeX knows, by the name used in ``providers.<name>.spec``."""

from __future__ import annotations

from typing import Any

from godex.providers import (
    deepseek,
    doubao,
    kimi,
    local,
    minimax,
    openai_compatible,
    qwen,
    xiaomi,
    zhipu,
)
from godex.providers.spec import ProviderSpec

SPECS: dict[str, ProviderSpec] = {
    "deepseek": deepseek.SPEC,
    "xiaomi": xiaomi.SPEC,
    "zhipu": zhipu.SPEC,
    "minimax": minimax.SPEC,
    "kimi": kimi.SPEC,
    "qwen": qwen.SPEC,
    "doubao": doubao.SPEC,
    "vllm": local.VLLM,
    "sglang": local.SGLANG,
    "ollama": local.OLLAMA,
    "llamacpp": local.LLAMA_CPP,
    "openai_compatible": openai_compatible.BASE,
}
ALIASES = {
    "mimo": "xiaomi",
    "glm": "zhipu",
    "openai-compatible": "openai_compatible",
    "moonshot": "kimi",
    "dashscope": "qwen",
    "bailian": "qwen",
    "volcengine": "doubao",
    "ark": "doubao",
    "llama.cpp": "llamacpp",
    "llama-cpp": "llamacpp",
    "llama_cpp": "llamacpp",
}
SPEC_NAMES: tuple[str, ...] = (*SPECS, *ALIASES)


def register(spec: ProviderSpec) -> None:
    """Add a provider: a spec (data) and its hooks are all a new provider needs."""
    SPECS[spec.name] = spec


def spec_names() -> tuple[str, ...]:
    return (*SPECS, *ALIASES)


def get_spec(name: str) -> ProviderSpec | None:
    return SPECS.get(ALIASES.get(name, name))


def build_openai_compatible_spec(
    capabilities: dict[str, Any], base_url: str | None
) -> ProviderSpec:
    return openai_compatible.build_spec(capabilities, base_url)


def capability_keys() -> list[str]:
    return openai_compatible.capability_keys()
