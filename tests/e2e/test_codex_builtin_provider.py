"""Codex's built-in `openai` provider pointed at GodeX: WebSocket fallback, remote compaction."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import CodexSession
from tests.e2e.gateway_log import GatewayLog
from tests.e2e.scripted_upstream import (
    ScriptedUpstream,
    content_text,
    text_reply,
    tool_call_reply,
    tool_messages,
)
from tests.fakes.replay_upstream import Reply

# Measured with codex 0.169 against a scratch server: a 426 answer to the upgrade makes Codex
# fall back to HTTPS after ONE attempt (~0.2 s for the whole exec); a 404 costs seven attempts
# with backoff (~6.5 s). One attempt per session is therefore the minimum.
MIN_WEBSOCKET_ATTEMPTS = 1


def test_builtin_provider_falls_back_from_websocket_at_once(
    codex: CodexSession, upstream: ScriptedUpstream, gateway_log: GatewayLog
) -> None:
    upstream.script(
        tool_call_reply("call_ws_1", "exec_command", {"cmd": "printf ws > ws.txt"}),
        text_reply("Made ws.txt over HTTPS."),
    )

    run = codex.builtin("Create ws.txt.")

    assert run.returncode == 0, run.explain()
    assert (codex.work / "ws.txt").read_text() == "ws"
    assert "Made ws.txt over HTTPS." in run.last_message
    attempts = gateway_log.websocket_attempts()
    assert len(attempts) == MIN_WEBSOCKET_ATTEMPTS, [(e.path, e.status) for e in attempts]
    assert all(e.path == "/v1/responses" and e.status == 426 for e in attempts)
    assert [e.status for e in gateway_log.posts()] == [200, 200]
    assert "exited with code 0" in content_text(tool_messages(upstream.chat_bodies[1])[0])


SUMMARY = "SUMMARY: the user asked for big.txt; it was created with printf."


def test_remote_compaction_keeps_the_session_working(
    codex: CodexSession, upstream: ScriptedUpstream, gateway_log: GatewayLog
) -> None:
    def summarise(body: dict[str, Any]) -> Reply:
        if body.get("tools"):
            upstream.problems.append("compaction call offered tools upstream")
        return text_reply(SUMMARY)

    def after(body: dict[str, Any]) -> Reply:
        if not any(SUMMARY in content_text(m) for m in body["messages"]):
            upstream.problems.append("summary missing after compaction")
        return text_reply("Finished after compaction.")

    upstream.script(
        # Huge usage pushes Codex over its (lowered) auto-compact limit mid-turn.
        tool_call_reply(
            "call_big_1", "exec_command", {"cmd": "printf big > big.txt"}, prompt=200_000
        ),
        summarise,
        after,
    )

    run = codex.builtin("Create big.txt.", "-c", "model_auto_compact_token_limit=5000")

    assert run.returncode == 0, run.explain()
    assert not upstream.problems, f"{upstream.problems}\n{run.explain()}"
    assert (codex.work / "big.txt").read_text() == "big"
    assert "Finished after compaction." in run.last_message
    posts = gateway_log.posts()
    triggers = [p for p in posts if p.json()["input"][-1].get("type") == "compaction_trigger"]
    assert len(triggers) == 1, [p.json()["input"][-1] for p in posts]
    trigger = triggers[0]
    assert trigger.status == 200
    done = [
        ev["item"] for ev in trigger.sse_events() if ev.get("type") == "response.output_item.done"
    ]
    assert [i["type"] for i in done] == ["compaction"], done
    assert done[0]["id"].startswith("cmp_") and done[0]["encrypted_content"]
    # Codex replays GodeX's compaction item on the next request, which then succeeds.
    following = posts[posts.index(trigger) + 1]
    replayed = [i for i in following.json()["input"] if i.get("type") == "compaction"]
    assert [i["encrypted_content"] for i in replayed] == [done[0]["encrypted_content"]]
    assert following.status == 200
    assert len(upstream.chat_bodies) == 3
