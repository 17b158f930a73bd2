"""Persist a finished turn in the session store (before its terminal event goes out)."""

from __future__ import annotations

import time
from typing import Any

from godex.bridge.request import ResponsesRequest
from godex.gateway.context import OWNER
from godex.gateway.routing import Route
from godex.logging import get_logger
from godex.sessions.store import SessionStore, StoredResponse

log = get_logger("godex.gateway")


def reasoning_texts(output: list[dict[str, Any]]) -> dict[str, str]:
    """Raw provider reasoning per reasoning item: what a provider needs back next turn."""
    found: dict[str, str] = {}
    for item in output:
        if item.get("type") != "reasoning":
            continue
        parts = item.get("content") or item.get("summary") or []
        text = "".join(p.get("text", "") for p in parts if isinstance(p, dict))
        if text and item.get("id"):
            found[item["id"]] = text
    return found


async def persist(
    store: SessionStore,
    req: ResponsesRequest,
    route: Route,
    response: dict[str, Any],
    encoded: bytes | None,
    replay: bytes | None,
) -> None:
    output = response.get("output") or []
    rec = StoredResponse(
        id=response["id"],
        previous_response_id=req.previous_response_id,
        created_at=int(response.get("created_at") or time.time()),
        status=response.get("status") or "completed",
        model=req.model,
        provider=route.provider.name,
        upstream_model=route.upstream_model,
        input_items=req.input_items,
        output_items=output,
        response=response,
        usage=response.get("usage"),
        reasoning=reasoning_texts(output),
        response_json=encoded,
        replay=replay,
        owner=OWNER.get(),
    )
    try:
        await store.put(rec)
    except Exception:  # storage trouble must not take the user's answer with it
        log.exception("session_write_failed", response_id=rec.id)
