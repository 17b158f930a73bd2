"""GodeX benchmark: one run, side by side, ratios against the physical floor and LiteLLM.

    python -m bench.run            # full run (about 10 minutes)
    python -m bench.run --quick    # smoke run (under a minute; LiteLLM skipped)

Targets, all on loopback: the fake upstream called directly (the floor), a byte pass-through
proxy on GodeX's own stack (the practical limit), GodeX with its default config (sessions and
traces on SQLite), the same config on PostgreSQL (a throwaway database on GODEX_BENCH_PG,
default 127.0.0.1:5432; --no-postgres skips it), GodeX with both off, and LiteLLM's proxy (its
/v1/responses bridge). The target
under test is pinned to core 0; the upstream and the load generator to core 1.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
UP, UP_PACED, PASS, GX, GX_LEAN, GX2, LITE = 18090, 18091, 18095, 18081, 18082, 18083, 18084
GX_PG = 18085
# The default config on PostgreSQL (sessions and traces) uses a throwaway database here.
PG_SERVER = os.environ.get("GODEX_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
CHUNKS = 50
TEXT = "tok " * CHUNKS
CORE_TARGET, CORE_LOAD = "0", "1"
LITELLM_KEY = "sk-" + "0123456789abcdef" * 4


@dataclass
class Target:
    name: str
    port: int
    path: str
    responses: bool  # speaks the Responses API (else Chat Completions)
    headers: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    startup_s: float | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def body(self, stream: bool) -> bytes:
        if self.responses:
            obj: dict[str, Any] = {"model": "bench-model", "input": "hello", "stream": stream}
        else:
            obj = {
                "model": "bench-model",
                "messages": [{"role": "user", "content": "hello"}],
                "stream": stream,
            }
        return json.dumps(obj).encode()


def spawn(
    cmd: list[str], core: str, log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["taskset", "-c", core, *cmd],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
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


def post(t: Target, stream: bool, timeout: float = 10) -> bytes:
    req = urllib.request.Request(
        t.url, data=t.body(stream), headers={"content-type": "application/json", **t.headers}
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        data: bytes = resp.read()
        return data


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


# -- correctness ----------------------------------------------------------------------------
def check(t: Target) -> None:
    sync = json.loads(post(t, False))
    if t.responses:
        text = "".join(
            p.get("text", "")
            for i in sync["output"]
            if i["type"] == "message"
            for p in i["content"]
        )
        usage = (sync["usage"]["input_tokens"], sync["usage"]["output_tokens"])
    else:
        text = sync["choices"][0]["message"]["content"]
        usage = (sync["usage"]["prompt_tokens"], sync["usage"]["completion_tokens"])
    assert text == TEXT, f"{t.name}: sync text {text[:60]!r}"
    assert usage == (12, CHUNKS), f"{t.name}: sync usage {usage}"
    raw = post(t, True).decode()
    deltas: list[str] = []
    final_usage = None
    for line in raw.splitlines():
        if not line.startswith("data:") or line.strip() == "data: [DONE]":
            continue
        ev = json.loads(line[5:])
        if t.responses:
            if ev.get("type") == "response.output_text.delta":
                deltas.append(ev["delta"])
            if ev.get("type") == "response.completed":
                u = ev["response"]["usage"]
                final_usage = (u["input_tokens"], u["output_tokens"])
        else:
            for ch in ev.get("choices") or []:
                deltas.append((ch.get("delta") or {}).get("content") or "")
            if ev.get("usage"):
                final_usage = (ev["usage"]["prompt_tokens"], ev["usage"]["completion_tokens"])
    assert "".join(deltas) == TEXT, f"{t.name}: stream text {''.join(deltas)[:60]!r}"
    assert final_usage == (12, CHUNKS), f"{t.name}: stream usage {final_usage}"


# -- load -----------------------------------------------------------------------------------
WRK_LUA = """
wrk.method = "POST"
wrk.body = [[%s]]
wrk.headers["Content-Type"] = "application/json"
%s
done = function(summary, latency, requests)
  io.write(string.format("JSON{\\"rps\\":%%f,\\"p50\\":%%d,\\"p95\\":%%d,\\"p99\\":%%d,\\"errors\\":%%d}\\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(95),
    latency:percentile(99), summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout))
