"""``POST /v1/chat/completions`` bodies → the canonical turn.

Chat messages become Responses input items (``tool_calls`` → ``function_call``, ``tool`` messages
→ ``function_call_output``, an assistant's ``reasoning_content`` → a ``reasoning`` item), so the
bridge applies each provider's rules (``developer`` role, tool choices, formats, effort) exactly
as it does for Responses clients.
"""

from __future__ import annotations

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

_ROLES = ("system", "developer", "user", "assistant", "tool")
# Chat Completions parameters the canonical turn has no field for: dropped, each a diagnostic.
_IGNORED = (
    "seed",
    "logprobs",
    "top_logprobs",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "prediction",
    "audio",
    "modalities",
    "service_tier",
    "metadata",
    "store",
    "web_search_options",
)


@dataclass(slots=True)
class ChatCompletionRequest:
    turn: ResponsesRequest
    include_usage: bool  # stream_options.include_usage: one more chunk with the usage


def parse_chat(body: bytes) -> ChatCompletionRequest:
    data = decode_object(body)
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise missing("model")
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise (
            missing("messages")
            if messages is None
            else bad("messages", "a non-empty array", messages)
        )
    items: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        items.extend(_items(i, message))
    n = opt(data, "n", (int,), "an integer")
    if n is not None and n != 1:
        raise InvalidRequestError(
            "n: only one choice per request is supported", param="n", wire_code="invalid_value"
        )
    max_tokens = positive_int(data, "max_completion_tokens") or positive_int(data, "max_tokens")
    stream = bool(opt(data, "stream", (bool,), "a boolean"))
    options = opt(data, "stream_options", (dict,), "an object") or {}
    effort = opt(data, "reasoning_effort", (str,), "a string")
    turn = ResponsesRequest(
        raw={"model": model},
        model=model,
        input_items=items,
        tools=_tools(data.get("tools")),
        tool_choice=_tool_choice(data.get("tool_choice")),
        parallel_tool_calls=opt(data, "parallel_tool_calls", (bool,), "a boolean"),
        stream=stream,
        store=False,  # Chat Completions is stateless: the client sends the whole conversation
        reasoning={"effort": effort} if effort else None,
        text=_text_format(data.get("response_format")),
        max_output_tokens=max_tokens,
        temperature=number(data, "temperature"),
        top_p=number(data, "top_p"),
        user=opt(data, "user", (str,), "a string"),
        safety_identifier=opt(data, "safety_identifier", (str,), "a string"),
        stop=string_list(data, "stop"),
    )
    if not data.keys().isdisjoint(_IGNORED):  # one C-level check where most bodies have none
        turn.diagnostics = [
            ("ignored", key, "no equivalent in the provider request; dropped")
            for key in _IGNORED
            if data.get(key) is not None
        ]
    return ChatCompletionRequest(turn, stream and options.get("include_usage") is True)


def _content_parts(content: Any, where: str, part_type: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": part_type, "text": content}]
    if content is None:
        return []
    if not isinstance(content, list):
        raise bad(where, "a string or an array of content parts", content)
    parts: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        if not isinstance(part, dict):
            raise bad(f"{where}[{j}]", "a content part", part)
        kind = part.get("type")
        if kind == "text":
            parts.append({"type": part_type, "text": str(part.get("text") or "")})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str):
                raise bad(f"{where}[{j}].image_url.url", "a string", url)
            entry: dict[str, Any] = {"type": "input_image", "image_url": url}
            if isinstance(image, dict) and image.get("detail") in ("low", "high", "auto"):
                entry["detail"] = image["detail"]
            parts.append(entry)
        elif kind == "refusal":
            parts.append({"type": part_type, "text": str(part.get("refusal") or "")})
        # input_audio, file: no Responses-to-chat equivalent the bridge forwards.
    return parts


def _items(i: int, message: Any) -> list[dict[str, Any]]:
    where = f"messages[{i}]"
    if not isinstance(message, dict):
        raise bad(where, "an object", message)
    role = message.get("role")
    if role not in _ROLES:
        raise InvalidRequestError(
            f"Invalid value for '{where}.role': {role!r}.",
            param=f"{where}.role",
            wire_code="invalid_value",
        )
    content = message.get("content")
    if role == "tool":
        call_id = message.get("tool_call_id")
        if not isinstance(call_id, str):
            raise bad(f"{where}.tool_call_id", "a string", call_id)
        parts = _content_parts(content, f"{where}.content", "input_text")
        text = "\n".join(p.get("text", "") for p in parts)
        return [{"type": "function_call_output", "call_id": call_id, "output": text}]
    if role == "assistant":
        out: list[dict[str, Any]] = []
        reasoning = message.get("reasoning_content")
        if isinstance(reasoning, str) and reasoning:
            out.append(
                {
                    "type": "reasoning",
                    "summary": [],
                    "content": [{"type": "reasoning_text", "text": reasoning}],
                }
            )
        parts = _content_parts(content, f"{where}.content", "output_text")
        if parts:
            out.append({"type": "message", "role": "assistant", "content": parts})
        calls = message.get("tool_calls") or []
        if not isinstance(calls, list):
            raise bad(f"{where}.tool_calls", "an array", calls)
        for k, call in enumerate(calls):
            fn = call.get("function") if isinstance(call, dict) else None
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                raise bad(f"{where}.tool_calls[{k}].function.name", "a string", fn)
            call_id = call.get("id")
            if not isinstance(call_id, str):
                raise bad(f"{where}.tool_calls[{k}].id", "a string", call_id)
            args = fn.get("arguments")
            out.append(
                {
                    "type": "function_call",
                    "call_id": call_id,
                    "name": fn["name"],
                    "arguments": args if isinstance(args, str) else "{}",
                }
            )
        return out
    parts = _content_parts(content, f"{where}.content", "input_text")
    return [{"type": "message", "role": role, "content": parts}]


def _tools(raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise bad("tools", "an array", raw)
    tools = []
    for i, tool in enumerate(raw):
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(fn, dict):
            raise bad(f"tools[{i}]", "a function tool", tool)
        name = fn.get("name")
        if not isinstance(name, str) or not name:
            raise bad(f"tools[{i}].function.name", "a string", name)
        decl: dict[str, Any] = {"type": "function", "name": name}
        for key in ("description", "parameters", "strict"):
            if fn.get(key) is not None:
                decl[key] = fn[key]
        tools.append(decl)
    return tools


def _tool_choice(raw: Any) -> Any:
    if raw is None or isinstance(raw, str):
        return raw
    if isinstance(raw, dict) and raw.get("type") == "function":
        fn = raw.get("function")
        name = fn.get("name") if isinstance(fn, dict) else None
        if not isinstance(name, str):
            raise bad("tool_choice.function.name", "a string", name)
        return {"type": "function", "name": name}
    raise bad("tool_choice", "a string or a function choice", raw)


def _text_format(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise bad("response_format", "an object", raw)
    kind = raw.get("type")
    if kind == "json_schema":
        spec = raw.get("json_schema")
        if not isinstance(spec, dict):
            raise bad("response_format.json_schema", "an object", spec)
        fmt: dict[str, Any] = {"type": "json_schema", "name": spec.get("name") or "output"}
        fmt["schema"] = spec.get("schema")
        if spec.get("strict") is not None:
            fmt["strict"] = spec["strict"]
        return {"format": fmt}
    if kind in ("json_object", "text"):
        return {"format": {"type": kind}}
    raise bad("response_format.type", "'text', 'json_object' or 'json_schema'", kind)
