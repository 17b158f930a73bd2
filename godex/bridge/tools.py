"""Responses tools → Chat Completions function declarations, and the ToolPlan to restore calls.

Custom (freeform) tools become a function with one string parameter; namespaces are flattened
to unique names; local_shell/shell become a function with a ``command`` array; client-executed
tool_search becomes a function; web_search is served natively when the spec declares it;
other hosted tools are dropped with a diagnostic.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from godex.bridge.builder import CUSTOM_TOOL_FIELD
from godex.bridge.diagnostics import Diagnostics
from godex.bridge.toolplan import ToolKind, ToolPlan, ToolTarget
from godex.providers.spec import ProviderSpec

_GRAMMAR_LIMIT = 6000
_WEB_SEARCH = (
    "web_search",
    "web_search_preview",
    "web_search_2025_08_26",
    "web_search_preview_2025_03_11",
)
_SHELL_PARAMETERS = {
    "type": "object",
    "properties": {
        "command": {
            "type": "array",
            "items": {"type": "string"},
            "description": 'The command and its arguments, e.g. ["bash", "-lc", "ls -la"].',
        },
        "workdir": {"type": "string", "description": "Working directory for the command."},
        "timeout_ms": {"type": "integer", "description": "Timeout in milliseconds."},
    },
    "required": ["command"],
}


@dataclass(slots=True)
class ToolDeclarations:
    functions: list[dict[str, Any]] = field(default_factory=list)
    plan: ToolPlan = field(default_factory=ToolPlan)
    # (namespace, client name) -> upstream name, to render history calls the same way
    upstream_names: dict[tuple[str | None, str], str] = field(default_factory=dict)
    web_search: dict[str, Any] | None = None


@functools.lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


class _Namer:
    def __init__(self, pattern: str) -> None:
        self._pattern = _compiled(pattern)
        self._used: set[str] = set()

    def __call__(self, wanted: str) -> str:
        name = wanted
        if not self._pattern.match(name):
            name = re.sub(r"[^a-zA-Z0-9_-]", "_", name)[:64] or "tool"
        base, n = name, 2
        while name in self._used:
            suffix = f"_{n}"
            name = base[: 64 - len(suffix)] + suffix
            n += 1
        self._used.add(name)
        return name


def _description(tool: dict[str, Any], spec: ProviderSpec, name: str) -> str | None:
    desc = tool.get("description")
    if isinstance(desc, str) and desc:
        return desc
    return name if spec.tool_description_required else None


def _custom_description(tool: dict[str, Any]) -> str:
    desc = tool.get("description") or ""
    fmt = tool.get("format") or {}
    text = (
        f"{desc}\n\nThis is a freeform tool: put the raw text in the '{CUSTOM_TOOL_FIELD}' "
        "string parameter exactly as it should be received, not JSON-encoded content."
    )
    if fmt.get("type") == "grammar" and isinstance(fmt.get("definition"), str):
        definition = fmt["definition"][:_GRAMMAR_LIMIT]
        syntax = fmt.get("syntax") or "lark"
        text += f"\nThe text must match this {syntax} grammar:\n{definition}"
    return text.strip()


def declare_tools(
    tools: list[dict[str, Any]], spec: ProviderSpec, diags: Diagnostics
) -> ToolDeclarations:
    out = ToolDeclarations()
    if not tools:
        return out
    namer = _Namer(spec.tool_name_pattern)

    def add(
        kind: ToolKind,
        client_name: str,
        namespace: str | None,
        parameters: dict[str, Any],
        description: str | None,
        strict: Any = None,
    ) -> None:
        wanted = f"{namespace}__{client_name}" if namespace else client_name
        upstream = namer(wanted)
        fn: dict[str, Any] = {"name": upstream, "parameters": parameters}
        if description:
            fn["description"] = description
        if strict is not None and spec.strict_tools:
            fn["strict"] = bool(strict)
        out.functions.append({"type": "function", "function": fn})
        out.plan.targets[upstream] = ToolTarget(kind, client_name, namespace)
        out.upstream_names[(namespace, client_name)] = upstream

    def visit(tool: dict[str, Any], where: str, namespace: str | None) -> None:
        kind = tool.get("type")
        name = tool.get("name")
        if kind == "function" and isinstance(name, str):
            params = tool.get("parameters")
            if not isinstance(params, dict):
                params = {"type": "object", "properties": {}}
            add(
                "function",
                name,
                namespace,
                params,
                _description(tool, spec, name),
                tool.get("strict"),
            )
        elif kind == "custom" and isinstance(name, str):
            params = {
                "type": "object",
                "properties": {
                    CUSTOM_TOOL_FIELD: {"type": "string", "description": "The raw input."}
                },
                "required": [CUSTOM_TOOL_FIELD],
            }
            add("custom", name, namespace, params, _custom_description(tool))
        elif kind == "namespace" and isinstance(name, str) and namespace is None:
            for j, inner in enumerate(tool.get("tools") or []):
                if isinstance(inner, dict):
                    visit(inner, f"{where}.tools[{j}]", name)
        elif kind in ("local_shell", "shell"):
            add(
                "local_shell",
                "shell",
                None,
                _SHELL_PARAMETERS,
                "Run a shell command on the user's machine and return its output.",
            )
        elif kind == "tool_search" and tool.get("execution", "client") == "client":
            params = tool.get("parameters")
            if not isinstance(params, dict):
                params = {"type": "object", "properties": {"query": {"type": "string"}}}
            desc = tool.get("description") or "Search for more tools to load."
            add("tool_search", "tool_search", None, params, desc)
        elif kind in _WEB_SEARCH:
            if spec.native_web_search:
                if out.web_search is None:
                    out.web_search = tool
                    diags.add("kept", where, "web_search served by the provider's native search")
            else:
                diags.add("ignored", where, f"{spec.name} has no native web search; tool dropped")
        else:
            diags.add("ignored", where, f"tool type {kind!r} is not supported upstream; dropped")

    for i, tool in enumerate(tools):
        visit(tool, f"tools[{i}]", None)
    if len(out.functions) > spec.max_tools:
        dropped = len(out.functions) - spec.max_tools
        diags.add(
            "degraded",
            "tools",
            f"{spec.name} accepts at most {spec.max_tools} tools; the last {dropped} were dropped",
        )
        for fn in out.functions[spec.max_tools :]:
            out.plan.targets.pop(fn["function"]["name"], None)
        out.functions = out.functions[: spec.max_tools]
    return out


def tools_from_input(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tool definitions that arrive inside the input (tool_search_output, additional_tools)."""
    found: list[dict[str, Any]] = []
    for item in items:
        kind = item.get("type")
        if kind in ("tool_search_output", "additional_tools"):
            tools = item.get("tools")
            if isinstance(tools, list):
                found.extend(t for t in tools if isinstance(t, dict))
    return found