end
"""


def wrk(t: Target, stream: bool, conns: int, seconds: float) -> dict[str, float]:
    headers = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in t.headers.items())
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_LUA % (t.body(stream).decode(), headers))
        script = f.name
    out = subprocess.run(
        [
            "taskset",
            "-c",
            CORE_LOAD,
            "wrk",
            "-t1",
            f"-c{conns}",
            f"-d{int(seconds)}s",
            "-s",
            script,
            t.url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    ).stdout
    os.unlink(script)
    line = next(x for x in out.splitlines() if x.startswith("JSON"))
    res: dict[str, float] = json.loads(line[4:])
    for k in ("p50", "p95", "p99"):
        res[k] = res[k] / 1000  # µs -> ms
    return res


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


async def _first_bytes(t: Target, conns: int, total: int) -> dict[str, float]:
    ttfb: list[float] = []
    first: list[float] = []
    marker = b"response.output_text.delta" if t.responses else b'"content": "tok'
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
                    if not ttfb or (len(ttfb) < len(first) + 1 and not got_first and not buf):
                        pass
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


def first_bytes(t: Target, conns: int, total: int) -> dict[str, float]:
    os.sched_setaffinity(0, {int(CORE_LOAD)})
    try:
        return asyncio.run(_first_bytes(t, conns, total))
    finally:
        os.sched_setaffinity(0, {0, 1})


async def _paced(t: Target, conns: int) -> dict[str, float]:
    body = t.body(True)
    durations: list[float] = []
    peak = 0.0
    assert t.proc is not None
    base = rss_mb(t.proc.pid)
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
            while True:
                peak = max(peak, rss_mb(t.proc.pid))  # type: ignore[union-attr]
                await asyncio.sleep(0.1)

        sampler = asyncio.ensure_future(sample())
        await asyncio.gather(*(one() for _ in range(conns)))
        sampler.cancel()
    ideal = (CHUNKS + 2) * 0.040
    return {
        "rss_growth_mb": peak - base,
        "slowdown": statistics.median(durations) / ideal,
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
def godex_config(tmp: Path, port: int, upstream: int, lean: bool, pg: str | None = None) -> Path:
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
    cfg.write_text(
        f"""server: {{host: 127.0.0.1, port: {port}, data_dir: {tmp}/data{port}}}
