"""A circuit breaker: stop calling a target that keeps failing, probe it after a cool-down.

closed → open after ``failures`` consecutive failures, or when at least ``min_requests`` calls
in the last ``window_s`` failed at ``failure_percent`` or more; open → half-open once
``cooldown_s`` has passed, letting exactly one probe through; the probe's success closes it,
its failure opens it again. Time is injected, so tests drive it without waiting.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

State = Literal["closed", "open", "half_open"]
Listener = Callable[[str, "State", "State"], None]  # (name, old, new)


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    failures: int = 5
    failure_percent: int = 50
    min_requests: int = 10
    window_s: float = 30.0
    cooldown_s: float = 30.0


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        policy: BreakerPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_change: Listener | None = None,
    ) -> None:
        self.name = name
        self.policy = policy
        self._clock = clock
        self._on_change = on_change
        self.state: State = "closed"
        self._consecutive = 0
        self._calls: deque[tuple[float, bool]] = deque()  # (when, failed) inside the window
        self._opened_at = 0.0
        self._probing = False

    def _set(self, state: State) -> None:
        old, self.state = self.state, state
        if old != state and self._on_change is not None:
            self._on_change(self.name, old, state)

    def allow(self) -> bool:
        """May a call go to this target now? In half-open, only the one probe may."""
        if self.state == "open":
            if self._clock() - self._opened_at < self.policy.cooldown_s:
                return False
            self._set("half_open")
            self._probing = False
        if self.state == "half_open":
            if self._probing:
                return False
            self._probing = True
        return True

    @property
    def usable(self) -> bool:
        """Would a call be let through (without taking the half-open probe)?"""
        if self.state == "open":
            return self._clock() - self._opened_at >= self.policy.cooldown_s
        return not (self.state == "half_open" and self._probing)

    def _record(self, failed: bool) -> None:
        now = self._clock()
        calls = self._calls
        calls.append((now, failed))
        horizon = now - self.policy.window_s
        while calls and calls[0][0] < horizon:
            calls.popleft()

    def success(self) -> None:
        self._record(False)
        self._consecutive = 0
        if self.state != "closed":
            self._probing = False
            self._set("closed")

    def failure(self) -> None:
        self._record(True)
        self._consecutive += 1
        p = self.policy
        failed = sum(1 for _, f in self._calls if f)
        by_ratio = len(self._calls) >= p.min_requests and failed * 100 >= p.failure_percent * len(
            self._calls
        )
        if self.state == "half_open" or self._consecutive >= p.failures or by_ratio:
            self._opened_at = self._clock()
            self._probing = False
            self._set("open")

    def release_probe(self) -> None:
        """The probe ended without a verdict (the client went away): let another one try."""
        if self.state == "half_open":
            self._probing = False
