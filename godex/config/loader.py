"""Find, read and validate ``godex.yaml``; report every problem with its key path.

Lookup: ``--config PATH``, then ``$GODEX_CONFIG``, then ``./godex.yaml``, then
``~/.godex/config.yaml``, else the built-in default (provider ``deepseek``, key from
``DEEPSEEK_API_KEY``, Codex's and Claude Code's model names aliased to DeepSeek's models,
SQLite under ``./data``).

- ``${VAR}`` and ``${VAR:-default}`` are expanded in every string value.
- An unset variable is a problem, except in ``providers.<name>.credentials.api_key``: there
  ``serve`` only warns and marks that provider unavailable (``/health`` shows it), while
  ``config check`` (``strict=True``) reports it like any other problem. A key written as
  ``${VAR:-}`` is optional (local engines): absent, it is neither.
- Unknown keys are warnings, with the nearest valid key suggested: a config written for a newer
  or older GodeX still starts. ``config check`` fails on them (``LoadResult.unknown``).
- ``GODEX_HOST`` / ``GODEX_PORT`` / ``GODEX_LOG_LEVEL`` override the file; CLI flags override
  them all (``apply_overrides``).
- Spec names come from a ``SpecCatalog`` (the provider registry installs itself as the default
  one): config itself knows no provider.
- Relative paths (``session.sqlite.path``, ``trace.path``, ``logging.file.dir``) stay relative
  to the working directory the server starts in, not to the config file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from godex.config import catalog as catalogs
from godex.config.build import Ctx, build
from godex.config.catalog import SpecCatalog
from godex.config.interpolate import expand
from godex.config.keys import LEVEL_ALIASES, Invalid, parse_level
from godex.config.redacted import redacted_dict
from godex.config.schema import GodexConfig, LoggingConfig
from godex.config.template import SUGGESTED, client_aliases
from godex.errors import GodexError

__all__ = [
    "ConfigProblems",
    "LoadResult",
    "apply_overrides",
    "default_raw",
    "find_config",
    "load",
    "load_config",
    "redacted_dict",
]


class ConfigProblems(GodexError):
    """The config cannot be used; ``problems`` lists every reason, each with its key path."""

    status = 500
    code = "config.invalid"
    type = "server_error"

    def __init__(
        self,
        problems: list[str],
        source: str | None,
        warnings: list[str] | None = None,
        unknown: list[str] | None = None,
    ) -> None:
        where = source or "built-in default"
        super().__init__(
            f"invalid configuration ({where}):\n  - " + "\n  - ".join(problems),
            code="config.invalid",
        )
        self.problems = problems
        self.source = source
        self.warnings = warnings or []  # found too, shown after the problems
        self.unknown = unknown or []  # those of the warnings that are about unknown keys


@dataclass(frozen=True, slots=True)
class LoadResult:
    config: GodexConfig
    warnings: list[str]  # every warning, the unknown keys included
    unknown: list[str] = field(default_factory=list)  # keys GodeX ignores (typos, old spellings)


def find_config(
    path: str | None, cwd: Path, home: Path, env: Mapping[str, str] | None = None
) -> Path | None:
    path = path or (env or {}).get("GODEX_CONFIG") or None
    if path:
        return Path(path).expanduser()
    for candidate in (cwd / "godex.yaml", home / ".godex" / "config.yaml"):
        if candidate.is_file():
            return candidate
    return None


def default_raw() -> dict[str, Any]:
    """The built-in default, as if it had been read from a file.

    Codex's and Claude Code's own model names are aliased to DeepSeek's models, so either
    client works against a bare ``godex serve``; other names go to DeepSeek as they are.
    """
    return {
        "default_provider": "deepseek",
        "models": {"aliases": client_aliases("deepseek", SUGGESTED["deepseek"])},
        "providers": {"deepseek": {"spec": "deepseek"}},
    }


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigProblems([f"{path}: no such file"], str(path)) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigProblems([f"{path}: cannot read it ({exc})"], str(path)) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigProblems([f"{path}: malformed YAML{where}: {problem}"], str(path)) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigProblems(
            [f"{path}: the top level must be a mapping, got {type(data).__name__}"], str(path)
        )
    return data


def _raw_api_keys(raw: Mapping[str, Any]) -> dict[str, object]:
    """Each provider's api_key as written, before expansion: it names the variable it needs."""
    out: dict[str, object] = {}
    providers = raw.get("providers")
    if isinstance(providers, dict):
        for name, p in providers.items():
            creds = p.get("credentials") if isinstance(p, dict) else None
            if isinstance(creds, dict):
                out[str(name)] = creds.get("api_key")
    return out


