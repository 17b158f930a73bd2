"""Any Chat Completions endpoint, with its capabilities declared in config."""

from __future__ import annotations

import dataclasses
from typing import Any

from godex.errors import ConfigError
from godex.providers.base import ChatHooks, set_thinking
from godex.providers.spec import ChatRequest, ProviderSpec


class OpenAICompatibleHooks(ChatHooks):
    def patch_request(self, spec: ProviderSpec, req: ChatRequest) -> None:
        if spec.reasoning_control == "effort" and req.effort:
            req.body["reasoning_effort"] = req.effort
        elif spec.reasoning_control == "toggle":
            set_thinking(req)


BASE = ProviderSpec(
    name="openai_compatible",
    display_name="OpenAI-compatible",
    default_base_url="http://127.0.0.1:8000/v1",
    default_model="default",
    api_key_env="OPENAI_API_KEY",
    hooks=OpenAICompatibleHooks(),
    reasoning_control="none",
    developer_role=True,
    parallel_tool_calls=True,
    response_formats=frozenset({"text", "json_object", "json_schema"}),
    tool_choices=frozenset({"auto", "none", "required", "function"}),
    user_field="user",
)

# Config keys that may override the spec, and the types they take.
_FIELDS = {
    f.name: f
    for f in dataclasses.fields(ProviderSpec)
    if f.name
    not in ("name", "hooks", "extra", "default_base_url", "api_key_env", "model_overrides")
}
_SETS = ("tool_choices", "response_formats")


def capability_keys() -> list[str]:
    return sorted(_FIELDS)


def build_spec(capabilities: dict[str, Any], base_url: str | None) -> ProviderSpec:
    problems: list[str] = []
    changes: dict[str, Any] = {}
    for key, value in capabilities.items():
        if key not in _FIELDS:
            problems.append(f"capabilities.{key}: unknown capability")
            continue
        current = getattr(BASE, key)
        if key in _SETS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                problems.append(f"capabilities.{key}: expected a list of strings")
                continue
            value = frozenset(value)
        elif key == "temperature_range":
            if value is not None and not (
                isinstance(value, list)
                and len(value) == 2
                and all(isinstance(v, (int, float)) for v in value)
            ):
                problems.append(f"capabilities.{key}: expected [min, max]")
                continue
            value = tuple(float(v) for v in value) if value is not None else None
        elif key in ("effort_map", "finish_reasons"):
            if not isinstance(value, dict):
                problems.append(f"capabilities.{key}: expected a mapping")
                continue
        elif key == "models":
            if not isinstance(value, list):
                problems.append(f"capabilities.{key}: expected a list")
                continue
            value = tuple(str(v) for v in value)
        elif (current is not None and not isinstance(value, type(current))) or (
            isinstance(value, bool) != isinstance(current, bool) and current is not None
        ):
            problems.append(
                f"capabilities.{key}: expected {type(current).__name__}, got {type(value).__name__}"
            )
            continue
        changes[key] = value
    if problems:
        raise ConfigError("; ".join(problems), code="config.invalid")
    if base_url:
        changes["default_base_url"] = base_url
    return dataclasses.replace(BASE, **changes)
