"""One thread that owns a database connection: jobs go in through a C queue, results come back
to the caller's loop.

``loop.run_in_executor`` on a one-worker pool did the same at about three times the cost to the
event loop: two futures chained per call, and the pool's Python locks and idle semaphore on
every submit (13% of the loop's time in a profile of stored responses). Here a call is one
queue put, one loop future and one ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
_Job = tuple[Callable[[], Any], asyncio.Future[Any], asyncio.AbstractEventLoop]


class DbThread:
    def __init__(self, name: str) -> None:
        self._name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    async def run(self, fn: Callable[[], T]) -> T:
        """``fn()`` on the thread; its result or its exception here."""
        if self._thread is None:
            self._start()
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        self._jobs.put((fn, fut, loop))
        return await fut

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=self._name, daemon=True)
                self._thread.start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            fn, fut, loop = job
            try:
                result = fn()
            except BaseException as exc:  # handed to the caller, whatever it is
                _post(loop, _fail, fut, exc)
            else:
                _post(loop, _done, fut, result)

    def close(self) -> None:
        """Finish the queued jobs, then stop the thread (blocking until it has)."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None


def _post(loop: asyncio.AbstractEventLoop, fn: Callable[..., None], *args: Any) -> None:
    with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
        loop.call_soon_threadsafe(fn, *args)


def _done(fut: asyncio.Future[Any], result: Any) -> None:
    if not fut.done():  # the caller may have been cancelled meanwhile
        fut.set_result(result)


def _fail(fut: asyncio.Future[Any], exc: BaseException) -> None:
    if not fut.done():
        fut.set_exception(exc)
