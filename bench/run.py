"""GodeX benchmark: one run, side by side, ratios against the physical floor and LiteLLM.

    python -m bench.run                          # full run (about 15 minutes)
    python -m bench.run --quick                  # smoke run (LiteLLM skipped)
    python -m bench.run --baseline c3fe1c3       # also the GodeX of that ref, before and after
    python -m bench.run --quick --only limits,doors   # only some sections (see --help)

Targets, all on loopback: the fake upstream called directly (the floor), a byte pass-through
proxy on GodeX's own stack (the practical limit), GodeX with its default config (sessions and
traces on SQLite), the same with rate-limited client keys (memory and Redis counters), the same
config on PostgreSQL (a throwaway database on GODEX_BENCH_PG, default 127.0.0.1:5432;
--no-postgres skips it), GodeX with both off (and its /v1/messages and /v1/chat/completions
doors), optionally a baseline git ref's GodeX, and LiteLLM's proxy (its /v1/responses bridge).
The target under test is pinned to core 0; the upstream and the load generator to core 1.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
UP, UP_PACED, PASS, GX, GX_LEAN, GX2, LITE = 18090, 18091, 18095, 18081, 18082, 18083, 18084
GX_PG, GX_LIM_MEM, GX_LIM_REDIS, GX_BASE, GX_BASE_LEAN = 18085, 18086, 18087, 18088, 18089
GX_LIM_REF = 18080  # the limits' keyless reference (the default config, beside them)
# The default config on PostgreSQL (sessions and traces) uses a throwaway database here.
PG_SERVER = os.environ.get("GODEX_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
# Rate-limit counters on Redis: a throwaway key prefix (made per run) on this server.
REDIS_URL = os.environ.get("GODEX_BENCH_REDIS", "redis://127.0.0.1:6379/0")
CHUNKS = 50
TEXT = "tok " * CHUNKS
CORE_TARGET, CORE_LOAD = "0", "1"
LITELLM_KEY = "sk-" + "0123456789abcdef" * 4
CLIENT_KEY = "sk-bench-client-" + "5" * 32
# Far above what any run can spend in a minute (about 60 tokens a request), so the limiter does
# all its work (admit, count, charge) and never refuses.
NEVER_REFUSE = 1_000_000_000
PACED_STREAMS, PACED_STREAMS_QUICK = 256, 16
# The side-by-side loads: name -> (stream, connections).
SIDE_BY_SIDE_LOADS = {"sync_c16": (False, 16), "sync_c64": (False, 64), "stream_c16": (True, 16)}
PACED_KEY = f"paced{PACED_STREAMS}"
# The sections of a run, in the order they run (``--only`` picks some).
SECTIONS = (
    "direct",
    "passthrough",
    "godex",
    "godex_lean",
    "side_by_side",
    "doors",
    "limits",
    "paced",
    "workers",
    "agent",
    "pg",
    "baseline",
    "litellm",
)


@dataclass
class Target:
    name: str
    port: int
    path: str
    api: str = "responses"  # the request shape it speaks: responses, chat or messages
    headers: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    startup_s: float | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def body(self, stream: bool) -> bytes:
        return json.dumps(request_body(self.api, stream)).encode()


def request_body(api: str, stream: bool) -> dict[str, Any]:
    """The same one-message question in each door's request shape."""
    if api == "responses":
        return {"model": "bench-model", "input": "hello", "stream": stream}
    obj: dict[str, Any] = {
        "model": "bench-model",
        "messages": [{"role": "user", "content": "hello"}],
        "stream": stream,
    }
    if api == "messages":
        obj["max_tokens"] = 1024  # required by the Messages API
    elif stream:
        obj["stream_options"] = {"include_usage": True}  # else Chat streams carry no usage
    return obj


