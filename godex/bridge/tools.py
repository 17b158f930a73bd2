"""Responses tools → Chat Completions function declarations, and the ToolPlan to restore calls.

Each tool type is declared by its item kind's codec (``bridge.items``); this module only walks
the tools, keeps names unique and valid for the provider, and applies the provider's limits.
Namespaces are flattened to unique names; hosted tools nobody serves are dropped with a
diagnostic.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from godex.bridge import items
from godex.bridge.diagnostics import Diagnostics
from godex.bridge.items import web_search_call
from godex.bridge.items.base import DeclareContext
from godex.bridge.items.tool_search_call import loaded_tools
from godex.bridge.toolplan import ToolKind, ToolPlan, ToolTarget
from godex.providers.spec import ProviderSpec


@dataclass(slots=True)
class ToolDeclarations:
    functions: list[dict[str, Any]] = field(default_factory=list)
    plan: ToolPlan = field(default_factory=ToolPlan)
    # (namespace, client name) -> upstream name, to render history calls the same way
    upstream_names: dict[tuple[str | None, str], str] = field(default_factory=dict)
    web_search: dict[str, Any] | None = None
    # The upstream name of the search function GodeX serves itself (managed web search).
    managed_search: str | None = None


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


def declare_tools(
    tools: list[dict[str, Any]],
    spec: ProviderSpec,
    diags: Diagnostics,
    managed_search: bool = False,
) -> ToolDeclarations:
    """``managed_search``: web_search tools become a function GodeX answers itself."""
    if not tools:
        return ToolDeclarations()
    out = ToolDeclarations()
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
        codec = items.BY_TOOL_TYPE.get(kind) if isinstance(kind, str) else None
        if codec is not None:
            codec.declare(tool, where, ctx, namespace)
        elif kind == "namespace" and isinstance(tool.get("name"), str) and namespace is None:
            for j, inner in enumerate(tool.get("tools") or []):
                if isinstance(inner, dict):
                    visit(inner, f"{where}.tools[{j}]", tool["name"])
        elif kind in web_search_call.TOOL_TYPES and managed_search:
            if out.managed_search is None:
                name = namer(web_search_call.MANAGED_NAME)
                fn = {
                    "name": name,
                    "description": web_search_call.MANAGED_DESCRIPTION,
                    "parameters": web_search_call.MANAGED_PARAMETERS,
                }
                out.functions.append({"type": "function", "function": fn})
                out.managed_search = name
                diags.add("degraded", where, "web_search served by GodeX's search backend")
        elif kind in web_search_call.TOOL_TYPES:
            if web_search_call.declare(tool, where, spec, diags, out.web_search is not None):
                out.web_search = tool
        else:
            diags.add("ignored", where, f"tool type {kind!r} is not supported upstream; dropped")

    ctx = DeclareContext(spec, diags, add, visit)
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


def tools_from_input(input_items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tool definitions that arrive inside the input (tool_search_output, additional_tools)."""
    found: list[dict[str, Any]] = []
    for item in input_items:
        if item.get("type") in ("tool_search_output", "additional_tools"):
            found.extend(loaded_tools(item))
    return found


def _allowed_names(choice: dict[str, Any], decl: ToolDeclarations) -> set[str]:
    """Upstream names of the tools an ``allowed_tools`` choice lists."""
    wanted: set[str] = set()
    for tool in choice.get("tools") or []:
        if not isinstance(tool, dict):
            continue
        name = tool.get("name")
        if isinstance(name, str):
            found = decl.upstream_names.get((tool.get("namespace"), name))
            if found is not None:
                wanted.add(found)
            # A namespace by name allows every tool inside it.
            wanted.update(up for (ns, _), up in decl.upstream_names.items() if ns == name)
        elif isinstance(tool.get("type"), str):
            # Hosted and grammar tools are named by type: every declaration of that kind.
            kind = tool["type"]
            wanted.update(
                up for up, target in decl.plan.targets.items() if kind in (target.kind, target.name)
            )
    return wanted


def _allowed_tools(
    choice: dict[str, Any], decl: ToolDeclarations, spec: ProviderSpec, diags: Diagnostics
) -> Any:
    """Only the allowed tools go upstream; ``required`` makes the model call one of them."""
    accepted = spec.tool_choices
    allowed = _allowed_names(choice, decl)
    listed = {t.get("type") for t in choice.get("tools") or [] if isinstance(t, dict)}
    if decl.managed_search is not None and listed & set(web_search_call.TOOL_TYPES):
        allowed.add(decl.managed_search)
    hosted = decl.web_search
    if hosted is not None and not any(
        isinstance(t, dict) and t.get("type") == hosted.get("type")
        for t in choice.get("tools") or []
    ):
        decl.web_search = None
    decl.functions[:] = [f for f in decl.functions if f["function"]["name"] in allowed]
    if not decl.functions:
        diags.add("degraded", "tool_choice", "allowed_tools names no declared tool; none sent")
        return None
    mode = choice.get("mode") if choice.get("mode") in ("auto", "required") else "auto"
    if mode in accepted:
        return mode
    diags.add("degraded", "tool_choice", f"{mode!r} unsupported by {spec.name}; using 'auto'")
    return "auto" if "auto" in accepted else None


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
            return _allowed_tools(choice, decl, spec, diags)
        diags.add("degraded", "tool_choice", f"tool_choice type {kind!r} unsupported; using 'auto'")
        return "auto" if "auto" in accepted else None
    return None
