"""A real Claude Code (``claude -p``) session through GodeX's Messages door on a DeepSeek-shaped
scripted upstream: Write, Edit and Bash in a temporary work tree, DeepSeek's reasoning round
trip through a signed ``thinking`` block, and a non-retryable error shown after one attempt."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.claude import ClaudeRun, claude_binary, run_claude
from tests.e2e.conftest import CLIENT_KEY
from tests.e2e.gateway_log import GatewayLog
from tests.e2e.scripted_upstream import (
    ScriptedUpstream,
    assistant_tool_call_messages,
    deepseek_error,
    text_reply,
    tool_call_reply,
    tool_messages,
)
from tests.fakes.replay_upstream import Reply

THOUGHT = "The user wants hello.txt. I will write it with the Write tool first."


@dataclass
class ClaudeSession:
    home: Path
    work: Path
    base_url: str

    def run(self, prompt: str, **kw: Any) -> ClaudeRun:
        return run_claude(
            prompt,
            base_url=self.base_url,
            token=CLIENT_KEY,
            home=self.home,
            workdir=self.work,
            **kw,
        )


@pytest.fixture
def claude(
    gateway_log: GatewayLog, upstream: ScriptedUpstream, tmp_path: Path, gateway: Any
) -> ClaudeSession:
    claude_binary()
    gateway_log.clear()
    upstream.script()
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    for args in (["init", "-q"], ["add", "-A"]):
        subprocess.run(["git", *args], cwd=work, check=True, capture_output=True, timeout=30)
    return ClaudeSession(home, work, gateway.base_url)


def _messages_posts(log: GatewayLog) -> list[Any]:
    return [e for e in log.exchanges if e.method == "POST" and e.path == "/v1/messages"]


def test_claude_code_writes_edits_and_runs_a_command(
    claude: ClaudeSession, upstream: ScriptedUpstream, gateway_log: GatewayLog
) -> None:
    path = str(claude.work / "hello.txt")

    def after_write(body: dict[str, Any]) -> Reply:
        results = tool_messages(body)
        if not results or "error" in str(results[-1].get("content")).lower()[:40]:
            upstream.problems.append(f"Write result: {results[-1:]!r}")
        return tool_call_reply(
            "call_00_edit",
            "Edit",
            {"file_path": path, "old_string": "beta", "new_string": "delta"},
        )

    def after_edit(body: dict[str, Any]) -> Reply:
        return tool_call_reply(
            "call_00_bash",
            "Bash",
            {"command": "cp hello.txt out.txt && cat out.txt", "description": "copy the file"},
        )

    def after_bash(body: dict[str, Any]) -> Reply:
        output = str(tool_messages(body)[-1].get("content"))
        if "alpha delta gamma" not in output:
            upstream.problems.append(f"Bash output: {output!r}")
        return text_reply("Created hello.txt, changed beta to delta, copied it to out.txt.")

    upstream.script(
        tool_call_reply(
            "call_00_write", "Write", {"file_path": path, "content": "alpha beta gamma\n"}
        ),
        after_write,
        after_edit,
        after_bash,
    )

    run = claude.run("Create hello.txt, change one word in it, then copy it to out.txt.")

    assert run.returncode == 0, run.explain()
    assert not upstream.problems, f"{upstream.problems}\n{run.explain()}"
    assert (claude.work / "hello.txt").read_text() == "alpha delta gamma\n"
    assert (claude.work / "out.txt").read_text() == "alpha delta gamma\n"
    assert "copied it to out.txt" in run.stdout
    posts = _messages_posts(gateway_log)
    assert len(posts) == 4, [p.path for p in posts]
    assert all(p.status == 200 for p in posts)
    # Claude Code's own tools reached the model, with its tool names unchanged.
    declared = {t["function"]["name"] for t in upstream.chat_bodies[0]["tools"]}
    assert {"Write", "Edit", "Bash"} <= declared


@pytest.mark.parametrize(
    ("model", "thinking_type"),
    [
        pytest.param("claude-sonnet-4-5", "enabled", id="enabled-budget"),
        pytest.param("claude-opus-5-5", "adaptive", id="adaptive"),
    ],
)
def test_deepseek_gets_its_reasoning_back_through_a_thinking_block(
    model: str,
    thinking_type: str,
    claude: ClaudeSession,
    upstream: ScriptedUpstream,
    gateway_log: GatewayLog,
) -> None:
    path = str(claude.work / "thought.txt")

    def turn2(body: dict[str, Any]) -> Reply:
        got = [m.get("reasoning_content") for m in assistant_tool_call_messages(body)]
        if got != [THOUGHT]:
            upstream.problems.append(f"reasoning_content on tool-call messages: {got!r}")
            return deepseek_error(
                400, "The `reasoning_content` in the thinking mode must be passed back to the API."
            )
        return text_reply("Wrote thought.txt.", reasoning="Done; confirm briefly.")

    upstream.script(
        tool_call_reply(
            "call_00_think", "Write", {"file_path": path, "content": "ok"}, reasoning=THOUGHT
        ),
        turn2,
    )

    run = claude.run("Write thought.txt.", model=model, extra_env={"MAX_THINKING_TOKENS": "4096"})

    assert run.returncode == 0, run.explain()
    assert not upstream.problems, f"{upstream.problems}\n{run.explain()}"
    assert (claude.work / "thought.txt").read_text() == "ok"
    assert "Wrote thought.txt." in run.stdout
    # The thinking block went out signed by GodeX, and came back with that signature.
    first, second = _messages_posts(gateway_log)[:2]
    asked = first.json()["thinking"]
    assert asked["type"] == thinking_type, asked
    # Claude Code -p asks for display "omitted": the block then carries only the signature,
    # which alone brings the reasoning back.
    shown = asked.get("display") != "omitted"
    starts = [
        e["content_block"]
        for e in first.sse_events()
        if e.get("type") == "content_block_start" and e["content_block"]["type"] == "thinking"
    ]
    assert starts, first.response[:2000]
    replayed = [
        b
        for m in second.json()["messages"]
        if m["role"] == "assistant" and isinstance(m["content"], list)
        for b in m["content"]
        if b.get("type") == "thinking"
    ]
    assert len(replayed) == 1, replayed
    assert replayed[0]["signature"].startswith("gdx1.")
    assert replayed[0]["thinking"] == (THOUGHT if shown else "")
    assert THOUGHT not in replayed[0]["signature"]  # sealed, not readable as plain text


def test_a_non_retryable_error_is_shown_after_one_attempt(
    claude: ClaudeSession, upstream: ScriptedUpstream, gateway_log: GatewayLog
) -> None:
    message = "Insufficient Balance: top up your DeepSeek account"
    upstream.script(
        Reply.json(
            {"error": {"message": message, "type": "unknown_error", "param": None, "code": None}},
            status=402,
        )
    )

    run = claude.run("Say hello.")

    assert run.returncode != 0, run.explain()
    assert "Insufficient Balance" in run.stdout + run.stderr, run.explain()
    assert len(upstream.chat_bodies) == 1, f"{len(upstream.chat_bodies)} upstream calls"
    post = _messages_posts(gateway_log)[0]
    body = json.loads(post.response)
    assert body["type"] == "error" and body["error"]["type"] == "billing_error"
