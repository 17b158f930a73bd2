"""Remote compaction: Codex asks the gateway to fold a long conversation into one item.

A request whose last input item is ``{"type":"compaction_trigger"}`` (compaction v2), or a
``POST /v1/responses/compact`` (the older form), makes one upstream call that asks the model
for a summary with no tools offered. The answer is a single ``compaction`` item whose
``encrypted_content`` is the summary, sealed like reasoning content. When a later request
replays that item, the upstream receives the summary as context in its place.
"""

from __future__ import annotations

from typing import Any

from godex.bridge.diagnostics import Diagnostics
from godex.bridge.sealing import Sealer
from godex.errors import InvalidRequestError
from godex.ids import new_id

KIND = "compaction"

SUMMARY_INSTRUCTION = (
    "The conversation above is about to be replaced by a summary because it grew too long. "
    "Write that summary now, for yourself, so you can continue the work without the original "
    "messages. Include: the user's goals and constraints in their own terms; decisions made "
    "and why; files, commands, identifiers and values that matter (exactly as written); what "
    "has been done, what was verified, and what is still open or failing; the next step you "
    "were about to take. Be complete but dense. Do not call tools. Reply with the summary only."
)

SUMMARY_PREFIX = (
    "Summary of the earlier part of this conversation (it replaces the original messages):\n\n"
)


def has_trigger(items: list[dict[str, Any]]) -> bool:
    """True when the request is a compaction request; a misplaced trigger is a 400."""
    found = False
    last = len(items) - 1
    for i, item in enumerate(items):
        if item.get("type") == "compaction_trigger":
            if i != last:
                raise InvalidRequestError(
                    f"input[{i}]: a compaction_trigger item must be the last input item",
                    param="input",
                    wire_code="invalid_value",
                )
            found = True
    return found


def summary_request_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation to summarise: everything before the trigger, then the instruction."""
    body = [i for i in items if i.get("type") != "compaction_trigger"]
    body.append(
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": SUMMARY_INSTRUCTION}],
        }
    )
    return body


def compaction_item(sealer: Sealer, summary: str) -> dict[str, Any]:
    return {
        "type": "compaction",
        "id": new_id("cmp"),
        "encrypted_content": sealer.seal(KIND, {"summary": summary}),
    }


def expand_compactions(
    items: list[dict[str, Any]], sealer: Sealer, diags: Diagnostics
) -> list[dict[str, Any]]:
    """Replace GodeX's own compaction items with their summary; drop foreign ones."""
    if not any(i.get("type") == "compaction" for i in items):
        return items
    out: list[dict[str, Any]] = []
    for item in items:
        if item.get("type") != "compaction":
            out.append(item)
            continue
        payload = sealer.open(KIND, item.get("encrypted_content"))
        summary = payload.get("summary") if payload else None
        if not isinstance(summary, str):
            diags.add(
                "ignored",
                "input.compaction",
                "a compaction item this gateway did not make (or altered) was dropped",
            )
            continue
        diags.add("degraded", "input.compaction", "compaction summary sent as context")
        out.append(
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": SUMMARY_PREFIX + summary}],
            }
        )
    return out


def trim_before_compaction(history: list[dict[str, Any]], sealer: Sealer) -> list[dict[str, Any]]:
    """In a stored chain, what came before GodeX's latest compaction is already summarised."""
    for i in range(len(history) - 1, -1, -1):
        item = history[i]
        if item.get("type") == "compaction" and sealer.open(KIND, item.get("encrypted_content")):
            return history[i:]
    return history


def summary_text(response: dict[str, Any]) -> str:
    """The visible text of the summary call's Response."""
    parts: list[str] = []
    for item in response.get("output") or []:
        if item.get("type") == "message":
            for part in item.get("content") or []:
                if part.get("type") == "output_text":
                    parts.append(part.get("text", ""))
    return "".join(parts).strip()
