"""The provider specs GodeX knows, by the name used in ``providers.<name>.spec``.

The registry is the only place that knows spec names. On import it installs itself as the
config's spec catalog, so config validation asks it (and sees specs added with ``register``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from godex.config import catalog
from godex.config.keys import hint
from godex.errors import GodexError
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
# The names at import time; spec_names() also has the ones added since with register().
SPEC_NAMES: tuple[str, ...] = (*SPECS, *ALIASES)
# The spec whose capabilities are declared in config rather than in code.
CONFIGURABLE = "openai_compatible"


def register(spec: ProviderSpec) -> None:
    """Add a provider: a spec (data) and its hooks are all a new provider needs."""
    SPECS[spec.name] = spec


def spec_names() -> tuple[str, ...]:
    return (*SPECS, *ALIASES)


def canonical_name(name: str) -> str | None:
    """The spec's own name for any accepted spelling (``glm`` -> ``zhipu``); None if unknown."""
    name = ALIASES.get(name, name)
    return name if name in SPECS else None


def get_spec(name: str) -> ProviderSpec | None:
    return SPECS.get(ALIASES.get(name, name))


def resolve_spec(
    spec_name: str, capabilities: Mapping[str, Any], base_url: str | None
) -> ProviderSpec | None:
    """The spec a configured provider runs on, whatever spelling named it.

    For openai_compatible the spec is built from the declared capabilities (and base_url);
    raises ``ConfigError`` if they are invalid (``load_config`` has already reported that).
    """
    canonical = canonical_name(spec_name)
    if canonical is None:
        return None
    if canonical == CONFIGURABLE:
        return build_openai_compatible_spec(dict(capabilities), base_url)
    return SPECS[canonical]


def build_openai_compatible_spec(
    capabilities: dict[str, Any], base_url: str | None
) -> ProviderSpec:
    return openai_compatible.build_spec(capabilities, base_url)


def capability_keys() -> list[str]:
    return openai_compatible.capability_keys()


class RegistryCatalog:
    """The registry as config's ``SpecCatalog``; reads the live tables."""

    def names(self) -> tuple[str, ...]:
        return spec_names()

    def canonical(self, name: str) -> str | None:
        return canonical_name(name)

    def api_key_env(self, name: str) -> str:
        spec = get_spec(name)
        return spec.api_key_env if spec is not None else ""

    def accepts_capabilities(self, name: str) -> bool:
        return canonical_name(name) == CONFIGURABLE

    def capability_keys(self) -> list[str]:
        return capability_keys()

    def check_capabilities(self, caps: Mapping[str, Any], base_url: str | None) -> list[str]:
        allowed = capability_keys()
        problems = [
            f"capabilities.{key}: unknown capability{hint(str(key), allowed)}"
            for key in caps
            if key not in allowed
        ]
        try:  # the spec builder knows each capability's type; reuse its checks
            build_openai_compatible_spec({k: v for k, v in caps.items() if k in allowed}, base_url)
        except GodexError as exc:
            problems += [p.strip() for p in exc.message.split("; ") if p.strip()]
        return problems


catalog.install(RegistryCatalog())
