"""The request parser under hostile bodies: every failure is a typed 400, never a crash."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from godex.bridge.request import DEFAULT_LIMITS, RequestLimits, parse_request
from godex.errors import InvalidRequestError


def _nested(levels: int) -> bytes:
    return b'{"model":"m","input":' + b"[" * levels + b"]" * levels + b"}"


def _reject(body: bytes, limits: RequestLimits = DEFAULT_LIMITS) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as info:
        parse_request(body, limits)
    assert info.value.status == 400
    return info.value


@pytest.mark.parametrize("levels", [64, 1_000, 100_000])
def test_nesting_beyond_the_limit_is_a_400(levels: int) -> None:
    err = _reject(_nested(levels))
    assert (err.code, err.wire_code) == ("limits.nesting_too_deep", "json_nesting_too_deep")
    assert err.param == ("input" if levels < 500 else None)


def test_nesting_at_the_limit_is_parsed() -> None:
    # The body object is level 1, so 63 arrays inside it are level 64: allowed (and then a
    # type error for the item, not a limit error).
    err = _reject(_nested(63))
    assert err.code == "bridge.invalid_request" and err.param == "input[0]"


def test_caps_name_the_field() -> None:
    limits = RequestLimits(max_string_chars=100, max_array_items=50, max_input_items=5, max_tools=3)
    too_many = json.dumps({"model": "m", "input": [{"role": "user", "content": "x"}] * 6})
    err = _reject(too_many.encode(), limits)
    assert (err.param, err.code, err.wire_code) == (
        "input",
        "limits.too_large",
        "array_above_max_length",
    )
    tools = json.dumps({"model": "m", "input": "x", "tools": [{"type": "function"}] * 4})
    assert _reject(tools.encode(), limits).param == "tools"
    text = {
        "model": "m",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "y" * 101}]}],
    }
    err = _reject(json.dumps(text).encode(), limits)
    assert (err.param, err.wire_code) == ("input[0].content[0].text", "string_above_max_length")
    deep_array = json.dumps({"model": "m", "input": "x", "metadata": {"k": list(range(51))}})
    assert _reject(deep_array.encode(), limits).param == "metadata.k"
    model = json.dumps({"model": "m" * 257, "input": "x"})
    assert _reject(model.encode()).param == "model"


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=30,
)
_fields = st.sampled_from(
    [
        "model",
        "input",
        "tools",
        "tool_choice",
        "include",
        "stream",
        "store",
        "text",
        "reasoning",
        "max_output_tokens",
        "temperature",
        "metadata",
        "instructions",
        "previous_response_id",
    ]
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_fields, _json, max_size=8), st.integers(0, 200))
def test_hostile_bodies_are_parsed_or_a_400(body: dict[str, Any], depth: int) -> None:
    if depth > 100:  # wrap some bodies' input in deep nesting
        body["input"] = json.loads("[" * depth + "]" * depth)
    raw = msgspec.json.encode(body)
    try:
        parse_request(raw, RequestLimits(max_string_chars=10, max_array_items=3))
    except InvalidRequestError as exc:
        assert exc.status == 400 and exc.message


@settings(max_examples=200)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_are_parsed_or_a_400(raw: bytes) -> None:
    try:
        parse_request(raw)
    except InvalidRequestError as exc:
        assert exc.status == 400
