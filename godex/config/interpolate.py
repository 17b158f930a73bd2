"""``${VAR}`` and ``${VAR:-default}`` expansion over a parsed YAML tree.

Unset variables are collected with the key path that used them, so the loader can report each
one by name (or, for a provider's API key, mark only that provider unavailable).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand(value: Any, path: str, env: Mapping[str, str], missing: list[tuple[str, str]]) -> Any:
    """A copy of ``value`` with every string expanded; ``missing`` gets (key path, variable)."""
    if isinstance(value, str):
        if "${" not in value:  # the common case: no regex work
            return value

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            found = env.get(name)
            if default is not None:
                # Like the shell's :- form: an empty variable also takes the default.
                return found if found else default
            if found is None:
                missing.append((path, name))
                return ""
            return found

        return VAR.sub(sub, value)
    if isinstance(value, dict):
        return {
            k: expand(v, f"{path}.{k}" if path else str(k), env, missing) for k, v in value.items()
        }
    if isinstance(value, list):
        return [expand(v, f"{path}[{i}]", env, missing) for i, v in enumerate(value)]
    return value


def referenced_var(value: object) -> str | None:
    """The first variable a raw (unexpanded) string refers to, for messages about a key."""
    if isinstance(value, str):
        m = VAR.search(value)
        if m:
            return m.group(1)
    return None
