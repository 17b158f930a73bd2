"""The limiter protocol and what it answers.

Counters use fixed one-minute windows (``window = floor(now / 60)``): an admission is one
atomic check-then-count over every bucket it touches, so N parallel clients against a limit of
L admit exactly L, in one process or across processes sharing Redis.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from godex.config.schema import KeyLimits

WINDOW_S = 60


@dataclass(frozen=True, slots=True)
class Bucket:
    name: str  # "key:alice", "model:gpt-5.5", "global"
    limits: KeyLimits


class Usage(NamedTuple):
    """What a bucket has used in the current window (after this admission counted)."""

    requests: int
    tokens: int


# Named tuples, not frozen dataclasses: made on every admission, and a frozen dataclass's
# constructor is several times slower for the same immutability.
class Decision(NamedTuple):
    admitted: bool
    bucket: int = -1  # index of the bucket that refused
    what: str = ""  # requests | tokens | concurrent
    usage: tuple[Usage, ...] = ()  # per bucket, for the x-ratelimit headers


class Spend(NamedTuple):
    """What a finished turn adds to its key's budget counters."""

    name: str
    day: str  # UTC "YYYY-MM-DD"
    month: str  # UTC "YYYY-MM"
    micro_usd: int
    tokens: int


class Limiter(Protocol):
    async def admit(self, buckets: tuple[Bucket, ...], window: int) -> Decision:
        """Refuse if any bucket is at a limit; otherwise count one request in every bucket
        and take a concurrency slot where a bucket caps it. All or nothing."""
        ...

    async def settle(
        self, buckets: tuple[Bucket, ...], window: int, tokens: int, spend: Spend | None
    ) -> tuple[int, int] | None:
        """After a turn, in one step (one round trip on Redis): give back the concurrency
        slots ``admit`` took, charge the turn's tokens to every bucket's window, and add
        ``spend`` to its key's budget counters (USD per UTC day, tokens per UTC month).
        Returns that key's (micro-USD spent today, tokens this month) after it, when
        ``spend`` is given."""
        ...

    async def spent(self, name: str, day: str, month: str) -> tuple[int, int]:
        """(micro-USD spent today, tokens this month)."""
        ...

    async def close(self) -> None: ...


def window_of(now: float) -> int:
    return int(now // WINDOW_S)


def reset_in(now: float) -> float:
    return WINDOW_S - (now % WINDOW_S)


_periods: tuple[int, tuple[str, str]] = (-1, ("", ""))


def periods(now: float) -> tuple[str, str]:
    """(UTC day, UTC month) of ``now``; remembered for the minute (asked once a turn)."""
    global _periods
    minute = int(now // 60)
    if minute != _periods[0]:
        t = time.gmtime(now)
        _periods = (minute, (time.strftime("%Y-%m-%d", t), time.strftime("%Y-%m", t)))
    return _periods[1]
