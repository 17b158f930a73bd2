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
from godex.providers.spec import ProviderSpec


@dataclass(frozen=True, slots=True)
class Route:
    """One target: a provider runtime and the model name it is asked for."""

    provider: ProviderRuntime
    upstream_model: str

    @property
    def label(self) -> str:
        return f"{self.provider.name}/{self.upstream_model}"

    @property
    def spec(self) -> ProviderSpec:
        """The provider's spec with this model's overrides applied."""
        return self.provider.spec.for_model(self.upstream_model)


def _chain(target: str | tuple[str, ...]) -> tuple[str, ...]:
    return (target,) if isinstance(target, str) else target


class ModelRouter:
    def __init__(self, config: GodexConfig, runtimes: dict[str, ProviderRuntime]) -> None:
        self._aliases = {name: _chain(t) for name, t in config.models.aliases.items()}
        self._globs = [k for k in self._aliases if k != "*" and any(c in k for c in "*?[")]
        self._default = config.default_provider
        self._runtimes = runtimes
        self._cache: dict[str, tuple[Route, ...]] = {}

    @property
    def runtimes(self) -> dict[str, ProviderRuntime]:
        return self._runtimes

    def resolve(self, model: str) -> Route:
        """The first target for ``model``."""
        return self.candidates(model)[0]

    def candidates(self, model: str) -> tuple[Route, ...]:
        """Every target for ``model`` in failover order (one, unless an alias names a chain)."""
        routes = self._cache.get(model)
        if routes is not None:
            return routes
        routes = self._resolve(model)
        if len(self._cache) < 10_000:  # bounded: model strings come from clients
            self._cache[model] = routes
        return routes

    def _split(self, target: str) -> Route | None:
        provider, sep, upstream = target.partition("/")
        runtime = self._runtimes.get(provider)
        if sep and runtime is not None and upstream:
            return Route(runtime, upstream)
        return None

    def _resolve(self, model: str) -> tuple[Route, ...]:
        direct = self._split(model)
        if direct is not None:
            return (direct,)
        glob = next((g for g in self._globs if fnmatchcase(model, g)), None)
        keys = (model, glob, "*") if model not in self._aliases else (model,)
        for key in keys:
            chain = self._aliases.get(key) if key is not None else None
            if chain is not None:
                routes = tuple(r for r in map(self._split, chain) if r is not None)
                if routes:
                    return routes
                # The alias names providers that could not be set up: say so, never
                # send the request somewhere else under the client's model name.
                names = ", ".join(f"'{t.partition('/')[0]}'" for t in chain)
                raise ProviderUnavailable(
                    f"model '{model}' maps to '{', '.join(chain)}', but provider {names} "
                    "is not available on this gateway",
                    code="provider.unavailable",
                )
        if self._default and self._default in self._runtimes:
            return (Route(self._runtimes[self._default], model),)
        raise InvalidRequestError(
            f"model '{model}' does not resolve to a provider: no alias, no '*' alias and no "
            "default_provider matches",
            code="bridge.unknown_model",
            wire_code="model_not_found",
            param="model",
        )

    def default_route(self) -> tuple[Route, ...]:
        """The targets a request with no alias of its own goes to (for readiness)."""
        if "*" in self._aliases:
            return tuple(r for r in map(self._split, self._aliases["*"]) if r is not None)
        if self._default and self._default in self._runtimes:
            rt = self._runtimes[self._default]
            return (Route(rt, rt.spec.default_model),)
        return ()

    def model_ids(self) -> list[str]:
        """Aliases first, then ``provider/model`` ids of every configured provider."""
        ids: list[str] = [a for a in self._aliases if a != "*" and a not in self._globs]
        for name, rt in self._runtimes.items():
            models = rt.config.models or rt.spec.models or (rt.spec.default_model,)
            ids.extend(f"{name}/{m}" for m in models)
        for chain in self._aliases.values():
            for target in chain:
                if target not in ids:
                    ids.append(target)
        return ids
