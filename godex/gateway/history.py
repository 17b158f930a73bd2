"""The conversation a turn continues: the stored ``previous_response_id`` chain, if any."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from godex.bridge.compaction import trim_before_compaction
from godex.bridge.messages import Resolver
from godex.bridge.request import ResponsesRequest
from godex.bridge.sealing import Sealer
from godex.errors import InvalidRequestError
from godex.gateway.context import OWNER
from godex.sessions.chain import chain_history, load_chain, resolve_item
from godex.sessions.store import SessionStore


@dataclass(slots=True)
class History:
    items: list[dict[str, Any]] = field(default_factory=list)
    resolve: Resolver | None = None  # item_reference id -> the stored item


NO_HISTORY = History()


async def load_history(
    req: ResponsesRequest, store: SessionStore | None, max_depth: int, sealer: Sealer
) -> History:
    if not req.previous_response_id:
        return NO_HISTORY
    if store is None:
        raise InvalidRequestError(
            "previous_response_id needs stored responses, and sessions are disabled "
            "on this gateway (session.enabled: false)",
            code="session.disabled",
            wire_code="previous_response_not_found",
            param="previous_response_id",
        )
    chain = await load_chain(store, req.previous_response_id, max_depth, OWNER.get())

    def resolve(item_id: str) -> dict[str, Any] | None:
        return resolve_item(chain, item_id)

    return History(trim_before_compaction(chain_history(chain), sealer), resolve)
