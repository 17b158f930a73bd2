"""Model resolution: a request's model to a provider runtime and an upstream model.

A request's ``model`` resolves, in order: ``provider/model`` for a configured provider, an exact
alias, the first glob alias that matches (``claude-sonnet-*``, in config order), the ``"*"``
alias, then ``default_provider/<model>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from godex.config.schema import GodexConfig
from godex.errors import InvalidRequestError, ProviderUnavailable
from godex.providers.runtime import ProviderRuntime


@dataclass(frozen=True, slots=True)
class Route:
    provider: ProviderRuntime
    upstream_model: str


class ModelRouter:
    def __init__(self, config: GodexConfig, runtimes: dict[str, ProviderRuntime]) -> None:
        self._aliases = dict(config.models.aliases)
        self._globs = [k for k in self._aliases if k != "*" and any(c in k for c in "*?[")]
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
        glob = next((g for g in self._globs if fnmatchcase(model, g)), None)
        keys = (model, glob, "*") if model not in self._aliases else (model,)
        for key in keys:
            target = self._aliases.get(key) if key is not None else None
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
        ids: list[str] = [a for a in self._aliases if a != "*" and a not in self._globs]
        for name, rt in self._runtimes.items():
            models = rt.config.models or rt.spec.models or (rt.spec.default_model,)
            ids.extend(f"{name}/{m}" for m in models)
        for target in self._aliases.values():
            if target not in ids:
                ids.append(target)
        return ids
