"""The Anthropic Messages and Chat Completions doors over HTTP: routes' bodies and SSE framing.

Parsing and encoding live in ``godex.frontdoors``; the exchange runs through the same
``ExchangeRunner`` as ``/v1/responses`` (disconnects, drain, payload capture).
"""

from __future__ import annotations

from typing import Any

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
_TEXT_DELTA = "response.output_text.delta"
# A paced stream's batches are mostly one text delta each. Both framings write that batch from
# cached bytes around the encoded text instead of building the door's event and encoding it
# whole: the same bytes (tests/unit/test_door_framing.py), a third of the instructions a batch
# (cachegrind: Messages 14.5k -> 5.7k, Chat 15.6k -> 4.5k; Responses framing takes 7.3k).
_BLOCK_DELTA = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":'
_TEXT_DELTA_MID = b',"delta":{"type":"text_delta","text":'
_CHUNK_TAIL = b'},"finish_reason":null,"logprobs":null}]}\n\n'


class _MessagesFraming:
    def __init__(self, display_thinking: bool) -> None:
        self.display = display_thinking
        self.encoder = MessagesStream(display_thinking)

    def stream(self, events: list[Event]) -> bytes:
        if len(events) == 1 and events[0]["type"] == _TEXT_DELTA:
            event = events[0]
            index = self.encoder.block_index(event["output_index"])
            if index is not None and event["delta"]:
                return b"%s%d%s%s}}\n\n" % (
                    _BLOCK_DELTA,
                    index,
                    _TEXT_DELTA_MID,
                    _encode(event["delta"]),
                )
        return encode_events(self.encoder.feed(events))

    def sync(self, done: Completed) -> bytes:
        if done.response.get("status") == "failed":
            raise failed(done.response)
        return _encode(message(done.response, self.display))


class _ChatFraming:
    def __init__(self, include_usage: bool) -> None:
        self.encoder = ChatStream(include_usage)
        self._head_base: dict[str, Any] | None = None
        self._head = b""

    def stream(self, events: list[Event]) -> bytes:
        if len(events) == 1 and events[0]["type"] == _TEXT_DELTA and events[0]["delta"]:
            head = self._text_head()
            if head:
                return head + _encode(events[0]["delta"]) + _CHUNK_TAIL
        body = encode_data_events(self.encoder.feed(events))
        return body + _DONE if self.encoder.done else body

    def sync(self, done: Completed) -> bytes:
        if done.response.get("status") == "failed":
            raise failed(done.response)
        return _encode(completion(done.response))

    def _text_head(self) -> bytes:
        """A text chunk up to its content: ``data: {"id":...,"model":...,"choices":[...`` (empty
        until ``response.created`` has given the chunks their fields)."""
        base = self.encoder.base
        if base is not self._head_base:
            self._head_base = base
            fields = _encode(base)[:-1]  # the object without its closing brace
            opening = b',"choices":[{"index":0,"delta":{"content":'
            self._head = b"data: " + fields + opening if base else b""
        return self._head


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
