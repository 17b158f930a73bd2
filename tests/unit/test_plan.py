"""bridge.plan: Responses requests → Chat Completions bodies, decided by the provider spec."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from godex.bridge.plan import build_chat_request
from godex.bridge.request import parse_request
from godex.bridge.sealing import Sealer
from godex.errors import InvalidRequestError
from godex.providers.spec import ProviderSpec

SEALER = Sealer(b"test-secret")


class _Hooks:
    pass


BASE = ProviderSpec(
    name="test",
    default_base_url="http://x",
    default_model="m",
    api_key_env="X",
    hooks=_Hooks(),  # type: ignore[arg-type]
    reasoning_control="effort",
    effort_map={"none": None, "low": "high", "medium": "high", "high": "high", "max": "max"},
    replay_reasoning=True,
    requires_reasoning_replay=True,
    tool_choices=frozenset({"auto", "none", "required"}),
)


def plan(body: dict[str, Any], spec: ProviderSpec = BASE, history: list[Any] | None = None) -> Any:
    req = parse_request(json.dumps({"model": "m", **body}).encode())
    return build_chat_request(req, history or [], "up-model", spec, SEALER)


def test_string_input_instructions_and_limits() -> None:
    p = plan({"input": "hi", "instructions": "be brief", "max_output_tokens": 50, "temperature": 3})
    body = p.chat.body
    assert body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]
    assert body["max_tokens"] == 50
    assert body["temperature"] == 2.0
    assert body["model"] == "up-model"
    assert any(d.subject == "temperature" for d in p.diagnostics.items)


def test_developer_merges_into_system_when_unsupported() -> None:
    p = plan(
        {
            "input": [
                {
                    "type": "message",
                    "role": "developer",
                    "content": [{"type": "input_text", "text": "a"}],
                },
                {
                    "type": "message",
                    "role": "developer",
                    "content": [{"type": "input_text", "text": "b"}],
                },
                {"role": "user", "content": "q"},
            ]
        }
    )
    assert p.chat.body["messages"] == [
        {"role": "system", "content": "a\n\nb"},
        {"role": "user", "content": "q"},
    ]


def test_parallel_calls_group_and_outputs_follow() -> None:
    items = [
        {"role": "user", "content": "go"},
        {"type": "function_call", "call_id": "a", "name": "f", "arguments": "{}"},
        {"type": "function_call", "call_id": "b", "name": "f", "arguments": '{"x":1}'},
        {"type": "function_call_output", "call_id": "a", "output": "A"},
        {
            "type": "function_call_output",
            "call_id": "b",
            "output": [{"type": "input_text", "text": "B"}],
        },
    ]
    tools = [{"type": "function", "name": "f", "parameters": {"type": "object"}}]
    msgs = plan({"input": items, "tools": tools})
    m = msgs.chat.body["messages"]
    assert [x["role"] for x in m] == ["user", "assistant", "tool", "tool"]
    assert [c["id"] for c in m[1]["tool_calls"]] == ["a", "b"]
    assert m[3] == {"role": "tool", "tool_call_id": "b", "content": "B"}


def test_custom_and_namespace_and_shell_replay() -> None:
    tools = [
        {
            "type": "custom",
            "name": "apply_patch",
            "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"},
        },
        {"type": "namespace", "name": "multi", "tools": [{"type": "function", "name": "spawn"}]},
        {"type": "local_shell"},
        {"type": "web_search"},
        {"type": "file_search", "vector_store_ids": []},
    ]
    items = [
        {"role": "user", "content": "go"},
        {"type": "custom_tool_call", "call_id": "c1", "name": "apply_patch", "input": "*** Begin"},
        {"type": "custom_tool_call_output", "call_id": "c1", "output": "ok"},
        {
            "type": "function_call",
            "call_id": "c2",
            "name": "spawn",
            "namespace": "multi",
            "arguments": "{}",
        },
        {"type": "function_call_output", "call_id": "c2", "output": "spawned"},
        {
            "type": "local_shell_call",
            "id": "ls1",
            "call_id": "c3",
            "status": "completed",
            "action": {"type": "exec", "command": ["ls"], "env": {}},
        },
        {"type": "local_shell_call_output", "id": "c3", "output": "file"},
    ]
    p = plan({"input": items, "tools": tools})
    body = p.chat.body
    names = [t["function"]["name"] for t in body["tools"]]
    assert names == ["apply_patch", "multi__spawn", "shell"]
    assert body["tools"][0]["function"]["parameters"]["required"] == ["input"]
    assert "start: x" in body["tools"][0]["function"]["description"]
    calls = [m["tool_calls"][0] for m in body["messages"] if m.get("tool_calls")]
    assert json.loads(calls[0]["function"]["arguments"]) == {"input": "*** Begin"}
    assert calls[1]["function"]["name"] == "multi__spawn"
    assert json.loads(calls[2]["function"]["arguments"]) == {"command": ["ls"]}
    tool_msgs = [m for m in body["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_msgs] == ["c1", "c2", "c3"]
    subjects = {d.subject: d.action for d in p.diagnostics.items}
    assert subjects["tools[3]"] == "ignored" and subjects["tools[4]"] == "ignored"
    assert p.tool_plan.restore("multi__spawn").namespace == "multi"


def test_reasoning_round_trip_sealed_and_tampered() -> None:
    good = SEALER.seal("reasoning", {"text": "secret thoughts"})
    items = [
        {"role": "user", "content": "go"},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": good},
        {"type": "function_call", "call_id": "a", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "a", "output": "x"},
    ]
    p = plan({"input": items, "tools": [{"type": "function", "name": "f"}]})
    assistant = p.chat.body["messages"][1]
    assert assistant["reasoning_content"] == "secret thoughts"
    assert p.chat.thinking is True

    bad = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    items[1] = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": bad}
    p = plan({"input": items, "tools": [{"type": "function", "name": "f"}]})
    assert "reasoning_content" not in p.chat.body["messages"][1]
    assert any("encrypted_content" in d.subject for d in p.diagnostics.items)
    # DeepSeek-style spec: tool history without reasoning means thinking must be off.
    assert p.chat.thinking is False


def test_images_follow_tool_results_or_are_dropped() -> None:
    items = [
        {"role": "user", "content": "look"},
        {"type": "function_call", "call_id": "v", "name": "view_image", "arguments": "{}"},
        {
            "type": "function_call_output",
            "call_id": "v",
            "output": [{"type": "input_image", "image_url": "data:image/png;base64,AAAA"}],
        },
    ]
    tools = [{"type": "function", "name": "view_image"}]
    with_images = dataclasses.replace(BASE, accepts_images=True)
    m = plan({"input": items, "tools": tools}, with_images).chat.body["messages"]
    assert [x["role"] for x in m] == ["user", "assistant", "tool", "user"]
    assert m[3]["content"][0]["type"] == "image_url"
    p = plan({"input": items, "tools": tools})
    assert [x["role"] for x in p.chat.body["messages"]] == ["user", "assistant", "tool"]
    assert any(d.action == "ignored" for d in p.diagnostics.items)


def test_tool_search_output_declares_tools() -> None:
    items = [
        {"role": "user", "content": "go"},
        {
            "type": "tool_search_call",
            "call_id": "t",
            "execution": "client",
            "arguments": {"q": "x"},
        },
        {
            "type": "tool_search_output",
            "call_id": "t",
            "execution": "client",
            "tools": [{"type": "function", "name": "late_tool", "parameters": {"type": "object"}}],
        },
    ]
    body = plan(
        {"input": items, "tools": [{"type": "tool_search", "execution": "client"}]}
    ).chat.body
    names = [t["function"]["name"] for t in body["tools"]]
    assert names == ["tool_search", "late_tool"]
    assert body["messages"][2]["role"] == "tool"


def test_tool_choice_degrades() -> None:
    tools = [{"type": "function", "name": "f"}, {"type": "function", "name": "g"}]
    p = plan({"input": "x", "tools": tools, "tool_choice": {"type": "function", "name": "f"}})
    assert p.chat.body["tool_choice"] == "auto"
    assert any(d.subject == "tool_choice" for d in p.diagnostics.items)
    full = dataclasses.replace(
        BASE, tool_choices=frozenset({"auto", "none", "required", "function"})
    )
    p = plan({"input": "x", "tools": tools, "tool_choice": {"type": "function", "name": "g"}}, full)
    assert p.chat.body["tool_choice"] == {"type": "function", "function": {"name": "g"}}


def test_json_schema_downgrade_and_effort() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    p = plan(
        {
            "input": "x",
            "text": {"format": {"type": "json_schema", "name": "thing", "schema": schema}},
            "reasoning": {"effort": "ultra", "summary": "auto"},
        }
    )
    assert p.chat.body["response_format"] == {"type": "json_object"}
    assert "thing" in p.chat.body["messages"][-1]["content"]
    assert p.contract is not None and p.contract.kind == "json_schema"
    assert p.chat.thinking is True and p.chat.effort == "max"
    assert p.reasoning_summary is True
    p = plan({"input": "x", "reasoning": {"effort": "none"}})
    assert p.chat.thinking is False


@pytest.mark.parametrize(
    "body, param",
    [
        ({"input": 5}, "input"),
        ({"input": [{"type": "message", "role": "user", "content": 5}]}, "input[0].content"),
        ({"input": "x", "max_output_tokens": "many"}, "max_output_tokens"),
        ({"input": "x", "temperature": "hot"}, "temperature"),
        ({"input": "x", "tools": [{"name": "f"}]}, "tools[0]"),
        ({"input": [{"type": "function_call_output", "output": "x"}]}, "input[0].call_id"),
    ],
)
def test_type_errors_name_the_param(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        plan(body)
    assert info.value.param == param
    assert info.value.status == 400


def test_unknown_fields_and_items_are_tolerated() -> None:
    p = plan(
        {
            "input": [
                {"type": "message", "id": "msg_x", "role": "user", "content": "hi"},
                {"type": "mystery_item", "id": "z"},
            ],
            "client_metadata": {"a": 1},
            "prompt_cache_key": "k",
        }
    )
    assert p.chat.body["messages"] == [{"role": "user", "content": "hi"}]
