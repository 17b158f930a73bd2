"""The conversation a turn continues: the stored ``previous_response_id`` chain, if any."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from godex.bridge.compaction import trim_before_compaction
from godex.bridge.messages import Resolver, unknown_reference
from godex.bridge.request import ResponsesRequest
from godex.bridge.sealing import Sealer
from godex.errors import InvalidRequestError
from godex.gateway.context import OWNER
from godex.gateway.conversations import Conversations
from godex.sessions.chain import chain_history, load_chain, resolve_item
from godex.sessions.store import SessionStore


@dataclass(slots=True)
class History:
    items: list[dict[str, Any]] = field(default_factory=list)
    resolve: Resolver | None = None  # item_reference id -> the stored item


NO_HISTORY = History()


def reference_ids(input_items: list[dict[str, Any]]) -> list[str]:
    return [
        str(item["id"])
        for item in input_items
        if item.get("type") == "item_reference" and isinstance(item.get("id"), str)
    ]


async def stored_references(
    ids: list[str], store: SessionStore | None, found: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """``ids`` resolved from any stored response (the Vercel AI SDK sends its whole history
    as references, with no ``previous_response_id``); the first unknown one is a 400."""
    missing = [i for i in ids if i not in found]
    if missing and store is not None:
        found = {**found, **await store.find_items(missing, owner=OWNER.get())}
    for item_id in ids:
        if item_id not in found:
            raise unknown_reference(item_id)
    return found


async def load_history(
    req: ResponsesRequest, store: SessionStore | None, max_depth: int, sealer: Sealer
) -> History:
    refs = reference_ids(req.input_items)
    if req.conversation is not None:
        return await _conversation_history(req, store, refs, sealer)
    if not req.previous_response_id:
        if not refs:
            return NO_HISTORY
        table = await stored_references(refs, store, {})
        return History([], table.get)
    if store is None:
        raise InvalidRequestError(
            "previous_response_id needs stored responses, and sessions are disabled "
            "on this gateway (session.enabled: false)",
            code="session.disabled",
            wire_code="previous_response_not_found",
            param="previous_response_id",
        )
    chain = await load_chain(store, req.previous_response_id, max_depth, OWNER.get())
    from_chain: dict[str, dict[str, Any]] = {}
    for item_id in refs:
        item = resolve_item(chain, item_id)
        if item is not None:
            from_chain[item_id] = item
    others = await stored_references(refs, store, from_chain)

    def resolve(item_id: str) -> dict[str, Any] | None:
        return others.get(item_id) or resolve_item(chain, item_id)

    return History(trim_before_compaction(chain_history(chain), sealer), resolve)


async def _conversation_history(
    req: ResponsesRequest, store: SessionStore | None, refs: list[str], sealer: Sealer
) -> History:
    """A conversation's items in front of the input; references resolve from them first."""
    if req.previous_response_id:
        raise InvalidRequestError(
            "Mutually exclusive parameters: Ensure you are only providing one of: "
            "'previous_response_id' or 'conversation'.",
            code="session.conversation_and_previous_response",
            param="conversation",
            wire_code="mutually_exclusive_parameters",
        )
    assert req.conversation is not None
    items = await Conversations(store).items(req.conversation)
    by_id = {i["id"]: i for i in items if isinstance(i.get("id"), str)}
    table = await stored_references(refs, store, {r: by_id[r] for r in refs if r in by_id})
    return History(trim_before_compaction(items, sealer), table.get)
