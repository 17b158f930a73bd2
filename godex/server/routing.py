"""Model resolution and provider runtimes.

A request's ``model`` resolves, in order: ``provider/model`` for a configured provider, an exact
alias, the ``"*"`` alias, then ``default_provider/<model>``.
"""

from __future__ import annotations

from dataclasses import dataclass

from godex.config.schema import GodexConfig, ProviderConfig
from godex.errors import InvalidRequestError, ProviderUnavailable
from godex.providers.spec import ProviderSpec


@dataclass(slots=True)
class ProviderRuntime:
    """A configured provider ready to call: spec, URL and headers computed once."""

    name: str
    config: ProviderConfig
    spec: ProviderSpec
    url: str
    headers: dict[str, str]
    unavailable_reason: str | None = None

    def ensure_available(self) -> None:
        if self.unavailable_reason is not None:
            raise ProviderUnavailable(
                f"provider '{self.name}' is unavailable: {self.unavailable_reason}",
                code="provider.unavailable",
            )


@dataclass(frozen=True, slots=True)
class Route:
    provider: ProviderRuntime
    upstream_model: str


def build_runtime(cfg: ProviderConfig, spec: ProviderSpec) -> ProviderRuntime:
    base_url = (cfg.base_url or spec.default_base_url).rstrip("/")
    url = base_url if base_url.endswith("/chat/completions") else base_url + "/chat/completions"
    headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
    reason = cfg.unavailable_reason
    if cfg.api_key:
        headers.update(spec.hooks.auth_headers(spec, cfg.api_key))
    elif reason is None:
        var = cfg.api_key_env or spec.api_key_env
        reason = f"no API key: set the environment variable {var}"
    headers.update(cfg.headers)
    return ProviderRuntime(cfg.name, cfg, spec, url, headers, reason)


class ModelRouter:
    def __init__(self, config: GodexConfig, runtimes: dict[str, ProviderRuntime]) -> None:
        self._aliases = dict(config.models.aliases)
        self._default = config.default_provider
        self._runtimes = runtimes
        self._cache: dict[str, Route] = {}

    @property
    def runtimes(self) -> dict[str, ProviderRuntime]:
        return self._runtimes

    def resolve(self, model: str) -> Route:
        route = self._cache.get(model)
        if route is not None:
            return route
        route = self._resolve(model)
        if len(self._cache) < 10_000:  # bounded: model strings come from clients
            self._cache[model] = route
        return route

    def _split(self, target: str) -> Route | None:
        provider, sep, upstream = target.partition("/")
        runtime = self._runtimes.get(provider)
        if sep and runtime is not None and upstream:
            return Route(runtime, upstream)
        return None

    def _resolve(self, model: str) -> Route:
        direct = self._split(model)
        if direct is not None:
            return direct
        for key in (model, "*"):
            target = self._aliases.get(key)
            if target is not None:
                route = self._split(target)
                if route is not None:
                    return route
                # The alias names a provider that could not be set up: say so, never
                # send the request somewhere else under the client's model name.
                raise ProviderUnavailable(
                    f"model '{model}' maps to '{target}', but provider "
                    f"'{target.partition('/')[0]}' is not available on this gateway",
                    code="provider.unavailable",
                )
        if self._default and self._default in self._runtimes:
            return Route(self._runtimes[self._default], model)
        raise InvalidRequestError(
            f"model '{model}' does not resolve to a provider: no alias, no '*' alias and no "
            "default_provider matches",
            code="bridge.unknown_model",
            wire_code="model_not_found",
            param="model",
        )

    def model_ids(self) -> list[str]:
        """Aliases first, then ``provider/model`` ids of every configured provider."""
        ids: list[str] = [a for a in self._aliases if a != "*"]
        for name, rt in self._runtimes.items():
            models = rt.config.models or rt.spec.models or (rt.spec.default_model,)
            ids.extend(f"{name}/{m}" for m in models)
        for target in self._aliases.values():
            if target not in ids:
                ids.append(target)
        return ids
