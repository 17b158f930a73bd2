"""Two real GodeX processes on one PostgreSQL behind a real HAProxy (round robin).

HAProxy names the instance that served each response in ``X-Godex-Instance``, so a test can
say which one answered; health checks use /health/live, so a dead instance leaves rotation
and a connection refused by it is redispatched to the other.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx2 as httpx

from tests.fakes.replay_upstream import FakeUpstream
from tests.support.process import free_port, start_godex, wait_healthy

NAMES = ("a", "b")


def godex_yaml(tmp: Path, name: str, upstream: FakeUpstream, dsn: str, extra: str = "") -> Path:
    path = tmp / f"godex-{name}.yaml"
    path.write_text(
        f"""
server: {{host: 127.0.0.1, data_dir: "{tmp}/data-{name}", shutdown_timeout: 2s}}
default_provider: ds
providers:
  ds:
    spec: deepseek
    credentials: {{api_key: sk-upstream}}
    endpoint: {{base_url: "{upstream.base_url}"}}
session:
  backend: postgres
  postgres: {{dsn: '{dsn}', pool_size: 4, statement_timeout: 1s}}
trace:
  backend: postgres
  postgres: {{dsn: '{dsn}'}}
  flush_interval_ms: 50
logging: {{level: warning}}
{extra}
"""
    )
    return path


def haproxy_cfg(port: int, backends: dict[str, int]) -> str:
    servers = "\n".join(
        f"  server {name} 127.0.0.1:{p} check inter 100ms fall 1 rise 1"
        for name, p in backends.items()
    )
    return f"""
global
  maxconn 512
defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  retries 3
  option redispatch 1
frontend fe
  bind 127.0.0.1:{port}
  default_backend godex
backend godex
  balance roundrobin
  option httpchk GET /health/live
  http-response set-header X-Godex-Instance %s
{servers}
"""


@dataclass
class Cluster:
    upstream: FakeUpstream
    lb_port: int
    ports: dict[str, int]
    procs: dict[str, subprocess.Popen[bytes]]
    haproxy: subprocess.Popen[bytes]
    tmp: Path
    logs: dict[str, bytes] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.lb_port}"

    def direct(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def wait_in_rotation(self, names: tuple[str, ...], timeout_s: float = 10) -> None:
        """Until HAProxy spreads requests over exactly ``names`` (its checks have run)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            seen = set()
            for _ in range(2 * len(NAMES)):
                try:
                    r = httpx.get(f"{self.url}/health/live", timeout=2)
                except httpx.TransportError:
                    continue
                if r.status_code == 200:
                    seen.add(r.headers.get("x-godex-instance"))
            if seen == set(names):
                return
            threading.Event().wait(0.05)
        raise AssertionError(f"HAProxy did not settle on {names}")


@contextmanager
def cluster(tmp: Path, dsn: str) -> Iterator[Cluster]:
    haproxy = shutil.which("haproxy")
    assert haproxy, "HAProxy is required (apt-get install -y haproxy)"
    with ExitStack() as stack:
        upstream = stack.enter_context(FakeUpstream())
        ports = {name: free_port() for name in NAMES}
        procs: dict[str, subprocess.Popen[bytes]] = {}
        for name in NAMES:
            proc = start_godex(godex_yaml(tmp, name, upstream, dsn), ports[name], tmp)
            procs[name] = proc
            stack.callback(_stop, proc)
        for name in NAMES:
            wait_healthy(ports[name], procs[name])
        lb_port = free_port()
        cfg = tmp / "haproxy.cfg"
        cfg.write_text(haproxy_cfg(lb_port, ports))
        lb = subprocess.Popen(
            [haproxy, "-db", "-f", str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        stack.callback(_stop, lb)
        c = Cluster(upstream, lb_port, ports, procs, lb, tmp)
        c.wait_in_rotation(NAMES)
        yield c


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