default_provider: bench
providers:
  bench: {{spec: deepseek, credentials: {{api_key: sk-bench}}, endpoint: {{base_url: "http://127.0.0.1:{upstream}"}}}}
{sessions}
{trace}
logging: {{level: warning}}
"""
    )
    return cfg


def start_godex(
    t: Target, cfg: Path, logs: Path, workers: int = 1, core: str = CORE_TARGET
) -> None:
    started = time.perf_counter()
    cmd = [sys.executable, "-m", "godex", "serve", "--config", str(cfg)]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    t.proc = spawn(cmd, core, logs / f"{t.name}.log")
    deadline = time.perf_counter() + 20
    while time.perf_counter() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{t.port}/health", timeout=1) as r:
                if r.status == 200:
                    t.startup_s = time.perf_counter() - started
                    return
        except Exception:
            time.sleep(0.01)
    raise RuntimeError(f"{t.name} did not become healthy")


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


def measure(t: Target, quick: bool, runs: int, seconds: float) -> dict[str, Any]:
    check(t)
    result: dict[str, Any] = {"startup_s": t.startup_s}
    if t.proc is not None:
        time.sleep(0.5)
        result["idle_rss_mb"] = rss_mb(t.proc.pid)
    wrk(t, False, 16, 1 if quick else 2)  # warm-up
    for c in (1, 16, 64):
        result[f"sync_c{c}"] = median_of([wrk(t, False, c, seconds) for _ in range(runs)])
    for c in (16, 64):
        result[f"stream_c{c}"] = median_of([wrk(t, True, c, seconds) for _ in range(runs)])
    n = 100 if quick else 400
    result["first_c1"] = first_bytes(t, 1, n // 4)
    result["first_c16"] = first_bytes(t, 16, n)
    return result


class ThrowawayDatabase:
    """A PostgreSQL database made for this run and dropped at its end."""

    def __init__(self) -> None:
        import psycopg

        self.name = f"godex_bench_{os.urandom(4).hex()}"
        self._psycopg = psycopg
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"'.encode())
        self.dsn = f"{PG_SERVER}/{self.name}"

    def drop(self) -> None:
        with self._psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'.encode())


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="short smoke run; skips LiteLLM")
    ap.add_argument("--no-litellm", action="store_true")
    ap.add_argument(
        "--no-postgres", action="store_true", help="skip the default config on PostgreSQL"
    )
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    runs, seconds = (1, 2.0) if args.quick else (3, 5.0)
    tmp = Path(tempfile.mkdtemp(prefix="godex-bench-"))
    logs = tmp / "logs"
    logs.mkdir()
    up = spawn(
        [sys.executable, "-m", "bench.fake_upstream", "--port", str(UP), "--chunks", str(CHUNKS)],
        CORE_LOAD,
        logs / "up.log",
    )
    paced = spawn(
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
        logs / "paced.log",
    )
    results: dict[str, Any] = {
        "when": dt.datetime.now(dt.UTC).isoformat(),
        "quick": args.quick,
        "targets": {},
    }
    direct = Target("direct", UP, "/chat/completions", responses=False)
    pg: ThrowawayDatabase | None = None
    try:
        wait_ready(direct, 10)
        up_cpu0 = cpu_s(up.pid)
        t0 = time.perf_counter()
        results["targets"]["direct"] = measure(direct, args.quick, runs, seconds)
        results["upstream_cpu_share"] = (cpu_s(up.pid) - up_cpu0) / (time.perf_counter() - t0)

        targets: list[tuple[Target, Any]] = [
            (Target("passthrough", PASS, "/v1/chat/completions", responses=False), None),
            (Target("godex", GX, "/v1/responses", responses=True), False),
            (Target("godex_lean", GX_LEAN, "/v1/responses", responses=True), True),
        ]
        for t, lean in targets:
            if t.name == "passthrough":
                started = time.perf_counter()
                t.proc = spawn(
                    [
                        sys.executable,
                        "-m",
                        "bench.passthrough",
                        "--port",
                        str(PASS),
                        "--upstream",
                        f"http://127.0.0.1:{UP}",
                    ],
                    CORE_TARGET,
                    logs / "pass.log",
                )
                wait_ready(t, 20)
                t.startup_s = time.perf_counter() - started
            else:
                start_godex(t, godex_config(tmp, t.port, UP, lean), logs)
            try:
                results["targets"][t.name] = measure(t, args.quick, runs, seconds)
            finally:
                stop(t.proc)
        for name, lean, port in (
            ("godex", False, GX),
            ("godex_lean", True, GX_LEAN),
            ("passthrough", None, PASS),
        ):
            t = Target(
                name,
                port,
                "/v1/responses" if lean is not None else "/v1/chat/completions",
                responses=lean is not None,
            )
            if lean is None:
                t.proc = spawn(
                    [
                        sys.executable,
                        "-m",
                        "bench.passthrough",
                        "--port",
                        str(PASS),
                        "--upstream",
                        f"http://127.0.0.1:{UP_PACED}",
                    ],
                    CORE_TARGET,
                    logs / "pass2.log",
                )
                _wait_port(PASS)
            else:
                start_godex(t, godex_config(tmp, port, UP_PACED, lean), logs)
            try:
                os.sched_setaffinity(0, {int(CORE_LOAD)})
                results["targets"][name]["paced64"] = asyncio.run(
                    _paced(t, 16 if args.quick else 64)
                )
            finally:
                os.sched_setaffinity(0, {0, 1})
                stop(t.proc)
        # Two workers (the gateway may use both cores; the load generator shares core 1).
        t2 = Target("godex_lean_2w", GX2, "/v1/responses", responses=True)
        start_godex(t2, godex_config(tmp, GX2, UP, True), logs, workers=2, core="0,1")
        try:
            results["targets"]["godex_lean_2w"] = {
                "sync_c64": median_of([wrk(t2, False, 64, seconds) for _ in range(runs)]),
                "stream_c64": median_of([wrk(t2, True, 64, seconds) for _ in range(runs)]),
            }
        finally:
            stop(t2.proc)
        # A 10-turn agent loop on the default config (sessions + traces on).
        ta = Target("godex", GX, "/v1/responses", responses=True)
        start_godex(ta, godex_config(tmp, GX, UP, False), logs)
        try:
            results["agent_loop"] = agent_loop(GX, args.quick)
        finally:
            stop(ta.proc)
        if not args.no_postgres:
            # The default config with sessions and traces on PostgreSQL, beside SQLite above.
            pg = ThrowawayDatabase()
            tp = Target("godex_pg", GX_PG, "/v1/responses", responses=True)
            start_godex(tp, godex_config(tmp, GX_PG, UP, False, pg.dsn), logs)
            try:
                results["targets"]["godex_pg"] = measure(tp, args.quick, runs, seconds)
                results["agent_loop_pg"] = agent_loop(GX_PG, args.quick)
            finally:
                stop(tp.proc)
        if not (args.quick or args.no_litellm):
            lt = Target("litellm", LITE, "/v1/responses", responses=True)
            try:
                start_litellm(lt, tmp, logs)
                results["targets"]["litellm"] = measure(lt, False, runs, seconds)
            finally:
                stop(lt.proc)
    except Exception as exc:  # keep what was measured; say what failed
        results["error"] = f"{type(exc).__name__}: {exc}"
        print(f"benchmark stopped early: {results['error']}", file=sys.stderr)
    finally:
        stop(up)
        stop(paced)
        if pg is not None:
            pg.drop()
        out = HERE / "results" / (dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + ".json")
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(results, indent=2))
        print(report(results))
        print(f"\nJSON: {out}\nlogs: {logs}")


def report(res: dict[str, Any]) -> str:
    t = res["targets"]
    rows = ["| metric | " + " | ".join(t) + " |", "|---" * (len(t) + 1) + "|"]

    def row(label: str, get: Any) -> None:
        cells = []
        for name in t:
            try:
                v = get(t[name])
                cells.append(f"{v:,.2f}" if isinstance(v, (int, float)) else str(v))
            except (KeyError, TypeError):
                cells.append("–")
        rows.append(f"| {label} | " + " | ".join(cells) + " |")

    for c in (1, 16, 64):
        row(f"sync req/s c={c}", lambda r, c=c: r[f"sync_c{c}"]["rps"])
    row("sync p50 ms c=1", lambda r: r["sync_c1"]["p50"])
    row("sync p99 ms c=1", lambda r: r["sync_c1"]["p99"])
    row("sync p95 ms c=16", lambda r: r["sync_c16"]["p95"])
    for c in (16, 64):
        row(f"streams/s c={c}", lambda r, c=c: r[f"stream_c{c}"]["rps"])
    row("TTFB p50 ms c=1", lambda r: r["first_c1"]["ttfb_p50"])
    row("first delta p50 ms c=1", lambda r: r["first_c1"]["first_delta_p50"])
    row("first delta p50 ms c=16", lambda r: r["first_c16"]["first_delta_p50"])
    row("idle RSS MB", lambda r: r["idle_rss_mb"])
    row("startup s", lambda r: r["startup_s"])
    row("64 paced: RSS growth MB", lambda r: r["paced64"]["rss_growth_mb"])
    row("64 paced: slowdown ×", lambda r: r["paced64"]["slowdown"])
    lines = ["\n".join(rows), ""]
    p = t.get("passthrough")
    d = t.get("direct")
    if p:
        for name in ("godex", "godex_lean", "litellm"):
            if name not in t:
                continue
            r = t[name]
            parts = [
                f"sync c16 {r['sync_c16']['rps'] / p['sync_c16']['rps']:.0%}",
                f"sync c64 {r['sync_c64']['rps'] / p['sync_c64']['rps']:.0%}",
                f"stream c16 {r['stream_c16']['rps'] / p['stream_c16']['rps']:.0%}",
            ]
            lines.append(f"{name} vs pass-through: " + ", ".join(parts))
            if d:
                added50 = r["sync_c1"]["p50"] - d["sync_c1"]["p50"]
                added99 = r["sync_c1"]["p99"] - d["sync_c1"]["p99"]
                delta = r["first_c1"]["first_delta_p50"] - d["first_c1"]["first_delta_p50"]
                lines.append(
                    f"{name} added latency c=1: p50 {added50:.2f} ms, p99 {added99:.2f} ms; "
                    f"first delta +{delta:.2f} ms"
                )
    if "litellm" in t and "godex" in t:
        g, lt = t["godex"], t["litellm"]
        lines.append(
            f"godex vs LiteLLM: sync c16 {g['sync_c16']['rps'] / lt['sync_c16']['rps']:.1f}×, "
            f"stream c16 {g['stream_c16']['rps'] / lt['stream_c16']['rps']:.1f}×"
        )
    lines.append(
        f"upstream CPU share while loaded directly: {res.get('upstream_cpu_share', 0):.0%}"
    )
    for key, store in (("agent_loop", "SQLite"), ("agent_loop_pg", "PostgreSQL")):
        loop = res.get(key)
        if loop:
            lines.extend(_loop_table(loop, store))
    return "\n".join(lines)


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
