"""What the HTTP server holds around the gateway core: auth, limits, metrics, body limits."""

from __future__ import annotations

from dataclasses import dataclass

from godex.config.schema import GodexConfig
from godex.gateway.core import Gateway
from godex.gateway.stored import StoredResponses
from godex.gateway.wiring import Services, build_services
from godex.server.admission import Admission, make_limiter
from godex.server.auth import Authenticator
from godex.server.metrics import Metrics
from godex.upstream.transport import Transport


@dataclass
class AppState:
    services: Services
    gateway: Gateway
    stored: StoredResponses
    metrics: Metrics
    auth: Authenticator
    admission: Admission
    max_body_bytes: int = 64 * 1024 * 1024
    body_timeout_s: float = 30.0  # the whole request body must arrive within this
    in_flight: int = 0

    @property
    def config(self) -> GodexConfig:
        return self.services.config


def build_state(config: GodexConfig, transport: Transport | None = None) -> AppState:
    services = build_services(config, transport)
    auth = Authenticator(config, services.sessions)
    metrics = Metrics()
    # Only configured names become label values: no request can grow /metrics. Runtime keys
    # (made through /admin/keys) are counted as "other".
    metrics.configure_labels(
        models=services.router.model_ids(),
        providers=list(config.providers),
        keys=auth.names,
    )
    return AppState(
        services=services,
        gateway=Gateway(services),
        stored=StoredResponses(services),
        metrics=metrics,
        auth=auth,
        admission=Admission(config, make_limiter(config), metrics),
        max_body_bytes=config.server.max_body_bytes,
        body_timeout_s=config.server.body_timeout_s,
    )
