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


async def load_chain(
    store: SessionStore, response_id: str, max_depth: int, owner: str | None = None
) -> list[StoredResponse]:
    """The chain oldest first, ending with ``response_id``; typed errors for what is wrong.
    Another owner's response is not found, as an unknown id is not."""
    found = await store.load_chain(response_id, max_depth, owner=owner)
    if not found:
        raise InvalidRequestError(
            f"Previous response with id '{response_id}' not found.",
            code="session.previous_response_not_found",
            param="previous_response_id",
        )
    seen = {rec.id for rec in found}
    if len(found) > max_depth:
        raise SessionError(
            f"previous_response_id chain is longer than session.max_depth ({max_depth})",
            code="session.chain_too_deep",
            param="previous_response_id",
        )
    parent = found[-1].previous_response_id
    if parent is not None:
        if parent in seen:
            raise SessionError(
                f"previous_response_id chain has a cycle at '{parent}'",
                code="session.chain_cycle",
                param="previous_response_id",
            )
        raise SessionError(
            f"previous_response_id chain is broken: '{parent}' (an ancestor of "
            f"'{response_id}') was deleted or expired",
            code="session.chain_broken",
            param="previous_response_id",
        )
    found.reverse()
    return found


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
