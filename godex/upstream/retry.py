"""When to retry an upstream call, and how long to wait: backoff with full jitter, a budget.

The budget keeps retries to a share of a target's traffic (``budget_percent`` of the calls in
the last window, plus ``min_retries``): when a provider is sick, every request still gets its
first try, but retries stop multiplying the load on it.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from godex.errors import GodexError

WINDOW_S = 10.0
_NEVER = frozenset({"provider.auth", "provider.unavailable"})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 1  # per target, the first one included
    backoff_ms: int = 200
    max_backoff_ms: int = 5_000
    budget_percent: int = 20
    min_retries: int = 3


def transient(err: GodexError) -> bool:
    """The provider failing, not the request: rate limits, 5xx, timeouts, broken links.

    Errors the request itself caused (a 4xx the provider would give again) never are, nor is
    the provider refusing the gateway's own key (the next call would be refused the same way).
    """
    if not err.code.startswith("provider.") or err.code in _NEVER:
        return False
    return err.status == 429 or err.status >= 500


def retryable(err: GodexError) -> bool:
    """Worth a second try on the same target: a transient failure that failed fast. A timeout
    already cost its whole bound; repeating it there would double the wait, so it fails over."""
    return transient(err) and err.status != 504


def retry_after_s(err: GodexError) -> float | None:
    value = err.headers.get("retry-after") if err.headers else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def backoff_s(policy: RetryPolicy, retry: int, rand: Callable[[], float] = random.random) -> float:
    """Full jitter: uniform in [0, min(max, base * 2**retry)]."""
    cap = min(policy.max_backoff_ms, policy.backoff_ms * (2**retry)) / 1000
    return float(cap * rand())


class RetryBudget:
    def __init__(self, policy: RetryPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self._clock = clock
        self._calls: deque[float] = deque()
        self._retries: deque[float] = deque()

    def _trim(self, now: float) -> None:
        horizon = now - WINDOW_S
        for q in (self._calls, self._retries):
            while q and q[0] < horizon:
                q.popleft()

    def record_call(self) -> None:
        self._calls.append(self._clock())

    def take(self) -> bool:
        """Spend one retry if the budget allows it."""
        now = self._clock()
        self._trim(now)
        allowed = self.policy.min_retries + len(self._calls) * self.policy.budget_percent / 100
        if len(self._retries) >= allowed:
            return False
        self._retries.append(now)
        return True
