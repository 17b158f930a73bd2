"""What one client connection remembers of its own responses, so it can continue them.

OpenAI's WebSocket mode keeps a connection's recent responses in memory: a ``response.create``
whose ``previous_response_id`` names one of them continues it without a store lookup, which is
why it works with ``store: false``. This keeps, per lane (``stream_id``; ``None`` is the default
lane), the newest response and the whole conversation through it, already cut at its latest
compaction the way a stored chain is. Advancing a lane drops its older response, as OpenAI does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from godex.bridge.compaction import trim_before_compaction
from godex.bridge.request import ResponsesRequest
from godex.bridge.sealing import Sealer
from godex.gateway.history import History


@dataclass(slots=True)
class _Entry:
    response_id: str
    items: list[dict[str, Any]]


class ConnectionHistory:
    def __init__(self, sealer: Sealer) -> None:
        self._sealer = sealer
        self._lanes: dict[str | None, _Entry] = {}

    def lookup(self, response_id: str) -> History | None:
        """The conversation through ``response_id`` if this connection holds it."""
        for entry in self._lanes.values():
            if entry.response_id == response_id:
                return _history(entry.items)
        return None

    def holds(self, response_id: str, lane: str | None) -> bool:
        entry = self._lanes.get(lane)
        return entry is not None and entry.response_id == response_id

    def remember(
        self,
        lane: str | None,
        req: ResponsesRequest,
        history: History,
        response: dict[str, Any],
    ) -> None:
        """Keep ``response`` as the newest on ``lane``; a failed one is not continued from."""
        if response.get("status") == "failed" or not response.get("id"):
            return
        items = [*history.items, *req.input_items, *(response.get("output") or [])]
        self._lanes[lane] = _Entry(response["id"], trim_before_compaction(items, self._sealer))

    def evict(self, response_id: str, lane: str | None) -> None:
        """A continuation on the same lane failed: its parent is not offered again."""
        if self.holds(response_id, lane):
            del self._lanes[lane]


def _history(items: list[dict[str, Any]]) -> History:
    def resolve(item_id: str) -> dict[str, Any] | None:
        return next((i for i in reversed(items) if i.get("id") == item_id), None)

    return History(list(items), resolve)
