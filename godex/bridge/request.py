"""Parse and type-check a ``POST /v1/responses`` body.

Unknown fields and unknown item types are tolerated (Codex sends ``client_metadata`` and ids
on every item). A known field with the wrong type is a 400 naming it in ``param``.

Size limits (``RequestLimits``) are checked before anything else looks at the body: JSON nested
deeper than ``max_depth`` levels (objects and arrays; msgspec itself stops near the interpreter's
recursion limit, ~1,000), any string or array beyond its cap, too many input items or tools, or
an over-long model name is a 400 naming the field, never a 500.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import msgspec

from godex.errors import InvalidRequestError

_decode = msgspec.json.Decoder().decode


@dataclass(frozen=True, slots=True)
class RequestLimits:
    """Caps on a request body (proposed config keys: ``limits.request.<field>``)."""

    max_depth: int = 64  # nesting of objects and arrays; Codex bodies stay under ~15
    max_string_chars: int = 32 * 1024 * 1024  # one string (an inline image fits; body is 64 MiB)
    max_array_items: int = 100_000  # any one array anywhere in the body
    max_input_items: int = 20_000  # a long stateless (store=false) Codex history fits
    max_tools: int = 512
    max_model_chars: int = 256


DEFAULT_LIMITS = RequestLimits()
_CONTAINERS = (dict, list)  # what msgspec decodes JSON objects and arrays into


@dataclass(slots=True)
class ResponsesRequest:
    raw: dict[str, Any]
    model: str
    input_items: list[dict[str, Any]]
    instructions: str | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: Any = None
    parallel_tool_calls: bool | None = None
    stream: bool = False
    store: bool = True
    previous_response_id: str | None = None
    include: list[str] = field(default_factory=list)
    reasoning: dict[str, Any] | None = None
    text: dict[str, Any] | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    metadata: dict[str, Any] | None = None
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    conversation: str | None = None  # the Conversations API id this turn reads and extends
    background: bool = False
    # The id a background turn announced before it opened (its builder then uses it).
    response_id: str | None = None
    # Front doors whose protocol has stop sequences (Messages, Chat Completions) set this.
    stop: list[str] | None = None
    # (action, subject, detail) decisions a front door made while parsing, e.g. a parameter its
    # protocol has and the bridge does not; they join the plan's diagnostics.
    diagnostics: list[tuple[str, str, str]] = field(default_factory=list)


def _bad(param: str, expected: str, value: Any) -> InvalidRequestError:
    got = type(value).__name__ if value is not None else "null"
    return InvalidRequestError(
        f"Invalid type for '{param}': expected {expected}, but got {got}.",
        param=param,
        wire_code="invalid_type",
    )


def _opt(body: dict[str, Any], key: str, types: tuple[type, ...], expected: str) -> Any:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        raise _bad(key, expected, value)
    return value


def _check_item(i: int, item: Any) -> dict[str, Any]:
    where = f"input[{i}]"
    if not isinstance(item, dict):
        raise _bad(where, "an object", item)
    kind = item.get("type")
    if kind is None:
        if "role" not in item:
            # {"id": ...} alone is an item_reference in its short form.
            if isinstance(item.get("id"), str):
                return {"type": "item_reference", "id": item["id"]}
            raise InvalidRequestError(
                f"{where}: an input item needs a 'type' (or a 'role' for a message).",
                param=where,
                wire_code="missing_required_parameter",
            )
        item = {"type": "message", **item}
        kind = "message"
    if not isinstance(kind, str):
        raise _bad(f"{where}.type", "a string", kind)
    if kind == "message":
        role = item.get("role")
        if role not in ("user", "assistant", "system", "developer"):
            raise InvalidRequestError(
                f"Invalid value for '{where}.role': {role!r}. Supported values are: 'user', "
                "'assistant', 'system', and 'developer'.",
                param=f"{where}.role",
                wire_code="invalid_value",
            )
        content = item.get("content")
        if not isinstance(content, (str, list)):
            raise _bad(f"{where}.content", "a string or an array of content parts", content)
        if isinstance(content, list):
            for j, part in enumerate(content):
                if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                    raise _bad(f"{where}.content[{j}]", "a content part object", part)
    elif kind in ("function_call", "custom_tool_call"):
        for key in ("call_id", "name"):
            if not isinstance(item.get(key), str):
                raise _bad(f"{where}.{key}", "a string", item.get(key))
        payload = "arguments" if kind == "function_call" else "input"
        if not isinstance(item.get(payload, ""), str):
            raise _bad(f"{where}.{payload}", "a string", item.get(payload))
    elif kind in ("function_call_output", "custom_tool_call_output"):
        if not isinstance(item.get("call_id"), str):
            raise _bad(f"{where}.call_id", "a string", item.get("call_id"))
        output = item.get("output")
        if not isinstance(output, (str, list)):
            raise _bad(f"{where}.output", "a string or an array of content parts", output)
    elif kind == "item_reference" and not isinstance(item.get("id"), str):
        raise _bad(f"{where}.id", "a string", item.get("id"))
    checked: dict[str, Any] = item
    return checked


def _within(data: Any, limits: RequestLimits, check_keys: bool) -> bool:
    """True when no nesting, string or array exceeds its cap: one pass, level by level, no
    paths kept (about 25 µs for a 50 KB Codex body)."""
    max_str, max_arr = limits.max_string_chars, limits.max_array_items
    level: list[Any] = [data]
    depth = 1
    while level:
        if depth > limits.max_depth:
            return False
        deeper: list[Any] = []
        for container in level:
            if type(container) is dict:
                if check_keys and any(len(k) > max_str for k in container):
                    return False
                items: Any = container.values()
            else:
                if len(container) > max_arr:
                    return False
                items = container
            for item in items:
                kind = type(item)
                if kind is str:
                    if len(item) > max_str:
                        return False
                elif kind is dict or kind is list:
                    deeper.append(item)
        level = deeper
        depth += 1
    return True


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def _limit_error(data: Any, limits: RequestLimits) -> InvalidRequestError:
    """The 400 for the first cap exceeded, naming the field (the slow path: paths kept)."""
    stack: list[tuple[Any, int, str]] = [(data, 1, "")]
    while stack:
        value, depth, where = stack.pop()
        if depth > limits.max_depth:
            return InvalidRequestError(
                f"The JSON body is nested more than {limits.max_depth} levels deep "
                f"(at '{where[:200]}').",
                param=re.split(r"[.\[]", where, maxsplit=1)[0] or None,  # the top-level field
                code="limits.nesting_too_deep",
                wire_code="json_nesting_too_deep",
            )
        pairs = list(value.items()) if type(value) is dict else list(enumerate(value))
        if type(value) is list and len(value) > limits.max_array_items:
            return _too_long(where, "array", len(value), limits.max_array_items)
        for key, item in pairs:
            if isinstance(key, str) and len(key) > limits.max_string_chars:
                return _too_long(where, "key", len(key), limits.max_string_chars)
            at = _path(where, key)
            if type(item) is str and len(item) > limits.max_string_chars:
                return _too_long(at, "string", len(item), limits.max_string_chars)
            if isinstance(item, _CONTAINERS):
                stack.append((item, depth + 1, at))
    raise AssertionError("_limit_error called on a body within its limits")


def _too_long(where: str, what: str, size: int, cap: int) -> InvalidRequestError:
    unit = "items" if what == "array" else "characters"
    return InvalidRequestError(
        f"Invalid '{where[:200]}': {what} too long. Expected at most {cap} {unit}, but got {size}.",
        param=where[:200] or None,
        code="limits.too_large",
        wire_code="array_above_max_length" if what == "array" else "string_above_max_length",
    )


def _cap(param: str, size: int, cap: int, unit: str) -> None:
    if size > cap:
        raise InvalidRequestError(
            f"Invalid '{param}': too long. Expected at most {cap} {unit}, but got {size}.",
            param=param,
            code="limits.too_large",
            wire_code="array_above_max_length" if unit == "items" else "string_above_max_length",
        )


def parse_request(body: bytes, limits: RequestLimits = DEFAULT_LIMITS) -> ResponsesRequest:
    try:
        data = _decode(body) if body else None
    except msgspec.DecodeError as exc:
        raise InvalidRequestError(
            f"We could not parse the JSON body of your request: {exc}",
            wire_code="invalid_json",
        ) from exc
    except RecursionError as exc:
        # msgspec's own bound (near the interpreter's recursion limit): far past max_depth.
        raise InvalidRequestError(
            f"The JSON body is nested more than {limits.max_depth} levels deep.",
            code="limits.nesting_too_deep",
            wire_code="json_nesting_too_deep",
        ) from exc
    if not isinstance(data, dict):
        raise InvalidRequestError(
            "The request body must be a JSON object.", wire_code="invalid_json"
        )
    # A key can only be over the string cap if the whole body is (keys are rarely long).
    if not _within(data, limits, check_keys=len(body) > limits.max_string_chars):
        raise _limit_error(data, limits)
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequestError(
            "Missing required parameter: 'model'.",
            param="model",
            wire_code="missing_required_parameter",
        )
    _cap("model", len(model), limits.max_model_chars, "characters")
    raw_input = data.get("input")
    if raw_input is None:
        if not data.get("previous_response_id") and not data.get("conversation"):
            raise InvalidRequestError(
                "Missing required parameter: 'input'.",
                param="input",
                wire_code="missing_required_parameter",
            )
        items: list[dict[str, Any]] = []
    elif isinstance(raw_input, str):
        items = [{"type": "message", "role": "user", "content": raw_input}]
    elif isinstance(raw_input, list):
        _cap("input", len(raw_input), limits.max_input_items, "items")
        items = [_check_item(i, it) for i, it in enumerate(raw_input)]
    else:
        raise _bad("input", "a string or an array of input items", raw_input)
    # Most bodies carry a few of the optional fields: check only those present (in a fixed
    # order, so a body with two bad fields always names the same one).
    opts = {k: _opt(data, k, *spec) for k, spec in _OPTIONAL.items() if k in data}
    tools = opts.get("tools") or []
    _cap("tools", len(tools), limits.max_tools, "items")
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise _bad(f"tools[{i}]", "a tool object with a 'type'", tool)
    tool_choice = data.get("tool_choice")
    if tool_choice is not None and not isinstance(tool_choice, (str, dict)):
        raise _bad("tool_choice", "a string or an object", tool_choice)
    include = opts.get("include") or []
    max_out = opts.get("max_output_tokens")
    if max_out is not None and max_out < 1:
        raise InvalidRequestError(
            "Invalid 'max_output_tokens': must be at least 1.",
            param="max_output_tokens",
            wire_code="invalid_value",
        )
    store = opts.get("store")
    temperature, top_p = opts.get("temperature"), opts.get("top_p")
    return ResponsesRequest(
        raw=data,
        model=model,
        input_items=items,
        instructions=opts.get("instructions"),
        tools=tools,
        tool_choice=tool_choice,
        parallel_tool_calls=opts.get("parallel_tool_calls"),
        stream=bool(opts.get("stream")),
        store=True if store is None else store,
        previous_response_id=opts.get("previous_response_id"),
        include=[x for x in include if isinstance(x, str)],
        reasoning=opts.get("reasoning"),
        text=opts.get("text"),
        max_output_tokens=max_out,
        temperature=None if temperature is None else float(temperature),
        top_p=None if top_p is None else float(top_p),
        metadata=opts.get("metadata"),
        user=opts.get("user"),
        safety_identifier=opts.get("safety_identifier"),
        prompt_cache_key=opts.get("prompt_cache_key"),
        conversation=_conversation(data.get("conversation")),
        background=bool(opts.get("background")),
    )


# The optional typed fields: name -> (accepted types, what the error says is expected).
_OPTIONAL: dict[str, tuple[tuple[type, ...], str]] = {
    "tools": ((list,), "an array"),
    "include": ((list,), "an array of strings"),
    "max_output_tokens": ((int,), "an integer"),
    "stream": ((bool,), "a boolean"),
    "store": ((bool,), "a boolean"),
    "instructions": ((str,), "a string"),
    "parallel_tool_calls": ((bool,), "a boolean"),
    "previous_response_id": ((str,), "a string"),
    "reasoning": ((dict,), "an object"),
    "text": ((dict,), "an object"),
    "temperature": ((int, float), "a number"),
    "top_p": ((int, float), "a number"),
    "metadata": ((dict,), "an object"),
    "user": ((str,), "a string"),
    "safety_identifier": ((str,), "a string"),
    "prompt_cache_key": ((str,), "a string"),
    "background": ((bool,), "a boolean"),
}


def _conversation(value: Any) -> str | None:
    """``conversation``: an id, or an object with one."""
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, str) and value:
        return value
    raise _bad("conversation", "a conversation id or an object with an 'id'", value)
