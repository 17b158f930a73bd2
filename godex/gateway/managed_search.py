"""Managed web search: the rounds of one turn whose model calls GodeX's search function.

The model's calls to the search function never reach the client as function calls: each runs
against the configured backend and becomes a ``web_search_call`` item (in_progress, searching,
completed), its results go back to the model as the function's output, and the next round is
one more upstream call, fed into the same Response. At ``web_search.max_iterations`` the last
round is asked without the search function, so it answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from godex.bridge.builder import Fed
from godex.bridge.items.web_search_call import SearchDone, SearchStarted
from godex.bridge.plan import BridgePlan
from godex.errors import GodexError
from godex.gateway.context import RequestContext
from godex.gateway.failover import Opened, open_round
from godex.gateway.pipeline import Pipeline, encode_json
from godex.gateway.routing import Route
from godex.gateway.websearch import SearchBackend, results_text, sources
from godex.logging import get_logger
from godex.protocol.deltas import Delta, Finish, ReasoningDelta, TextDelta, ToolCallDelta, Usage

log = get_logger("godex.gateway")
_decode = msgspec.json.Decoder().decode
RESULTS_PER_SEARCH = 5


@dataclass(slots=True)
class _Call:
    id: str
    arguments: list[str] = field(default_factory=list)

    def query(self) -> str:
        try:
            args: Any = _decode("".join(self.arguments) or "{}")
        except msgspec.DecodeError:
            return "".join(self.arguments)
        value = args.get("query") if isinstance(args, dict) else None
        return value if isinstance(value, str) else ""


class SearchRounds:
    """A drop-in for the upstream stream (``read``) or body (``batches``) of a turn."""

    def __init__(
        self,
        pipeline: Pipeline,
        opened: Opened,
        backend: SearchBackend,
        ctx: RequestContext,
        stream: bool,
    ) -> None:
        self.pipeline = pipeline
        self.route: Route = opened.route
        self.plan: BridgePlan = opened.plan
        self.function = str(opened.plan.notes["managed_search"])
        self.backend = backend
        self.ctx = ctx
        self.stream = stream
        self.max_iterations = pipeline.services.config.web_search.max_iterations
        self.body = dict(opened.plan.chat.body)
        self.messages: list[dict[str, Any]] = list(self.body.get("messages") or [])
        self.iterations = 0
        self._current = opened
        self._gen = self._steps()
        self._reset_round()

    def _reset_round(self) -> None:
        self.calls: dict[int, _Call] = {}
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.finish: Finish | None = None
        self.usage: Usage | None = None

    def close(self) -> None:
        self._current.close()

    async def read(self) -> list[Fed] | None:
        return await anext(self._gen, None)

    async def batches(self) -> AsyncIterator[list[Fed]]:
        async for batch in self._gen:
            yield batch

    # -- one round's deltas -------------------------------------------------------------------
    def _keep(self, deltas: list[Delta]) -> list[Fed]:
        out: list[Fed] = []
        for d in deltas:
            if isinstance(d, ToolCallDelta) and (d.index in self.calls or d.name == self.function):
                call = self.calls.setdefault(d.index, _Call(d.id or f"call_ws_{d.index}"))
                if d.arguments:
                    call.arguments.append(d.arguments)
                continue
            if isinstance(d, Usage):
                self.usage = d  # within a round the last one wins; rounds add up
                continue
            if isinstance(d, Finish):
                self.finish = d
                continue
            if isinstance(d, TextDelta):
                self.text.append(d.text)
            elif isinstance(d, ReasoningDelta):
                self.reasoning.append(d.text)
            out.append(d)
        return out

    async def _round_deltas(self, opened: Opened) -> AsyncIterator[list[Fed]]:
        yield self._keep(opened.deltas)
        failure, opened.failure = opened.failure, None
        if failure is not None:
            raise failure
        source = opened.source
        if source is None:
            return
        while (batch := await source.read()) is not None:
            yield self._keep(batch)

    # -- the rounds ---------------------------------------------------------------------------
    async def _steps(self) -> AsyncIterator[list[Fed]]:
        usage: Usage | None = None
        while True:
            async for batch in self._round_deltas(self._current):
                yield batch
            if self.usage is not None:
                usage = self.usage if usage is None else _add(usage, self.usage)
            if not self.calls:
                break
            self.iterations += 1
            yield []  # a quiet tick: a keep-alive may go out before the searches
            replies: list[dict[str, Any]] = []
            calls = [self.calls[i] for i in sorted(self.calls)]
            for call in calls:
                query = call.query()
                yield [SearchStarted(call.id, query)]
                try:
                    hits = await self.backend.search(query, RESULTS_PER_SEARCH)
                    text = results_text(query, hits)
                except GodexError as err:
                    # The model hears the search failed and answers anyway: never a hang.
                    log.warning("web_search_failed", code=err.code, request_id=self.ctx.request_id)
                    hits, text = [], f"The web search failed: {err.message}"
                yield [SearchDone(call.id, query, sources(hits))]
                replies.append({"role": "tool", "tool_call_id": call.id, "content": text})
            self._extend_history(calls, replies)
            self._current.close()
            self._current = await self._next_round()
        tail: list[Fed] = []
        if usage is not None:
            tail.append(usage)
        tail.append(self.finish or Finish("stop"))
        yield tail

    def _extend_history(self, calls: list[_Call], replies: list[dict[str, Any]]) -> None:
        assistant: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(self.text),
            "tool_calls": [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": self.function, "arguments": "".join(c.arguments)},
                }
                for c in calls
            ],
        }
        if self.reasoning and self.route.spec.replay_reasoning:
            # Providers in thinking mode want their reasoning back with the calls.
            assistant["reasoning_content"] = "".join(self.reasoning)
        self.messages += [assistant, *replies]
        self._reset_round()

    async def _next_round(self) -> Opened:
        body = {**self.body, "messages": self.messages}
        if self.iterations >= self.max_iterations:
            # Out of searches: the last round is asked without the search function.
            tools = [t for t in body.get("tools") or [] if t["function"]["name"] != self.function]
            body.pop("tool_choice", None)
            if tools:
                body["tools"] = tools
            else:
                body.pop("tools", None)
                body.pop("parallel_tool_calls", None)
        return await open_round(
            self.pipeline, self.route, self.plan, encode_json(body), self.ctx, self.stream
        )


def _add(a: Usage, b: Usage) -> Usage:
    return Usage(
        a.input_tokens + b.input_tokens,
        a.output_tokens + b.output_tokens,
        a.cached_tokens + b.cached_tokens,
        a.reasoning_tokens + b.reasoning_tokens,
        a.total + b.total,
        a.cache_write_tokens + b.cache_write_tokens,
    )
