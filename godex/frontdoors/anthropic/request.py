"""``POST /v1/messages`` (and ``count_tokens``) bodies → the canonical turn.

Messages become Responses input items: text and images as message parts, ``tool_use`` as
``function_call``, ``tool_result`` as ``function_call_output``, ``thinking`` as a ``reasoning`` item
whose ``encrypted_content`` is the block's signature (GodeX's own seal; any other signature fails
to open and is ignored by the bridge). Unknown fields and block types are tolerated: Claude Code
sends beta fields (``context_management``, ``output_config``, ``defer_loading``) on every request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from godex.bridge.request import ResponsesRequest
from godex.errors import InvalidRequestError
from godex.frontdoors.common import (
    bad,
    decode_object,
    missing,
    number,
    opt,
    positive_int,
    string_list,
)

# Claude Code's first system block: a per-build billing header for Anthropic, not an
# instruction. It changes between builds, so forwarding it would only break prefix caches.
_BILLING_PREFIX = "x-anthropic-billing-header:"
_EFFORTS = ("low", "medium", "high", "max")
# Messages parameters the canonical turn has no field for: dropped, each a diagnostic.
_IGNORED = ("top_k", "service_tier", "container", "mcp_servers")


@dataclass(slots=True)
class MessagesRequest:
    turn: ResponsesRequest
    display_thinking: bool  # False for ``thinking.display: omitted``: blocks carry only a signature


def parse_messages(body: bytes, *, count_only: bool = False) -> MessagesRequest:
    data = decode_object(body)
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise missing("model")
    raw_messages = data.get("messages")
    if not isinstance(raw_messages, list):
        raise (
            missing("messages")
            if raw_messages is None
            else bad("messages", "an array", raw_messages)
        )
    max_tokens = positive_int(data, "max_tokens")
    if max_tokens is None and not count_only:
        raise missing("max_tokens")
    items: list[dict[str, Any]] = []
    for i, message in enumerate(raw_messages):
        items.extend(_message_items(i, message))
    tools, web_search = _tools(data.get("tools"))
    if web_search:
        tools.append({"type": "web_search"})
    choice, parallel = _tool_choice(data.get("tool_choice"))
    reasoning, display = _reasoning(data)
    stream = opt(data, "stream", (bool,), "a boolean")
    turn = ResponsesRequest(
        raw={"model": model},
        model=model,
        input_items=items,
        instructions=_system(data.get("system")),
        tools=tools,
        tool_choice=choice,
        parallel_tool_calls=parallel,
        stream=bool(stream),
        store=False,  # Messages is stateless: the client sends the whole conversation
        include=["reasoning.encrypted_content"],
        reasoning=reasoning,
        max_output_tokens=max_tokens,
        temperature=number(data, "temperature"),
        top_p=number(data, "top_p"),
        stop=string_list(data, "stop_sequences"),
    )
    opt(data, "metadata", (dict,), "an object")  # accepted; user_id is not forwarded upstream
    if not data.keys().isdisjoint(_IGNORED):  # one C-level check where most bodies have none
        turn.diagnostics = [
            ("ignored", key, "no equivalent in the provider request; dropped")
            for key in _IGNORED
            if data.get(key) is not None
        ]
    return MessagesRequest(turn, display)


def _system(system: Any) -> str | None:
    if system is None:
        return None
    if isinstance(system, str):
        return system or None
    if not isinstance(system, list):
        raise bad("system", "a string or an array of text blocks", system)
    texts = []
    for j, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise bad(f"system[{j}]", "a text block", block)
        text = block.get("text")
        if not isinstance(text, str):
            raise bad(f"system[{j}].text", "a string", text)
        if text.startswith(_BILLING_PREFIX):
            continue
        texts.append(text)
    return "\n\n".join(texts) or None


def _message_items(i: int, message: Any) -> list[dict[str, Any]]:
    where = f"messages[{i}]"
    if not isinstance(message, dict):
        raise bad(where, "an object", message)
    role = message.get("role")
    if role not in ("user", "assistant", "system"):
        raise InvalidRequestError(
            f"{where}.role: Input should be 'user' or 'assistant'",
            param=f"{where}.role",
            wire_code="invalid_value",
        )
    content = message.get("content")
    if isinstance(content, str):
        part = "output_text" if role == "assistant" else "input_text"
        return [{"type": "message", "role": role, "content": [{"type": part, "text": content}]}]
    if not isinstance(content, list):
        raise bad(f"{where}.content", "a string or an array of content blocks", content)
    out = _Items(role)
    for j, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise bad(f"{where}.content[{j}]", "a content block", block)
        out.add(block, f"{where}.content[{j}]")
    return out.finish()


class _Items:
    """Blocks of one message in order; runs of text/image blocks become one message item."""

    def __init__(self, role: str) -> None:
        self.role = role
        self.items: list[dict[str, Any]] = []
        self.parts: list[dict[str, Any]] = []

    def _flush(self) -> None:
        if self.parts:
            self.items.append({"type": "message", "role": self.role, "content": self.parts})
            self.parts = []

    def add(self, block: dict[str, Any], where: str) -> None:
        kind = block["type"]
        if kind == "text":
            text = block.get("text")
            if not isinstance(text, str):
                raise bad(f"{where}.text", "a string", text)
            part = "output_text" if self.role == "assistant" else "input_text"
            self.parts.append({"type": part, "text": text})
        elif kind == "image":
            self.parts.append(_image(block, where))
        elif kind == "document":
            source = block.get("source") or {}
            if isinstance(source, dict) and source.get("type") == "text":
                self.parts.append({"type": "input_text", "text": str(source.get("data") or "")})
        elif kind == "tool_use":
            self._flush()
            self.items.append(_tool_use(block, where))
        elif kind == "tool_result":
            self._flush()
            self.items.append(_tool_result(block, where))
        elif kind in ("thinking", "redacted_thinking"):
            self._flush()
            self.items.append(_thinking(block))
        # Server-tool blocks (web_search_tool_result ...) and unknown kinds have no chat form.

    def finish(self) -> list[dict[str, Any]]:
        self._flush()
        return self.items


def _image(block: dict[str, Any], where: str) -> dict[str, Any]:
    source = block.get("source")
    if not isinstance(source, dict):
        raise bad(f"{where}.source", "an image source object", source)
    if source.get("type") == "base64":
        media, data = source.get("media_type"), source.get("data")
        if not isinstance(media, str) or not isinstance(data, str):
            raise bad(f"{where}.source", "media_type and data strings", source)
        return {"type": "input_image", "image_url": f"data:{media};base64,{data}"}
    if source.get("type") == "url" and isinstance(source.get("url"), str):
        return {"type": "input_image", "image_url": source["url"]}
    raise bad(f"{where}.source.type", "'base64' or 'url'", source.get("type"))


def _tool_use(block: dict[str, Any], where: str) -> dict[str, Any]:
    call_id, name = block.get("id"), block.get("name")
    if not isinstance(call_id, str):
        raise bad(f"{where}.id", "a string", call_id)
    if not isinstance(name, str):
        raise bad(f"{where}.name", "a string", name)
    args = block.get("input")
    arguments = json.dumps(args if args is not None else {}, ensure_ascii=False)
    return {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments}


def _tool_result(block: dict[str, Any], where: str) -> dict[str, Any]:
    call_id = block.get("tool_use_id")
    if not isinstance(call_id, str):
        raise bad(f"{where}.tool_use_id", "a string", call_id)
    content = block.get("content")
    parts: list[dict[str, Any]] = []
    if isinstance(content, str):
        parts.append({"type": "input_text", "text": content})
    elif isinstance(content, list):
        for k, inner in enumerate(content):
            if not isinstance(inner, dict):
                raise bad(f"{where}.content[{k}]", "a content block", inner)
            if inner.get("type") == "text":
                parts.append({"type": "input_text", "text": str(inner.get("text") or "")})
            elif inner.get("type") == "image":
                parts.append(_image(inner, f"{where}.content[{k}]"))
    elif content is not None:
        raise bad(f"{where}.content", "a string or an array of content blocks", content)
    if block.get("is_error") is True:
        # Chat tool messages have no error flag: the model reads it from the text.
        parts.insert(0, {"type": "input_text", "text": "Error (the tool call failed):"})
    if all(p["type"] == "input_text" for p in parts):
        text = "\n".join(p["text"] for p in parts)
        return {"type": "function_call_output", "call_id": call_id, "output": text}
    return {"type": "function_call_output", "call_id": call_id, "output": parts}


def _thinking(block: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "reasoning", "summary": []}
    sealed = block.get("signature") if block["type"] == "thinking" else block.get("data")
    if isinstance(sealed, str) and sealed:
        item["encrypted_content"] = sealed
    text = block.get("thinking")
    if isinstance(text, str) and text:
        item["content"] = [{"type": "reasoning_text", "text": text}]
    return item


def _tools(raw: Any) -> tuple[list[dict[str, Any]], bool]:
    if raw is None:
        return [], False
    if not isinstance(raw, list):
        raise bad("tools", "an array", raw)
    tools: list[dict[str, Any]] = []
    web_search = False
    for i, tool in enumerate(raw):
        if not isinstance(tool, dict):
            raise bad(f"tools[{i}]", "a tool object", tool)
        kind = tool.get("type")
        if isinstance(kind, str) and kind.startswith("web_search_"):
            web_search = True
            continue
        if kind not in (None, "custom"):
            continue  # other server tools (bash_*, text_editor_*, ...) are Anthropic's own
        if tool.get("defer_loading") is True:
            continue  # deferred tools are not shown to the model until a tool search loads them
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise bad(f"tools[{i}].name", "a string", name)
        schema = tool.get("input_schema")
        if schema is not None and not isinstance(schema, dict):
            raise bad(f"tools[{i}].input_schema", "an object", schema)
        decl: dict[str, Any] = {
            "type": "function",
            "name": name,
            "parameters": schema or {"type": "object", "properties": {}},
        }
        if isinstance(tool.get("description"), str):
            decl["description"] = tool["description"]
        tools.append(decl)
    return tools, web_search


def _tool_choice(raw: Any) -> tuple[Any, bool | None]:
    if raw is None:
        return None, None
    if not isinstance(raw, dict):
        raise bad("tool_choice", "an object", raw)
    parallel = False if raw.get("disable_parallel_tool_use") is True else None
    kind = raw.get("type")
    if kind == "auto":
        return "auto", parallel
    if kind == "any":
        return "required", parallel
    if kind == "none":
        return "none", parallel
    if kind == "tool":
        name = raw.get("name")
        if not isinstance(name, str):
            raise bad("tool_choice.name", "a string", name)
        return {"type": "function", "name": name}, parallel
    raise InvalidRequestError(
        f"tool_choice.type: {kind!r} is not one of 'auto', 'any', 'tool', 'none'",
        param="tool_choice.type",
        wire_code="invalid_value",
    )


def _reasoning(data: dict[str, Any]) -> tuple[dict[str, Any] | None, bool]:
    """``thinking`` (+ ``output_config.effort``) → Responses ``reasoning``; display on/off."""
    thinking = data.get("thinking")
    config = data.get("output_config")
    effort = config.get("effort") if isinstance(config, dict) else None
    if effort not in _EFFORTS:
        effort = None
    if thinking is None:
        return ({"effort": effort} if effort else None), True
    if not isinstance(thinking, dict):
        raise bad("thinking", "an object", thinking)
    kind = thinking.get("type")
    display = thinking.get("display") != "omitted"
    if kind == "disabled":
        return {"effort": "none"}, display
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
            raise bad("thinking.budget_tokens", "a positive integer", budget)
        return {"effort": effort or _effort_for_budget(budget)}, display
    if kind == "adaptive":
        # The model decides how much to think; an explicit effort still says how hard.
        return {"effort": effort or "medium"}, display
    raise InvalidRequestError(
        f"thinking.type: {kind!r} is not one of 'enabled', 'adaptive', 'disabled'",
        param="thinking.type",
        wire_code="invalid_value",
    )


def _effort_for_budget(budget: int) -> str:
    # Anthropic's minimum budget is 1024; Claude Code's levels sit near 4k, 10k and 32k.
    if budget < 4096:
        return "low"
    if budget < 16384:
        return "medium"
    return "high"
