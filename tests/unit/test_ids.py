"""Ids: OpenAI's shapes, time-ordered across milliseconds, unguessable within one."""

from __future__ import annotations

import re
import time

from godex.ids import new_id


def test_shape_and_time_order() -> None:
    a = new_id("resp")
    assert re.fullmatch(r"resp_[0-9a-f]{48}", a)
    ms = int(a[5:17], 16)
    assert abs(ms - time.time() * 1000) < 5_000
    deadline = time.monotonic() + 1
    while (b := new_id("resp"))[5:17] == a[5:17] and time.monotonic() < deadline:
        pass
    assert b > a  # a later millisecond sorts after


def test_the_random_part_never_repeats() -> None:
    ids = {new_id("msg")[16:] for _ in range(20_000)}
    assert len(ids) == 20_000
