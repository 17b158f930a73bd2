"""The slot through which config is told which provider specs exist.

Config is the bottom layer: it never imports the provider registry. The registry installs
itself here when it is imported, and ``load_config`` asks whatever is installed (or the
catalog it is given), so a spec added with ``registry.register`` is valid in ``godex.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from godex.errors import ConfigError


class SpecCatalog(Protocol):
    def names(self) -> tuple[str, ...]:
        """Every accepted spelling of every spec, for messages and hints."""
        ...

    def canonical(self, name: str) -> str | None:
        """The spec's own name for an accepted spelling; None if unknown."""
        ...

    def api_key_env(self, name: str) -> str:
        """The conventional variable holding the spec's API key."""
        ...

    def accepts_capabilities(self, name: str) -> bool:
        """Whether ``providers.<name>.capabilities`` means anything for this (canonical) spec."""
        ...

    def capability_keys(self) -> list[str]: ...

    def check_capabilities(self, caps: Mapping[str, Any], base_url: str | None) -> list[str]:
        """Problems with declared capabilities, each starting ``capabilities.<key>: ``."""
        ...


_installed: list[SpecCatalog] = []


def install(catalog: SpecCatalog) -> None:
    _installed[:] = [catalog]


def current() -> SpecCatalog:
    if not _installed:
        raise ConfigError(
            "no provider catalog installed (import godex.providers.registry first)",
            code="config.no_catalog",
        )
    return _installed[0]
