"""Client JSON Schemas, compiled safely: nothing fetched, no unbounded recursion, linear regexes.

A schema in ``text.format`` comes from the client and is checked against the model's answer on
the event loop, so: every ``$ref`` must be local (``#...``; nothing is ever read from the network
or the file system), a reference cycle that never consumes the instance (``{"$ref": "#"}``) is
refused up front, and ``pattern``/``patternProperties`` run on RE2, whose matching time is linear
in the input (Python's ``re`` backtracks exponentially on ``^(a+)+$``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import re2
from jsonschema import Draft202012Validator, ValidationError, validators
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource

from godex.errors import InvalidRequestError

PARAM = "text.format.schema"
# Keywords whose subschemas apply to the same instance: a cycle through them never ends.
_IN_PLACE_ONE = ("not", "if", "then", "else")
_IN_PLACE_MANY = ("allOf", "anyOf", "oneOf")
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_DATA = ("enum", "const", "default", "examples")  # values here are data, not schemas
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a bad client pattern is a 400, not a line on stderr
_RE2_OPTIONS.max_mem = 8 << 20  # bounds the automaton a huge pattern may build


def _invalid(message: str, code: str = "invalid_json_schema") -> InvalidRequestError:
    return InvalidRequestError(message, param=PARAM, wire_code=code)


@functools.lru_cache(maxsize=1024)
def regex(pattern: str) -> Any:
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise _invalid(
            f"Invalid schema: pattern {pattern[:200]!r} is not a supported regular expression "
            f"({detail}); patterns use RE2 syntax (no lookaround or backreferences)."
        ) from exc


def _refuse(uri: str) -> Resource[Any]:
    raise NoSuchResource(uri)  # never fetch: not the network, not the file system


_LOCAL_ONLY: Registry[Any] = Registry(retrieve=_refuse)  # type: ignore[call-arg]


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not regex(pattern).search(instance):
        yield ValidationError(f"{instance[:200]!r} does not match {pattern[:200]!r}")


def _pattern_properties(
    validator: Any, patterns: dict[str, Any], instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        rx = regex(pattern)
        for key, value in instance.items():
            if rx.search(key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(
    validator: Any, extra_schema: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    # jsonschema's own version matches patternProperties with Python re: replaced.
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties") or {}
    patterns = [regex(p) for p in schema.get("patternProperties") or {}]
    extras = sorted(
        k for k in instance if k not in properties and not any(rx.search(k) for rx in patterns)
    )
    if validator.is_type(extra_schema, "object"):
        for key in extras:
            yield from validator.descend(instance[key], extra_schema, path=key)
    elif extra_schema is False and extras:
        shown = ", ".join(repr(k[:100]) for k in extras[:10])
        yield ValidationError(f"Additional properties are not allowed ({shown} unexpected)")


@functools.cache
def _safe_class(base: Any) -> Any:
    return validators.extend(
        base,
        {
            "pattern": _pattern,
            "patternProperties": _pattern_properties,
            "additionalProperties": _additional_properties,
        },
    )


def compile_schema(schema: Any) -> Any:
    """A validator (``.iter_errors(value)``) for a client schema, or a 400 naming the fault."""
    if not isinstance(schema, (dict, bool)):
        raise _invalid("Invalid schema: a JSON Schema must be an object or a boolean.")
    if isinstance(schema, dict):
        if "$schema" in schema and not isinstance(schema["$schema"], str):
            raise _invalid("Invalid schema: '$schema' must be a string.")
        _audit(schema)
    base = validators.validator_for(schema, default=Draft202012Validator)
    cls = _safe_class(base)
    try:
        # The metaschema check, without format checks (format "regex" would use Python re).
        error = next(iter(base(base.META_SCHEMA).iter_errors(schema)), None)
    except RecursionError as exc:
        raise _invalid("Invalid schema: it is nested too deeply.") from exc
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path)
        raise _invalid(f"Invalid schema at '{where or '(root)'}': {error.message[:300]}")
    return cls(schema, registry=_LOCAL_ONLY)


def _audit(root: dict[str, Any]) -> None:
    """Refuse non-local refs, bad patterns and in-place reference cycles (iteratively)."""
    anchors: dict[str, dict[str, Any]] = {}
    refs: list[tuple[dict[str, Any], str, dict[str, Any]]] = []  # (node, ref, its resource)
    nodes: list[dict[str, Any]] = []
    stack: list[tuple[dict[str, Any], dict[str, Any]]] = [(root, root)]
    uses_unevaluated = has_pattern_properties = False
    while stack:
        node, resource = stack.pop()
        nodes.append(node)
        if isinstance(node.get("$id"), str) and node is not root:
            if node["$id"].startswith("#"):
                anchors[node["$id"][1:]] = node  # draft-7 style anchor
            else:
                resource = node
        for anchor in ("$anchor", "$dynamicAnchor"):
            if isinstance(node.get(anchor), str):
                anchors[node[anchor]] = node
        for key, value in node.items():
            if key in _DATA:
                continue
            if key in ("$ref", "$dynamicRef", "$recursiveRef"):
                if not isinstance(value, str):
                    raise _invalid(f"Invalid schema: '{key}' must be a string.")
                if not value.startswith("#"):
                    raise _invalid(
                        f"Invalid schema: reference {value[:300]!r} is not allowed; schemas are "
                        "never fetched from the network or the file system, use a local "
                        "reference ('#/$defs/...').",
                        code="invalid_json_schema_ref",
                    )
                refs.append((node, value, resource))
            elif key == "pattern" and isinstance(value, str):
                regex(value)
            elif key == "unevaluatedProperties":
                uses_unevaluated = True
            if key in _SCHEMA_MAPS and isinstance(value, dict):
                if key == "patternProperties":
                    has_pattern_properties = True
                    for pattern in value:
                        regex(pattern)
                stack.extend((v, resource) for v in value.values() if isinstance(v, dict))
            elif isinstance(value, dict):
                stack.append((value, resource))
            elif isinstance(value, list):
                stack.extend((v, resource) for v in value if isinstance(v, dict))
    if uses_unevaluated and has_pattern_properties:
        # jsonschema evaluates that pair with Python re (backtracking): refused.
        raise _invalid(
            "Invalid schema: 'unevaluatedProperties' together with 'patternProperties' is not "
            "supported."
        )
    _refuse_cycles(nodes, refs, anchors)


def _resolve(ref: str, resource: dict[str, Any], anchors: dict[str, Any]) -> Any:
    fragment = unquote(ref[1:])
    if not fragment:
        return resource
    if not fragment.startswith("/"):
        return anchors.get(fragment)
    target: Any = resource
    for raw in fragment[1:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(target, dict) and part in target:
            target = target[part]
        elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
            target = target[int(part)]
        else:
            return None
    return target


def _refuse_cycles(
    nodes: list[dict[str, Any]],
    refs: list[tuple[dict[str, Any], str, dict[str, Any]]],
    anchors: dict[str, Any],
) -> None:
    edges: dict[int, list[dict[str, Any]]] = {}
    names: dict[int, str] = {}
    for node, ref, resource in refs:
        target = _resolve(ref, resource, anchors)
        if target is None:
            raise _invalid(f"Invalid schema: reference {ref[:300]!r} does not resolve.")
        if not isinstance(target, (dict, bool)):
            raise _invalid(f"Invalid schema: reference {ref[:300]!r} does not point at a schema.")
        if isinstance(target, dict):
            edges.setdefault(id(node), []).append(target)
            names[id(node)] = ref
    for node in nodes:
        out = edges.setdefault(id(node), [])
        for key in _IN_PLACE_ONE:
            if isinstance(node.get(key), dict):
                out.append(node[key])
        for key in _IN_PLACE_MANY:
            if isinstance(node.get(key), list):
                out.extend(v for v in node[key] if isinstance(v, dict))
        deps = node.get("dependentSchemas")
        if isinstance(deps, dict):
            out.extend(v for v in deps.values() if isinstance(v, dict))
    # Iterative three-colour DFS: a back edge is a cycle that validation would never leave.
    state: dict[int, int] = {}
    for start in nodes:
        if state.get(id(start)):
            continue
        stack: list[tuple[dict[str, Any], int]] = [(start, 0)]
        state[id(start)] = 1
        while stack:
            node, i = stack[-1]
            out = edges.get(id(node), [])
            if i == len(out):
                state[id(node)] = 2
                stack.pop()
                continue
            stack[-1] = (node, i + 1)
            nxt = out[i]
            seen = state.get(id(nxt), 0)
            if seen == 1:
                on_cycle = [names[id(n)] for n, _ in stack if id(n) in names]
                shown = on_cycle[-1] if on_cycle else "#"
                raise _invalid(
                    f"Invalid schema: reference {shown[:300]!r} makes the schema recursive "
                    "without descending into the value; it can never be checked.",
                    code="invalid_json_schema_ref",
                )
            if seen == 0:
                state[id(nxt)] = 1
                stack.append((nxt, 0))
