"""Background responses (``background: true``): answered by a task the gateway owns.

The request returns at once with the Response ``queued``; the turn runs detached from the HTTP
request (a client that leaves does not stop it), keeps its events in memory while it runs, and
is persisted with its builder log at the end, so ``GET ?stream=true&starting_after=N`` resumes
from memory while it runs and from the store afterwards. ``cancel`` ends it ``cancelled``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

from godex.bridge.builder import Event, response_object
from godex.bridge.request import ResponsesRequest
from godex.errors import GodexError, InvalidRequestError
from godex.gateway.context import OWNER, RequestContext
from godex.gateway.core import Gateway
from godex.gateway.persist import persist
from godex.gateway.pipeline import Exchange, OpenedTurn, echo_of, encode_json
from godex.ids import new_id
from godex.logging import get_logger

log = get_logger("godex.gateway")


class BackgroundRun:
    """One running background response: its events so far, and a signal for followers."""

    def __init__(self, response: dict[str, Any], owner: str | None = None) -> None:
        self.response = response  # the latest whole Response (the builder's once it opened)
        self.owner = owner  # the key or team that started it: nobody else sees it
        self.events: list[Event] = []
        self.done = False
        self.task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    def add(self, events: list[Event]) -> None:
        if events:
            self.events.extend(events)
            self._changed.set()

    def finish(self) -> None:
        self.done = True
        self._changed.set()

    def snapshot(self) -> dict[str, Any]:
        return dict(self.response)

    async def events_after(self, seen: int) -> list[Event]:
        """Events past the first ``seen``; waits for some unless the run has ended."""
        while len(self.events) <= seen and not self.done:
            self._changed.clear()
            await self._changed.wait()
        return self.events[seen:]


class BackgroundRuns:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.runs: dict[str, BackgroundRun] = {}

    def get(self, response_id: str) -> BackgroundRun | None:
        """A running response the caller may see (another tenant's reads as not running)."""
        run = self.runs.get(response_id)
        owner = OWNER.get()
        if run is None or (owner is not None and run.owner != owner):
            return None
        return run

    async def start(self, req: ResponsesRequest, ctx: RequestContext) -> BackgroundRun:
        """Check the request as a foreground turn would (4xx now), then run it detached."""
        gateway = self.gateway
        if not req.store or gateway.services.sessions is None:
            raise InvalidRequestError(
                "Background responses need store=true and stored sessions on this gateway.",
                code="session.background_needs_store",
                param="background",
            )
        req = await gateway.inline_files(req)
        routes = gateway.services.router.candidates(req.model)
        route = gateway.route(req, ctx) if len(routes) == 1 else routes[0]
        history = await gateway.history(req)
        gateway.plan(req, history, route)  # bad input is a 400 here, not a failed response
        req = dataclasses.replace(req, stream=True, response_id=new_id("resp"))
        assert req.response_id is not None
        queued = response_object(req.response_id, req.model, int(time.time()), echo_of(req))
        queued["status"] = "queued"
        run = BackgroundRun(queued, owner=OWNER.get())
        self.runs[req.response_id] = run
        run.task = asyncio.get_running_loop().create_task(self._drive(run, req, ctx, history))
        return run

    async def _drive(
        self, run: BackgroundRun, req: ResponsesRequest, ctx: RequestContext, history: Any
    ) -> None:
        exchange: OpenedTurn | None = None
        opened: Exchange | None = None
        try:
            opened = await self.gateway.open(req, ctx, history)
            assert isinstance(opened, OpenedTurn)  # every kind of turn is one
            exchange = opened
            run.response = exchange.builder.response
            run.add(exchange.start())
            async for batch in exchange.stream():
                run.add(batch)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            await self._cancelled(run, req, exchange)
        except GodexError as err:
            await self._failed_to_open(run, req, err)
        except Exception:
            log.exception("background_response_failed", response_id=req.response_id)
            await self._failed_to_open(run, req, GodexError("internal error"))
        finally:
            if opened is not None:
                opened.close()
            run.finish()
            self.runs.pop(str(req.response_id), None)

    async def _cancelled(
        self, run: BackgroundRun, req: ResponsesRequest, exchange: OpenedTurn | None
    ) -> None:
        if exchange is None:
            await self._end_unopened(run, req, "cancelled", None)
            return
        builder = exchange.builder
        run.add(builder.cancel())
        run.response = builder.response
        await self.gateway.persist(req, exchange.route, builder.response, builder=builder)

    async def _failed_to_open(
        self, run: BackgroundRun, req: ResponsesRequest, err: GodexError
    ) -> None:
        await self._end_unopened(run, req, "failed", err)

    async def _end_unopened(
        self, run: BackgroundRun, req: ResponsesRequest, status: str, err: GodexError | None
    ) -> None:
        """A run that ended before its turn opened: the queued Response, ended."""
        response = run.snapshot()
        response["status"] = status
        response["completed_at"] = int(time.time())
        if err is not None:
            response["error"] = err.to_response_error()
        seq = len(run.events)
        events: list[Event] = []
        if not run.events:
            events.append(
                {"type": "response.queued", "sequence_number": 0, "response": run.snapshot()}
            )
            seq = 1
        events.append({"type": f"response.{status}", "sequence_number": seq, "response": response})
        run.response = response
        run.add(events)
        routes = self.gateway.services.router.candidates(req.model)
        store = self.gateway.services.sessions
        if store is not None and routes:
            await persist(store, req, routes[0], response, encode_json(response), None)

    async def cancel(self, response_id: str) -> dict[str, Any] | None:
        """Cancel a running background response; its final Response, or None if not running."""
        run = self.get(response_id)
        if run is None or run.task is None:
            return None
        run.task.cancel()
        await asyncio.shield(run.task)
        return run.snapshot()

    async def shutdown(self) -> None:
        """Cancel what still runs (each ends ``cancelled`` and is persisted)."""
        for response_id in list(self.runs):
            try:
                await self.cancel(response_id)
            except Exception:
                log.exception("background_cancel_failed", response_id=response_id)
