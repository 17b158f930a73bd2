"""Reasoning-effort mapping and OpenAI-shaped rate-limit messages (issue 15)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from godex.bridge.plan import build_chat_request
from godex.bridge.request import parse_request
from godex.providers.errors import error_from_http, rate_limit_message
from godex.providers.registry import SPECS
from tests.unit.test_plan import BASE, SEALER


def _chat(effort: str, spec: Any) -> Any:
    req = parse_request(
        json.dumps({"model": "m", "input": "x", "reasoning": {"effort": effort}}).encode()
    )
    return build_chat_request(req, [], "up-model", spec, SEALER).chat


def test_an_effort_provider_without_a_table_gets_the_effort_as_is() -> None:
    spec = dataclasses.replace(BASE, effort_map={})
    for effort in ("minimal", "low", "medium", "high", "xhigh"):
        chat = _chat(effort, spec)
        assert chat.thinking is True and chat.effort == effort


def test_effort_none_turns_thinking_off_on_every_provider_that_can() -> None:
    for spec in SPECS.values():
        if spec.reasoning_control == "none":
            continue
        chat = _chat("none", spec)
        assert chat.thinking is False, spec.name
        assert chat.effort is None


def test_a_429_message_gains_try_again_from_retry_after() -> None:
    err = error_from_http(
        "DeepSeek", 429, b'{"error":{"message":"slow down"}}', {"retry-after": "3"}
    )
    assert err.message.endswith("Please try again in 3s.")
    assert err.type == "requests"
    assert err.to_body()["error"]["code"] == "rate_limit_exceeded"


def test_a_429_about_tokens_is_typed_tokens() -> None:
    body = b'{"error":{"message":"Rate limit reached on tokens per min (TPM)"}}'
    assert error_from_http("X", 429, body, {}).type == "tokens"


@given(st.text(max_size=200), st.one_of(st.none(), st.text(max_size=40)))
def test_rate_limit_message_never_fails_and_keeps_the_text(message: str, after: Any) -> None:
    out = rate_limit_message(message, after)
    assert out.startswith(message.rstrip()) or out == message


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_rate_limit_message_states_the_wait_in_seconds(seconds: float) -> None:
    out = rate_limit_message("busy.", repr(seconds))
    assert "Please try again in " in out and out.endswith("s.")


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.dictionaries(st.sampled_from(["type", "role", "content", "id"]), _json), max_size=5)
)
def test_conversation_items_always_get_ids_and_messages_a_status(items: list[Any]) -> None:
    from godex.sessions.conversations import conversation_items

    stored = conversation_items(items)
    assert all(isinstance(i.get("id"), str) and i["id"] for i in stored)
    assert all("status" in i for i in stored if i.get("type") == "message")
    assert not any(i.get("type") == "item_reference" for i in stored)