_OPTIONAL_KEY = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:-\}")


def _optional_key(raw: object) -> bool:
    """``api_key: "${VAR:-}"`` says the key may be absent (a local engine without --api-key)."""
    return isinstance(raw, str) and _OPTIONAL_KEY.fullmatch(raw.strip()) is not None


def _with_level(logging_cfg: LoggingConfig, level: str) -> LoggingConfig:
    # An override wins over per-sink levels too: `--log-level debug` should show debug lines.
    return replace(
        logging_cfg,
        level=level,
        console=replace(logging_cfg.console, level=None),
        file=replace(logging_cfg.file, level=None),
    )


def _env_overrides(config: GodexConfig, env: Mapping[str, str], ctx: Ctx) -> GodexConfig:
    logging_cfg = config.logging
    level = env.get("GODEX_LOG_LEVEL")
    if level:
        try:
            logging_cfg = _with_level(logging_cfg, parse_level(level))
        except Invalid as exc:
            ctx.problems.append(f"GODEX_LOG_LEVEL: {exc.message}")
    server = config.server
    host, port = env.get("GODEX_HOST"), env.get("GODEX_PORT")
    if host:
        server = replace(server, host=host)
    if port:
        if port.strip().isdigit() and int(port) <= 65535:
            server = replace(server, port=int(port))
        else:
            ctx.problems.append(f"GODEX_PORT: {port!r} is not a valid port (0-65535)")
    return replace(config, server=server, logging=logging_cfg)


def load_config(
    path: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    home: Path | None = None,
    strict: bool = False,
    catalog: SpecCatalog | None = None,
) -> tuple[GodexConfig, list[str]]:
    """The typed config and its warnings, or ``ConfigProblems`` listing every problem.

    ``strict`` (``config check``) counts an unset provider-key variable as a problem.
    ``catalog`` names the provider specs (default: the one the provider registry installs).
    """
    result = load(path, env=env, cwd=cwd, home=home, strict=strict, catalog=catalog)
    return result.config, result.warnings


def load(
    path: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    home: Path | None = None,
    strict: bool = False,
    catalog: SpecCatalog | None = None,
) -> LoadResult:
    """``load_config`` that also says which warnings are about unknown keys."""
    env = os.environ if env is None else env
    found = find_config(path, cwd or Path.cwd(), home or Path.home(), env)
    raw = default_raw() if found is None else _read_yaml(found)
    source = None if found is None else str(found)
    ctx = Ctx(env, catalog or catalogs.current())
    raw_keys = _raw_api_keys(raw)
    missing: list[tuple[str, str]] = []
    expanded = expand(raw, "", env, missing)
    key_paths = {f"providers.{name}.credentials.api_key" for name in raw_keys}
    for key, var in missing:
        if key not in key_paths:  # provider keys are judged per provider below
            ctx.problems.append(f"{key}: environment variable {var} is not set")
    config = _env_overrides(build(expanded, raw_keys, ctx, source), env, ctx)
    unavailable: dict[str, str] = {}
    for name, var in ctx.missing_keys.items():
        if _optional_key(raw_keys.get(name)):
            continue  # written as ${VAR:-}: the provider's own rules decide (local engines)
        where = f"providers.{name}.credentials.api_key"
        if strict:
            ctx.problems.append(f"{where}: environment variable {var} is not set")
        else:
            ctx.warnings.append(
                f"{where}: environment variable {var} is not set; provider '{name}' is "
                "unavailable until it is"
            )
        unavailable[name] = f"no API key: set the environment variable {var}"
    if ctx.problems:
        raise ConfigProblems(ctx.problems, source, ctx.warnings, ctx.unknown)
    providers = {
        n: replace(p, unavailable_reason=unavailable[n]) if n in unavailable else p
        for n, p in config.providers.items()
    }
    return LoadResult(replace(config, providers=providers), ctx.warnings, ctx.unknown)


def apply_overrides(
    config: GodexConfig,
    host: str | None = None,
    port: int | None = None,
    log_level: str | None = None,
    *,
    workers: int | None = None,
) -> GodexConfig:
    """Command-line flags, which win over the file and the environment."""
    server = config.server
    if host:
        server = replace(server, host=host)
    if port is not None:
        server = replace(server, port=port)
    if workers is not None:
        server = replace(server, workers=workers)
    logging_cfg = config.logging
    if log_level:
        lowered = log_level.lower()
        logging_cfg = _with_level(logging_cfg, LEVEL_ALIASES.get(lowered, lowered))
    return replace(config, server=server, logging=logging_cfg)
