"""Graceful shutdown for long streams: close them properly before the drain window ends.

uvicorn stops accepting connections on SIGTERM and waits ``server.shutdown_timeout`` for
requests to finish, then cancels whatever still runs, which would cut a stream with no
terminal event. Chained in front of uvicorn's own signal handler, this starts a timer at the
signal; shortly before the window closes it interrupts the requests still running, and each
ends its stream with a terminal ``response.failed`` (a code Codex retries) that is persisted
like any other answer.
"""

from __future__ import annotations

import asyncio
import signal
from types import FrameType
from typing import Any

from godex.errors import GodexError
from godex.logging import get_logger

log = get_logger("godex.server")

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def shutting_down() -> GodexError:
    return GodexError(
        "The gateway is restarting and this response was cut short; please retry.",
        code="server.shutting_down",
        status=503,
        type="server_error",
    )


class Drain:
    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.draining = False
        self.interrupted = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        """Chain in front of the signal handlers installed now (uvicorn's, while it serves)."""
        self._loop = loop
        for sig in _SIGNALS:
            previous = signal.getsignal(sig)

            def handler(signum: int, frame: FrameType | None, previous: Any = previous) -> None:
                loop.call_soon_threadsafe(self.begin)
                if callable(previous):
                    previous(signum, frame)

            try:
                signal.signal(sig, handler)
            except ValueError:  # not the main thread (an embedded server in tests)
                return

    def begin(self) -> None:
        if self.draining or self._loop is None:
            return
        self.draining = True
        # Interrupt a little before uvicorn would cancel, so there is time to end cleanly.
        margin = min(1.0, self.window_s / 4)
        self._loop.call_later(max(0.0, self.window_s - margin), self.interrupt)
        log.info("draining", streams=len(self._tasks), window_s=self.window_s)

    def interrupt(self) -> None:
        self.interrupted = True
        for task in list(self._tasks):
            task.cancel()

    def track(self, task: asyncio.Task[Any] | None) -> None:
        if task is not None:
            self._tasks.add(task)

    def untrack(self, task: asyncio.Task[Any] | None) -> None:
        if task is not None:
            self._tasks.discard(task)
