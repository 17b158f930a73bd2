"""Everything a running server holds, built once from the typed config."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from godex.config.schema import GodexConfig
from godex.server.routing import ModelRouter, ProviderRuntime, build_runtime
from godex.upstream.client import UpstreamClient

if TYPE_CHECKING:
    from godex.bridge.sealing import Sealer
    from godex.server.metrics import Metrics
    from godex.sessions.store import SessionStore
    from godex.trace.recorder import NoopRecorder, TraceRecorder


def load_secret(config: GodexConfig) -> bytes:
    """The HMAC secret for encrypted_content: configured, or created once under data_dir.

    Kept in a file so restarts and every worker process share it: a blob sealed by one
    worker must open in another.
    """
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


@dataclass(slots=True)
class UnsupportedProvider:
    name: str
    spec: str
    reason: str


@dataclass
class AppState:
    config: GodexConfig
    router: ModelRouter
    unsupported: list[UnsupportedProvider]
    client: UpstreamClient
    sealer: Sealer
    metrics: Metrics
    recorder: TraceRecorder | NoopRecorder
    sessions: SessionStore | None = None
    api_keys: list[tuple[bytes, str]] = field(default_factory=list)  # (key, key id)
    keepalive_s: float = 10.0
    max_body_bytes: int = 64 * 1024 * 1024
    in_flight: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def authenticate(self, token: bytes | None) -> str | None:
        """The client key id for a valid key, else None. Constant time over all keys."""
        if token is None:
            return None
        found: str | None = None
        for key, key_id in self.api_keys:
            if hmac.compare_digest(key, token):
                found = key_id
        return found


def key_id(key: str) -> str:
    return "key_" + hashlib.sha256(key.encode()).hexdigest()[:12]


def build_state(config: GodexConfig) -> AppState:
    import godex.providers.registry as registry
    from godex.bridge.sealing import Sealer
    from godex.server.metrics import Metrics
    from godex.sessions.factory import open_store
    from godex.trace.recorder import make_recorder

    runtimes: dict[str, ProviderRuntime] = {}
    unsupported: list[UnsupportedProvider] = []
    for name, pcfg in config.providers.items():
        if pcfg.spec == "openai_compatible":
            spec = registry.build_openai_compatible_spec(pcfg.capabilities, pcfg.base_url)
        else:
            found = registry.get_spec(pcfg.spec)
            if found is None:
                unsupported.append(UnsupportedProvider(name, pcfg.spec, "unknown spec"))
                continue
            spec = found
        runtimes[name] = build_runtime(pcfg, spec)
    state = AppState(
        config=config,
        router=ModelRouter(config, runtimes),
        unsupported=unsupported,
        client=UpstreamClient(),
        sealer=Sealer(load_secret(config)),
        metrics=Metrics(),
        recorder=make_recorder(config.trace),
        sessions=open_store(config.session),
        api_keys=[(k.encode(), key_id(k)) for k in config.server.api_keys if k],
    )
    return state
