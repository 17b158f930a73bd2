"""Limits held in a real Redis (127.0.0.1:6379; scripts/test.sh starts it), shared by processes."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
import pytest

from godex.config.schema import KeyLimits, LimitsConfig
from godex.limits.base import Bucket, window_of
from godex.limits.memory import MemoryLimiter
from godex.limits.redis import RedisLimiter
from tests.fakes.replay_upstream import FakeUpstream
from tests.integration.test_team_keys import (
    ALICE,
    _key,
    _parallel,
    answer,
    fresh_window,
    h,
    team_config,
)
from tests.support.gateway import run_gateway
from tests.support.process import free_port, start_godex, wait_healthy

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def prefix() -> str:
    return f"godex-test:{secrets.token_hex(6)}:"


@pytest.fixture
def up() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        fake.default = answer
        yield fake


async def _admit_many(limiter: object, n: int, buckets: tuple[Bucket, ...]) -> int:
    window = window_of(time.time())
    results = await asyncio.gather(*(limiter.admit(buckets, window) for _ in range(n)))  # type: ignore[attr-defined]
    return sum(1 for d in results if d.admitted)


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_parallel_admissions_equal_the_limit(backend: str, prefix: str) -> None:
    async def run() -> tuple[int, int]:
        limiter = MemoryLimiter() if backend == "memory" else RedisLimiter(REDIS, prefix)
        try:
            fresh_window()
            key = Bucket("key:a", KeyLimits(rpm=13))
            glob = Bucket("global", KeyLimits(concurrent=9))
            rpm_only = await _admit_many(limiter, 40, (key,))
            other = Bucket("key:b", KeyLimits(rpm=100))
            conc = await _admit_many(limiter, 40, (other, glob))
            return rpm_only, conc
        finally:
            await limiter.close()

    assert asyncio.run(run()) == (13, 9)


def test_a_refusal_in_one_bucket_counts_in_none(prefix: str) -> None:
    async def run() -> tuple[bool, bool]:
        limiter = RedisLimiter(REDIS, prefix)
        try:
            fresh_window()
            w = window_of(time.time())
            full = Bucket("global", KeyLimits(rpm=1))
            key = Bucket("key:a", KeyLimits(rpm=1))
            await limiter.admit((full,), w)
            refused = await limiter.admit((key, full), w)  # global is full: key not counted
            alone = await limiter.admit((key,), w)
            return refused.admitted, alone.admitted
        finally:
            await limiter.close()

    assert asyncio.run(run()) == (False, True)


def test_the_gateway_holds_the_limit_in_redis(
    up: FakeUpstream, tmp_path: Path, prefix: str
) -> None:
    keys = (_key("alice", ALICE, limits=KeyLimits(rpm=6)),)
    limits = LimitsConfig(backend="redis", redis_url=REDIS, redis_prefix=prefix)
    with run_gateway(team_config(tmp_path, up, keys=keys, limits=limits)) as g:
        results = _parallel(g.base_url, ALICE, 20)
    assert sum(r.status_code == 200 for r in results) == 6
    assert sum(r.status_code == 429 for r in results) == 14


def _config_file(tmp: Path, up: FakeUpstream, port: int, prefix: str, down: str) -> Path:
    path = tmp / f"godex-{port}.yaml"
    path.write_text(
        f"""
server: {{host: 127.0.0.1, port: {port}, data_dir: "{tmp}/data-{port}"}}
default_provider: ds
providers:
  ds:
    spec: deepseek
    credentials: {{api_key: sk-upstream}}
    endpoint: {{base_url: "{up.base_url}"}}
session: {{backend: memory}}
trace: {{enabled: false}}
logging: {{level: error}}
auth:
  keys:
    - {{name: alice, key: {ALICE}, limits: {{rpm: 9}}}}
limits:
  backend: redis
  redis: {{url: "{REDIS if down == "none" else "redis://127.0.0.1:1/0"}", prefix: "{prefix}"}}
  on_redis_down: {down if down != "none" else "open"}
"""
    )
    return path


def test_two_godex_processes_share_one_limit(up: FakeUpstream, tmp_path: Path, prefix: str) -> None:
    procs, ports = [], [free_port(), free_port()]
    try:
        for port in ports:
            procs.append(
                start_godex(_config_file(tmp_path, up, port, prefix, "none"), port, tmp_path)
            )
        for port, proc in zip(ports, procs, strict=True):
            wait_healthy(port, proc)
        fresh_window()

        def one(i: int) -> int:
            url = f"http://127.0.0.1:{ports[i % 2]}/v1/responses"
            r = httpx.post(url, headers=h(ALICE), json={"model": "m", "input": "hi"}, timeout=30)
            return r.status_code

        with ThreadPoolExecutor(16) as pool:
            codes = list(pool.map(one, range(30)))
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(20)
    assert codes.count(200) == 9 and codes.count(429) == 21


@pytest.mark.parametrize(("policy", "status"), [("open", 200), ("closed", 503)])
def test_redis_unreachable_applies_the_configured_policy(
    up: FakeUpstream, tmp_path: Path, prefix: str, policy: str, status: int
) -> None:
    port = free_port()
    proc = start_godex(_config_file(tmp_path, up, port, prefix, policy), port, tmp_path)
    try:
        wait_healthy(port, proc)
        base = f"http://127.0.0.1:{port}"
        r = httpx.post(base + "/v1/responses", headers=h(ALICE), json={"model": "m", "input": "x"},
                       timeout=30)  # fmt: skip
        metrics = httpx.get(base + "/metrics", headers=h(ALICE), timeout=10).text
    finally:
        proc.terminate()
        proc.wait(20)
    assert r.status_code == status
    assert "godex_limits_backend_errors_total 1.0" in metrics or (
        "godex_limits_backend_errors_total 2.0" in metrics
    )


def test_limits_config_reads_the_redis_keys(tmp_path: Path) -> None:
    from godex.config.loader import load_config

    path = tmp_path / "g.yaml"
    path.write_text(
        "limits: {backend: redis, redis: {url: 'redis://h:1/2'}, on_redis_down: closed,"
        " global: {rpm: 5}, models: {'deepseek/*': {tpm: 10}}}\n"
        "providers: {ds: {spec: deepseek, credentials: {api_key: sk-x}}}\n"
    )
    cfg, _ = load_config(str(path))
    assert cfg.limits == dataclasses.replace(
        LimitsConfig(),
        backend="redis",
        redis_url="redis://h:1/2",
        on_redis_down="closed",
        global_=KeyLimits(rpm=5),
        models={"deepseek/*": KeyLimits(tpm=10)},
    )
