"""The in-flight registry behind the Live page."""

from __future__ import annotations

from types import SimpleNamespace

from godex.gateway.context import RequestContext
from godex.server.ui.live import InFlight


def test_requests_show_while_running_and_leave_when_done() -> None:
    services = SimpleNamespace(extra={})
    assert InFlight.wired(services) is None  # not fed: the page shows counts only
    live = InFlight.of(services)
    assert InFlight.wired(services) is live and InFlight.of(services) is live
    ctx = RequestContext("req_1", "POST", "/v1/responses", "responses.create")
    ctx.requested_model, ctx.stream, ctx.client_key_id = "gpt-5.5", True, "key_1"
    poll = RequestContext("req_2", "GET", "/ui/api/live", "other")
    live.enter(ctx)
    live.enter(poll)
    [row] = live.snapshot()
    assert row["request_id"] == "req_1" and row["stream"] and row["model"] == "gpt-5.5"
    assert row["elapsed_ms"] >= 0
    live.leave(ctx)
    live.leave(ctx)  # twice is harmless (the finally of a request that errored)
    assert live.snapshot() == []
