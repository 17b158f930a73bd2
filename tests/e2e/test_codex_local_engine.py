"""A real ``codex exec`` session against a vLLM-shaped upstream (issue 21).

The fake speaks like a vLLM server with a reasoning parser and a tool parser: reasoning in
``delta.reasoning`` (vLLM >= 0.11), tool arguments in fragments, usage in a trailing
``choices: []`` chunk, and a second turn whose reasoning is left inline as ``<think>`` tags
(no parser). Codex must run the tool and finish with the answer text only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import CodexSession
from tests.e2e.gateway_log import GatewayLog
from tests.e2e.scripted_upstream import (
    ScriptedUpstream,
    assistant_tool_call_messages,
    content_text,
    tool_messages,
)
from tests.fakes.replay_upstream import Reply
from tests.support.gateway import RunningGateway, make_config, provider, run_gateway

HEAD = {
    "id": "chatcmpl-e2e",
    "object": "chat.completion.chunk",
    "created": 1777000300,
    "model": "Qwen/Qwen3-8B",
}


def _frame(delta: dict[str, Any] | None, finish: str | None = None, **top: Any) -> str:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    obj = {**HEAD, "choices": choices, **top}
    return "data: " + json.dumps(obj, separators=(",", ":")) + "\n\n"


def _vllm_stream(*frames: str) -> Reply:
    return Reply(body=("".join(frames) + "data: [DONE]\n\n").encode())


def _usage(prompt: int, completion: int) -> str:
    u = {
        "prompt_tokens": prompt,
        "total_tokens": prompt + completion,
        "completion_tokens": completion,
    }
    return _frame(None, usage=u)


@pytest.fixture(scope="module")
def gateway(
    upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    cfg = make_config(
        tmp_path_factory.mktemp("gw-local"),
        [provider("local", "vllm", upstream.base_url + "/v1")],
        aliases={"godex-e2e": "local/Qwen/Qwen3-8B"},
    )
    with run_gateway(cfg) as gw:
        yield gw


def test_codex_runs_a_tool_through_a_vllm_shaped_engine(
    codex: CodexSession, upstream: ScriptedUpstream, gateway_log: GatewayLog
) -> None:
    cmd = "printf local > engine.txt && echo wrote-local"
    args = json.dumps({"cmd": cmd})
    call = {"index": 0, "id": "chatcmpl-tool-e2e1", "type": "function"}
    upstream.script(
        _vllm_stream(
            _frame({"role": "assistant", "content": ""}),
            _frame({"reasoning": "I should write the file "}),
            _frame({"reasoning": "with a shell command."}),
            _frame({"tool_calls": [{**call, "function": {"name": "exec_command"}}]}),
            _frame({"tool_calls": [{"index": 0, "function": {"arguments": args[:9]}}]}),
            _frame({"tool_calls": [{"index": 0, "function": {"arguments": args[9:]}}]}),
            _frame({"content": ""}, "tool_calls"),
            _usage(120, 30),
        ),
        _vllm_stream(
            _frame({"role": "assistant", "content": ""}),
            _frame({"content": "<think>The command worked."}),
            _frame({"content": "</think>\n\nWrote engine.txt."}, "stop"),
            _usage(160, 12),
        ),
    )

    run = codex.custom("Write engine.txt containing local.")

    assert run.returncode == 0, run.explain()
    assert not upstream.problems, f"{upstream.problems}\n{run.explain()}"
    assert (codex.work / "engine.txt").read_text() == "local"
    assert run.last_message.strip() == "Wrote engine.txt."  # the <think> part is reasoning
    first, second = upstream.chat_bodies
    assert first["stream"] is True and first["stream_options"] == {"include_usage": True}
    (assistant,) = assistant_tool_call_messages(second)
    assert assistant["tool_calls"][0]["id"] == "chatcmpl-tool-e2e1"
    assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {"cmd": cmd}
    assert "reasoning_content" not in assistant  # templates drop it; never replayed
    (tool,) = [m for m in tool_messages(second) if m.get("tool_call_id") == "chatcmpl-tool-e2e1"]
    assert "wrote-local" in content_text(tool)
    assert [e.status for e in gateway_log.posts()] == [200, 200]
