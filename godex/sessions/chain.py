"""Rebuild a conversation from ``previous_response_id`` links.

Policy: a ``failed`` response contributes its input items only (its output never reached the
user as an answer); an ``incomplete`` one contributes input and its partial output, since
OpenAI lets a conversation continue from an incomplete response. ``instructions`` are never
carried over: they are not items.
"""

from __future__ import annotations

from typing import Any

from godex.errors import InvalidRequestError, SessionError
from godex.sessions.store import SessionStore, StoredResponse


async def load_chain(store: SessionStore, response_id: str, max_depth: int) -> list[StoredResponse]:
    """The chain oldest first, ending with ``response_id``."""
    chain: list[StoredResponse] = []
    seen: set[str] = set()
    current: str | None = response_id
    while current is not None:
        if current in seen:
            raise SessionError(
                f"previous_response_id chain has a cycle at '{current}'",
                code="session.chain_cycle",
                param="previous_response_id",
            )
        if len(chain) >= max_depth:
            raise SessionError(
                f"previous_response_id chain is longer than session.max_depth ({max_depth})",
                code="session.chain_too_deep",
                param="previous_response_id",
            )
        seen.add(current)
        rec = await store.get(current)
        if rec is None:
            if current == response_id:
                raise InvalidRequestError(
                    f"Previous response with id '{response_id}' not found.",
                    code="session.previous_response_not_found",
                    param="previous_response_id",
                )
            raise SessionError(
                f"previous_response_id chain is broken: '{current}' (an ancestor of "
                f"'{response_id}') was deleted or expired",
                code="session.chain_broken",
                param="previous_response_id",
            )
        chain.append(rec)
        current = rec.previous_response_id
    chain.reverse()
    return chain


def chain_history(chain: list[StoredResponse]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for rec in chain:
        items.extend(rec.input_items)
        if rec.status != "failed":
            items.extend(rec.output_items)
    return items


def resolve_item(chain: list[StoredResponse], item_id: str) -> dict[str, Any] | None:
    for rec in reversed(chain):
        for item in (*rec.output_items, *rec.input_items):
            if item.get("id") == item_id:
                return item
    return None
