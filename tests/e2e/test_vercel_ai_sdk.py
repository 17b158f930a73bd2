"""The Vercel AI SDK (``@ai-sdk/openai`` responses model, pinned in package.json) against GodeX:
a DeepSeek reasoning tool turn with store on, whose second step sends its history as
``item_reference``s without ``previous_response_id``."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from godex.config.schema import SessionConfig
from tests.fakes.replay_upstream import FakeUpstream, Reply, completion_body
from tests.support.gateway import RunningGateway, make_config, provider, run_gateway

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "vercel_ai_turn.mjs"


def _node() -> str:
    node = shutil.which("node")
    # Fail, never skip: a missing client would silently hide the test.
    if node is None or not (HERE / "node_modules" / "@ai-sdk" / "openai").is_dir():
        raise RuntimeError(
            "node or @ai-sdk/openai missing under tests/e2e/node_modules; run "
            "`bash scripts/install_codex.sh` (npm ci from tests/e2e/package-lock.json)"
        )
    return node


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream() as up:
        yield up


@pytest.fixture(scope="module", params=["sqlite", "memory"])
def vercel_gw(
    request: pytest.FixtureRequest, fake: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    tmp = tmp_path_factory.mktemp(request.param)
    cfg = make_config(
        tmp,
        [provider("ds", "deepseek", fake.base_url)],
        aliases={"gpt-5.5": "ds/deepseek-v4-pro"},
        session=SessionConfig(backend=request.param, sqlite_path=str(tmp / "s.db")),
    )
    with run_gateway(cfg) as gw:
        yield gw


def _run(gw: RunningGateway) -> dict[str, Any]:
    proc = subprocess.run(
        [_node(), str(SCRIPT), gw.v1, "sk-client"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=HERE,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_a_deepseek_reasoning_tool_turn_with_store_on(
    vercel_gw: RunningGateway, fake: FakeUpstream
) -> None:
    fake.reset()
    call = {
        "id": "call_v1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
    }
    reasoning = "The user wants the weather; call the tool."
    fake.push(  # generateText does not stream: one body per step
        Reply.json(
            completion_body(None, reasoning=reasoning, tool_calls=[call], finish="tool_calls")
        ),
        Reply.json(completion_body("It is sunny in Paris.")),
    )
    result = _run(vercel_gw)
    assert result["text"] == "It is sunny in Paris."
    assert result["calls"] == ["Paris"]
    assert result["steps"] == 2
    # The SDK sent step 1's reasoning by reference, with no previous_response_id ...
    second = result["requests"][1]
    assert "previous_response_id" not in second and second.get("store", True) is True
    refs = [i["id"] for i in second["input"] if i.get("type") == "item_reference"]
    assert refs and all(r.startswith("rs_") or r.startswith("msg_") for r in refs), second["input"]
    # ... and GodeX resolved it from the store: DeepSeek gets its reasoning_content back with
    # the tool call (it rejects a thinking-mode tool turn without it).
    messages = fake.requests[1].body["messages"]
    assistant = next(m for m in messages if m.get("tool_calls"))
    assert assistant["reasoning_content"] == reasoning
    assert assistant["tool_calls"][0]["id"] == "call_v1"
    assert messages[-1] == {"role": "tool", "tool_call_id": "call_v1", "content": "sunny in Paris"}
    assert fake.requests[1].body.get("thinking", {}).get("type") != "disabled"
