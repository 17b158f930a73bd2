"""The sessions' database thread: results and errors come back to the caller, a caller that
gives up does not stop the thread, and close() finishes what was queued."""

from __future__ import annotations

import asyncio
import threading

import pytest

from godex.sessions.db_thread import DbThread


async def test_results_and_errors_come_back_and_jobs_run_on_one_thread() -> None:
    t = DbThread("test-db")
    names = {await t.run(lambda: threading.current_thread().name) for _ in range(5)}
    assert names == {"test-db"}
    with pytest.raises(ZeroDivisionError):
        await t.run(lambda: 1 / 0)
    assert await t.run(lambda: 41 + 1) == 42
    t.close()


async def test_a_cancelled_caller_leaves_the_thread_working() -> None:
    t = DbThread("test-db")
    gate = threading.Event()
    waiting = asyncio.ensure_future(t.run(gate.wait))
    await asyncio.sleep(0)
    waiting.cancel()
    gate.set()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert await t.run(lambda: "still here") == "still here"
    t.close()


async def test_close_finishes_the_queued_jobs() -> None:
    t = DbThread("test-db")
    done: list[int] = []
    gate = threading.Event()
    first = asyncio.ensure_future(t.run(gate.wait))
    rest = [asyncio.ensure_future(t.run(lambda i=i: done.append(i))) for i in range(3)]
    await asyncio.sleep(0)
    gate.set()
    await asyncio.get_running_loop().run_in_executor(None, t.close)
    await asyncio.gather(first, *rest)
    assert done == [0, 1, 2]
