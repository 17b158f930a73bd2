"""Conformance schemas for the Open Responses specification, written for these tests.

Source of the facts: the Open Responses OpenAPI document (repository openresponses/openresponses,
file public/openapi/openapi.json, info.version 2026-04-24, read at commit
1e33c10fb3c19480751658eae966dad8e9c91514): the required fields and types of ``ResponseResource``,
of the items in its ``ItemField`` union, and of every streaming event. The schemas below restate
those constraints in our own words (the document itself is not copied into this repository).

Two deliberate departures, each from a defect or gap in the published document:
- ``JsonSchemaResponseFormat.schema`` is typed ``null`` there, which would reject every real
  schema; here it is an object.
- Item types outside the spec's ``ItemField`` union (``custom_tool_call``, ``local_shell_call``,
  ``web_search_call``, ``tool_search_call``: OpenAI items Codex relies on) are extension items:
  they must carry a string ``type`` and ``id``, and are otherwise not constrained.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import fastjsonschema

NULLABLE_STR = {"type": ["string", "null"]}
NULLABLE_INT = {"type": ["integer", "null"]}
ITEM_STATUS = {"enum": ["in_progress", "completed", "incomplete"]}

_PART_TYPES = ("input_text", "output_text", "text", "summary_text", "reasoning_text", "refusal",
               "input_image", "input_file", "input_video")  # fmt: skip
CONTENT_PART: dict[str, Any] = {
    "type": "object",
    "required": ["type"],
    "properties": {"type": {"enum": list(_PART_TYPES)}},
    "allOf": [
        {
            "if": {"properties": {"type": {"const": "output_text"}}},
            "then": {
                "required": ["text", "annotations"],
                "properties": {"text": {"type": "string"}, "annotations": {"type": "array"}},
            },
        },
        {
            "if": {
                "properties": {
                    "type": {"enum": ["input_text", "text", "summary_text", "reasoning_text"]}
                }
            },
            "then": {"required": ["text"], "properties": {"text": {"type": "string"}}},
        },
        {
            "if": {"properties": {"type": {"const": "refusal"}}},
            "then": {"required": ["refusal"], "properties": {"refusal": {"type": "string"}}},
        },
    ],
}

MESSAGE = {
    "type": "object",
    "required": ["type", "id", "status", "role", "content"],
    "properties": {
        "type": {"const": "message"},
        "id": {"type": "string"},
        "status": ITEM_STATUS,
        "role": {"enum": ["user", "assistant", "system", "developer"]},
        "content": {"type": "array", "items": CONTENT_PART},
        "phase": {"enum": ["commentary", "final_answer"]},
    },
}
FUNCTION_CALL = {
    "type": "object",
    "required": ["type", "id", "call_id", "name", "arguments", "status"],
    "properties": {
        "type": {"const": "function_call"},
        "id": {"type": "string"},
        "call_id": {"type": "string"},
        "name": {"type": "string"},
        "arguments": {"type": "string"},
        "status": ITEM_STATUS,
    },
}
FUNCTION_CALL_OUTPUT = {
    "type": "object",
    "required": ["type", "id", "call_id", "output", "status"],
    "properties": {
        "type": {"const": "function_call_output"},
        "id": {"type": "string"},
        "call_id": {"type": "string"},
        "output": {"type": ["string", "array"]},
        "status": ITEM_STATUS,
    },
}
REASONING = {
    "type": "object",
    "required": ["type", "id", "summary"],
    "properties": {
        "type": {"const": "reasoning"},
        "id": {"type": "string"},
        "summary": {"type": "array", "items": CONTENT_PART},
        "content": {"type": "array", "items": CONTENT_PART},
        "encrypted_content": {"type": "string"},
    },
}
COMPACTION = {
    "type": "object",
    "required": ["type", "id", "encrypted_content"],
    "properties": {
        "type": {"const": "compaction"},
        "id": {"type": "string"},
        "encrypted_content": {"type": "string"},
        "created_by": {"type": "string"},
    },
}
_SPEC_ITEMS = {
    "message": MESSAGE,
    "function_call": FUNCTION_CALL,
    "function_call_output": FUNCTION_CALL_OUTPUT,
    "reasoning": REASONING,
    "compaction": COMPACTION,
}
ITEM: dict[str, Any] = {
    "type": "object",
    "required": ["type", "id"],
    "properties": {"type": {"type": "string"}, "id": {"type": "string"}},
    "allOf": [
        {"if": {"properties": {"type": {"const": kind}}}, "then": schema}
        for kind, schema in _SPEC_ITEMS.items()
    ],
}

FUNCTION_TOOL = {
    "type": "object",
    "required": ["type", "name", "description", "parameters", "strict"],
    "properties": {
        "type": {"const": "function"},
        "name": {"type": "string"},
        "description": NULLABLE_STR,
        "parameters": {"type": ["object", "null"]},
        "strict": {"type": ["boolean", "null"]},
    },
}
TOOL = {
    "type": "object",
    "required": ["type"],
    "properties": {"type": {"type": "string"}},
    "if": {"properties": {"type": {"const": "function"}}},
    "then": FUNCTION_TOOL,
}
FUNCTION_TOOL_CHOICE = {
    "type": "object",
    "required": ["type"],
    "properties": {"type": {"const": "function"}, "name": {"type": "string"}},
}
TOOL_CHOICE = {
    "oneOf": [
        {"enum": ["none", "auto", "required"]},
        FUNCTION_TOOL_CHOICE,
        {
            "type": "object",
            "required": ["type", "tools", "mode"],
            "properties": {
                "type": {"const": "allowed_tools"},
                "tools": {"type": "array"},
                "mode": {"enum": ["none", "auto", "required"]},
            },
        },
        # OpenAI's other choice objects (custom, hosted tools): Codex's own shapes.
        {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"not": {"enum": ["function", "allowed_tools"]}}},
        },
    ]
}
TEXT_FORMAT = {
    "oneOf": [
        {"type": "object", "required": ["type"], "properties": {"type": {"const": "text"}}},
        {"type": "object", "required": ["type"], "properties": {"type": {"const": "json_object"}}},
        {
            "type": "object",
            "required": ["type", "name", "description", "schema", "strict"],
            "properties": {
                "type": {"const": "json_schema"},
                "name": {"type": "string"},
                "description": NULLABLE_STR,
                "schema": {"type": "object"},
                "strict": {"type": "boolean"},
            },
        },
    ]
}
USAGE = {
    "type": "object",
    "required": [
        "input_tokens",
        "output_tokens",
        "total_tokens",
        "input_tokens_details",
        "output_tokens_details",
    ],
    "properties": {
        "input_tokens": {"type": "integer"},
        "output_tokens": {"type": "integer"},
        "total_tokens": {"type": "integer"},
        "input_tokens_details": {
            "type": "object",
            # cache_write_tokens: required by the openai 3.57 SDK's ResponseUsage.
            "required": ["cached_tokens", "cache_write_tokens"],
            "properties": {
                "cached_tokens": {"type": "integer"},
                "cache_write_tokens": {"type": "integer"},
            },
        },
        "output_tokens_details": {
            "type": "object",
            "required": ["reasoning_tokens"],
            "properties": {"reasoning_tokens": {"type": "integer"}},
        },
    },
}
RESPONSE: dict[str, Any] = {
    "type": "object",
    "required": [
        "id",
        "object",
        "created_at",
        "completed_at",
        "status",
        "incomplete_details",
        "model",
        "previous_response_id",
        "instructions",
        "output",
        "error",
        "tools",
        "tool_choice",
        "truncation",
        "parallel_tool_calls",
        "text",
        "top_p",
        "presence_penalty",
        "frequency_penalty",
        "top_logprobs",
        "temperature",
        "reasoning",
        "usage",
        "max_output_tokens",
        "max_tool_calls",
        "store",
        "background",
        "service_tier",
        "metadata",
        "safety_identifier",
        "prompt_cache_key",
    ],
    "properties": {
        "id": {"type": "string"},
        "object": {"const": "response"},
        "created_at": {"type": "integer"},
        "completed_at": NULLABLE_INT,
        "status": {"type": "string"},
        "incomplete_details": {
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "required": ["reason"],
                    "properties": {"reason": {"type": "string"}},
                },
            ]
        },
        "model": {"type": "string"},
        "previous_response_id": NULLABLE_STR,
        "instructions": {"type": ["string", "array", "null"]},
        "output": {"type": "array", "items": ITEM},
        "error": {
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                },
            ]
        },
        "tools": {"type": "array", "items": TOOL},
        "tool_choice": TOOL_CHOICE,
        "truncation": {"enum": ["auto", "disabled"]},
        "parallel_tool_calls": {"type": "boolean"},
        "text": {"type": "object", "required": ["format"], "properties": {"format": TEXT_FORMAT}},
        "top_p": {"type": "number"},
        "presence_penalty": {"type": "number"},
        "frequency_penalty": {"type": "number"},
        "top_logprobs": {"type": "integer"},
        "temperature": {"type": "number"},
        "reasoning": {
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "required": ["effort", "summary"],
                    "properties": {
                        "effort": {
                            "enum": ["none", "minimal", "low", "medium", "high", "xhigh", None]
                        },
                        "summary": {"enum": ["concise", "detailed", "auto", None]},
                    },
                },
            ]
        },
        "usage": {"oneOf": [{"type": "null"}, USAGE]},
        "max_output_tokens": NULLABLE_INT,
        "max_tool_calls": NULLABLE_INT,
        "store": {"type": "boolean"},
        "background": {"type": "boolean"},
        "service_tier": {"type": "string"},
        "safety_identifier": NULLABLE_STR,
        "prompt_cache_key": NULLABLE_STR,
    },
}


def _event(kind: str, required: list[str], props: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", "sequence_number", *required],
        "properties": {"type": {"const": kind}, "sequence_number": {"type": "integer"}, **props},
    }


_INT = {"type": "integer"}
_STR = {"type": "string"}
_LIFECYCLE = ("created", "queued", "in_progress", "completed", "failed", "incomplete")
_AT = {"item_id": _STR, "output_index": _INT}
_PART_AT = {**_AT, "content_index": _INT}
_SUMMARY_AT = {**_AT, "summary_index": _INT}
EVENTS: dict[str, dict[str, Any]] = {
    **{
        f"response.{s}": _event(f"response.{s}", ["response"], {"response": RESPONSE})
        for s in _LIFECYCLE
    },
    "response.output_item.added": _event(
        "response.output_item.added", ["output_index", "item"], {"output_index": _INT, "item": ITEM}
    ),
    "response.output_item.done": _event(
        "response.output_item.done", ["output_index", "item"], {"output_index": _INT, "item": ITEM}
    ),
    "response.content_part.added": _event(
        "response.content_part.added", [*_PART_AT, "part"], {**_PART_AT, "part": CONTENT_PART}
    ),
    "response.content_part.done": _event(
        "response.content_part.done", [*_PART_AT, "part"], {**_PART_AT, "part": CONTENT_PART}
    ),
    "response.reasoning_summary_part.added": _event(
        "response.reasoning_summary_part.added",
        [*_SUMMARY_AT, "part"],
        {**_SUMMARY_AT, "part": CONTENT_PART},
    ),
    "response.reasoning_summary_part.done": _event(
        "response.reasoning_summary_part.done",
        [*_SUMMARY_AT, "part"],
        {**_SUMMARY_AT, "part": CONTENT_PART},
    ),
    "response.output_text.delta": _event(
        "response.output_text.delta", [*_PART_AT, "delta"], {**_PART_AT, "delta": _STR}
    ),
    "response.output_text.done": _event(
        "response.output_text.done", [*_PART_AT, "text"], {**_PART_AT, "text": _STR}
    ),
    "response.refusal.delta": _event(
        "response.refusal.delta", [*_PART_AT, "delta"], {**_PART_AT, "delta": _STR}
    ),
    "response.refusal.done": _event(
        "response.refusal.done", [*_PART_AT, "refusal"], {**_PART_AT, "refusal": _STR}
    ),
    "response.reasoning_text.delta": _event(
        "response.reasoning_text.delta", [*_PART_AT, "delta"], {**_PART_AT, "delta": _STR}
    ),
    "response.reasoning_text.done": _event(
        "response.reasoning_text.done", [*_PART_AT, "text"], {**_PART_AT, "text": _STR}
    ),
    "response.reasoning_summary_text.delta": _event(
        "response.reasoning_summary_text.delta",
        [*_SUMMARY_AT, "delta"],
        {**_SUMMARY_AT, "delta": _STR},
    ),
    "response.reasoning_summary_text.done": _event(
        "response.reasoning_summary_text.done",
        [*_SUMMARY_AT, "text"],
        {**_SUMMARY_AT, "text": _STR},
    ),
    "response.function_call_arguments.delta": _event(
        "response.function_call_arguments.delta", [*_AT, "delta"], {**_AT, "delta": _STR}
    ),
    "response.function_call_arguments.done": _event(
        "response.function_call_arguments.done", [*_AT, "arguments"], {**_AT, "arguments": _STR}
    ),
    "error": _event(
        "error",
        ["error"],
        {
            "error": {
                "type": "object",
                "required": ["type", "code", "message", "param"],
                "properties": {
                    "type": _STR,
                    "code": NULLABLE_STR,
                    "message": _STR,
                    "param": NULLABLE_STR,
                },
            }
        },
    ),
}
# OpenAI event types outside the spec (custom tool input): only the common envelope is checked.
EXTENSION_EVENT = _event("x", [], {"type": _STR})

_validators: dict[str, Callable[[Any], Any]] = {}


def _validator(name: str, schema: dict[str, Any]) -> Callable[[Any], Any]:
    found = _validators.get(name)
    if found is None:
        found = _validators[name] = fastjsonschema.compile(schema)
    return found


def response_problems(obj: Any) -> list[str]:
    try:
        _validator("response", RESPONSE)(obj)
    except fastjsonschema.JsonSchemaException as exc:
        return [f"ResponseResource: {exc.message}"]
    return []


def event_problems(event: Any) -> list[str]:
    kind = event.get("type") if isinstance(event, dict) else None
    schema = EVENTS.get(kind) if isinstance(kind, str) else None
    try:
        if schema is None:
            _validator("extension", EXTENSION_EVENT)(event)
        else:
            _validator(str(kind), schema)(event)
    except fastjsonschema.JsonSchemaException as exc:
        return [f"{kind}: {exc.message}"]
    return []
