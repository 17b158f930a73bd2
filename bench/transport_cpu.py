"""CPU per upstream exchange of one transport alone, old (aiohttp) vs new (built-in HTTP/1.1).

Start the fake upstream first (``python -m bench.fake_upstream --port 18501 --chunks 50``, and
with ``--delay-ms 1`` on another port for a stream that arrives in 50 pieces), then:

    python -m bench.transport_cpu --port 18501 [--paced-port 18502] [-n 2000] [-c 32]

Each case runs N exchanges (sequential, and N at concurrency c) on uvloop and reports CPU µs
per exchange (``time.process_time``), the median of 3 runs, after a warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import uvloop

from godex.upstream.aiohttp_transport import AiohttpTransport
from godex.upstream.http1 import Http1Transport
from godex.upstream.transport import Transport, UpstreamRequest

HEADERS = {
    "content-type": "application/json",
    "accept": "application/json, text/event-stream",
    "authorization": "Bearer sk-bench",
    "x-request-id": "req_bench",
    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
}
SYNC = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": false}'
STREAM = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": true}'


async def _one(t: Transport, url: str, stream: bool) -> None:
    resp = await t.open(UpstreamRequest(url, HEADERS, STREAM if stream else SYNC))
    try:
        if stream:
            async for _ in resp.chunks(10.0):
                pass
        else:
            await resp.read()
    finally:
        resp.release()


async def _run(t: Transport, url: str, stream: bool, n: int, conc: int) -> float:
    if conc <= 1:
        t0 = time.process_time()
        for _ in range(n):
            await _one(t, url, stream)
        return time.process_time() - t0
    sem = asyncio.Semaphore(conc)

    async def guarded() -> None:
        async with sem:
            await _one(t, url, stream)

    t0 = time.process_time()
    await asyncio.gather(*(guarded() for _ in range(n)))
    return time.process_time() - t0


async def measure(
    make: Callable[[], Transport], url: str, stream: bool, n: int, conc: int
) -> float:
    t = make()
    await t.start()
    try:
        await _run(t, url, stream, max(50, n // 10), conc)  # warm-up: pool filled, code hot
        runs = [await _run(t, url, stream, n, conc) for _ in range(3)]
    finally:
        await t.close()
    return statistics.median(runs) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=18501)
    ap.add_argument("--paced-port", type=int, default=0)
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("-c", type=int, default=32)
    args = ap.parse_args()
    url = f"http://127.0.0.1:{args.port}/v1/chat/completions"
    paced = f"http://127.0.0.1:{args.paced_port}/v1/chat/completions" if args.paced_port else ""
    makers: dict[str, Callable[[], Transport]] = {
        "aiohttp": AiohttpTransport,
        "builtin": Http1Transport,
    }
    cases: list[tuple[str, str, bool, int]] = [
        ("sync c1", url, False, 1),
        (f"sync c{args.c}", url, False, args.c),
        ("stream c1", url, True, 1),
        (f"stream c{args.c}", url, True, args.c),
    ]
    if paced:
        cases.append((f"stream 50 pieces c{args.c}", paced, True, args.c))

    async def all_cases() -> None:
        print(f"{'case':<24}" + "".join(f"{name:>12}" for name in makers) + "   new/old")
        for label, u, stream, conc in cases:
            n = args.n if u is url else max(200, args.n // 4)
            row: list[float] = []
            for make in makers.values():
                row.append(await measure(make, u, stream, n, conc))
            cells = "".join(f"{v:>10.1f}µs" for v in row)
            print(f"{label:<24}{cells}   {row[1] / row[0]:.2f}", flush=True)

    run: Callable[[Awaitable[None]], None] = uvloop.run  # type: ignore[assignment]
    run(all_cases())


if __name__ == "__main__":
    main()
