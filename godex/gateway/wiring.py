"""Everything the gateway core holds, built once from the typed config.

Wired here, where it is built: the router over provider runtimes, the one upstream transport,
the sealer, the session store and the trace recorder. The server adds only HTTP concerns.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import godex.providers.registry as registry
from godex.bridge.request import DEFAULT_LIMITS, RequestLimits
from godex.bridge.sealing import Sealer
from godex.config.schema import GodexConfig
from godex.gateway.routing import ModelRouter
from godex.logging import get_logger
from godex.providers.runtime import ProviderRuntime, build_runtime
from godex.sessions.factory import open_store
from godex.sessions.store import SessionStore
from godex.trace.recorder import NoopRecorder, TraceRecorder, make_recorder
from godex.upstream.breaker import BreakerPolicy
from godex.upstream.http1 import Http1Transport
from godex.upstream.retry import RetryPolicy
from godex.upstream.transport import Transport

log = get_logger("godex.gateway")


def load_secret(config: GodexConfig) -> bytes:
    """The HMAC secret for encrypted_content: configured, or created once under data_dir.

    Kept in a file so restarts and every worker process share it: a blob sealed by one
    worker must open in another. With a shared session backend it is kept there instead, so
    every instance of the deployment shares it (and one with a different secret is refused).
    """
    if config.session.shared:
        return _shared_secret(config)
    if config.server.secret:
        return config.server.secret.encode()
    path = Path(config.server.data_dir) / "secret"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32).encode()
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(value)
    os.chmod(tmp, 0o600)
    try:
        os.link(tmp, path)  # atomic create-if-absent: concurrent workers agree on one secret
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes().strip()


def _shared_secret(config: GodexConfig) -> bytes:
    from godex import postgres_db  # a SQLite deployment never loads the PostgreSQL driver

    pg = config.session.postgres
    dsn = postgres_db.require_dsn(pg.dsn, "session.postgres.dsn")
    with postgres_db.connect(dsn, max(10.0, pg.statement_timeout_s)) as conn:
        postgres_db.migrate(conn, "core", postgres_db.CORE_MIGRATIONS)
        return postgres_db.shared_secret(conn, config.server.secret)


@dataclass(slots=True)
class UnsupportedProvider:
    name: str
    spec: str
    reason: str


@dataclass
class Services:
    config: GodexConfig
    router: ModelRouter
    unsupported: list[UnsupportedProvider]
    transport: Transport
    sealer: Sealer
    recorder: TraceRecorder | NoopRecorder
    sessions: SessionStore | None = None
    # How long a stream may stay quiet before the client gets a keep-alive event.
    keepalive_s: float = 10.0
    request_limits: RequestLimits = DEFAULT_LIMITS
    breaker_log: BreakerLog = field(default_factory=lambda: BreakerLog())
    extra: dict[str, Any] = field(default_factory=dict)


class BreakerLog:
    """Every circuit breaker transition: logged, and counted for the metrics."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()  # (provider, new state) -> times

    def __call__(self, name: str, old: str, new: str) -> None:
        log.warning("circuit_breaker", target=name, old=old, new=new)
        self.counts[(name.partition("/")[0], new)] += 1


def build_runtimes(
    config: GodexConfig, breaker_log: BreakerLog | None = None
) -> tuple[dict[str, ProviderRuntime], list[UnsupportedProvider]]:
    r, b = config.resilience.retry, config.resilience.breaker
    retry = RetryPolicy(r.attempts, r.backoff_ms, r.max_backoff_ms, r.budget_percent, r.min_retries)
    breaker = BreakerPolicy(b.failures, b.failure_percent, b.min_requests, b.window_s, b.cooldown_s)
    runtimes: dict[str, ProviderRuntime] = {}
    unsupported: list[UnsupportedProvider] = []
    for name, pcfg in config.providers.items():
        spec = registry.resolve_spec(pcfg.spec, pcfg.capabilities, pcfg.base_url)
        if spec is None:
            unsupported.append(UnsupportedProvider(name, pcfg.spec, "unknown spec"))
            continue
        runtimes[name] = build_runtime(pcfg, spec, retry, breaker, breaker_log)
    return runtimes, unsupported


def make_transport(config: GodexConfig) -> Transport:
    """The configured upstream client: the built-in HTTP/1.1 one unless aiohttp is asked for."""
    if config.upstream.transport == "aiohttp":
        from godex.upstream.aiohttp_transport import AiohttpTransport  # loaded only when chosen

        return AiohttpTransport()
    return Http1Transport()


def build_services(config: GodexConfig, transport: Transport | None = None) -> Services:
    breaker_log = BreakerLog()
    runtimes, unsupported = build_runtimes(config, breaker_log)
    return Services(
        config=config,
        router=ModelRouter(config, runtimes),
        unsupported=unsupported,
        transport=transport or make_transport(config),
        sealer=Sealer(load_secret(config)),
        recorder=make_recorder(config.trace),
        sessions=open_store(config.session),
        breaker_log=breaker_log,
        request_limits=RequestLimits(**dataclasses.asdict(config.server.request_limits)),
    )


def rebuild_services(old: Services, config: GodexConfig) -> Services:
    """``old`` with what a reload may change rebuilt from ``config``: router, providers, keys,
    limits, prices. The transport, sealer, session store, trace recorder and breaker log are
    kept: they own sockets, files and threads, and requests in flight still use them."""
    runtimes, unsupported = build_runtimes(config, old.breaker_log)
    return dataclasses.replace(
        old,
        config=config,
        router=ModelRouter(config, runtimes),
        unsupported=unsupported,
        request_limits=RequestLimits(**dataclasses.asdict(config.server.request_limits)),
    )
