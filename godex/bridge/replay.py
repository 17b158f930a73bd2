"""The SSE events of a stored Response, for ``GET /v1/responses/{id}?stream=true``.

Built by feeding the stored output back through the same ResponseBuilder event shapes, so a
replayed stream satisfies the same clients as a live one.
"""

from __future__ import annotations

from typing import Any


def events_for_response(response: dict[str, Any]) -> list[dict[str, Any]]:
    seq = 0
    events: list[dict[str, Any]] = []

    def ev(kind: str, **fields: Any) -> None:
        nonlocal seq
        events.append({"type": kind, "sequence_number": seq, **fields})
        seq += 1

    snapshot = {**response, "status": "in_progress", "output": [], "usage": None}
    ev("response.created", response=snapshot)
    ev("response.in_progress", response=snapshot)
    for index, item in enumerate(response.get("output") or []):
        kind = item.get("type")
        item_id = item.get("id")
        ids = {"item_id": item_id, "output_index": index}
        if kind == "message":
            ev("response.output_item.added", output_index=index, item={**item, "content": []})
            for ci, part in enumerate(item.get("content") or []):
                empty = {**part, "text": ""} if part.get("type") == "output_text" else part
                ev("response.content_part.added", **ids, content_index=ci, part=empty)
                if part.get("type") == "output_text":
                    text = part.get("text") or ""
                    ev(
                        "response.output_text.delta",
                        **ids,
                        content_index=ci,
                        delta=text,
                        logprobs=[],
                    )
                    ev("response.output_text.done", **ids, content_index=ci, text=text, logprobs=[])
                ev("response.content_part.done", **ids, content_index=ci, part=part)
        elif kind == "reasoning":
            ev("response.output_item.added", output_index=index, item={**item, "summary": []})
            for si, part in enumerate(item.get("summary") or []):
                text = part.get("text") or ""
                ev(
                    "response.reasoning_summary_part.added",
                    **ids,
                    summary_index=si,
                    part={"type": "summary_text", "text": ""},
                )
                ev("response.reasoning_summary_text.delta", **ids, summary_index=si, delta=text)
                ev("response.reasoning_summary_text.done", **ids, summary_index=si, text=text)
                ev("response.reasoning_summary_part.done", **ids, summary_index=si, part=part)
        elif kind == "function_call":
            args = item.get("arguments") or ""
            ev("response.output_item.added", output_index=index, item={**item, "arguments": ""})
            ev("response.function_call_arguments.delta", **ids, delta=args)
            ev("response.function_call_arguments.done", **ids, arguments=args)
        elif kind == "custom_tool_call":
            text = item.get("input") or ""
            ev("response.output_item.added", output_index=index, item={**item, "input": ""})
            ev("response.custom_tool_call_input.delta", **ids, delta=text)
            ev("response.custom_tool_call_input.done", **ids, input=text)
        else:
            ev("response.output_item.added", output_index=index, item=item)
        ev("response.output_item.done", output_index=index, item=item)
    status = response.get("status") or "completed"
    terminal = {"incomplete": "response.incomplete", "failed": "response.failed"}.get(
        status, "response.completed"
    )
    ev(terminal, response=response)
    return events
