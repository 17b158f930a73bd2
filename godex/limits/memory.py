"""Counters in this process: exact within it (no await between check and count)."""

from __future__ import annotations

from collections import defaultdict

from godex.limits.base import Bucket, Decision, Spend, Usage


class MemoryLimiter:
    def __init__(self) -> None:
        self._window = -1
        self._requests: dict[str, int] = defaultdict(int)
        self._tokens: dict[str, int] = defaultdict(int)
        self._concurrent: dict[str, int] = defaultdict(int)
        self._budget: dict[str, int] = defaultdict(int)

    def _roll(self, window: int) -> None:
        if window != self._window:  # a new minute: the old counts are over
            self._window = window
            self._requests.clear()
            self._tokens.clear()

    async def admit(self, buckets: tuple[Bucket, ...], window: int) -> Decision:
        self._roll(window)
        requests, tokens, concurrent = self._requests, self._tokens, self._concurrent
        for i, b in enumerate(buckets):
            lim, name = b.limits, b.name
            if lim.rpm and requests[name] >= lim.rpm:
                return Decision(False, i, "requests", self._usage(buckets))
            if lim.tpm and tokens[name] >= lim.tpm:
                return Decision(False, i, "tokens", self._usage(buckets))
            if lim.concurrent and concurrent[name] >= lim.concurrent:
                return Decision(False, i, "concurrent", self._usage(buckets))
        for b in buckets:
            requests[b.name] += 1
            if b.limits.concurrent:
                concurrent[b.name] += 1
        return Decision(True, -1, "", self._usage(buckets))

    def _usage(self, buckets: tuple[Bucket, ...]) -> tuple[Usage, ...]:
        requests, tokens = self._requests, self._tokens
        return tuple([Usage(requests[b.name], tokens[b.name]) for b in buckets])

    async def settle(
        self, buckets: tuple[Bucket, ...], window: int, tokens: int, spend: Spend | None
    ) -> tuple[int, int] | None:
        self._roll(window)
        for b in buckets:
            if b.limits.concurrent and self._concurrent[b.name] > 0:
                self._concurrent[b.name] -= 1
            if tokens:
                self._tokens[b.name] += tokens
        if spend is None:
            return None
        usd = f"usd:{spend.name}:{spend.day}"
        tok = f"tok:{spend.name}:{spend.month}"
        self._budget[usd] += spend.micro_usd
        self._budget[tok] += spend.tokens
        return self._budget[usd], self._budget[tok]

    async def spent(self, name: str, day: str, month: str) -> tuple[int, int]:
        return self._budget[f"usd:{name}:{day}"], self._budget[f"tok:{name}:{month}"]

    async def close(self) -> None:
        return None
