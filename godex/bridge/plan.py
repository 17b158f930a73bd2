"""Plan and build the upstream Chat Completions request from a Responses request.

Every compatibility decision lives here, driven by the provider's declared spec: what is
kept, degraded, ignored or rejected, each with a diagnostic. Provider hooks then only rename.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from godex.bridge.diagnostics import Diagnostics
from godex.bridge.messages import MessageBuilder, Resolver
from godex.bridge.output_contract import OutputContract, compile_contract
from godex.bridge.request import ResponsesRequest
from godex.bridge.sealing import Sealer
from godex.bridge.toolplan import ToolPlan
from godex.bridge.tools import declare_tools, map_tool_choice, tools_from_input
from godex.providers.spec import ChatRequest, ProviderSpec

_EFFORT_ORDER = ("none", "minimal", "low", "medium", "high", "xhigh", "max", "ultra")
_SUMMARY_MODES = ("auto", "concise", "detailed")


@dataclass(slots=True)
class BridgePlan:
    chat: ChatRequest
    tool_plan: ToolPlan
    diagnostics: Diagnostics
    include_encrypted: bool = False
    reasoning_summary: bool = False
    contract: OutputContract | None = None
    notes: dict[str, Any] = field(default_factory=dict)


def _map_effort(effort: str, spec: ProviderSpec, diags: Diagnostics) -> tuple[bool, str | None]:
    """(thinking on?, provider effort value) for a Responses effort."""
    table = spec.effort_map
    if effort == "none":
        # "none" means no thinking on every provider that can switch it, whatever its table.
        return False, None
    if not table and spec.reasoning_control == "effort":
        # A provider that takes efforts but declares no table gets the client's value as is.
        return True, effort
    if effort in table:
        value = table[effort]
        return value is not None, value
    # Unknown or unmapped value: the nearest known level at or below it, else above it.
    rank = _EFFORT_ORDER.index(effort) if effort in _EFFORT_ORDER else _EFFORT_ORDER.index("high")
    known = [e for e in _EFFORT_ORDER if e in table]
    if not known:
        return effort not in ("none", "minimal"), None
    below = [e for e in known if _EFFORT_ORDER.index(e) <= rank]
    chosen = below[-1] if below else known[0]
    diags.add("degraded", "reasoning.effort", f"{effort!r} mapped as {chosen!r} for {spec.name}")
    value = table[chosen]
    return value is not None, value


def _reasoning(
    req: ResponsesRequest, spec: ProviderSpec, chat: ChatRequest, diags: Diagnostics
) -> None:
    effort = (req.reasoning or {}).get("effort")
    if not isinstance(effort, str) or not effort:
        return
    if spec.reasoning_control == "none":
        diags.add("ignored", "reasoning.effort", f"{spec.name} has no reasoning control")
        return
    thinking, value = _map_effort(effort, spec, diags)
    chat.thinking = thinking
    if spec.reasoning_control == "effort" and thinking:
        chat.effort = value


def _text_format(
    req: ResponsesRequest, spec: ProviderSpec, body: dict[str, Any], diags: Diagnostics
) -> tuple[OutputContract | None, str | None]:
    """(contract to check, instruction to add) for text.format."""
    fmt = (req.text or {}).get("format")
    if not isinstance(fmt, dict):
        return None, None
    kind = fmt.get("type")
    if kind == "json_schema":
        schema = fmt.get("schema")
        if not isinstance(schema, dict):
            from godex.errors import InvalidRequestError

            raise InvalidRequestError(
                "text.format.schema must be a JSON Schema object", param="text.format.schema"
            )
        name = str(fmt.get("name") or "output")
        contract = compile_contract("json_schema", name, schema)
        if "json_schema" in spec.response_formats:
            js: dict[str, Any] = {"name": name, "schema": schema}
            if fmt.get("strict") is not None:
                js["strict"] = bool(fmt["strict"])
            body["response_format"] = {"type": "json_schema", "json_schema": js}
            return contract, None
        note = (
            "Respond with a single JSON object only (no prose, no code fences) that conforms to "
            f"this JSON Schema named '{name}':\n{json.dumps(schema, ensure_ascii=False)}"
        )
        if "json_object" in spec.response_formats:
            body["response_format"] = {"type": "json_object"}
            diags.add("degraded", "text.format", "json_schema sent as json_object + instructions")
        else:
            diags.add("degraded", "text.format", "json_schema enforced by instructions only")
        return contract, note
    if kind == "json_object":
        contract = compile_contract("json_object", "output", None)
        if "json_object" in spec.response_formats:
            body["response_format"] = {"type": "json_object"}
            # Some providers insist the prompt mentions JSON when json_object is on.
            return contract, "Respond with a JSON object."
        diags.add("degraded", "text.format", "json_object enforced by instructions only")
        return contract, "Respond with a single JSON object only, no prose, no code fences."
    return None, None


def build_chat_request(
    req: ResponsesRequest,
    history: list[dict[str, Any]],
    upstream_model: str,
    spec: ProviderSpec,
    sealer: Sealer,
    resolve_reference: Resolver | None = None,
    managed_search: bool = False,
) -> BridgePlan:
    """``managed_search``: GodeX runs web searches itself (a backend is configured and the
    web_search mode wants it for this provider)."""
    spec = spec.for_model(upstream_model)
    diags = Diagnostics()
    items = history + req.input_items if history else req.input_items
    decl = declare_tools(req.tools + tools_from_input(items), spec, diags, managed_search)
    body: dict[str, Any] = {"model": upstream_model}
    chat = ChatRequest(body=body, stream=req.stream)
    contract, format_note = _text_format(req, spec, body, diags)

    mb = MessageBuilder(spec, sealer, diags, decl.upstream_names, resolve_reference)
    if req.instructions:
        mb.add({"type": "message", "role": "system", "content": req.instructions}, "instructions")
    for i, item in enumerate(items):
        mb.add(item, f"input[{i - len(history)}]" if i >= len(history) else "history")
    if format_note:
        mb.add({"type": "message", "role": "system", "content": format_note}, "text.format")
    body["messages"] = mb.finish()

    _reasoning(req, spec, chat, diags)
    if spec.requires_reasoning_replay:
        if mb.tool_turn_without_reasoning and chat.thinking is not False:
            # The provider rejects tool-call history without its reasoning in thinking mode.
            chat.thinking = False
            chat.effort = None
            diags.add(
                "degraded",
                "reasoning",
                "history has tool calls without reasoning; thinking turned off for this turn",
            )
        elif mb.has_reasoning and chat.thinking is None:
            chat.thinking = True
    if decl.functions:
        body["tools"] = decl.functions
        choice = map_tool_choice(req.tool_choice, decl, spec, diags)
        if choice is not None and decl.functions:
            body["tool_choice"] = choice
        if not decl.functions:
            del body["tools"]
        elif req.parallel_tool_calls is not None and spec.parallel_tool_calls:
            body["parallel_tool_calls"] = req.parallel_tool_calls
    if decl.web_search is not None:
        chat.web_search = decl.web_search

    if req.max_output_tokens is not None:
        body[spec.token_limit_field] = req.max_output_tokens
    if req.temperature is not None:
        rng = spec.temperature_range
        if rng is None:
            diags.add("ignored", "temperature", f"{spec.name} does not take temperature")
        else:
            t = min(max(req.temperature, rng[0]), rng[1])
            if t != req.temperature:
                diags.add("degraded", "temperature", f"clamped to {t} for {spec.name}")
            body["temperature"] = t
    if req.top_p is not None:
        body["top_p"] = req.top_p
    who = req.safety_identifier or req.user
    if who and spec.user_field:
        body[spec.user_field] = who
    body["stream"] = req.stream
    if req.stream and spec.stream_usage_option:
        body["stream_options"] = {"include_usage": True}

    summary = (req.reasoning or {}).get("summary")
    notes: dict[str, Any] = {}
    if decl.managed_search is not None and decl.managed_search in _declared(body):
        notes["managed_search"] = decl.managed_search
    return BridgePlan(
        chat=chat,
        tool_plan=decl.plan,
        diagnostics=diags,
        include_encrypted="reasoning.encrypted_content" in req.include,
        reasoning_summary=summary in _SUMMARY_MODES,
        contract=contract,
        notes=notes,
    )


def _declared(body: dict[str, Any]) -> set[str]:
    return {t["function"]["name"] for t in body.get("tools") or []}
