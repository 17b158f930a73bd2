"""Stored responses as the gateway serves them: retrieve, replay as events, delete, list input."""

from __future__ import annotations

from typing import Any

from godex.bridge.builder import Event
from godex.bridge.replay import replay_events
from godex.errors import NotFoundError
from godex.gateway.context import OWNER
from godex.gateway.wiring import Services
from godex.sessions.store import Order, StoredResponse


def not_found(response_id: str) -> NotFoundError:
    return NotFoundError(
        f"Response with id '{response_id}' not found.", code="session.not_found", wire_code=""
    )


class StoredResponses:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def get(self, response_id: str) -> StoredResponse:
        store = self.services.sessions
        rec = await store.get(response_id, owner=OWNER.get()) if store is not None else None
        if rec is None:
            raise not_found(response_id)
        return rec

    def events(self, rec: StoredResponse) -> list[Event]:
        """The events its live stream sent (or, for a sync answer, the stream it would have)."""
        return replay_events(rec.response, rec.replay)

    async def delete(self, response_id: str) -> None:
        store = self.services.sessions
        if store is None or not await store.delete(response_id, owner=OWNER.get()):
            raise not_found(response_id)

    async def input_items(
        self, response_id: str, *, after: str | None, limit: int, order: Order
    ) -> dict[str, Any]:
        store = self.services.sessions
        page = (
            await store.list_input_items(
                response_id, after=after, limit=limit, order=order, owner=OWNER.get()
            )
            if store is not None
            else None
        )
        if page is None:
            raise not_found(response_id)
        return page
