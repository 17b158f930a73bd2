"""What a provider is: a declared capability spec (data) plus thin protocol hooks.

The spec says what the provider supports. The bridge reads it and makes every compatibility
decision. Hooks only translate protocol differences: field names, thinking switches, chunk
shapes, error bodies. No policy lives here.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from godex.protocol.chat import ChatRequest

if TYPE_CHECKING:
    from godex.errors import ProviderError
    from godex.protocol.deltas import Delta

__all__ = ["ALL_TOOL_CHOICES", "ChatRequest", "ProviderHooks", "ProviderSpec", "StreamNormalizer"]

ReasoningControl = Literal["none", "effort", "toggle"]

ALL_TOOL_CHOICES: frozenset[str] = frozenset({"auto", "none", "required", "function"})


class StreamNormalizer(Protocol):
    """Per-stream state: turns decoded upstream SSE ``data`` objects into neutral deltas."""

    def feed(self, obj: dict[str, Any]) -> list[Delta]: ...

    @property
    def takes_text_frames(self) -> bool:
        """A plain text chunk is just its text here: runs of them may skip ``feed``."""
        ...

    def plain_content(self, obj: dict[str, Any]) -> str | None:
        """The text of a plain text chunk; None for any other."""
        ...

    def finish(self) -> list[Delta]:
        """Called at end of stream (``[DONE]`` or EOF); flush anything buffered."""
        ...


class ProviderHooks(Protocol):
    def auth_headers(self, spec: ProviderSpec, api_key: str) -> dict[str, str]: ...

    def patch_request(self, spec: ProviderSpec, req: ChatRequest) -> None:
        """Render the bridge's decisions into provider field names (in place)."""
        ...

    def stream_normalizer(self, spec: ProviderSpec) -> StreamNormalizer: ...

    def normalize_body(self, spec: ProviderSpec, body: dict[str, Any]) -> list[Delta]:
        """A non-streaming body as the same deltas a stream would give."""
        ...

    def error_from_http(
        self, spec: ProviderSpec, status: int, body: bytes, headers: Mapping[str, str]
    ) -> ProviderError:
        """An HTTP error (status >= 400) before any stream began."""
        ...


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    name: str  # the spec id used in config: ``spec: deepseek``
    default_base_url: str
    default_model: str
    api_key_env: str  # the conventional env var, used by `godex init` and the built-in default
    hooks: ProviderHooks
    display_name: str = ""
    models: tuple[str, ...] = ()  # well-known models, offered by `godex init` and /v1/models
    auth_scheme: Literal["bearer", "api-key"] = "bearer"
    token_limit_field: str = "max_tokens"  # or "max_completion_tokens"
    # Reasoning: how effort is controlled, and the Responses effort -> provider value table.
    # A value of None means "thinking off" for that effort.
    reasoning_control: ReasoningControl = "none"
    effort_map: Mapping[str, str | None] = field(default_factory=dict)
    # Reasoning history: send reasoning_content back on assistant messages; "required" means
    # the provider rejects tool-call turns without it (DeepSeek thinking mode).
    replay_reasoning: bool = False
    requires_reasoning_replay: bool = False
    tool_choices: frozenset[str] = ALL_TOOL_CHOICES
    response_formats: frozenset[str] = frozenset({"text", "json_object"})
    max_tools: int = 128
    accepts_images: bool = False
    # Provider-specific finish reasons -> canonical: stop | length | tool_calls |
    # content_filter | error | context_length
    finish_reasons: Mapping[str, str] = field(default_factory=dict)
    developer_role: bool = False  # accepts role "developer" (else merged into system)
    system_anywhere: bool = True  # False: one leading system message only (MiniMax)
    tool_name_pattern: str = r"^[a-zA-Z0-9_-]{1,64}$"
    native_web_search: bool = False
    parallel_tool_calls: bool = False  # accepts the parallel_tool_calls field
    strict_tools: bool = False  # accepts "strict" inside function declarations
    tool_description_required: bool = False
    temperature_range: tuple[float, float] | None = (0.0, 2.0)
    stream_usage_option: bool = True  # send stream_options.include_usage
    user_field: str | None = None  # where Responses user / safety_identifier goes
    extra: Mapping[str, Any] = field(default_factory=dict)
    # Local engines run without a key; a missing key must not make them unavailable.
    api_key_required: bool = True
    # Per-model capability differences: (glob pattern, field overrides), applied in order to
    # the upstream model name (case-insensitive); every matching entry applies.
    model_overrides: tuple[tuple[str, Mapping[str, Any]], ...] = ()

    def __post_init__(self) -> None:
        known = {f.name for f in dataclasses.fields(self)} - {"name", "model_overrides"}
        for pattern, changes in self.model_overrides:
            bad = sorted(set(changes) - known)
            if bad:
                raise ValueError(f"{self.name}: override {pattern!r} names unknown fields {bad}")

    def for_model(self, model: str) -> ProviderSpec:
        """This spec with the overrides for ``model`` applied (cached per spec and model)."""
        if not self.model_overrides:
            return self
        key = (id(self), model)
        hit = _FOR_MODEL.get(key)
        if hit is not None and hit[0] is self:
            return hit[1]
        name = model.lower()
        changes: dict[str, Any] = {}
        for pattern, fields in self.model_overrides:
            if fnmatch.fnmatchcase(name, pattern.lower()):
                changes.update(fields)
        resolved = dataclasses.replace(self, **changes) if changes else self
        if len(_FOR_MODEL) >= _FOR_MODEL_MAX:
            _FOR_MODEL.clear()  # model names come from clients: keep the cache bounded
        _FOR_MODEL[key] = (self, resolved)
        return resolved


# (id(spec), model) -> (spec, resolved); the spec is kept so its id cannot be reused.
_FOR_MODEL: dict[tuple[int, str], tuple[ProviderSpec, ProviderSpec]] = {}
_FOR_MODEL_MAX = 4096
