"""Background writer threads run at a lower priority than the event loop's thread."""

from __future__ import annotations

import os
import threading

from godex.background_thread import yield_to_the_loop


def _policy() -> tuple[int, int]:
    tid = threading.get_native_id()
    return os.sched_getscheduler(tid), os.getpriority(os.PRIO_PROCESS, tid)


def test_only_the_calling_thread_is_lowered() -> None:
    seen: dict[str, tuple[int, int]] = {}

    def work() -> None:
        yield_to_the_loop()
        seen["thread"] = _policy()
        yield_to_the_loop()  # twice is the same
        seen["again"] = _policy()

    before = _policy()
    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen["thread"] == seen["again"]
    assert seen["thread"][0] == os.SCHED_IDLE  # Linux lets any thread lower itself to it
    assert _policy() == before
