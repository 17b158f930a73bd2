"""Real ``codex exec`` sessions through a custom provider block: Codex's tools end to end."""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.conftest import CodexSession
from tests.e2e.gateway_log import GatewayLog
from tests.e2e.scripted_upstream import (
    ScriptedUpstream,
    assistant_tool_call_messages,
    content_text,
    declared_tools,
    text_reply,
    tool_call_reply,
    tool_calls_reply,
    tool_messages,
)
from tests.fakes.replay_upstream import Reply


def _ok(run: Any, upstream: ScriptedUpstream) -> None:
    assert run.returncode == 0, run.explain()
    assert not upstream.problems, f"{upstream.problems}\n{run.explain()}"


def _tool_output(body: dict[str, Any], call_id: str) -> str:
    found = [m for m in tool_messages(body) if m.get("tool_call_id") == call_id]
    assert len(found) == 1, f"no tool message for {call_id}: {body.get('messages')}"
    return content_text(found[0])


def test_exec_command_creates_a_file(
    codex: CodexSession, upstream: ScriptedUpstream, gateway_log: GatewayLog
) -> None:
    cmd = "printf hello > hello.txt && echo wrote-hello"
    upstream.script(
        tool_call_reply("call_exec_1", "exec_command", {"cmd": cmd}),
        text_reply("Created hello.txt for you."),
    )

    run = codex.custom("Create hello.txt containing hello.")

    _ok(run, upstream)
    assert (codex.work / "hello.txt").read_text() == "hello"
    assert "Created hello.txt for you." in run.last_message
    first, second = upstream.chat_bodies
    assert "exec_command" in declared_tools(first)
    # Turn 2 carries the call GodeX restored and the output Codex produced for it.
    (assistant,) = assistant_tool_call_messages(second)
    assert assistant["tool_calls"][0]["id"] == "call_exec_1"
    assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {"cmd": cmd}
    output = _tool_output(second, "call_exec_1")
    assert "wrote-hello" in output and "exited with code 0" in output
    assert [e.status for e in gateway_log.posts()] == [200, 200]


ADD_NOTES = "*** Begin Patch\n*** Add File: notes.txt\n+first line\n*** End Patch\n"
EDIT_BOTH = (
    "*** Begin Patch\n"
    "*** Update File: notes.txt\n"
    "@@\n"
    "-first line\n"
    "+first line, edited\n"
    "+second line\n"
    "*** Update File: README.md\n"
    "@@\n"
    "-e2e work tree\n"
    "+e2e work tree, patched by Codex\n"
    "*** End Patch\n"
)


def _patch_param(body: dict[str, Any]) -> str:
    """The one string parameter GodeX declares upstream for the freeform apply_patch tool."""
    decl = declared_tools(body)["apply_patch"]
    props = decl["parameters"]["properties"]
    assert len(props) == 1, decl
    (name,) = props
    assert props[name]["type"] == "string", decl
    return str(name)


def test_apply_patch_creates_then_edits_files(
    codex: CodexSession, upstream: ScriptedUpstream, gateway_log: GatewayLog
) -> None:
    def add(body: dict[str, Any]) -> Reply:
        return tool_call_reply("call_patch_1", "apply_patch", {_patch_param(body): ADD_NOTES})

    def edit(body: dict[str, Any]) -> Reply:
        if "Success" not in _tool_output(body, "call_patch_1"):
            upstream.problems.append("first patch failed: " + _tool_output(body, "call_patch_1"))
        return tool_call_reply("call_patch_2", "apply_patch", {_patch_param(body): EDIT_BOTH})

    upstream.script(add, edit, text_reply("Both files are patched."))

    run = codex.custom("Add notes.txt, then edit it and README.md.")

    _ok(run, upstream)
    assert (codex.work / "notes.txt").read_text() == "first line, edited\nsecond line\n"
    assert (codex.work / "README.md").read_text() == "e2e work tree, patched by Codex\n"
    assert "Both files are patched." in run.last_message
    # Codex got a freeform custom_tool_call carrying the raw patch, not JSON.
    done = [
        ev["item"]
        for ev in gateway_log.posts()[0].sse_events()
        if ev.get("type") == "response.output_item.done"
    ]
    assert [(i["type"], i["name"], i["input"]) for i in done] == [
        ("custom_tool_call", "apply_patch", ADD_NOTES)
    ]
    # And the replayed custom call reaches the upstream as the same wrapped function call.
    third = upstream.chat_bodies[2]
    calls = [c for m in assistant_tool_call_messages(third) for c in m["tool_calls"]]
    param = _patch_param(third)
    assert [json.loads(c["function"]["arguments"])[param] for c in calls] == [ADD_NOTES, EDIT_BOTH]
    assert "Success" in _tool_output(third, "call_patch_2")


def test_parallel_exec_commands(codex: CodexSession, upstream: ScriptedUpstream) -> None:
    def check(body: dict[str, Any]) -> Reply:
        roles = [m["role"] for m in body["messages"]]
        (assistant,) = assistant_tool_call_messages(body)
        ids = [c["id"] for c in assistant["tool_calls"]]
        # One assistant turn with both calls, then both tool messages.
        if ids != ["call_a", "call_b"] or roles[-3:] != ["assistant", "tool", "tool"]:
            upstream.problems.append(f"bad parallel replay: ids={ids} roles={roles}")
        return text_reply("Made a.txt and b.txt.")

    upstream.script(
        tool_calls_reply(
            [
                ("call_a", "exec_command", {"cmd": "printf A > a.txt"}),
                ("call_b", "exec_command", {"cmd": "printf B > b.txt"}),
            ]
        ),
        check,
    )

    run = codex.custom("Create a.txt and b.txt at the same time.")

    _ok(run, upstream)
    assert (codex.work / "a.txt").read_text() == "A"
    assert (codex.work / "b.txt").read_text() == "B"
    second = upstream.chat_bodies[1]
    assert "exited with code 0" in _tool_output(second, "call_a")
    assert "exited with code 0" in _tool_output(second, "call_b")
    assert "Made a.txt and b.txt." in run.last_message
