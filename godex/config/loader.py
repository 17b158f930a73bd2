"""Load ``godex.yaml`` into the typed config, reporting every problem with its key path.

Lookup: ``--config PATH``, then ``./godex.yaml``, then ``~/.godex/config.yaml``, else the
built-in default (DeepSeek, key from ``DEEPSEEK_API_KEY``, SQLite under ``./data``).
``${VAR}`` and ``${VAR:-default}`` are expanded in every string. A provider key that comes from
an unset variable is a problem for ``config check``; ``serve`` only marks that provider
unavailable and warns. Relative paths stay relative to the working directory.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from godex.config.schema import (
    CompactionConfig,
    GodexConfig,
    LogConsoleConfig,
    LogFileConfig,
    LoggingConfig,
    ModelsConfig,
    ProviderConfig,
    ServerConfig,
    SessionConfig,
    TraceConfig,
)
from godex.errors import GodexError

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

# The accepted keys, as a tree: a dict is a section, None a leaf, "*" any name.
_PROVIDER_KEYS: dict[str, Any] = {
    "spec": None,
    "credentials": {"api_key": None, "api_key_env": None},
    "endpoint": {"base_url": None},
    "timeout_ms": None,
    "connect_timeout_ms": None,
    "first_byte_timeout_ms": None,
    "idle_timeout_ms": None,
    "headers": "*",
    "models": None,
    "capabilities": "*",
}
SCHEMA: dict[str, Any] = {
    "server": {
        "host": None,
        "port": None,
        "api_keys": None,
        "metrics_public": None,
        "workers": None,
        "secret": None,
        "data_dir": None,
        "shutdown_timeout": None,
    },
    "default_provider": None,
    "models": {"aliases": "*"},
    "providers": {"*": _PROVIDER_KEYS},
    "session": {
        "enabled": None,
        "backend": None,
        "sqlite": {"path": None},
        "ttl": None,
        "max_depth": None,
    },
    "trace": {
        "enabled": None,
        "path": None,
        "max_queue_size": None,
        "flush_interval_ms": None,
        "batch_size": None,
        "capture_payload": None,
        "payload_max_bytes": None,
        "retention": None,
    },
    "logging": {
        "level": None,
        "console": {"enabled": None, "level": None, "pretty": None},
        "file": {
            "enabled": None,
            "level": None,
            "dir": None,
            "filename": None,
            "max_size": None,
            "max_files": None,
        },
    },
    "compaction": {"enabled": None},
}
LEVELS = ("debug", "info", "warning", "error", "critical")


class ConfigProblems(GodexError):
    status = 500
    code = "config.invalid"
    type = "server_error"

    def __init__(self, problems: list[str], source: str | None) -> None:
        where = source or "built-in default"
        super().__init__(f"invalid configuration ({where}):\n  - " + "\n  - ".join(problems))
        self.problems = problems
        self.source = source


@dataclass
class _Ctx:
    env: Mapping[str, str]
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    missing_keys: dict[str, str] = field(default_factory=dict)  # provider -> variable


def find_config(path: str | None, cwd: Path, home: Path) -> Path | None:
    if path:
        return Path(path)
    for candidate in (cwd / "godex.yaml", home / ".godex" / "config.yaml"):
        if candidate.is_file():
            return candidate
    return None


def parse_duration(value: Any, key: str, ctx: _Ctx) -> int | None:
    if value is None or value is False or value == "off":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    m = _DURATION.match(str(value))
    if not m:
        ctx.problems.append(f"{key}: {value!r} is not a duration (use e.g. 30s, 15m, 12h, 30d)")
        return None
    return int(m.group(1)) * _UNITS[m.group(2)]


def _interpolate(value: Any, key: str, ctx: _Ctx, missing: list[str]) -> Any:
    if isinstance(value, str) and "${" in value:

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            found = ctx.env.get(name)
            if found is None or (found == "" and default is not None):
                if default is not None:
                    return default
                missing.append(name)
                return ""
            return found

        return _VAR.sub(sub, value)
    if isinstance(value, dict):
        return {
            k: _interpolate(v, f"{key}.{k}" if key else str(k), ctx, missing)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_interpolate(v, f"{key}[{i}]", ctx, missing) for i, v in enumerate(value)]
    return value


def _check_keys(data: Any, schema: Any, path: str, ctx: _Ctx) -> None:
    if not isinstance(data, dict) or not isinstance(schema, dict):
        return
    for key, value in data.items():
        sub_path = f"{path}.{key}" if path else str(key)
        if "*" in schema:
            _check_keys(value, schema["*"], sub_path, ctx)
            continue
        if key not in schema:
            near = difflib.get_close_matches(str(key), list(schema), n=1)
            hint = f" (did you mean '{near[0]}'?)" if near else ""
            ctx.warnings.append(f"{sub_path}: unknown key, ignored{hint}")
            continue
        _check_keys(value, schema[key], sub_path, ctx)


def _get(
    data: Mapping[str, Any],
    key: str,
    kind: type | tuple[type, ...],
    path: str,
    ctx: _Ctx,
    default: Any,
) -> Any:
    value = data.get(key) if isinstance(data, Mapping) else None
    if value is None:
        return default
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if int in kinds and isinstance(value, str) and value.strip().isdigit():
        return int(value)  # ${PORT}-style values arrive as strings
    if bool in kinds and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if isinstance(value, bool) and bool not in kinds:
        ctx.problems.append(f"{path}.{key}: expected {_kind_name(kinds)}, got a boolean")
        return default
    if not isinstance(value, kinds):
        ctx.problems.append(
            f"{path}.{key}: expected {_kind_name(kinds)}, got {type(value).__name__} ({value!r})"
        )
        return default
    return value


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {
        int: "an integer",
        str: "a string",
        bool: "a boolean",
        dict: "a mapping",
        list: "a list",
        float: "a number",
    }
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _section(data: Mapping[str, Any], key: str, path: str, ctx: _Ctx) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        ctx.problems.append(
            f"{path + '.' if path else ''}{key}: expected a mapping, got {type(value).__name__}"
        )
        return {}
    return value


def _server(raw: dict[str, Any], ctx: _Ctx) -> ServerConfig:
    s = _section(raw, "server", "", ctx)
    d = ServerConfig()
    port = _get(s, "port", int, "server", ctx, d.port)
    if not 0 <= port <= 65535:
        ctx.problems.append(f"server.port: {port} is not a valid port (0-65535)")
        port = d.port
    keys = _get(s, "api_keys", (list, str), "server", ctx, [])
    if isinstance(keys, str):
        keys = [keys]
    workers = _get(s, "workers", int, "server", ctx, 1)
    if workers < 1:
        ctx.problems.append("server.workers: must be at least 1")
        workers = 1
    return ServerConfig(
        host=_get(s, "host", str, "server", ctx, d.host),
        port=port,
        api_keys=tuple(str(k) for k in keys if k),
        metrics_public=_get(s, "metrics_public", bool, "server", ctx, False),
        workers=workers,
        secret=_get(s, "secret", str, "server", ctx, None) or None,
        data_dir=_get(s, "data_dir", str, "server", ctx, d.data_dir),
        shutdown_timeout_s=float(_get(s, "shutdown_timeout", (int, float), "server", ctx, 30)),
    )


def _provider(
    name: str, p: Any, ctx: _Ctx, spec_names: tuple[str, ...], raw_key: Any
) -> ProviderConfig | None:
    path = f"providers.{name}"
    if not isinstance(p, dict):
        ctx.problems.append(f"{path}: expected a mapping")
        return None
    spec = p.get("spec")
    if spec is None:
        ctx.problems.append(
            f"{path}.spec: missing. Every provider names its spec now, e.g. 'spec: deepseek' "
            f"(one of: {', '.join(spec_names)})"
        )
        return None
    if spec not in spec_names:
        near = difflib.get_close_matches(str(spec), list(spec_names), n=1)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        ctx.problems.append(
            f"{path}.spec: unknown spec {spec!r}{hint}; known: {', '.join(spec_names)}"
        )
        return None
    creds = _section(p, "credentials", path, ctx)
    endpoint = _section(p, "endpoint", path, ctx)
    api_key = _get(creds, "api_key", str, f"{path}.credentials", ctx, None) or None
    key_env = _get(creds, "api_key_env", str, f"{path}.credentials", ctx, None)
    raw = raw_key if isinstance(raw_key, str) else ""
    m = _VAR.search(raw)
    if m and key_env is None:
        key_env = m.group(1)
    if api_key is None and key_env and not m:
        api_key = ctx.env.get(key_env) or None
    if api_key is None:
        from godex.providers import registry

        found = registry.get_spec(spec)
        var = key_env or (found.api_key_env if found else "")
        if api_key is None and var and not m and "api_key" not in creds and var in ctx.env:
            api_key = ctx.env[var] or None
        if api_key is None:
            key_env = var
            ctx.missing_keys[name] = var
    headers = _get(p, "headers", dict, path, ctx, {})
    models = _get(p, "models", list, path, ctx, [])
    caps = _get(p, "capabilities", dict, path, ctx, {})
    if caps and spec != "openai_compatible":
        ctx.warnings.append(f"{path}.capabilities: only used by spec openai_compatible; ignored")
        caps = {}
    if caps:
        from godex.providers import registry

        allowed = set(registry.capability_keys())
        for key in caps:
            if key not in allowed:
                near = difflib.get_close_matches(key, sorted(allowed), n=1)
                hint = f" (did you mean '{near[0]}'?)" if near else ""
                ctx.problems.append(f"{path}.capabilities.{key}: unknown capability{hint}")
    d = ProviderConfig(name=name, spec=spec)
    return ProviderConfig(
        name=name,
        spec=spec,
        api_key=api_key,
        api_key_env=key_env,
        base_url=_get(endpoint, "base_url", str, f"{path}.endpoint", ctx, None),
        timeout_ms=_get(p, "timeout_ms", int, path, ctx, d.timeout_ms),
        connect_timeout_ms=_get(p, "connect_timeout_ms", int, path, ctx, d.connect_timeout_ms),
        first_byte_timeout_ms=_get(
            p, "first_byte_timeout_ms", int, path, ctx, d.first_byte_timeout_ms
        ),
        idle_timeout_ms=_get(p, "idle_timeout_ms", int, path, ctx, d.idle_timeout_ms),
        headers={str(k): str(v) for k, v in headers.items()},
        models=tuple(str(m) for m in models),
        capabilities=caps,
    )


def _logging(raw: dict[str, Any], ctx: _Ctx) -> LoggingConfig:
    lg = _section(raw, "logging", "", ctx)
    console = _section(lg, "console", "logging", ctx)
    file = _section(lg, "file", "logging", ctx)
    level = str(_get(lg, "level", str, "logging", ctx, "info")).lower()
    for key, value in (
        ("logging.level", level),
        ("logging.console.level", console.get("level")),
        ("logging.file.level", file.get("level")),
    ):
        if value is not None and str(value).lower() not in LEVELS:
            ctx.problems.append(f"{key}: {value!r} is not a level ({', '.join(LEVELS)})")
    dc, df = LogConsoleConfig(), LogFileConfig()
    return LoggingConfig(
        level=level if level in LEVELS else "info",
        console=LogConsoleConfig(
            enabled=_get(console, "enabled", bool, "logging.console", ctx, dc.enabled),
            level=_get(console, "level", str, "logging.console", ctx, None),
            pretty=_get(console, "pretty", bool, "logging.console", ctx, dc.pretty),
        ),
        file=LogFileConfig(
            enabled=_get(file, "enabled", bool, "logging.file", ctx, df.enabled),
            level=_get(file, "level", str, "logging.file", ctx, None),
            dir=_get(file, "dir", str, "logging.file", ctx, df.dir),
            filename=_get(file, "filename", str, "logging.file", ctx, df.filename),
            max_size=_get(file, "max_size", int, "logging.file", ctx, df.max_size),
            max_files=_get(file, "max_files", int, "logging.file", ctx, df.max_files),
        ),
    )


def build_config(
    raw: dict[str, Any], ctx: _Ctx, source: str | None, raw_keys: dict[str, Any]
) -> GodexConfig:
    from godex.providers import registry

    spec_names = registry.spec_names()
    _check_keys(raw, SCHEMA, "", ctx)
    server = _server(raw, ctx)
    providers: dict[str, ProviderConfig] = {}
    raw_providers = _section(raw, "providers", "", ctx)
    for name, p in raw_providers.items():
        raw_key = (
            ((p or {}).get("credentials") or {}).get("api_key") if isinstance(p, dict) else None
        )
        built = _provider(str(name), p, ctx, spec_names, raw_keys.get(str(name), raw_key))
        if built is not None:
            providers[str(name)] = built
    if not raw_providers:
        ctx.problems.append(
            "providers: no provider configured (add one, e.g. providers.deepseek.spec: deepseek)"
        )
    default = _get(raw, "default_provider", str, "", ctx, None)
    if default is None and len(providers) == 1:
        default = next(iter(providers))
    if default is not None and default not in raw_providers:
        ctx.problems.append(f"default_provider: {default!r} is not a configured provider")
    models = _section(raw, "models", "", ctx)
    aliases = _get(models, "aliases", dict, "models", ctx, {})
    clean_aliases: dict[str, str] = {}
    for alias, target in aliases.items():
        key = f"models.aliases.{alias}"
        if (
            not isinstance(target, str)
            or "/" not in target
            or target.startswith("/")
            or target.endswith("/")
        ):
            ctx.problems.append(f"{key}: {target!r} must be 'provider/model'")
            continue
        prov = target.split("/", 1)[0]
        if prov not in raw_providers:
            ctx.problems.append(f"{key}: {target!r} names unknown provider {prov!r}")
            continue
        clean_aliases[str(alias)] = target
    sess = _section(raw, "session", "", ctx)
    ds = SessionConfig()
    backend = _get(sess, "backend", str, "session", ctx, ds.backend)
    if backend not in ("sqlite", "memory"):
        ctx.problems.append(f"session.backend: {backend!r} is not a backend (sqlite or memory)")
        backend = ds.backend
    sqlite = _section(sess, "sqlite", "session", ctx)
    default_dir = server.data_dir.rstrip("/")
    session = SessionConfig(
        enabled=_get(sess, "enabled", bool, "session", ctx, True),
        backend=backend,
        sqlite_path=_get(sqlite, "path", str, "session.sqlite", ctx, f"{default_dir}/sessions.db"),
        ttl_s=parse_duration(sess.get("ttl", "30d"), "session.ttl", ctx),
        max_depth=_get(sess, "max_depth", int, "session", ctx, ds.max_depth),
    )
    tr = _section(raw, "trace", "", ctx)
    dt = TraceConfig()
    trace = TraceConfig(
        enabled=_get(tr, "enabled", bool, "trace", ctx, True),
        path=_get(tr, "path", str, "trace", ctx, f"{default_dir}/trace.db"),
        max_queue_size=_get(tr, "max_queue_size", int, "trace", ctx, dt.max_queue_size),
        flush_interval_ms=_get(tr, "flush_interval_ms", int, "trace", ctx, dt.flush_interval_ms),
        batch_size=_get(tr, "batch_size", int, "trace", ctx, dt.batch_size),
        capture_payload=_get(tr, "capture_payload", bool, "trace", ctx, False),
        payload_max_bytes=_get(tr, "payload_max_bytes", int, "trace", ctx, dt.payload_max_bytes),
        retention_s=parse_duration(tr.get("retention", "7d"), "trace.retention", ctx),
    )
    comp = _section(raw, "compaction", "", ctx)
    return GodexConfig(
        server=server,
        default_provider=default,
        models=ModelsConfig(aliases=clean_aliases),
        providers=providers,
        session=session,
        trace=trace,
        logging=_logging(raw, ctx),
        compaction=CompactionConfig(enabled=_get(comp, "enabled", bool, "compaction", ctx, True)),
        source=source,
    )


def default_raw() -> dict[str, Any]:
    return {
        "default_provider": "deepseek",
        "providers": {"deepseek": {"spec": "deepseek"}},
    }


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigProblems([f"{path}: cannot read ({exc.strerror})"], str(path)) from exc
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
        raise ConfigProblems([f"{path}: the top level must be a mapping"], str(path))
    return data


def load_config(
    path: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    home: Path | None = None,
    strict: bool = False,
) -> tuple[GodexConfig, list[str]]:
    """The typed config and its warnings. ``strict`` (config check) makes missing keys problems."""
    env = os.environ if env is None else env
    ctx = _Ctx(env)
    found = find_config(path, cwd or Path.cwd(), home or Path.home())
    if found is None:
        raw: dict[str, Any] = default_raw()
        source = None
    else:
        if not found.is_file():
            raise ConfigProblems([f"{found}: no such file"], str(found))
        raw = _read_yaml(found)
        source = str(found)
    missing: list[str] = []
    # The api_key as written (before ${VAR} expansion) tells which variable it depends on.
    raw_keys: dict[str, Any] = {}
    providers_raw = raw.get("providers")
    for name, p in providers_raw.items() if isinstance(providers_raw, dict) else []:
        if isinstance(p, dict) and isinstance(p.get("credentials"), dict):
            raw_keys[str(name)] = p["credentials"].get("api_key")
    expanded = _interpolate_tree(raw, ctx, missing)
    config = build_config(expanded, ctx, source, raw_keys)
    config = _apply_env(config, env, ctx)
    for name, var in ctx.missing_keys.items():
        msg = f"providers.{name}.credentials.api_key: environment variable {var} is not set"
        if strict:
            ctx.problems.append(msg)
        else:
            ctx.warnings.append(msg + f" (provider '{name}' is unavailable until it is)")
    if ctx.problems:
        raise ConfigProblems(ctx.problems, source)
    providers = {
        n: (
            replace(
                p,
                unavailable_reason=_no_key(ctx.missing_keys[n]),
            )
            if n in ctx.missing_keys
            else p
        )
        for n, p in config.providers.items()
    }
    return replace(config, providers=providers), ctx.warnings


def _interpolate_tree(raw: dict[str, Any], ctx: _Ctx, missing: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        found: list[str] = []
        out[key] = _interpolate(value, str(key), ctx, found)
        if found:
            _report_missing(value, str(key), ctx)
        missing += found
    return out


def _report_missing(value: Any, path: str, ctx: _Ctx) -> None:
    """Name each unset variable and the key that uses it (provider keys are handled apart)."""
    if isinstance(value, str):
        for m in _VAR.finditer(value):
            if m.group(2) is None and m.group(1) not in ctx.env:
                if re.fullmatch(r"providers\.[^.]+\.credentials\.api_key", path):
                    continue
                ctx.problems.append(f"{path}: environment variable {m.group(1)} is not set")
    elif isinstance(value, dict):
        for k, v in value.items():
            _report_missing(v, f"{path}.{k}", ctx)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _report_missing(v, f"{path}[{i}]", ctx)


def _apply_env(config: GodexConfig, env: Mapping[str, str], ctx: _Ctx) -> GodexConfig:
    server = config.server
    host = env.get("GODEX_HOST")
    port = env.get("GODEX_PORT")
    if host:
        server = replace(server, host=host)
    if port:
        if port.isdigit() and 0 <= int(port) <= 65535:
            server = replace(server, port=int(port))
        else:
            ctx.problems.append(f"GODEX_PORT: {port!r} is not a valid port")
    return replace(config, server=server)


def apply_overrides(
    config: GodexConfig,
    *,
    host: str | None = None,
    port: int | None = None,
    log_level: str | None = None,
    workers: int | None = None,
) -> GodexConfig:
    server = config.server
    if host:
        server = replace(server, host=host)
    if port is not None:
        server = replace(server, port=port)
    if workers is not None:
        server = replace(server, workers=workers)
    logging_cfg = config.logging
    if log_level:
        logging_cfg = replace(logging_cfg, level=log_level.lower())
    return replace(config, server=server, logging=logging_cfg)


def redacted_dict(config: GodexConfig) -> dict[str, Any]:
    """The resolved config as plain data, secrets replaced by ``***``."""
    s = config.server
    return {
        "source": config.source or "built-in default",
        "server": {
            "host": s.host,
            "port": s.port,
            "api_keys": ["***" for _ in s.api_keys],
            "metrics_public": s.metrics_public,
            "workers": s.workers,
            "secret": "***" if s.secret else None,
            "data_dir": s.data_dir,
            "shutdown_timeout": s.shutdown_timeout_s,
        },
        "default_provider": config.default_provider,
        "models": {"aliases": dict(config.models.aliases)},
        "providers": {
            name: {
                "spec": p.spec,
                "credentials": {
                    "api_key": "***" if p.api_key else None,
                    "api_key_env": p.api_key_env,
                },
                "endpoint": {"base_url": p.base_url},
                "timeout_ms": p.timeout_ms,
                "headers": {
                    k: ("***" if re.search("auth|key|token", k, re.I) else v)
                    for k, v in p.headers.items()
                },
                "models": list(p.models),
                "capabilities": dict(p.capabilities),
                "unavailable": p.unavailable_reason,
            }
            for name, p in config.providers.items()
        },
        "session": {
            "enabled": config.session.enabled,
            "backend": config.session.backend,
            "sqlite": {"path": config.session.sqlite_path},
            "ttl_s": config.session.ttl_s,
            "max_depth": config.session.max_depth,
        },
        "trace": {
            "enabled": config.trace.enabled,
            "path": config.trace.path,
            "capture_payload": config.trace.capture_payload,
            "payload_max_bytes": config.trace.payload_max_bytes,
            "retention_s": config.trace.retention_s,
        },
        "logging": {
            "level": config.logging.level,
            "console": config.logging.console.enabled,
            "file": config.logging.file.enabled,
        },
        "compaction": {"enabled": config.compaction.enabled},
    }


def _no_key(var: str) -> str:
    return f"no API key: set the environment variable {var}"
