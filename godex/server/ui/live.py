"""Requests in flight, for the dashboard's Live page.

The running requests' contexts by request id: adding and removing is a dict operation, so the hot
path pays next to nothing, and the page reads a snapshot when it polls. GodexApp wires it
(`InFlight.of(services).enter(ctx)` at the start of `_http`, `.leave(ctx)` in its `finally`);
until then the Live page shows counts only.
"""

from __future__ import annotations

import time
from typing import Any

from godex.gateway.context import RequestContext

_KEY = "ui_in_flight"
_SHOWN = 200  # a bound on one poll's answer


class InFlight:
    def __init__(self) -> None:
        self._running: dict[str, RequestContext] = {}

    @classmethod
    def of(cls, services: Any) -> InFlight:
        found = services.extra.get(_KEY)
        if not isinstance(found, InFlight):
            found = cls()
            services.extra[_KEY] = found
        return found

    @staticmethod
    def wired(services: Any) -> InFlight | None:
        found = services.extra.get(_KEY)
        return found if isinstance(found, InFlight) else None

    def enter(self, ctx: RequestContext) -> None:
        self._running[ctx.request_id] = ctx

    def leave(self, ctx: RequestContext) -> None:
        self._running.pop(ctx.request_id, None)

    def snapshot(self) -> list[dict[str, Any]]:
        now = time.perf_counter()
        rows = [
            {
                "request_id": c.request_id,
                "route": c.route,
                "key": c.client_key_id,
                "model": c.requested_model,
                "provider": c.provider,
                "upstream_model": c.upstream_model,
                "stream": c.stream,
                "started": c.ts,
                "elapsed_ms": round((now - c.t0) * 1000, 1),
                "events": c.event_count,
                "attempts": len(c.attempts),
            }
            for c in sorted(self._running.values(), key=lambda c: c.t0)
            if c.route != "other"  # the dashboard's own polls and other non-API paths
        ]
        return rows[:_SHOWN]
