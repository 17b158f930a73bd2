"""The Anthropic Messages and Chat Completions doors over HTTP: routes' bodies and SSE framing.

Parsing and encoding live in ``godex.frontdoors``; the exchange runs through the same
``ExchangeRunner`` as ``/v1/responses`` (disconnects, drain, payload capture).
"""

from __future__ import annotations

import msgspec

from godex.bridge.builder import Event
from godex.frontdoors.anthropic.catalog import estimate_tokens, models_page
from godex.frontdoors.anthropic.encode import MessagesStream, message
from godex.frontdoors.anthropic.request import parse_messages
from godex.frontdoors.chat.encode import ChatStream, completion
from godex.frontdoors.chat.request import parse_chat
from godex.frontdoors.common import failed
from godex.gateway.context import RequestContext
from godex.gateway.pipeline import Completed
from godex.server.http import Receive, Send, send_json
from godex.server.responses import ExchangeRunner
from godex.server.sse import encode_data_events, encode_events

_encode = msgspec.json.Encoder().encode
_DONE = b"data: [DONE]\n\n"


class _MessagesFraming:
    def __init__(self, display_thinking: bool) -> None:
        self.display = display_thinking
        self.encoder = MessagesStream(display_thinking)

    def stream(self, events: list[Event]) -> bytes:
        return encode_events(self.encoder.feed(events))

    def sync(self, done: Completed) -> bytes:
        if done.response.get("status") == "failed":
            raise failed(done.response)
        return _encode(message(done.response, self.display))


class _ChatFraming:
    def __init__(self, include_usage: bool) -> None:
        self.encoder = ChatStream(include_usage)

    def stream(self, events: list[Event]) -> bytes:
        body = encode_data_events(self.encoder.feed(events))
        return body + _DONE if self.encoder.done else body

    def sync(self, done: Completed) -> bytes:
        if done.response.get("status") == "failed":
            raise failed(done.response)
        return _encode(completion(done.response))


class DoorsHandler(ExchangeRunner):
    async def messages(
        self, body: bytes, ctx: RequestContext, receive: Receive, send: Send
    ) -> None:
        parsed = parse_messages(body)
        self.capture(body, ctx)
        turn = parsed.turn
        framing = _MessagesFraming(parsed.display_thinking)
        await self.run(self.gateway.open(turn, ctx), turn.stream, ctx, receive, send, framing)

    async def count_tokens(self, body: bytes, ctx: RequestContext, send: Send) -> None:
        turn = parse_messages(body, count_only=True).turn
        ctx.requested_model = turn.model
        await send_json(send, 200, {"input_tokens": estimate_tokens(turn)})

    async def chat(self, body: bytes, ctx: RequestContext, receive: Receive, send: Send) -> None:
        parsed = parse_chat(body)
        self.capture(body, ctx)
        turn = parsed.turn
        framing = _ChatFraming(parsed.include_usage)
        await self.run(self.gateway.open(turn, ctx), turn.stream, ctx, receive, send, framing)

    async def anthropic_models(self, send: Send) -> None:
        await send_json(send, 200, models_page(self.gateway.services.router.model_ids()))
