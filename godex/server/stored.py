"""Endpoints on stored responses: retrieve (JSON or replayed SSE), delete, input_items."""

from __future__ import annotations

from typing import Any

from godex.bridge.replay import events_for_response
from godex.bridge.sse import encode_events
from godex.errors import InvalidRequestError, NotFoundError
from godex.server.context import RequestContext
from godex.server.http import SSE_HEADERS, Receive, Scope, Send, query_params, send_json
from godex.server.state import AppState


def not_found(response_id: str) -> NotFoundError:
    return NotFoundError(
        f"Response with id '{response_id}' not found.", code="session.not_found", wire_code=None
    )


class StoredResponsesHandler:
    def __init__(self, state: AppState) -> None:
        self.state = state
        self.compact: Any = None  # set by the compaction module when enabled

    async def dispatch(
        self,
        method: str,
        rest: str,
        scope: Scope,
        receive: Receive,
        send: Send,
        ctx: RequestContext,
    ) -> None:
        if rest == "compact" and method == "POST":
            if self.compact is None:
                raise NotFoundError("Unknown route", code="server.not_found")
            await self.compact(scope, receive, send, ctx)
            return
        response_id, _, tail = rest.partition("/")
        if not response_id:
            raise NotFoundError(f"Unknown route: {method} {scope['path']}", code="server.not_found")
        if tail == "" and method == "GET":
            await self.retrieve(response_id, scope, send)
        elif tail == "" and method == "DELETE":
            await self.delete(response_id, send)
        elif tail == "input_items" and method == "GET":
            await self.input_items(response_id, scope, send)
        elif tail == "cancel" and method == "POST":
            await self._require(response_id)
            raise InvalidRequestError(
                "Only background responses can be cancelled, and this gateway answers every "
                "response in the foreground.",
                code="session.not_cancellable",
            )
        else:
            raise NotFoundError(f"Unknown route: {method} {scope['path']}", code="server.not_found")

    async def _require(self, response_id: str) -> Any:
        store = self.state.sessions
        if store is None:
            raise not_found(response_id)
        rec = await store.get(response_id)
        if rec is None:
            raise not_found(response_id)
        return rec

    async def retrieve(self, response_id: str, scope: Scope, send: Send) -> None:
        rec = await self._require(response_id)
        params = query_params(scope)
        if params.get("stream", "").lower() not in ("true", "1"):
            await send_json(send, 200, rec.response)
            return
        events = events_for_response(rec.response)
        after = params.get("starting_after")
        if after is not None and after != "":
            try:
                cut = int(after)
            except ValueError as exc:
                raise InvalidRequestError(
                    "starting_after must be an integer sequence number", param="starting_after"
                ) from exc
            events = [e for e in events if e["sequence_number"] > cut]
        await send({"type": "http.response.start", "status": 200, "headers": list(SSE_HEADERS)})
        await send({"type": "http.response.body", "body": encode_events(events)})

    async def delete(self, response_id: str, send: Send) -> None:
        store = self.state.sessions
        if store is None or not await store.delete(response_id):
            raise not_found(response_id)
        await send_json(
            send, 200, {"id": response_id, "object": "response.deleted", "deleted": True}
        )

    async def input_items(self, response_id: str, scope: Scope, send: Send) -> None:
        store = self.state.sessions
        if store is None:
            raise not_found(response_id)
        params = query_params(scope)
        try:
            limit = int(params.get("limit") or 20)
        except ValueError as exc:
            raise InvalidRequestError("limit must be an integer", param="limit") from exc
        if not 1 <= limit <= 100:
            raise InvalidRequestError("limit must be between 1 and 100", param="limit")
        order = params.get("order") or "desc"
        if order != "asc" and order != "desc":
            raise InvalidRequestError("order must be 'asc' or 'desc'", param="order")
        page = await store.list_input_items(
            response_id,
            after=params.get("after") or None,
            limit=limit,
            order="asc" if order == "asc" else "desc",
        )
        if page is None:
            raise not_found(response_id)
        await send_json(send, 200, page)