def spawn(
    cmd: list[str],
    core: str,
    log: Path,
    env: dict[str, str] | None = None,
    cwd: Path = ROOT,
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["taskset", "-c", core, *cmd],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def post_full(t: Target, stream: bool, timeout: float = 10) -> tuple[bytes, dict[str, str]]:
    req = urllib.request.Request(
        t.url, data=t.body(stream), headers={"content-type": "application/json", **t.headers}
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        data: bytes = resp.read()
        return data, {k.lower(): v for k, v in resp.headers.items()}


def post(t: Target, stream: bool, timeout: float = 10) -> bytes:
    return post_full(t, stream, timeout)[0]


def wait_ready(t: Target, deadline_s: float) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < deadline_s:
        if t.proc is not None and t.proc.poll() is not None:
            raise RuntimeError(f"{t.name} exited with {t.proc.returncode}")
        try:
            post(t, False, timeout=2)
            return time.perf_counter() - started
        except Exception:
            time.sleep(0.02)
    raise RuntimeError(f"{t.name} did not answer within {deadline_s} s")


ALL_PORTS: tuple[int, ...] = (UP, UP_PACED, PASS, GX, GX_LEAN, GX2, LITE, GX_PG)
ALL_PORTS += (GX_LIM_REF, GX_LIM_MEM, GX_LIM_REDIS, GX_BASE, GX_BASE_LEAN)


def busy_ports(ports: tuple[int, ...] = ALL_PORTS) -> list[int]:
    """Bench ports something already listens on: another run would answer in our place."""
    import socket

    busy = []
    for port in ports:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                busy.append(port)
    return busy


def _wait_port(port: int) -> None:
    import socket

    deadline = time.perf_counter() + 20
    while time.perf_counter() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port}")


def tree_pids(pid: int) -> list[int]:
    pids = [pid]
    for child in Path("/proc").glob("[0-9]*"):
        try:
            stat = (child / "stat").read_text().split()
            if int(stat[3]) in pids:
                pids.append(int(child.name))
        except (OSError, IndexError, ValueError):
            continue
    return pids


def rss_mb(pid: int) -> float:
    total = 0
    for p in tree_pids(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def cpu_s(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text().split()
    return (int(stat[13]) + int(stat[14])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process and its children (uvicorn workers), by /proc."""
    total = 0.0
    for p in tree_pids(pid):
        try:
            total += cpu_s(p)
        except (OSError, IndexError, ValueError):
            continue  # a child that just exited
    return total


# -- correctness ----------------------------------------------------------------------------
def answer_of(api: str, sync: dict[str, Any]) -> tuple[str, tuple[int, int]]:
    """Text and (input, output) usage of a non-stream answer in the door's shape."""
    if api == "responses":
        text = "".join(
            p.get("text", "")
            for i in sync["output"]
            if i["type"] == "message"
            for p in i["content"]
        )
        return text, (sync["usage"]["input_tokens"], sync["usage"]["output_tokens"])
    if api == "messages":
        text = "".join(b.get("text", "") for b in sync["content"] if b["type"] == "text")
        u = sync["usage"]
        return text, (u["input_tokens"] + u.get("cache_read_input_tokens", 0), u["output_tokens"])
    text = sync["choices"][0]["message"]["content"]
    return text, (sync["usage"]["prompt_tokens"], sync["usage"]["completion_tokens"])


def stream_answer_of(api: str, raw: str) -> tuple[str, tuple[int, int] | None]:
    """Joined text deltas and the final usage of an SSE answer in the door's shape."""
    deltas: list[str] = []
    final_usage = None
    for line in raw.splitlines():
        if not line.startswith("data:") or line.strip() == "data: [DONE]":
            continue
        ev = json.loads(line[5:])
        if api == "responses":
            if ev.get("type") == "response.output_text.delta":
                deltas.append(ev["delta"])
            if ev.get("type") == "response.completed":
                u = ev["response"]["usage"]
                final_usage = (u["input_tokens"], u["output_tokens"])
        elif api == "messages":
            delta = ev.get("delta") or {}
            if ev.get("type") == "content_block_delta" and delta.get("type") == "text_delta":
                deltas.append(delta["text"])
            if ev.get("type") == "message_delta":
                u = ev["usage"]
                inp = u.get("input_tokens", 0) + u.get("cache_read_input_tokens", 0)
                final_usage = (inp, u["output_tokens"])
        else:
            for ch in ev.get("choices") or []:
                deltas.append((ch.get("delta") or {}).get("content") or "")
            if ev.get("usage"):
                final_usage = (ev["usage"]["prompt_tokens"], ev["usage"]["completion_tokens"])
    return "".join(deltas), final_usage


def check(t: Target, limited: bool = False) -> None:
    """Exact text and usage, sync and stream; ``limited``: the limiter answered too."""
    raw_sync, headers = post_full(t, False)
    text, usage = answer_of(t.api, json.loads(raw_sync))
    assert text == TEXT, f"{t.name}: sync text {text[:60]!r}"
    assert usage == (12, CHUNKS), f"{t.name}: sync usage {usage}"
    if limited:  # proves the timed requests go through the key's limits, not around them
        assert "x-ratelimit-limit-requests" in headers, f"{t.name}: no rate-limit headers"
    text, final_usage = stream_answer_of(t.api, post(t, True).decode())
    assert text == TEXT, f"{t.name}: stream text {text[:60]!r}"
    assert final_usage == (12, CHUNKS), f"{t.name}: stream usage {final_usage}"


# -- load -----------------------------------------------------------------------------------
WRK_LUA = """
wrk.method = "POST"
wrk.body = [[%s]]
wrk.headers["Content-Type"] = "application/json"
%s
done = function(summary, latency, requests)
  io.write(string.format("JSON{\\"rps\\":%%f,\\"requests\\":%%d,\\"p50\\":%%d,\\"p95\\":%%d,\\"p99\\":%%d,\\"errors\\":%%d}\\n",
    summary.requests / (summary.duration / 1e6), summary.requests, latency:percentile(50),
    latency:percentile(95), latency:percentile(99), summary.errors.status + summary.errors.connect
    + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def wrk(
    t: Target, stream: bool, conns: int, seconds: float, cpu_pid: int | None = None
) -> dict[str, float]:
    """One wrk load; with ``cpu_pid``, also that process tree's CPU µs per request served."""
    headers = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in t.headers.items())
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_LUA % (t.body(stream).decode(), headers))
        script = f.name
    cpu0 = tree_cpu_s(cpu_pid) if cpu_pid is not None else 0.0
    out = subprocess.run(
        [
            "taskset",
            "-c",
            CORE_LOAD,
            "wrk",
            "-t1",
            f"-c{conns}",
            f"-d{max(1, round(seconds))}s",
            "-s",
            script,
            t.url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    ).stdout
    cpu1 = tree_cpu_s(cpu_pid) if cpu_pid is not None else 0.0
    os.unlink(script)
    line = next(x for x in out.splitlines() if x.startswith("JSON"))
    res: dict[str, float] = json.loads(line[4:])
    for k in ("p50", "p95", "p99"):
        res[k] = res[k] / 1000  # µs -> ms
    if cpu_pid is not None:
        res["cpu_us"] = cpu_per_request_us(cpu1 - cpu0, res["requests"])
    return res


def cpu_per_request_us(cpu_seconds: float, requests: float) -> float:
    """CPU time per request served: unlike req/s, barely moved by other load on the machine."""
    return cpu_seconds / requests * 1e6 if requests else float("nan")


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def loads(
    t: Target, stream: bool, conns: int, seconds: float, runs: int, cpu_pid: int | None = None
) -> dict[str, float]:
    return median_of([wrk(t, stream, conns, seconds, cpu_pid) for _ in range(runs)])


PAIR_RUNS = 5  # rounds of the sections whose targets are loaded in turn (a full run)
PAIR_LOADS = {"sync_c16": False, "stream_c16": True}


def in_turn(ts: list[Target], round_no: int) -> list[Target]:
    """The targets in the order of one round: forward, then backward, so a drift during a
    round favours no target across rounds."""
    return ts if round_no % 2 == 0 else ts[::-1]


def summary(runs: list[dict[str, float]]) -> dict[str, Any]:
    """The medians of one target's runs of a load, and each run's req/s in round order (the
    ratios of targets loaded in turn are taken round by round, see ``pair_ratio``)."""
    return {**median_of(runs), "rps_runs": [r["rps"] for r in runs]}


def pair_ratio(a: Any, b: Any) -> float | None:
    """a / b in req/s for two loads' summaries: the median of the rounds' ratios when both
    were loaded in the same rounds (seconds apart, so the machine's drift cancels), else the
    ratio of their medians."""
    if not isinstance(a, dict) or not isinstance(b, dict):
        return None
    ra, rb = a.get("rps_runs"), b.get("rps_runs")
    if isinstance(ra, list) and isinstance(rb, list) and ra and len(ra) == len(rb) and all(rb):
        return float(statistics.median(x / y for x, y in zip(ra, rb, strict=True)))
    return _ratio(a.get("rps"), b.get("rps"))


def interleaved(ts: list[Target], runs: int, seconds: float) -> dict[str, dict[str, Any]]:
    """Sync and stream c=16 on each target in turn, run by run (after a warm-up of each):
    per target name, the summaries. Targets serving side by side see the same drift."""
    for t in ts:
        wrk(t, False, 16, 1)
        wrk(t, True, 16, 1)
    got: dict[str, dict[str, list[dict[str, float]]]] = {t.name: {} for t in ts}
    for round_no in range(runs):
        for key, stream in PAIR_LOADS.items():
            for t in in_turn(ts, round_no):
                assert t.proc is not None
                got[t.name].setdefault(key, []).append(wrk(t, stream, 16, seconds, t.proc.pid))
    return {name: {k: summary(rs) for k, rs in by.items()} for name, by in got.items()}


async def _first_bytes(t: Target, conns: int, total: int) -> dict[str, float]:
    ttfb: list[float] = []
    first: list[float] = []
    marker = {
        "responses": b"response.output_text.delta",
        "messages": b"text_delta",
        "chat": b'"content": "tok',
    }[t.api]
    body = t.body(True)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:

        async def one() -> None:
            start = time.perf_counter()
            async with s.post(
                t.url, data=body, headers={"content-type": "application/json", **t.headers}
            ) as r:
                got_first = False
                buf = b""
                async for chunk in r.content.iter_any():
                    now = time.perf_counter()
                    if not buf:
                        ttfb.append((now - start) * 1000)
                    buf += chunk
                    if not got_first and marker in buf.replace(
                        b'"content":"tok', b'"content": "tok'
                    ):
                        first.append((now - start) * 1000)
                        got_first = True

        async def worker(n: int) -> None:
            for _ in range(n):
                await one()

        per = max(1, total // conns)
        await asyncio.gather(*(worker(per) for _ in range(conns)))
    return {"ttfb_p50": statistics.median(ttfb), "first_delta_p50": statistics.median(first)}


@contextmanager
def on_load_core() -> Iterator[None]:
    """This process's own clients run beside wrk and the upstream, off the target's core."""
    os.sched_setaffinity(0, {int(CORE_LOAD)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, {0, 1})


# Local services GodeX talks to. In production they run on other hosts; here they would take
# the target's core when the scheduler puts them there, so they join the load core while a
# run lasts (a database or Redis on the target's core measured 10-30% swings between runs).
SERVICE_NAMES = ("postgres", "redis-server")


def _service_threads() -> list[int]:
    out: list[int] = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            name = Path(f"/proc/{pid}/comm").read_text().strip()
            if name in SERVICE_NAMES:
                out += [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
        except OSError:
            continue  # gone meanwhile
    return out


@contextmanager
def services_on_load_core() -> Iterator[list[int]]:
    """PostgreSQL's and Redis's processes on the load core, their affinity restored after."""
    moved: dict[int, set[int]] = {}
    for tid in _service_threads():
        try:
            moved[tid] = os.sched_getaffinity(tid)
            os.sched_setaffinity(tid, {int(CORE_LOAD)})
        except OSError:
            moved.pop(tid, None)  # gone, or not ours to move
    try:
        yield list(moved)
    finally:
        for tid, cores in moved.items():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(tid, cores)


def first_bytes(t: Target, conns: int, total: int) -> dict[str, float]:
    with on_load_core():
        return asyncio.run(_first_bytes(t, conns, total))


async def _paced(t: Target, conns: int) -> dict[str, float]:
    body = t.body(True)
    durations: list[float] = []
    peak = 0.0
    # The upstream's own pace (``direct``) has no process of ours to watch.
    pid = t.proc.pid if t.proc is not None else None
    base = rss_mb(pid) if pid is not None else 0.0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:

        async def one() -> None:
            start = time.perf_counter()
            async with s.post(
                t.url, data=body, headers={"content-type": "application/json", **t.headers}
            ) as r:
                async for _ in r.content.iter_any():
                    pass
            durations.append(time.perf_counter() - start)

        async def sample() -> None:
            nonlocal peak
            while pid is not None:
                peak = max(peak, rss_mb(pid))
                await asyncio.sleep(0.1)

        sampler = asyncio.ensure_future(sample())
        await asyncio.gather(*(one() for _ in range(conns)))
        sampler.cancel()
    ideal = (CHUNKS + 2) * 0.040
    return {
        "streams": conns,
        "rss_growth_mb": peak - base,
        "median_s": statistics.median(durations),
        "max_s": max(durations),
        # Against the schedule the upstream keeps (52 pieces, 40 ms apart); ``slowdown`` is set
        # against the upstream's own pace, measured the same way in the same run.
        "slowdown_vs_ideal": statistics.median(durations) / ideal,
    }


# -- an agent loop: one socket against HTTPS keep-alive ---------------------------------------
def _sse_response(body: bytes) -> dict[str, Any]:
    for line in reversed(body.split(b"\n")):
        if line.startswith(b"data: "):
            ev = json.loads(line[6:])
            if ev.get("type") == "response.completed":
                return dict(ev["response"])
    raise RuntimeError("no response.completed in the stream")


async def _agent_loops(
    port: int, transport: str, store: bool, loops: int, turns: int
) -> dict[str, float]:
    """``loops`` conversations of ``turns`` turns, each continuing the last by its id.

    ``http``: one keep-alive connection, POST with ``stream: true``; with ``store`` it continues
    by id (HTTPS can only continue a stored response), without it it resends the whole history
    every turn, as Codex does over HTTPS. ``ws``: one socket per conversation, continued by id
    (Codex keeps one socket per session).
    """
    import websockets

    per_turn: list[float] = []
    per_loop: list[float] = []

    def body(i: int, prev: str | None) -> dict[str, Any]:
        obj: dict[str, Any] = {"model": "bench-model", "input": f"step {i}", "store": store}
        if prev:
            obj["previous_response_id"] = prev
        return obj

    if transport == "http":
        url = f"http://127.0.0.1:{port}/v1/responses"
        async with aiohttp.ClientSession() as s:
            for _ in range(loops):
                prev, t_loop = None, time.perf_counter()
                history: list[Any] = []
                for i in range(turns):
                    obj = {**body(i, prev), "stream": True}
                    if not store:  # the whole conversation, every turn
                        history.append({"role": "user", "content": f"step {i}"})
                        obj["input"] = history
                    t0 = time.perf_counter()
                    async with s.post(url, json=obj) as r:
                        data = await r.read()
                    per_turn.append(time.perf_counter() - t0)
                    done = _sse_response(data)
                    if store:
                        prev = done["id"]
                    else:
                        history.extend(done["output"])
                per_loop.append(time.perf_counter() - t_loop)
    else:
        url = f"ws://127.0.0.1:{port}/v1/responses"
        for _ in range(loops):
            t_loop = time.perf_counter()
            async with websockets.connect(url, max_size=None) as ws:
                prev = None
                for i in range(turns):
                    t0 = time.perf_counter()
                    await ws.send(json.dumps({"type": "response.create", **body(i, prev)}))
                    # Like the HTTPS client, which reads the body and parses only the last
                    # event: look at each message's type prefix, parse only the terminal one.
                    while True:
                        msg = await ws.recv()
                        head = msg[:40]
                        if "completed" in head or "failed" in head or '"error"' in head:
                            break
                    ev = json.loads(msg)
                    if ev["type"] != "response.completed":
                        raise RuntimeError(f"agent loop turn failed: {ev}")
                    per_turn.append(time.perf_counter() - t0)
                    prev = ev["response"]["id"]
            per_loop.append(time.perf_counter() - t_loop)
    per_turn.sort()
    return {
        "turn_p50_ms": statistics.median(per_turn) * 1000,
        "turn_p95_ms": per_turn[int(len(per_turn) * 0.95) - 1] * 1000,
        "loop_p50_ms": statistics.median(per_loop) * 1000,
    }


async def _upstream_turn(loops: int, turns: int) -> float:
    """The floor: one streamed Chat Completions call straight to the fake upstream (p50 ms)."""
    url = f"http://127.0.0.1:{UP}/chat/completions"
    obj = {"model": "bench-model", "messages": [{"role": "user", "content": "x"}], "stream": True}
    took: list[float] = []
    async with aiohttp.ClientSession() as s:
        for _ in range(loops * turns):
            t0 = time.perf_counter()
            async with s.post(url, json=obj) as r:
                await r.read()
            took.append(time.perf_counter() - t0)
    return statistics.median(took) * 1000


def agent_loop(port: int, quick: bool) -> dict[str, Any]:
    loops, turns = (5, 10) if quick else (30, 10)
    os.sched_setaffinity(0, {int(CORE_LOAD)})
    try:
        asyncio.run(_agent_loops(port, "ws", False, 1, turns))  # warm-up
        asyncio.run(_agent_loops(port, "http", True, 1, turns))
        out: dict[str, Any] = {"turns": turns, "loops": loops}
        out["upstream_turn_p50_ms"] = asyncio.run(_upstream_turn(loops, turns))
        out["https_store"] = asyncio.run(_agent_loops(port, "http", True, loops, turns))
        out["https_full"] = asyncio.run(_agent_loops(port, "http", False, loops, turns))
        out["ws_store"] = asyncio.run(_agent_loops(port, "ws", True, loops, turns))
        out["ws_no_store"] = asyncio.run(_agent_loops(port, "ws", False, loops, turns))
        return out
    finally:
        os.sched_setaffinity(0, {0, 1})


# -- orchestration --------------------------------------------------------------------------
def godex_config(
    tmp: Path,
    port: int,
    upstream: int,
    lean: bool,
    pg: str | None = None,
    limits: str | None = None,
    redis_prefix: str = "",
) -> Path:
    """A GodeX config; ``limits`` (memory or redis) adds one rate-limited client key.

    Without ``limits`` it uses only keys every GodeX since the first bench has read, so a
    baseline ref's older schema takes it too.
    """
    cfg = tmp / f"godex-{port}.yaml"
    sessions = (
        "session: {enabled: false}"
        if lean
        else f"session: {{backend: sqlite, sqlite: {{path: {tmp}/s{port}.db}}}}"
    )
    trace = (
        "trace: {enabled: false}" if lean else f"trace: {{enabled: true, path: {tmp}/t{port}.db}}"
    )
    if pg is not None:
        sessions = f"session: {{backend: postgres, postgres: {{dsn: '{pg}'}}}}"
        trace = f"trace: {{enabled: true, backend: postgres, postgres: {{dsn: '{pg}'}}}}"
    extra = ""
    if limits is not None:
        extra = f"""auth:
  keys:
    - {{name: bench, key: "{CLIENT_KEY}", limits: {{rpm: {NEVER_REFUSE}, tpm: {NEVER_REFUSE}}}}}
limits: {{backend: {limits}, redis: {{url: "{REDIS_URL}", prefix: "{redis_prefix}"}}}}
"""
    cfg.write_text(
        f"""server: {{host: 127.0.0.1, port: {port}, data_dir: {tmp}/data{port}}}
default_provider: bench
providers:
  bench: {{spec: deepseek, credentials: {{api_key: sk-bench}}, endpoint: {{base_url: "http://127.0.0.1:{upstream}"}}}}
{sessions}
{trace}
logging: {{level: warning}}
{extra}"""
    )
    return cfg


def start_godex(
    t: Target,
    cfg: Path,
    logs: Path,
    workers: int = 1,
    core: str = CORE_TARGET,
    tree: Path | None = None,
) -> None:
    """``tree``: run the GodeX of that checkout (a baseline worktree) with this venv's python."""
    started = time.perf_counter()
    cmd = [sys.executable, "-m", "godex", "serve", "--config", str(cfg)]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    env = {"PYTHONPATH": str(tree)} if tree is not None else None
    t.proc = spawn(cmd, core, logs / f"{t.name}.log", env, cwd=tree or ROOT)
    deadline = time.perf_counter() + 20
    while time.perf_counter() < deadline:
        if t.proc.poll() is not None:
            raise RuntimeError(f"{t.name} exited with {t.proc.returncode} (see its log)")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{t.port}/health", timeout=1) as r:
                if r.status == 200:
                    t.startup_s = time.perf_counter() - started
                    return
        except Exception:
            time.sleep(0.01)
    raise RuntimeError(f"{t.name} did not become healthy")


def start_passthrough(t: Target, upstream: int, logs: Path) -> None:
    started = time.perf_counter()
    t.proc = spawn(
        [
            sys.executable,
            "-m",
            "bench.passthrough",
            "--port",
            str(t.port),
            "--upstream",
            f"http://127.0.0.1:{upstream}",
        ],
        CORE_TARGET,
        logs / f"{t.name}-{upstream}.log",
    )
    _wait_port(t.port)
    wait_ready(t, 20)
    t.startup_s = time.perf_counter() - started


def start_litellm(t: Target, tmp: Path, logs: Path) -> None:
    venv = HERE / ".venv-litellm"
    subprocess.run(["bash", str(HERE / "litellm_setup.sh")], check=True)
    cfg = tmp / "litellm.yaml"
    cfg.write_text(
        f"""model_list:
  - model_name: bench-model
    litellm_params:
      model: deepseek/bench-model
      api_base: http://127.0.0.1:{UP}
      api_key: sk-bench
litellm_settings:
  telemetry: false
"""
    )
    env = {
        "LITELLM_MASTER_KEY": LITELLM_KEY,
        "LITELLM_TELEMETRY_DISABLED": "true",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
    }
    t.headers = {"Authorization": f"Bearer {LITELLM_KEY}"}
    started = time.perf_counter()
    t.proc = spawn(
        [
            str(venv / "bin" / "litellm"),
            "--config",
            str(cfg),
            "--port",
            str(t.port),
            "--num_workers",
            "1",
        ],
        CORE_TARGET,
        logs / "litellm.log",
        env,
    )
    wait_ready(t, 120)
    t.startup_s = time.perf_counter() - started


def measure(
    t: Target,
    quick: bool,
    runs: int,
    seconds: float,
    cpu_pid: int | None = None,
    limited: bool = False,
    full: bool = True,
) -> dict[str, Any]:
    """Check, then time; ``full=False``: only sync and stream at c=16 (the ratio loads)."""
    check(t, limited)
    result: dict[str, Any] = {"startup_s": t.startup_s}
    if t.proc is not None:
        time.sleep(0.5)
        result["idle_rss_mb"] = rss_mb(t.proc.pid)
    pid = cpu_pid if cpu_pid is not None else (t.proc.pid if t.proc is not None else None)
    wrk(t, False, 16, 1 if quick else 2)  # warm-up
    for c in (1, 16, 64) if full else (16,):
        result[f"sync_c{c}"] = loads(t, False, c, seconds, runs, pid if c == 16 else None)
    for c in (16, 64) if full else (16,):
        result[f"stream_c{c}"] = loads(t, True, c, seconds, runs, pid if c == 16 else None)
    if full:
        n = 100 if quick else 400
        result["first_c1"] = first_bytes(t, 1, n // 4)
        result["first_c16"] = first_bytes(t, 16, n)
    return result


_DROPPED = re.compile(r"trace_queue_full.*?dropped_total=(\d+)")


def traces_dropped(logs: Path) -> dict[str, int]:
    """Per target log: the trace rows its recorder dropped (its queue full), when any."""
    out: dict[str, int] = {}
    for log in sorted(logs.glob("*.log")):
        counts = [int(m) for m in _DROPPED.findall(log.read_text(errors="replace"))]
        if counts:
            out[log.stem] = max(counts)
    return out


class ThrowawayDatabase:
    """A PostgreSQL database made for this run and dropped at its end."""

    def __init__(self) -> None:
        import psycopg

        self.name = f"godex_bench_{os.urandom(4).hex()}"
        self._psycopg = psycopg
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"'.encode())
            # Earlier runs' dirty pages flushed now, not by the server's checkpointer while
            # this run is timed (measured: a 15-point swing in PostgreSQL / SQLite).
            with contextlib.suppress(psycopg.Error):
                conn.execute(b"CHECKPOINT")
        self.dsn = f"{PG_SERVER}/{self.name}"

    def drop(self) -> None:
        with self._psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'.encode())


def redis_drop_prefix(prefix: str) -> int:
    """Delete this run's rate-limit counters (the prefix is made per run)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        return int(client.delete(*keys)) if keys else 0
    finally:
        client.close()


def compile_sources(tree: Path) -> None:
    """Bytecode for a checkout's ``godex``, as ``pip install`` leaves it: start-up then measures
    a gateway, not the compiler (a shell with PYTHONDONTWRITEBYTECODE=1 would otherwise compile
    every module at every start)."""
    compileall.compile_dir(str(tree / "godex"), quiet=1)


@contextmanager
def baseline_tree(ref: str, tmp: Path) -> Iterator[tuple[Path, str]]:
    """A temporary ``git worktree`` of ``ref`` (detached), removed at the end."""
    tree = tmp / "baseline"
    sha = subprocess.run(
        ["git", "rev-parse", "--verify", f"{ref}^{{commit}}"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(tree), sha],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    try:
        # The venv's editable install points at this checkout: make sure the ref's code wins.
        where = subprocess.run(
            [sys.executable, "-c", "import godex; print(godex.__file__)"],
            cwd=tree,
            env={**os.environ, "PYTHONPATH": str(tree)},
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        if not Path(where).resolve().is_relative_to(tree.resolve()):
            raise RuntimeError(f"baseline imports godex from {where}, not {tree}")
        compile_sources(tree)
        yield tree, sha
    finally:
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True
        )
        subprocess.run(["git", "worktree", "prune"], cwd=ROOT, capture_output=True)


def pick_sections(only: str | None, baseline: str | None, skip: set[str]) -> list[str]:
    """The sections to run, in run order: ``--only`` (comma list) or all, minus skipped ones."""
    if only:
        wanted = {s.strip() for s in only.split(",") if s.strip()}
        unknown = wanted - set(SECTIONS)
        if unknown:
            raise SystemExit(
                f"--only: unknown section(s) {', '.join(sorted(unknown))}; "
                f"choose from {', '.join(SECTIONS)}"
            )
        if "baseline" in wanted and not baseline:
            raise SystemExit("--only baseline needs --baseline REF")
    else:
        wanted = set(SECTIONS) - skip
    if not baseline:
        wanted.discard("baseline")
    return [s for s in SECTIONS if s in wanted]


class Bench:
    """One run: the upstreams, the temp dir and the results; one method per section."""

    def __init__(self, args: argparse.Namespace, runs: int, seconds: float) -> None:
        self.args = args
        self.quick: bool = args.quick
        self.runs = runs
        # Targets loaded in turn: their ratios are read round by round, and a ratio of 5% needs
        # more rounds than a single target's median does on this machine.
        self.pair_runs = runs if self.quick or args.runs else max(runs, PAIR_RUNS)
        self.seconds = seconds
        self.tmp = Path(tempfile.mkdtemp(prefix="godex-bench-"))
        self.logs = self.tmp / "logs"
        self.logs.mkdir()
        self.res: dict[str, Any] = {
            "when": dt.datetime.now(dt.UTC).isoformat(),
            "quick": args.quick,
            "runs": runs,
            "seconds": seconds,
            "cpus": os.cpu_count(),
            "targets": {},
        }
        self.up = spawn(
            [
                sys.executable,
                "-m",
                "bench.fake_upstream",
                "--port",
                str(UP),
                "--chunks",
                str(CHUNKS),
            ],
            CORE_LOAD,
            self.logs / "up.log",
        )
        self.paced = spawn(
            [
                sys.executable,
                "-m",
                "bench.fake_upstream",
                "--port",
                str(UP_PACED),
                "--chunks",
                str(CHUNKS),
                "--delay-ms",
                "40",
            ],
            CORE_LOAD,
            self.logs / "paced.log",
        )
        try:
            wait_ready(Target("direct", UP, "/chat/completions", api="chat"), 10)
            _wait_port(UP_PACED)
        except BaseException:
            self.close()  # no upstream left behind when the run cannot start
            raise

    @property
    def targets(self) -> dict[str, Any]:
        t: dict[str, Any] = self.res["targets"]
        return t

    def close(self) -> None:
        stop(self.up)
        stop(self.paced)

    def _measure_godex(
        self,
        t: Target,
        cfg: Path,
        tree: Path | None = None,
        limited: bool = False,
        full: bool = True,
    ) -> None:
        start_godex(t, cfg, self.logs, tree=tree)
        try:
            self.targets[t.name] = measure(
                t, self.quick, self.runs, self.seconds, limited=limited, full=full
            )
        finally:
            stop(t.proc)

    # -- sections -------------------------------------------------------------------------
    def direct(self) -> None:
        direct = Target("direct", UP, "/chat/completions", api="chat")
        up_cpu0 = cpu_s(self.up.pid)
        t0 = time.perf_counter()
        self.targets["direct"] = measure(
            direct, self.quick, self.runs, self.seconds, cpu_pid=self.up.pid
        )
        self.res["upstream_cpu_share"] = (cpu_s(self.up.pid) - up_cpu0) / (time.perf_counter() - t0)

    def passthrough(self) -> None:
        t = Target("passthrough", PASS, "/v1/chat/completions", api="chat")
        start_passthrough(t, UP, self.logs)
        try:
            self.targets[t.name] = measure(t, self.quick, self.runs, self.seconds)
        finally:
            stop(t.proc)

    def godex(self) -> None:
        t = Target("godex", GX, "/v1/responses")
        self._measure_godex(t, godex_config(self.tmp, GX, UP, False))

    def godex_lean(self) -> None:
        t = Target("godex_lean", GX_LEAN, "/v1/responses")
        self._measure_godex(t, godex_config(self.tmp, GX_LEAN, UP, True))

    def side_by_side(self) -> None:
        """The pass-through, godex and godex_lean (and, with ``--baseline``, the ref's two)
        serving at once and loaded in turn, run by run: the ratios the targets are read from.

        Loads minutes apart on this machine drift by more than the differences measured (the
        pass-through alone moved 2.4k-4.2k req/s in one afternoon); loads seconds apart do not.
        """
        ts = [
            Target("passthrough", PASS, "/v1/chat/completions", api="chat"),
            Target("godex", GX, "/v1/responses"),
            Target("godex_lean", GX_LEAN, "/v1/responses"),
        ]
        trees: dict[str, Path | None] = {}
        with contextlib.ExitStack() as stack:
            if self.args.baseline:
                tree, sha = stack.enter_context(baseline_tree(self.args.baseline, self.tmp))
                self.res["baseline"] = {"ref": self.args.baseline, "sha": sha}
                ts += [
                    Target("base", GX_BASE, "/v1/responses"),
                    Target("base_lean", GX_BASE_LEAN, "/v1/responses"),
                ]
                trees = {"base": tree, "base_lean": tree}
            try:
                for t in ts:
                    if t.name == "passthrough":
                        start_passthrough(t, UP, self.logs)
                    else:
                        lean = t.name.endswith("_lean")
                        cfg = godex_config(self.tmp, t.port, UP, lean)
                        start_godex(t, cfg, self.logs, tree=trees.get(t.name))
                got: dict[str, dict[str, list[dict[str, float]]]] = {}
                for t in ts:
                    check(t)
                    wrk(t, False, 16, 1)  # warm-up
                    wrk(t, True, 16, 1)
                    got[t.name] = {load: [] for load in SIDE_BY_SIDE_LOADS}
                for round_no in range(self.pair_runs):
                    for load, (stream, conns) in SIDE_BY_SIDE_LOADS.items():
                        for t in in_turn(ts, round_no):
                            assert t.proc is not None
                            got[t.name][load].append(
                                wrk(t, stream, conns, self.seconds, t.proc.pid)
                            )
                self.res["side_by_side"] = {
                    name: {load: summary(runs) for load, runs in by.items()}
                    for name, by in got.items()
                }
            finally:
                for t in ts:
                    stop(t.proc)

    def doors(self) -> None:
        """The three doors of one godex_lean process, interleaved run by run (same drift)."""
        paths = {
            "responses": "/v1/responses",
            "messages": "/v1/messages",
            "chat": "/v1/chat/completions",
        }
        proc = Target("godex_lean_doors", GX_LEAN, "/v1/responses")
        start_godex(proc, godex_config(self.tmp, GX_LEAN, UP, True), self.logs)
        try:
            assert proc.proc is not None
            doors = {
                api: Target(f"godex_lean {path}", GX_LEAN, path, api=api, proc=proc.proc)
                for api, path in paths.items()
            }
            for t in doors.values():
                check(t)
            got = interleaved(list(doors.values()), self.pair_runs, self.seconds)
            self.res["doors"] = {api: got[t.name] for api, t in doors.items()}
        finally:
            stop(proc.proc)

    def limits(self) -> None:
        """Rate-limited client keys on the default config, memory and Redis counters.

        The keyless reference and both limited targets serve side by side (idle ones cost
        nothing) and are loaded in turn, run by run: a 5% cost is below this machine's drift
        between loads minutes apart.
        """
        prefix = f"godex-bench-{os.urandom(4).hex()}:"
        self.res["limits_redis_prefix"] = prefix
        auth = {"Authorization": f"Bearer {CLIENT_KEY}"}
        ts = [
            (Target("godex_limits_ref", GX_LIM_REF, "/v1/responses"), None),
            (Target("godex_limits_mem", GX_LIM_MEM, "/v1/responses", headers=auth), "memory"),
            (Target("godex_limits_redis", GX_LIM_REDIS, "/v1/responses", headers=auth), "redis"),
        ]
        try:
            for t, backend in ts:
                cfg = godex_config(self.tmp, t.port, UP, False, limits=backend, redis_prefix=prefix)
                start_godex(t, cfg, self.logs)
            for t, backend in ts:
                assert t.proc is not None
                check(t, limited=backend is not None)
                time.sleep(0.5)
                self.targets[t.name] = {
                    "startup_s": t.startup_s,
                    "idle_rss_mb": rss_mb(t.proc.pid),
                }
            got = interleaved([t for t, _backend in ts], self.pair_runs, self.seconds)
            for name, medians in got.items():
                self.targets[name].update(medians)
        finally:
            for t, _backend in ts:
                stop(t.proc)
            self.res["limits_redis_keys_dropped"] = redis_drop_prefix(prefix)

    def paced_streams(self) -> None:
        n = PACED_STREAMS_QUICK if self.quick else PACED_STREAMS
        # The upstream's own pace: the same streams straight from it, this run, this load.
        up = Target("direct", UP_PACED, "/v1/chat/completions", api="chat")
        with on_load_core():
            own = asyncio.run(_paced(up, n))
        self.targets.setdefault("direct", {})[PACED_KEY] = {**own, "slowdown": 1.0}
        for name, port, lean in (
            ("godex_lean", GX_LEAN, True),
            ("godex", GX, False),
            ("passthrough", PASS, None),
        ):
            if lean is None:
                t = Target(name, port, "/v1/chat/completions", api="chat")
                start_passthrough(t, UP_PACED, self.logs)
            else:
                t = Target(name, port, "/v1/responses")
                start_godex(t, godex_config(self.tmp, port, UP_PACED, lean), self.logs)
            try:
                with on_load_core():
                    got = asyncio.run(_paced(t, n))
                got["slowdown"] = got["median_s"] / own["median_s"]
                got["slowdown_max"] = got["max_s"] / own["max_s"]
                self.targets.setdefault(name, {})[PACED_KEY] = got
            finally:
                stop(t.proc)

    def workers(self) -> None:
        # Two workers (the gateway may use both cores; the load generator shares core 1).
        t2 = Target("godex_lean_2w", GX2, "/v1/responses")
        start_godex(t2, godex_config(self.tmp, GX2, UP, True), self.logs, workers=2, core="0,1")
        try:
            assert t2.proc is not None
            self.targets["godex_lean_2w"] = {
                "sync_c64": loads(t2, False, 64, self.seconds, self.runs, t2.proc.pid),
                "stream_c64": loads(t2, True, 64, self.seconds, self.runs, t2.proc.pid),
            }
        finally:
            stop(t2.proc)

    def agent(self) -> None:
        # A 10-turn agent loop on the default config (sessions + traces on).
        ta = Target("godex", GX, "/v1/responses")
        start_godex(ta, godex_config(self.tmp, GX, UP, False), self.logs)
        try:
            self.res["agent_loop"] = agent_loop(GX, self.quick)
        finally:
            stop(ta.proc)

    def pg(self) -> None:
        """The default config with sessions and traces on PostgreSQL; for the PostgreSQL /
        SQLite ratio, the same config on SQLite serves beside it and the two are loaded in
        turn, run by run (sections minutes apart drift more than the 15% asked)."""
        db = ThrowawayDatabase()
        tp = Target("godex_pg", GX_PG, "/v1/responses")
        ref = Target("godex_pg_ref", GX_LIM_REF, "/v1/responses")
        try:
            start_godex(tp, godex_config(self.tmp, GX_PG, UP, False, db.dsn), self.logs)
            (self.tmp / "pg-ref").mkdir(exist_ok=True)
            cfg = godex_config(self.tmp / "pg-ref", GX_LIM_REF, UP, False)
            start_godex(ref, cfg, self.logs)
            # The pair first, both databases fresh (the full measure below fills PostgreSQL's).
            check(tp)
            check(ref)
            assert tp.proc is not None
            time.sleep(0.5)
            idle_rss = rss_mb(tp.proc.pid)
            paired = interleaved([tp, ref], self.pair_runs, self.seconds)
            stop(ref.proc)
            self.targets["godex_pg"] = measure(tp, self.quick, self.runs, self.seconds)
            self.res["agent_loop_pg"] = agent_loop(GX_PG, self.quick)
            self.targets["godex_pg"].update(paired["godex_pg"], idle_rss_mb=idle_rss)
            self.targets["godex_pg_ref"] = paired["godex_pg_ref"]
        finally:
            stop(tp.proc)
            stop(ref.proc)
            db.drop()

    def baseline(self) -> None:
        ref: str = self.args.baseline
        with baseline_tree(ref, self.tmp) as (tree, sha):
            self.res["baseline"] = {"ref": ref, "sha": sha}
            for name, port, lean in (("base_lean", GX_BASE_LEAN, True), ("base", GX_BASE, False)):
                t = Target(name, port, "/v1/responses")
                self._measure_godex(t, godex_config(self.tmp, port, UP, lean), tree=tree)

    def litellm(self) -> None:
        lt = Target("litellm", LITE, "/v1/responses")
        try:
            start_litellm(lt, self.tmp, self.logs)
            self.targets["litellm"] = measure(lt, False, self.runs, self.seconds)
        finally:
            stop(lt.proc)

    def run(self, sections: list[str]) -> None:
        self.res["sections"] = sections
        with services_on_load_core() as moved:
            self.res["service_threads_on_load_core"] = len(moved)
            self._run(sections)
        dropped = traces_dropped(self.logs)
        if dropped:  # a target that shed trace rows did less work than it should: flagged
            self.res["traces_dropped"] = dropped
            self.res.setdefault("errors", {})["traces"] = f"trace rows dropped: {dropped}"

    def _methods(self) -> dict[str, Callable[[], None]]:
        return {
            "direct": self.direct,
            "passthrough": self.passthrough,
            "godex": self.godex,
            "godex_lean": self.godex_lean,
            "side_by_side": self.side_by_side,
            "doors": self.doors,
            "limits": self.limits,
            "paced": self.paced_streams,
            "workers": self.workers,
            "agent": self.agent,
            "pg": self.pg,
            "baseline": self.baseline,
            "litellm": self.litellm,
        }

    def _run(self, sections: list[str]) -> None:
        methods = self._methods()
        for section in sections:
            started = time.perf_counter()
            print(f"[bench] {section} ...", file=sys.stderr, flush=True)
            try:
                methods[section]()
            except Exception as exc:  # keep what was measured; say what failed, go on
                msg = f"{type(exc).__name__}: {exc}"
                self.res.setdefault("errors", {})[section] = msg
                print(f"[bench] {section} failed: {msg}", file=sys.stderr, flush=True)
            took = time.perf_counter() - started
            self.res.setdefault("section_s", {})[section] = round(took, 1)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="short smoke run; skips LiteLLM")
    ap.add_argument("--no-litellm", action="store_true")
    ap.add_argument(
        "--no-postgres", action="store_true", help="skip the default config on PostgreSQL"
    )
    ap.add_argument(
        "--only",
        metavar="SECTIONS",
        help=f"comma list of sections to run (of: {', '.join(SECTIONS)})",
    )
    ap.add_argument(
        "--baseline",
        metavar="REF",
        help="a git ref whose GodeX also runs (base_lean, base) from a temporary worktree",
    )
    ap.add_argument("--seconds", type=float, help="seconds per load (default 4; quick 2)")
    ap.add_argument(
        "--runs",
        type=int,
        help="runs per load, median kept (default 3, and 5 rounds where targets are loaded in "
        "turn; quick 1)",
    )
    args = ap.parse_args()
    compile_sources(ROOT)
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    skip = set()
    if args.quick or args.no_litellm:
        skip.add("litellm")
    if args.no_postgres:
        skip.add("pg")
    sections = pick_sections(args.only, args.baseline, skip)
    if busy := busy_ports():
        sys.exit(f"bench ports in use (another bench run?): {busy}")
    runs = args.runs or (1 if args.quick else 3)
    seconds = args.seconds or (2.0 if args.quick else 4.0)
    bench = Bench(args, runs, seconds)
    try:
        bench.run(sections)
    finally:
        bench.close()
        out = HERE / "results" / (dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + ".json")
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(bench.res, indent=2))
        print(report(bench.res))
        print(f"\nJSON: {out}\nlogs: {bench.logs}")


# -- report ---------------------------------------------------------------------------------
def _get(res: dict[str, Any], *path: str) -> Any:
    """``res[a][b]...`` or None when any step is missing (a section that did not run)."""
    cur: Any = res
    for p in path:
        if not isinstance(cur, dict) or p not in cur:
            return None
        cur = cur[p]
    return cur


def _ratio(num: Any, den: Any) -> float | None:
    if not isinstance(num, (int, float)) or not isinstance(den, (int, float)) or not den:
        return None
    return float(num) / float(den)


def _diff(a: Any, b: Any) -> float | None:
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return None
    return float(a) - float(b)


@dataclass(frozen=True)
class Goal:
    """One target of the performance issue and how it is read off a run."""

    label: str
    goal: str  # as the issue states it
    value: Callable[[dict[str, Any]], float | None]
    ok: Callable[[float], bool]
    unit: str = "%"  # "%": a ratio shown as a percentage; else the unit shown after it
    # Why this run cannot judge it (measured and shown, not passed or failed), or None.
    unjudged: Callable[[dict[str, Any]], str | None] = lambda res: None


def _t(name: str, *path: str) -> Callable[[dict[str, Any]], Any]:
    return lambda res: _get(res, "targets", name, *path)


def _rps_ratio(a: str, b: str, load: str) -> Callable[[dict[str, Any]], float | None]:
    """a / b in throughput: from the side-by-side loads when both ran there, else from their
    own sections."""

    def get(res: dict[str, Any]) -> float | None:
        side = res.get("side_by_side") or {}
        if a in side and b in side and load in side[a]:
            return pair_ratio(side[a][load], side[b].get(load))
        return pair_ratio(_t(a, load)(res), _t(b, load)(res))

    return get


def _limits_ref(res: dict[str, Any]) -> str:
    """The keyless reference loaded beside the limited targets, else the godex section's."""
    return "godex_limits_ref" if "godex_limits_ref" in res.get("targets", {}) else "godex"


def _cost(a: str, load: str) -> Callable[[dict[str, Any]], float | None]:
    """Throughput lost against the same config without keys (0.03: 3% slower)."""

    def get(res: dict[str, Any]) -> float | None:
        r = _rps_ratio(a, _limits_ref(res), load)(res)
        return None if r is None else 1 - r

    return get


def _pg_ratio(load: str) -> Callable[[dict[str, Any]], float | None]:
    """Against the SQLite reference loaded beside it, else the godex section's."""

    def get(res: dict[str, Any]) -> float | None:
        ref = "godex_pg_ref" if "godex_pg_ref" in res.get("targets", {}) else "godex"
        return _rps_ratio("godex_pg", ref, load)(res)

    return get


def _door(api: str, load: str) -> Callable[[dict[str, Any]], float | None]:
    return lambda res: pair_ratio(
        _get(res, "doors", api, load), _get(res, "doors", "responses", load)
    )


def _at_most(limit: float) -> Callable[[float], bool]:
    return lambda v: v <= limit


def _at_least(least: float) -> Callable[[float], bool]:
    return lambda v: v >= least


def goals() -> list[Goal]:
    # (target, its label, load, the least share of the pass-through's throughput)
    shares = (
        ("godex_lean", "lean", "sync_c16", 0.70),
        ("godex_lean", "lean", "sync_c64", 0.70),
        ("godex_lean", "lean", "stream_c16", 0.40),
        ("godex", "default", "sync_c16", 0.55),
        ("godex", "default", "stream_c16", 0.30),
    )
    out = [
        Goal(
            f"{label} {load.replace('_', ' ')} / pass-through",
            f"≥ {least:.0%}",
            _rps_ratio(name, "passthrough", load),
            _at_least(least),
        )
        for name, label, load, least in shares
    ]
    out += [
        Goal(
            "default added p99 c=1 (vs direct)",
            "≤ 2 ms",
            lambda r: _diff(_t("godex", "sync_c1", "p99")(r), _t("direct", "sync_c1", "p99")(r)),
            lambda v: v <= 2.0,
            " ms",
        ),
    ]
    for backend, name, limit in (
        ("memory", "godex_limits_mem", 0.05),
        ("Redis", "godex_limits_redis", 0.15),
    ):
        for load in ("sync_c16", "stream_c16"):
            out.append(
                Goal(
                    f"limits ({backend}) cost, {load.replace('_', ' ')}",
                    f"≤ {limit:.0%}",
                    _cost(name, load),
                    _at_most(limit),
                )
            )
    for load in ("sync_c16", "stream_c16"):
        out.append(
            Goal(
                f"PostgreSQL / SQLite, {load.replace('_', ' ')}",
                "within 15% (≥ 85%)",
                _pg_ratio(load),
                lambda v: v >= 0.85,
            )
        )
    for api, door in (("messages", "/v1/messages"), ("chat", "/v1/chat/completions")):
        for load in ("sync_c16", "stream_c16"):
            out.append(
                Goal(
                    f"{door} / responses, {load.replace('_', ' ')}",
                    "within 10% (≥ 90%)",
                    _door(api, load),
                    lambda v: v >= 0.90,
                )
            )
    for name in ("godex", "godex_lean"):
        out.append(
            Goal(f"{name} idle RSS", "≤ 60 MB", _t(name, "idle_rss_mb"), lambda v: v <= 60, " MB")
        )
    for name in ("godex", "godex_lean"):
        out.append(
            Goal(
                f"{name} {PACED_STREAMS} paced: RSS growth",
                "≤ 40 MB",
                _t(name, PACED_KEY, "rss_growth_mb"),
                lambda v: v <= 40,
                " MB",
            )
        )
        out.append(
            Goal(
                f"{name} {PACED_STREAMS} paced: slowdown",
                "≤ 1.05×",
                _t(name, PACED_KEY, "slowdown"),
                lambda v: v <= 1.05,
                "×",
            )
        )
    for name in ("godex", "godex_lean"):
        out.append(
            Goal(f"{name} startup", "≤ 0.5 s", _t(name, "startup_s"), lambda v: v <= 0.5, " s")
        )
    for load in ("sync_c64", "stream_c64"):
        out.append(
            Goal(
                f"2 workers / 1 worker (lean), {load.replace('_', ' ')}",
                "≥ 1.8×",
                _rps_ratio("godex_lean_2w", "godex_lean", load),
                lambda v: v >= 1.8,
                "×",
                _too_few_cores,
            )
        )
    return out


# Two workers need a core each, and the upstream and the load generator one more at least.
WORKER_CORES = 4


def _too_few_cores(res: dict[str, Any]) -> str | None:
    cpus = res.get("cpus")
    if isinstance(cpus, int) and cpus < WORKER_CORES:
        return f"reported: {cpus} cores, the load generator on one of them; needs {WORKER_CORES}"
    return None


def _fmt(v: float, unit: str) -> str:
    if unit == "%":
        return f"{v:.0%}"
    if unit == "×":
        return f"{v:.2f}×"
    return f"{v:.2f}{unit}"


def targets_block(res: dict[str, Any]) -> list[str]:
    """The issue's targets: measured value and PASS/FAIL (n/a: its section did not run)."""
    lines = ["\ntargets:", "| target | goal | measured | result |", "|---|---|---|---|"]
    for g in goals():
        try:
            v = g.value(res)
        except (KeyError, TypeError):
            v = None
        if v is None or v != v:  # missing or NaN
            lines.append(f"| {g.label} | {g.goal} | – | n/a |")
            continue
        verdict = g.unjudged(res) or ("PASS" if g.ok(v) else "FAIL")
        lines.append(f"| {g.label} | {g.goal} | {_fmt(v, g.unit)} | {verdict} |")
    if res.get("quick") and "paced" in res.get("sections", []):
        lines.append(
            f"(quick run: {PACED_STREAMS_QUICK} paced streams, not {PACED_STREAMS}; "
            "one short run per load: indicative only)"
        )
    return lines


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v:.0%}"


def report(res: dict[str, Any]) -> str:
    t = res["targets"]
    rows = ["| metric | " + " | ".join(t) + " |", "|---" * (len(t) + 1) + "|"]

    def row(label: str, get: Any) -> None:
        cells = []
        for name in t:
            try:
                v = get(t[name])
                cells.append(f"{v:,.2f}" if isinstance(v, (int, float)) else str(v or "–"))
            except (KeyError, TypeError):
                cells.append("–")
        rows.append(f"| {label} | " + " | ".join(cells) + " |")

    paced_n = next((r[PACED_KEY]["streams"] for r in t.values() if PACED_KEY in r), PACED_STREAMS)
    for c in (1, 16, 64):
        row(f"sync req/s c={c}", lambda r, c=c: r[f"sync_c{c}"]["rps"])
    row("sync p50 ms c=1", lambda r: r["sync_c1"]["p50"])
    row("sync p99 ms c=1", lambda r: r["sync_c1"]["p99"])
    row("sync p95 ms c=16", lambda r: r["sync_c16"]["p95"])
    for c in (16, 64):
        row(f"streams/s c={c}", lambda r, c=c: r[f"stream_c{c}"]["rps"])
    row("cpu µs per request, sync c=16", lambda r: r["sync_c16"]["cpu_us"])
    row("cpu µs per stream, stream c=16", lambda r: r["stream_c16"]["cpu_us"])
    row("TTFB p50 ms c=1", lambda r: r["first_c1"]["ttfb_p50"])
    row("first delta p50 ms c=1", lambda r: r["first_c1"]["first_delta_p50"])
    row("first delta p50 ms c=16", lambda r: r["first_c16"]["first_delta_p50"])
    row("idle RSS MB", lambda r: r["idle_rss_mb"])
    row("startup s", lambda r: r["startup_s"])
    row(f"{paced_n} paced: RSS growth MB", lambda r: r[PACED_KEY]["rss_growth_mb"])
    row(f"{paced_n} paced: slowdown ×", lambda r: r[PACED_KEY]["slowdown"])
    lines = ["\n".join(rows), ""]
    p = t.get("passthrough")
    d = t.get("direct")
    for name in ("godex", "godex_lean", "godex_pg", "base", "base_lean", "litellm"):
        r = t.get(name)
        if not r:
            continue
        if p:
            parts = [
                f"{load.replace('_', ' ')} {_pct(_rps_ratio(name, 'passthrough', load)(res))}"
                for load in ("sync_c16", "sync_c64", "stream_c16")
            ]
            lines.append(f"{name} vs pass-through: " + ", ".join(parts))
        if d and "sync_c1" in r:
            added50 = r["sync_c1"]["p50"] - d["sync_c1"]["p50"]
            added99 = r["sync_c1"]["p99"] - d["sync_c1"]["p99"]
            delta = r["first_c1"]["first_delta_p50"] - d["first_c1"]["first_delta_p50"]
            lines.append(
                f"{name} added p99 c=1: {added99:.2f} ms (added p50 {added50:.2f} ms); "
                f"first delta +{delta:.2f} ms"
            )
    if "litellm" in t and "godex" in t:
        g, lt = t["godex"], t["litellm"]
        lines.append(
            f"godex vs LiteLLM: sync c16 {g['sync_c16']['rps'] / lt['sync_c16']['rps']:.1f}×, "
            f"stream c16 {g['stream_c16']['rps'] / lt['stream_c16']['rps']:.1f}×"
        )
    for name, ref in (
        ("godex_limits_mem", _limits_ref(res)),
        ("godex_limits_redis", _limits_ref(res)),
        ("godex_pg", "godex_pg_ref" if "godex_pg_ref" in t else "godex"),
    ):
        if name in t and ref in t:
            parts = [
                f"{load.replace('_', ' ')} {_pct(_rps_ratio(name, ref, load)(res))}"
                for load in ("sync_c16", "stream_c16")
            ]
            lines.append(f"{name} vs {ref} (same run): " + ", ".join(parts))
    if "godex_lean_2w" in t and "godex_lean" in t:
        parts = [
            f"{load.replace('_', ' ')} {_rps_ratio('godex_lean_2w', 'godex_lean', load)(res):.2f}×"
            for load in ("sync_c64", "stream_c64")
            if _rps_ratio("godex_lean_2w", "godex_lean", load)(res) is not None
        ]
        lines.append("godex_lean 2 workers vs 1: " + ", ".join(parts))
    lines.extend(_side_by_side_table(res))
    lines.extend(_doors_table(res))
    lines.extend(_baseline_lines(res))
    if "upstream_cpu_share" in res:
        lines.append(f"upstream CPU share while loaded directly: {res['upstream_cpu_share']:.0%}")
    lines.extend(_error_lines(res))
    for key, store in (("agent_loop", "SQLite"), ("agent_loop_pg", "PostgreSQL")):
        loop = res.get(key)
        if loop:
            lines.extend(_loop_table(loop, store))
    if res.get("sections"):
        lines.extend(targets_block(res))
    took = res.get("section_s") or {}
    if took:
        each = ", ".join(f"{k} {v:.0f}" for k, v in took.items())
        lines.append(f"\nrun took {sum(took.values()):.0f} s ({each})")
    for section, msg in (res.get("errors") or {}).items():
        lines.append(f"section {section} FAILED: {msg}")
    return "\n".join(lines)


def _error_lines(res: dict[str, Any]) -> list[str]:
    """Loads that saw failed requests (a 429 from a limit, a reset): their figures are suspect."""
    out = []
    where: list[tuple[str, Any]] = list(res.get("targets", {}).items())
    where += [(f"door {api}", r) for api, r in (res.get("doors") or {}).items()]
    for name, r in where:
        for load, v in r.items():
            if isinstance(v, dict) and v.get("errors"):
                out.append(f"WARNING: {name} {load}: {v['errors']:.0f} failed requests")
    return out


def _doors_table(res: dict[str, Any]) -> list[str]:
    doors = res.get("doors")
    if not doors:
        return []
    lines = [
        "\ndoors of godex_lean (one process, same upstream answer, interleaved):",
        "| door | sync req/s c=16 | vs responses | streams/s c=16 | vs responses "
        "| cpu µs sync | cpu µs stream |",
        "|---|---|---|---|---|---|---|",
    ]
    for api, path in (
        ("responses", "/v1/responses"),
        ("messages", "/v1/messages"),
        ("chat", "/v1/chat/completions"),
    ):
        r = doors.get(api)
        if not r:
            continue
        lines.append(
            f"| {path} | {r['sync_c16']['rps']:,.0f} | {_pct(_door(api, 'sync_c16')(res))} | "
            f"{r['stream_c16']['rps']:,.0f} | {_pct(_door(api, 'stream_c16')(res))} | "
            f"{r['sync_c16'].get('cpu_us', float('nan')):.0f} | "
            f"{r['stream_c16'].get('cpu_us', float('nan')):.0f} |"
        )
    return lines


def _side_by_side_table(res: dict[str, Any]) -> list[str]:
    side = res.get("side_by_side")
    if not side:
        return []
    lines = [
        "\nside by side (all serving at once, loaded in turn run by run; the targets' ratios):",
        "| target | " + " | ".join(f"{load} req/s | vs pass-through | cpu µs" for load in
                                   SIDE_BY_SIDE_LOADS) + " |",
        "|---" * (1 + 3 * len(SIDE_BY_SIDE_LOADS)) + "|",
    ]  # fmt: skip
    for name, by in side.items():
        cells = []
        for load in SIDE_BY_SIDE_LOADS:
            r = by.get(load, {})
            cells += [
                f"{r.get('rps', float('nan')):,.0f}",
                _pct(_rps_ratio(name, "passthrough", load)(res)),
                f"{r.get('cpu_us', float('nan')):.0f}",
            ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def _baseline_lines(res: dict[str, Any]) -> list[str]:
    """Before and after in one run: each against the pass-through, and current / base."""
    base = res.get("baseline")
    if not base:
        return []
    lines = [
        f"\nbaseline {base['ref']} ({base['sha'][:10]}) against this tree, same run (side by"
        " side when that section ran):",
        "| config | load | base / pass-through | current / pass-through | current / base |",
        "|---|---|---|---|---|",
    ]
    for cur, old, label in (("godex_lean", "base_lean", "lean"), ("godex", "base", "default")):
        for load in ("sync_c16", "sync_c64", "stream_c16"):
            b = _rps_ratio(old, "passthrough", load)(res)
            c = _rps_ratio(cur, "passthrough", load)(res)
            cb = _rps_ratio(cur, old, load)(res)
            lines.append(
                f"| {label} | {load.replace('_', ' ')} | {_pct(b)} | {_pct(c)} | "
                f"{'–' if cb is None else f'{cb:.2f}×'} |"
            )
    return lines


def _loop_table(loop: dict[str, Any], store: str) -> list[str]:
    lines: list[str] = []
    if loop:
        floor = loop["upstream_turn_p50_ms"]
        lines.append(
            f"\nagent loop, {loop['turns']} turns x {loop['loops']} "
            f"(godex default config, sessions and traces on {store}):"
        )
        lines.append(
            "| transport | turn p50 ms | turn p95 ms | added per turn p50 ms | loop p50 ms |"
        )
        lines.append("|---|---|---|---|---|")
        for name, label in (
            ("https_store", "HTTPS keep-alive, store: true, by id"),
            ("https_full", "HTTPS keep-alive, store: false, whole history"),
            ("ws_store", "WebSocket, store: true"),
            ("ws_no_store", "WebSocket, store: false"),
        ):
            r = loop.get(name)
            if r is None:
                continue
            lines.append(
                f"| {label} | {r['turn_p50_ms']:.2f} | {r['turn_p95_ms']:.2f} | "
                f"{r['turn_p50_ms'] - floor:.2f} | {r['loop_p50_ms']:.1f} |"
            )
        lines.append(f"upstream alone, one streamed call: p50 {floor:.2f} ms")
    return lines


if __name__ == "__main__":
    main()