def map_tool_choice(
    choice: Any, decl: ToolDeclarations, spec: ProviderSpec, diags: Diagnostics
) -> Any:
    """The upstream tool_choice, or None to leave it out."""
    if choice is None or not decl.functions:
        return None
    accepted = spec.tool_choices
    if isinstance(choice, str):
        if choice in accepted:
            return choice
        if choice == "none":
            diags.add("degraded", "tool_choice", "'none' unsupported; tools withheld instead")
            decl.functions.clear()
            return None
        diags.add("degraded", "tool_choice", f"{choice!r} unsupported by {spec.name}; using 'auto'")
        return "auto" if "auto" in accepted else None
    if isinstance(choice, dict):
        kind = choice.get("type")
        if kind in ("function", "custom") and isinstance(choice.get("name"), str):
            upstream = decl.upstream_names.get((choice.get("namespace"), choice["name"]))
            if upstream is not None and "function" in accepted:
                return {"type": "function", "function": {"name": upstream}}
            if upstream is not None and "required" in accepted and len(decl.functions) == 1:
                diags.add("degraded", "tool_choice", "named choice sent as 'required'")
                return "required"
            diags.add("degraded", "tool_choice", "named tool choice unsupported; using 'auto'")
            return "auto" if "auto" in accepted else None
        if kind == "allowed_tools":
            mode = choice.get("mode") if choice.get("mode") in ("auto", "required") else "auto"
            diags.add("degraded", "tool_choice", f"allowed_tools sent as {mode!r} with all tools")
            return mode if mode in accepted else ("auto" if "auto" in accepted else None)
        diags.add("degraded", "tool_choice", f"tool_choice type {kind!r} unsupported; using 'auto'")
        return "auto" if "auto" in accepted else None
    return None
