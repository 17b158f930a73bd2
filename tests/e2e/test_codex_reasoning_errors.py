"""DeepSeek's reasoning round trip through Codex, and upstream errors Codex must not retry."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import ALIASES, CodexSession
from tests.e2e.gateway_log import GatewayLog
from tests.e2e.scripted_upstream import (
    ScriptedUpstream,
    assistant_tool_call_messages,
    deepseek_error,
    finish_reply,
    text_reply,
    tool_call_reply,
)
from tests.fakes.replay_upstream import Reply

THOUGHT = "The user wants a file. I will run printf through exec_command, then confirm."


def test_deepseek_gets_its_reasoning_back(
    codex: CodexSession, upstream: ScriptedUpstream, gateway_log: GatewayLog
) -> None:
    def turn2(body: dict[str, Any]) -> Reply:
        calls = assistant_tool_call_messages(body)
        got = [m.get("reasoning_content") for m in calls]
        if got != [THOUGHT]:
            # What DeepSeek itself answers when thinking-mode reasoning is not passed back.
            upstream.problems.append(f"reasoning_content on tool-call messages: {got!r}")
            return deepseek_error(
                400, "The `reasoning_content` in the thinking mode must be passed back to the API."
            )
        return text_reply("Wrote thought.txt.", reasoning="Done; confirm briefly.")

    upstream.script(
        tool_call_reply(
            "call_think_1", "exec_command", {"cmd": "printf ok > thought.txt"}, reasoning=THOUGHT
        ),
        turn2,
    )

    run = codex.custom("Write thought.txt.", model="godex-e2e-deepseek")

    assert run.returncode == 0, run.explain()
    assert not upstream.problems, f"{upstream.problems}\n{run.explain()}"
    assert (codex.work / "thought.txt").read_text() == "ok"
    assert "Wrote thought.txt." in run.last_message
    # The reasoning travelled through Codex sealed in a reasoning item, with a summary list.
    replayed = [i for i in gateway_log.posts()[1].json()["input"] if i.get("type") == "reasoning"]
    assert len(replayed) == 1, replayed
    assert replayed[0]["encrypted_content"]
    assert isinstance(replayed[0]["summary"], list)
    assert THOUGHT not in str(replayed[0]["encrypted_content"])


CONTEXT_MESSAGE = (
    "This model's maximum context length is 131072 tokens. However, you requested 262144 tokens "
    "(262144 in the messages, 0 in the completion). Please reduce the length of the messages."
)


@pytest.mark.parametrize(
    ("model", "reply", "codex_says"),
    [
        pytest.param(
            "godex-e2e-deepseek",
            deepseek_error(400, CONTEXT_MESSAGE),
            "context",
            id="http-400-context-length",
        ),
        pytest.param(
            "godex-e2e-glm",
            finish_reply("model_context_window_exceeded", "partial"),
            "context window",
            id="midstream-context-window",
        ),
        pytest.param(
            "godex-e2e-deepseek",
            Reply.json(
                {"error": {"message": "Insufficient Balance", "type": "unknown_error"}},
                status=402,
            ),
            "",
            id="http-402-insufficient-balance",
        ),
    ],
)
def test_non_retryable_upstream_error_stops_codex(
    codex: CodexSession,
    upstream: ScriptedUpstream,
    gateway_log: GatewayLog,
    model: str,
    reply: Reply,
    codex_says: str,
) -> None:
    upstream.script(reply, text_reply("must never be reached"))

    # Retries on: a retryable answer from GodeX would show up as extra requests.
    run = codex.custom("Summarise the repository.", model=model, retries=2)

    assert len(upstream.chat_bodies) == 1, run.explain()
    # The alias must reach its own provider (whose spec knows the error), not a fallback.
    assert upstream.chat_bodies[0]["model"] == ALIASES[model].split("/", 1)[1]
    assert run.returncode != 0, run.explain()
    assert len(gateway_log.posts()) == 1, run.explain()
    assert codex_says.lower() in (run.stdout + run.stderr).lower(), run.explain()
    assert "must never be reached" not in run.last_message
