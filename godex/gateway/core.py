"""The gateway core every front door calls: open a turn, get an ``Exchange``.

``open`` resolves the model, loads history, plans the upstream request, lets the provider patch
it and opens the upstream exchange; anything that fails up to there raises a ``GodexError``
before the client has seen a byte. Compaction turns take their own sequence of the same steps.
"""

from __future__ import annotations

from godex.bridge.compaction import has_trigger
from godex.bridge.request import ResponsesRequest
from godex.gateway.compaction import open_compaction
from godex.gateway.context import RequestContext
from godex.gateway.exchange import TurnExchange
from godex.gateway.failover import open_upstream
from godex.gateway.history import History
from godex.gateway.pipeline import Exchange, Pipeline
from godex.gateway.warmup import open_warmup, wants_warmup


class Gateway(Pipeline):
    async def open(
        self, req: ResponsesRequest, ctx: RequestContext, history: History | None = None
    ) -> Exchange:
        """``history``: the conversation to continue when the caller already holds it (a
        WebSocket connection keeps its last response); otherwise it is loaded from the store."""
        ctx.stream = req.stream
        req = await self.inline_files(req)
        if has_trigger(req.input_items):
            return await open_compaction(self, req, ctx, legacy=False, history=history)
        if wants_warmup(req):
            return await open_warmup(self, req, ctx, history)
        ctx.requested_model = req.model
        routes = self.services.router.candidates(req.model)
        if len(routes) == 1:
            self.route(req, ctx)  # a lone target that cannot be called fails here, at once
        if history is None:
            history = await self.history(req)
        opened = await open_upstream(self, req, ctx, history, routes)
        builder = self.make_builder(req, opened.plan, opened.route, stream=req.stream)
        return TurnExchange(self, req, opened, builder, ctx)

    async def open_legacy_compaction(self, req: ResponsesRequest, ctx: RequestContext) -> Exchange:
        """POST /v1/responses/compact: the unary compaction older Codex versions send."""
        return await open_compaction(self, req, ctx, legacy=True)
