"""HTTP endpoints on stored responses: retrieve (JSON or replayed SSE), delete, input_items."""

from __future__ import annotations

from godex.errors import InvalidRequestError, NotFoundError
from godex.gateway.background import BackgroundRuns
from godex.gateway.stored import StoredResponses
from godex.server.background import follow
from godex.server.http import SSE_HEADERS, Scope, Send, paging, query_params, send_json
from godex.server.sse import encode_events


class StoredResponsesHandler:
    def __init__(self, stored: StoredResponses, background: BackgroundRuns | None = None) -> None:
        self.stored = stored
        self.background = background

    async def dispatch(self, method: str, rest: str, scope: Scope, send: Send) -> None:
        response_id, _, tail = rest.partition("/")
        if not response_id:
            raise NotFoundError(f"Unknown route: {method} {scope['path']}", code="server.not_found")
        if tail == "" and method == "GET":
            await self.retrieve(response_id, scope, send)
        elif tail == "" and method == "DELETE":
            await self.stored.delete(response_id)
            await send_json(
                send, 200, {"id": response_id, "object": "response.deleted", "deleted": True}
            )
        elif tail == "input_items" and method == "GET":
            await self.input_items(response_id, scope, send)
        elif tail == "cancel" and method == "POST":
            await self.cancel(response_id, send)
        else:
            raise NotFoundError(f"Unknown route: {method} {scope['path']}", code="server.not_found")

    async def cancel(self, response_id: str, send: Send) -> None:
        final = await self.background.cancel(response_id) if self.background else None
        if final is not None:
            await send_json(send, 200, final)
            return
        rec = await self.stored.get(response_id)
        if rec.response.get("background") and rec.status == "cancelled":
            await send_json(send, 200, rec.response)  # cancelling twice answers the same
            return
        if rec.response.get("background"):
            raise InvalidRequestError(
                f"Cannot cancel a response with status '{rec.status}': it has already ended.",
                code="session.not_cancellable",
            )
        raise InvalidRequestError(
            "Only background responses can be cancelled.", code="session.not_cancellable"
        )

    async def retrieve(self, response_id: str, scope: Scope, send: Send) -> None:
        params = query_params(scope)
        streamed = params.get("stream", "").lower() in ("true", "1")
        cut = _starting_after(params.get("starting_after"))
        run = self.background.get(response_id) if self.background else None
        if run is not None:
            # Still running: its events so far come from memory, the rest as they happen.
            if streamed:
                await follow(run, send, cut)
            else:
                await send_json(send, 200, run.snapshot())
            return
        rec = await self.stored.get(response_id)
        if not streamed:
            await send_json(send, 200, rec.response)
            return
        events = self.stored.events(rec)
        if cut is not None:
            events = [e for e in events if e["sequence_number"] > cut]
        await send({"type": "http.response.start", "status": 200, "headers": list(SSE_HEADERS)})
        await send({"type": "http.response.body", "body": encode_events(events)})

    async def input_items(self, response_id: str, scope: Scope, send: Send) -> None:
        limit, order, after = paging(scope)
        page = await self.stored.input_items(response_id, after=after, limit=limit, order=order)
        await send_json(send, 200, page)


def _starting_after(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise InvalidRequestError(
            "starting_after must be an integer sequence number", param="starting_after"
        ) from exc
