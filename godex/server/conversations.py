"""HTTP endpoints of the Conversations API (``/v1/conversations``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from godex.errors import NotFoundError
from godex.frontdoors.common import decode_object
from godex.gateway.conversations import Conversations
from godex.server.http import Scope, Send, paging, send_json

ReadBody = Callable[[], Awaitable[bytes]]


class ConversationsHandler:
    def __init__(self, conversations: Conversations) -> None:
        self.conversations = conversations

    async def dispatch(
        self, method: str, rest: str, scope: Scope, read_body: ReadBody, send: Send
    ) -> None:
        """``rest``: the path after ``/v1/conversations`` (empty, ``/{id}``, ``/{id}/items``,
        ``/{id}/items/{item_id}``)."""
        convs = self.conversations
        parts = [p for p in rest.split("/") if p]
        if not parts and method == "POST":
            body = decode_object(await read_body() or b"{}")
            await send_json(send, 200, await convs.create(body))
            return
        if len(parts) == 1:
            conv_id = parts[0]
            if method == "GET":
                await send_json(send, 200, await convs.get(conv_id))
                return
            if method == "POST":
                body = decode_object(await read_body())
                await send_json(send, 200, await convs.update(conv_id, body))
                return
            if method == "DELETE":
                await send_json(send, 200, await convs.delete(conv_id))
                return
        if len(parts) == 2 and parts[1] == "items":
            conv_id = parts[0]
            if method == "GET":
                limit, order, after = paging(scope)
                page = await convs.list_items(conv_id, after=after, limit=limit, order=order)
                await send_json(send, 200, page)
                return
            if method == "POST":
                body = decode_object(await read_body())
                await send_json(send, 200, await convs.add_items(conv_id, body))
                return
        if len(parts) == 3 and parts[1] == "items":
            conv_id, item_id = parts[0], parts[2]
            if method == "GET":
                await send_json(send, 200, await convs.get_item(conv_id, item_id))
                return
            if method == "DELETE":
                await send_json(send, 200, await convs.delete_item(conv_id, item_id))
                return
        raise NotFoundError(f"Unknown route: {method} {scope['path']}", code="server.not_found")
