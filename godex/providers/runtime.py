"""A configured provider ready to call: spec, URL, headers and timeouts computed once.

This is the per-provider state the resilience wrappers (retry budget, circuit breaker) will hang
on; it lives below the gateway so nothing above needs to know how a provider is reached.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import MappingProxyType

from godex.config.schema import ProviderConfig
from godex.errors import ProviderUnavailable
from godex.providers.spec import ProviderSpec
from godex.upstream.breaker import BreakerPolicy, CircuitBreaker, Listener
from godex.upstream.retry import RetryBudget, RetryPolicy
from godex.upstream.transport import Timeouts, UpstreamRequest

# Headers the current request adds to each of its upstream calls (x-request-id, traceparent).
# The server sets it in the request's task; every attempt, on any provider, reads it.
UPSTREAM_HEADERS: ContextVar[Mapping[str, str]] = ContextVar(
    "godex_upstream_headers", default=MappingProxyType({})
)


@dataclass(slots=True)
class ProviderRuntime:
    name: str
    config: ProviderConfig
    spec: ProviderSpec
    url: str
    headers: dict[str, str]
    unavailable_reason: str | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    budget: RetryBudget = field(default_factory=lambda: RetryBudget(RetryPolicy()))
    breaker_policy: BreakerPolicy = field(default_factory=BreakerPolicy)
    on_breaker_change: Listener | None = None
    # One breaker per upstream model: a provider can fail one model and serve the others.
    breakers: dict[str, CircuitBreaker] = field(default_factory=dict)

    def breaker(self, model: str) -> CircuitBreaker:
        found = self.breakers.get(model)
        if found is None:
            if len(self.breakers) >= 1024:  # bounded: model names can come from clients
                model = "*"
                found = self.breakers.get(model)
            if found is None:
                found = self.breakers[model] = CircuitBreaker(
                    f"{self.name}/{model}", self.breaker_policy, on_change=self.on_breaker_change
                )
        return found

    def ensure_available(self) -> None:
        if self.unavailable_reason is not None:
            raise unavailable(self.name, self.unavailable_reason)

    def request(self, body: bytes, deadline: float | None = None) -> UpstreamRequest:
        extra = UPSTREAM_HEADERS.get()
        # The provider's own and configured headers win over the request's correlation ones.
        headers = {**extra, **self.headers} if extra else self.headers
        return UpstreamRequest(self.url, headers, body, self.timeouts, self.name, deadline)


def unavailable(name: str, reason: str) -> ProviderUnavailable:
    """The gateway is misconfigured (e.g. the provider's key variable is unset): a 400, so
    Codex shows it on its first attempt instead of retrying a 503 for 25 s."""
    return ProviderUnavailable(
        f"provider '{name}' is unavailable: {reason}. This is the gateway's configuration; "
        "fix it and restart GodeX.",
        code="provider.unavailable",
        status=400,
        type="invalid_request_error",
    )


def build_runtime(
    cfg: ProviderConfig,
    spec: ProviderSpec,
    retry: RetryPolicy | None = None,
    breaker: BreakerPolicy | None = None,
    on_breaker_change: Listener | None = None,
) -> ProviderRuntime:
    base_url = (cfg.base_url or spec.default_base_url).rstrip("/")
    url = base_url if base_url.endswith("/chat/completions") else base_url + "/chat/completions"
    headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
    reason = cfg.unavailable_reason
    if cfg.api_key:
        headers.update(spec.hooks.auth_headers(spec, cfg.api_key))
    elif reason is None and spec.api_key_required:
        var = cfg.api_key_env or spec.api_key_env
        reason = f"no API key: set the environment variable {var}"
    headers.update(cfg.headers)
    timeouts = Timeouts(
        connect_ms=cfg.connect_timeout_ms,
        first_byte_ms=cfg.first_byte_timeout_ms,
        idle_ms=cfg.idle_timeout_ms,
        total_ms=cfg.timeout_ms,
    )
    retry = retry or RetryPolicy()
    return ProviderRuntime(
        cfg.name,
        cfg,
        spec,
        url,
        headers,
        reason,
        timeouts,
        retry,
        RetryBudget(retry),
        breaker or BreakerPolicy(),
        on_breaker_change,
    )
