"""``local_shell`` / ``shell`` tools: a function taking a ``command`` array upstream."""

from __future__ import annotations

import json
from typing import Any

from godex.bridge.items.base import CallCodec, DeclareContext, ToolCall, parse_object

_PARAMETERS = {
    "type": "object",
    "properties": {
        "command": {
            "type": "array",
            "items": {"type": "string"},
            "description": 'The command and its arguments, e.g. ["bash", "-lc", "ls -la"].',
        },
        "workdir": {"type": "string", "description": "Working directory for the command."},
        "timeout_ms": {"type": "integer", "description": "Timeout in milliseconds."},
    },
    "required": ["command"],
}


class LocalShellCall(CallCodec):
    kind = "local_shell"
    item_type = "local_shell_call"
    output_types = ("local_shell_call_output",)
    tool_types = ("local_shell", "shell")
    id_prefix = "lsh"

    def declare(
        self, tool: dict[str, Any], where: str, ctx: DeclareContext, namespace: str | None
    ) -> None:
        ctx.add(
            "local_shell",
            "shell",
            None,
            _PARAMETERS,
            "Run a shell command on the user's machine and return its output.",
        )

    def history_call(self, item: dict[str, Any]) -> tuple[str, str]:
        action = item.get("action") or {}
        args: dict[str, Any] = {"command": action.get("command") or []}
        if action.get("working_directory"):
            args["workdir"] = action["working_directory"]
        if action.get("timeout_ms"):
            args["timeout_ms"] = action["timeout_ms"]
        return "shell", json.dumps(args, ensure_ascii=False)

    def output_call_id(self, item: dict[str, Any]) -> Any:
        # Its output names the call by ``id`` (the call's call_id) in the published shape.
        return item.get("id") or item.get("call_id")

    def item(self, call: ToolCall, status: str, *, initial: bool) -> dict[str, Any]:
        parsed = {} if initial else parse_object("".join(call.args))
        command = parsed.get("command")
        if isinstance(command, str):
            command = ["bash", "-lc", command]
        env = parsed.get("env")
        return {
            "id": call.item_id,
            "type": "local_shell_call",
            "status": status,
            "call_id": call.call_id,
            "action": {
                "type": "exec",
                "command": command if isinstance(command, list) else [],
                "env": env if isinstance(env, dict) else {},
                "timeout_ms": parsed.get("timeout_ms"),
                "user": parsed.get("user"),
                "working_directory": parsed.get("workdir") or parsed.get("working_directory"),
            },
        }


CODEC = LocalShellCall()
