"""Background writer threads run at a lower priority than the event loop's thread."""

from __future__ import annotations

import os
import threading

from godex.background_thread import BACKGROUND_NICE, yield_to_the_loop


def test_only_the_calling_thread_is_lowered() -> None:
    seen: dict[str, int] = {}

    def work() -> None:
        yield_to_the_loop()
        seen["thread"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        yield_to_the_loop()  # twice is the same, never lower again
        seen["again"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen["thread"] == max(before, BACKGROUND_NICE) == seen["again"]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before
