"""CPU per turn of the Redis limiter alone (admit + settle), old (redis-py) vs new (our RESP).

With a Redis at the URL (keys under a prefix of their own, deleted at the end):

    python -m bench.limits_cpu [--url redis://127.0.0.1:6379/0] [-n 2000] [-c 16]

Each case runs N turns (sequential, and N at concurrency c) on uvloop: ``admit`` on two buckets
(a key with rpm and concurrency caps, the global one with tpm), then ``settle`` with tokens and
a spend, as the gateway does. It reports CPU µs per turn of this process (``time.process_time``;
Redis' own CPU is not in it), the median of 3 runs, after a warm-up, and of that the part spent
in user space (``getrusage``; the rest is the kernel's: the loopback TCP sends and receives, the
epoll waits, which no client can do without). The ``memory`` column is the same turns on the
in-process limiter: this loop's own cost with no network at all.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable

import uvloop

from godex.config.schema import KeyLimits
from godex.limits.base import Bucket, Limiter, Spend, window_of
from godex.limits.memory import MemoryLimiter
from godex.limits.redis import RedisLimiter
from godex.limits.redis_py import RedisPyClient
from godex.limits.resp_client import Script

BUCKETS = (
    Bucket("key:alice", KeyLimits(rpm=10**9, concurrent=10**6)),
    Bucket("global", KeyLimits(tpm=10**12)),
)
_KEYS = Script("return redis.call('KEYS', ARGV[1])")  # the clean-up
_DEL = Script("return redis.call('DEL', unpack(KEYS))")
SPEND = Spend("alice", "2026-12-03", "2026-12", 1234, 56)


async def _turn(lim: Limiter) -> None:
    w = window_of(time.time())
    await lim.admit(BUCKETS, w)
    await lim.settle(BUCKETS, w, 56, SPEND)


def _user() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_utime


async def _run(lim: Limiter, n: int, conc: int) -> tuple[float, float]:
    """(CPU, user-space CPU) seconds for n turns."""
    t0, u0 = time.process_time(), _user()
    if conc <= 1:
        for _ in range(n):
            await _turn(lim)
    else:
        sem = asyncio.Semaphore(conc)

        async def guarded() -> None:
            async with sem:
                await _turn(lim)

        await asyncio.gather(*(guarded() for _ in range(n)))
    return time.process_time() - t0, _user() - u0


async def measure(make: Callable[[], Limiter], n: int, conc: int) -> tuple[float, float]:
    """Median µs per turn: CPU, and user-space CPU."""
    lim = make()
    try:
        await _run(lim, max(50, n // 10), conc)  # warm-up: connected, scripts loaded, code hot
        runs = [await _run(lim, n, conc) for _ in range(3)]
    finally:
        await lim.close()
    cpu = statistics.median(r[0] for r in runs) / n * 1e6
    return cpu, statistics.median(r[1] for r in runs) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="redis://127.0.0.1:6379/0")
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("-c", type=int, default=16)
    args = ap.parse_args()
    prefix = f"godex-bench-limits:{secrets.token_hex(4)}:"

    def old() -> RedisLimiter:
        lim = RedisLimiter(args.url, prefix)
        lim.client = RedisPyClient(args.url)  # what RedisLimiter ran before its own client
        return lim

    makers: dict[str, Callable[[], Limiter]] = {
        "memory": MemoryLimiter,
        "redis-py": old,
        "resp": lambda: RedisLimiter(args.url, prefix),
    }

    async def all_cases() -> None:
        head = "".join(f"{name + ' (user)':>22}" for name in makers)
        print(f"{'admit + settle':<16}{head}   new/old")
        for label, conc in (("sequential", 1), (f"c{args.c}", args.c)):
            row = [await measure(make, args.n, conc) for make in makers.values()]
            cells = "".join(f"{cpu:>10.1f}µs ({user:5.1f}µs)" for cpu, user in row)
            print(f"{label:<16}{cells}   {row[2][0] / row[1][0]:.2f}", flush=True)
        lim = RedisLimiter(args.url, prefix)
        try:
            keys = await lim.client.run(_KEYS, [], [prefix + "*"])
            if keys:
                await lim.client.run(_DEL, keys, [])
        finally:
            await lim.close()

    run: Callable[[Awaitable[None]], None] = uvloop.run  # type: ignore[assignment]
    run(all_cases())


if __name__ == "__main__":
    main()
