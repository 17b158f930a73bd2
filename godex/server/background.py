"""Background responses over HTTP: follow a running one's events as SSE."""

from __future__ import annotations

from godex.gateway.background import BackgroundRun
from godex.server.http import SSE_HEADERS, Send
from godex.server.sse import encode_events


async def follow(run: BackgroundRun, send: Send, starting_after: int | None = None) -> None:
    """The run's events past ``starting_after`` (a sequence number), live until it ends."""
    await send({"type": "http.response.start", "status": 200, "headers": list(SSE_HEADERS)})
    seen = 0
    while True:
        events = await run.events_after(seen)
        seen += len(events)
        if starting_after is not None:
            events = [e for e in events if e["sequence_number"] > starting_after]
        ended = run.done and seen >= len(run.events)
        body = encode_events(events) if events else b""
        try:
            await send({"type": "http.response.body", "body": body, "more_body": not ended})
        except OSError:
            return  # the follower left; the run goes on without it
        if ended:
            return
