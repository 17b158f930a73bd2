"""Codex's built-in `openai` provider pointed at GodeX: Responses over WebSocket end to end.

Codex 0.169's built-in provider opens ``GET /v1/responses`` as a WebSocket first and sends each
turn as a ``response.create`` message; GodeX now accepts it, so a whole ``codex exec`` (tools,
apply_patch, DeepSeek's reasoning round trip, remote compaction) runs on the socket with no
HTTPS request at all. ``server.websocket: false`` keeps the fast 426 that makes it fall back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.catalog import CATALOG
from tests.e2e.conftest import ALIASES, CLIENT_KEY, CodexSession, _git
from tests.e2e.gateway_log import GatewayLog, Socket, attach
from tests.e2e.scripted_upstream import (
    ScriptedUpstream,
    assistant_tool_call_messages,
    content_text,
    deepseek_error,
    text_reply,
    tool_call_reply,
    tool_messages,
)
from tests.fakes.replay_upstream import Reply
from tests.support.gateway import make_config, provider, run_gateway

THOUGHT = "The user wants notes.txt. I run printf first, then patch the file."
PATCH = """*** Begin Patch
*** Update File: notes.txt
@@
-draft
+final
*** End Patch
"""


def _catalog() -> list[str]:
    return ["-c", f'model_catalog_json="{CATALOG}"']


def _socket(gateway_log: GatewayLog) -> Socket:
    sockets = [s for s in gateway_log.accepted_sockets() if s.creates()]
    assert len(sockets) == 1, [(s.accepted, len(s.received)) for s in gateway_log.sockets]
    return sockets[0]


def test_builtin_provider_runs_a_tool_session_over_websocket(
    codex: CodexSession, upstream: ScriptedUpstream, gateway_log: GatewayLog
) -> None:
    def patch_turn(body: dict[str, Any]) -> Reply:
        got = [m.get("reasoning_content") for m in assistant_tool_call_messages(body)]
        if got != [THOUGHT]:
            upstream.problems.append(f"reasoning_content on tool-call messages: {got!r}")
            return deepseek_error(
                400, "The `reasoning_content` in the thinking mode must be passed back to the API."
            )
        param = next(iter(_params(body, "apply_patch")))
        return tool_call_reply("call_ws_patch", "apply_patch", {param: PATCH})

    upstream.script(
        tool_call_reply(
            "call_ws_1", "exec_command", {"cmd": "printf draft > notes.txt"}, reasoning=THOUGHT
        ),
        patch_turn,
        text_reply("notes.txt now says final, over WebSocket."),
    )

    run = codex.builtin("Create notes.txt, then fix it.", *_catalog(), model="godex-e2e-deepseek")

    assert run.returncode == 0, run.explain()
    assert not upstream.problems, f"{upstream.problems}\n{run.explain()}"
    assert (codex.work / "notes.txt").read_text().strip() == "final"
    assert "over WebSocket" in run.last_message
    # Zero fallbacks: nothing reached the HTTPS door, every turn went over one socket.
    assert gateway_log.posts() == [], [e.status for e in gateway_log.posts()]
    sock = _socket(gateway_log)
    answered = [t for t in sock.turns() if t[-1]["type"] == "response.completed"]
    assert len(answered) >= 3, [t[-1]["type"] for t in sock.turns()]
    assert all(t[-1]["type"] != "error" for t in sock.turns()), sock.turns()
    assert len(upstream.chat_bodies) == 3
    assert "exited with code 0" in content_text(tool_messages(upstream.chat_bodies[1])[0])
    # Codex warms up (generate: false), then continues each response by id with only the new
    # items and store: false: GodeX answers from the connection's memory, not from a store.
    creates = sock.creates()
    assert creates[0].get("generate") is False
    ids = [t[-1]["response"]["id"] for t in sock.turns()]
    for i, create in enumerate(creates[1:], start=1):
        assert create.get("store") is False
        assert create.get("previous_response_id") == ids[i - 1]
    assert [i["type"] for i in creates[-1]["input"]] == ["custom_tool_call_output"]
    # Warm-up generated nothing upstream: three answers, three upstream calls.
    assert sock.turns()[0][-1]["response"]["output"] == []


def _params(body: dict[str, Any], name: str) -> dict[str, Any]:
    for tool in body.get("tools") or []:
        fn = tool.get("function") or {}
        if fn.get("name") == name:
            return dict(fn.get("parameters", {}).get("properties") or {})
    raise AssertionError(f"{name} not declared upstream")


SUMMARY = "SUMMARY: the user asked for big.txt; it was created with printf."


def test_remote_compaction_runs_on_the_socket(
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
    assert gateway_log.posts() == [], [e.path for e in gateway_log.posts()]
    sock = _socket(gateway_log)
    creates = sock.creates()
    triggers = [
        i
        for i, c in enumerate(creates)
        if (c.get("input") or [{}])[-1].get("type") == "compaction_trigger"
    ]
    assert len(triggers) == 1, [(c.get("input") or [{}])[-1] for c in creates]
    turns = sock.turns()
    done = [
        ev["item"] for ev in turns[triggers[0]] if ev.get("type") == "response.output_item.done"
    ]
    assert [i["type"] for i in done] == ["compaction"], done
    assert done[0]["id"].startswith("cmp_") and done[0]["encrypted_content"]
    assert turns[triggers[0] + 1][-1]["type"] == "response.completed"
    assert len(upstream.chat_bodies) == 3


@pytest.fixture
def no_websocket_codex(
    codex_bin: Path, upstream: ScriptedUpstream, tmp_path: Path
) -> Iterator[tuple[CodexSession, GatewayLog]]:
    cfg = make_config(
        tmp_path / "gw-off",
        [provider("generic", "openai_compatible", upstream.base_url + "/v1")],
        aliases=ALIASES,
        server={"websocket": False},
    )
    with run_gateway(cfg) as gw:
        log = attach(gw)
        upstream.script()
        home, work = tmp_path / "codex-home", tmp_path / "work"
        home.mkdir()
        work.mkdir()
        _git(work, "init", "-q")
        yield CodexSession(home, work, gw), log


def test_websocket_off_answers_426_and_codex_falls_back_at_once(
    no_websocket_codex: tuple[CodexSession, GatewayLog], upstream: ScriptedUpstream
) -> None:
    codex, log = no_websocket_codex
    upstream.script(
        tool_call_reply("call_ws_1", "exec_command", {"cmd": "printf ws > ws.txt"}),
        text_reply("Made ws.txt over HTTPS."),
    )

    run = codex.builtin("Create ws.txt.")

    assert run.returncode == 0, run.explain()
    assert (codex.work / "ws.txt").read_text() == "ws"
    # 426 makes Codex 0.169 fall back after ONE upgrade attempt (a 404 costs seven).
    attempts = log.websocket_attempts()
    assert [(e.path, e.status) for e in attempts] == [("/v1/responses", 426)]
    assert [e.status for e in log.posts()] == [200, 200]
    assert CLIENT_KEY  # the same client key the socket path uses
