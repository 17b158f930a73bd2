"""What the HTTP server holds around the gateway core: client keys, metrics, body limits."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from godex.config.schema import GodexConfig
from godex.gateway.core import Gateway
from godex.gateway.stored import StoredResponses
from godex.gateway.wiring import Services, build_services
from godex.server.metrics import Metrics
from godex.upstream.transport import Transport


@dataclass
class AppState:
    services: Services
    gateway: Gateway
    stored: StoredResponses
    metrics: Metrics
    api_keys: list[tuple[bytes, str]] = field(default_factory=list)  # (key, key id)
    max_body_bytes: int = 64 * 1024 * 1024
    body_timeout_s: float = 30.0  # the whole request body must arrive within this
    in_flight: int = 0

    @property
    def config(self) -> GodexConfig:
        return self.services.config

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


def build_state(config: GodexConfig, transport: Transport | None = None) -> AppState:
    services = build_services(config, transport)
    metrics = Metrics()
    # Only configured names become label values: no request can grow /metrics.
    metrics.configure_labels(
        models=services.router.model_ids(),
        providers=list(config.providers),
        keys=(),
    )
    return AppState(
        services=services,
        gateway=Gateway(services),
        stored=StoredResponses(services),
        metrics=metrics,
        api_keys=[(k.encode(), key_id(k)) for k in config.server.api_keys if k],
        max_body_bytes=config.server.max_body_bytes,
        body_timeout_s=config.server.body_timeout_s,
    )
