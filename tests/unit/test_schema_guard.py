"""Client JSON Schemas: no fetching, no unbounded recursion, no backtracking regexes."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from godex.bridge.output_contract import check_output, compile_contract
from godex.errors import InvalidRequestError


def _reject(schema: Any) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as info:
        compile_contract("json_schema", "s", schema)
    assert info.value.status == 400 and info.value.param == "text.format.schema"
    return info.value


def _answer(value: Any) -> dict[str, Any]:
    text = value if isinstance(value, str) else json.dumps(value)
    return {"output": [{"type": "message", "content": [{"type": "output_text", "text": text}]}]}


@pytest.mark.parametrize(
    "ref",
    [
        "http://127.0.0.1:9/schema.json",
        "file:///etc/passwd",
        "https://json-schema.org/x",
        "other.json#/a",
    ],
)
def test_remote_refs_are_a_400_naming_the_ref(ref: str) -> None:
    err = _reject({"type": "object", "properties": {"a": {"$ref": ref}}})
    assert err.wire_code == "invalid_json_schema_ref" and ref in err.message


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "#"},
        {"allOf": [{"$ref": "#/$defs/a"}], "$defs": {"a": {"anyOf": [{"$ref": "#"}]}}},
        {
            "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"not": {"$ref": "#/$defs/a"}}},
            "$ref": "#/$defs/a",
        },
        {"$defs": {"x": {"$anchor": "x", "oneOf": [{"$ref": "#x"}]}}, "$ref": "#x"},
    ],
)
def test_in_place_reference_cycles_are_a_400(schema: Any) -> None:
    assert _reject(schema).wire_code == "invalid_json_schema_ref"


def test_recursion_through_the_value_is_allowed_and_bounded() -> None:
    tree = {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#"}}}}
    contract = compile_contract("json_schema", "tree", tree)
    assert check_output(contract, _answer({"kids": [{"kids": []}]})) is None
    deep: str = '{"kids":[' * 5000 + "]}" * 5000
    violation = check_output(contract, _answer(deep))
    assert violation is not None and violation.code == "bridge.output_contract_violation"


@pytest.mark.parametrize(
    ("schema", "needle"),
    [
        ({"type": "string", "pattern": "(("}, "(("),
        ({"type": "string", "pattern": "(?=a)b"}, "(?=a)b"),
        ({"type": "object", "patternProperties": {"[": {}}}, "'['"),
        ({"type": "bogus"}, "bogus"),
        ({"$ref": "#/$defs/missing"}, "does not resolve"),
    ],
)
def test_schemas_that_cannot_compile_are_a_400(schema: Any, needle: str) -> None:
    assert needle in _reject(schema).message


def test_pathological_patterns_cost_at_most_a_few_milliseconds() -> None:
    hostile = "a" * 100_000 + "!"
    for schema, value, violates in (
        ({"type": "string", "pattern": "^(a+)+$"}, hostile, True),
        # The key does not match, so its value is not checked: no violation, but no stall.
        (
            {"type": "object", "patternProperties": {"^(a+)+$": {"type": "integer"}}},
            {hostile: "x"},
            False,
        ),
        (
            {
                "type": "object",
                "patternProperties": {"^(a|aa)+$": {}},
                "additionalProperties": False,
            },
            {hostile: 1},
            True,
        ),
        ({"type": "object", "propertyNames": {"pattern": "^(a*)*$"}}, {hostile: 1}, True),
    ):
        contract = compile_contract("json_schema", "s", schema)
        t0 = time.perf_counter()
        violation = check_output(contract, _answer(value))
        elapsed = time.perf_counter() - t0
        assert (violation is not None) is violates
        assert elapsed < 0.005, f"{schema} took {elapsed * 1000:.1f} ms"


def test_patterns_still_match_as_json_schema_says() -> None:
    contract = compile_contract(
        "json_schema",
        "s",
        {
            "type": "object",
            "properties": {"id": {"type": "string", "pattern": "^[a-z]+-\\d{2}$"}},
            "patternProperties": {"^x_": {"type": "integer"}},
            "additionalProperties": False,
        },
    )
    assert check_output(contract, _answer({"id": "ab-12", "x_n": 3})) is None
    assert check_output(contract, _answer({"id": "ab-123"})) is not None
    assert check_output(contract, _answer({"x_n": "no"})) is not None
    assert check_output(contract, _answer({"other": 1})) is not None


def test_unevaluated_properties_with_pattern_properties_is_refused() -> None:
    # jsonschema would match that pair with Python's backtracking re.
    _reject({"patternProperties": {"^a": {}}, "unevaluatedProperties": False})


_KEYWORDS = st.sampled_from(
    [
        "type",
        "properties",
        "items",
        "$ref",
        "$defs",
        "allOf",
        "anyOf",
        "not",
        "pattern",
        "patternProperties",
        "additionalProperties",
        "required",
        "enum",
        "$schema",
        "$id",
        "$anchor",
        "minLength",
        "prefixItems",
        "if",
        "then",
        "dependentSchemas",
        "propertyNames",
    ]
)
_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.sampled_from(
        [
            "#",
            "#/$defs/a",
            "#/type",
            "#/required",
            "#/$defs",
            "string",
            "object",
            "((",
            "^a+$",
            "http://x/y",
            "a",
            "#a",
        ]
    ),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(_KEYWORDS | st.sampled_from(["a", "b"]), children, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_KEYWORDS, _values, max_size=5), _values)
def test_generated_schemas_compile_or_are_a_400_and_check_without_crashing(
    schema: dict[str, Any], answer: Any
) -> None:
    try:
        contract = compile_contract("json_schema", "s", schema)
    except InvalidRequestError as exc:
        assert exc.status == 400 and exc.param == "text.format.schema"
        return
    check_output(contract, _answer(answer))
