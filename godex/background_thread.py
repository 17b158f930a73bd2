"""Background writer threads give way to the event loop.

The trace writer and the checkpointer share the process's cores with the loop that answers
requests. Whatever they do can wait a few milliseconds; a request that waits for them is a
tail latency. At a lower scheduling priority (a higher nice value, for this thread only: Linux
schedules threads as tasks of their own), the kernel runs them when the loop does not need the
core, and they still get a share of it under sustained load. ``SCHED_IDLE`` was tried (4 Dec):
it cut the p99 at c=1 (1.6 -> 0.9 ms with the trace writer on) but starved the writer whenever
the core stayed busy, and the trace queue overflowed and dropped rows (up to 168k in a bench
run); a thread at ``SCHED_IDLE`` cannot be raised again without privileges.
"""

from __future__ import annotations

import contextlib
import os
import threading

BACKGROUND_NICE = 10


def yield_to_the_loop() -> None:
    """Lower the calling thread's priority (a no-op where threads can't have their own)."""
    if not hasattr(os, "setpriority"):
        return
    tid = threading.get_native_id()
    with contextlib.suppress(OSError):
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, max(current, BACKGROUND_NICE))
