"""Raw (already interpolated) YAML data into the typed config, collecting every problem.

Nothing here raises on bad input: each problem is recorded with its key path and a usable
default is substituted, so one pass reports all of them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from godex.config.durations import parse_duration
from godex.config.interpolate import referenced_var
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

LEVELS = ("debug", "info", "warning", "error", "critical")
BACKENDS = ("sqlite", "memory")

# The accepted keys as a tree: a dict is a section, None a leaf, {"*": ...} any name.
_ANY: dict[str, Any] = {"*": None}
_PROVIDER_KEYS: dict[str, Any] = {
    "spec": None,
    "credentials": {"api_key": None, "api_key_env": None},
    "endpoint": {"base_url": None},
    "timeout_ms": None,
    "connect_timeout_ms": None,
    "first_byte_timeout_ms": None,
    "idle_timeout_ms": None,
    "headers": _ANY,
    "models": None,
    "capabilities": _ANY,
}
KEYS: dict[str, Any] = {
    "server": {
        "host": None,
        "port": None,
        "api_keys": None,
        "metrics_public": None,
        "workers": None,
        "secret": None,
        "data_dir": None,
        "shutdown_timeout": None,
        "websocket": None,
        "websocket_max_per_key": None,
        "websocket_idle_timeout": None,
        "websocket_max_lifetime": None,
    },
    "default_provider": None,
    "models": {"aliases": _ANY},
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
# Keys of the flat provider form, and where they live now.
_MOVED = {
    "api_key": "credentials.api_key",
    "api_key_env": "credentials.api_key_env",
    "base_url": "endpoint.base_url",
    "timeout": "timeout_ms",
}
_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]?)i?b?\s*$", re.I)
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_TYPE_NAMES = {
    int: "an integer",
    float: "a number",
    str: "a string",
    bool: "a boolean",
    dict: "a mapping",
    list: "a list",
}


@dataclass
class Ctx:
    env: Mapping[str, str]
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    missing_keys: dict[str, str] = field(default_factory=dict)  # provider -> unset variable


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _hint(word: str, options: list[str]) -> str:
    near = difflib.get_close_matches(word, options, n=1)
    return f" (did you mean '{near[0]}'?)" if near else ""


def check_keys(data: object, schema: object, path: str, ctx: Ctx) -> None:
    """Warn about every key the schema does not know, suggesting the nearest valid one."""
    if not isinstance(data, dict) or not isinstance(schema, dict):
        return
    for key, value in data.items():
        sub = _join(path, key)
        if "*" in schema:
            check_keys(value, schema["*"], sub, ctx)
        elif key in schema:
            check_keys(value, schema[key], sub, ctx)
        elif path.startswith("providers.") and key in _MOVED:
            ctx.warnings.append(f"{sub}: ignored; it is now written {path}.{_MOVED[key]}")
        else:
            ctx.warnings.append(f"{sub}: unknown key, ignored{_hint(str(key), list(schema))}")


def get(
    data: Mapping[str, Any],
    key: str,
    kinds: tuple[type, ...],
    path: str,
    ctx: Ctx,
    default: Any,
) -> Any:
    """``data[key]`` if it has one of ``kinds``; otherwise a problem and ``default``."""
    value = data.get(key)
    if value is None:
        return default
    # ${VAR} values arrive as strings; accept the obvious conversions.
    if isinstance(value, str):
        text = value.strip()
        if int in kinds and re.fullmatch(r"-?\d+", text):
            return int(text)
        if float in kinds and re.fullmatch(r"-?\d+(\.\d+)?", text):
            return float(text)
        if bool in kinds and text.lower() in ("true", "false"):
            return text.lower() == "true"
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        expected = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
        got = "a boolean" if isinstance(value, bool) else type(value).__name__
        ctx.problems.append(f"{_join(path, key)}: expected {expected}, got {got} ({value!r})")
        return default
    return value


def _int(data: Mapping[str, Any], key: str, path: str, ctx: Ctx, default: int, low: int) -> int:
    value: int = get(data, key, (int,), path, ctx, default)
    if value < low:
        ctx.problems.append(f"{_join(path, key)}: must be at least {low}, got {value}")
        return default
    return value


def _str(data: Mapping[str, Any], key: str, path: str, ctx: Ctx, default: Any) -> Any:
    return get(data, key, (str,), path, ctx, default)


def _bool(data: Mapping[str, Any], key: str, path: str, ctx: Ctx, default: bool) -> bool:
    return bool(get(data, key, (bool,), path, ctx, default))


def section(data: Mapping[str, Any], key: str, path: str, ctx: Ctx) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        kind = "a boolean" if isinstance(value, bool) else type(value).__name__
        ctx.problems.append(f"{_join(path, key)}: expected a mapping, got {kind}")
        return {}
    return value


def _duration(data: Mapping[str, Any], key: str, path: str, ctx: Ctx, default: str) -> int | None:
    try:
        return parse_duration(data.get(key, default))
    except ValueError as exc:
        ctx.problems.append(f"{_join(path, key)}: {exc}")
        return parse_duration(default)


def _size(data: Mapping[str, Any], key: str, path: str, ctx: Ctx, default: int) -> int:
    value = data.get(key)
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    m = _SIZE.match(value) if isinstance(value, str) else None
    if not m or int(m.group(1)) == 0:
        ctx.problems.append(
            f"{_join(path, key)}: {value!r} is not a size (bytes, or e.g. 512KB, 10MB, 1GB)"
        )
        return default
    return int(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]


def _level(data: Mapping[str, Any], key: str, path: str, ctx: Ctx, default: Any) -> Any:
    value = _str(data, key, path, ctx, default)
    if value is None:
        return None
    if value.lower() not in LEVELS:
        ctx.problems.append(f"{_join(path, key)}: {value!r} is not a level ({', '.join(LEVELS)})")
        return default
    return value.lower()


def _server(raw: Mapping[str, Any], ctx: Ctx) -> ServerConfig:
    s = section(raw, "server", "", ctx)
    d = ServerConfig()
    port = _int(s, "port", "server", ctx, d.port, 0)
    if port > 65535:
        ctx.problems.append(f"server.port: {port} is not a valid port (0-65535)")
        port = d.port
    keys = get(s, "api_keys", (list, str), "server", ctx, [])
    keys = [keys] if isinstance(keys, str) else keys
    for i, k in enumerate(keys):
        if not isinstance(k, (str, int)) or isinstance(k, bool):
            ctx.problems.append(f"server.api_keys[{i}]: expected a string")
    shutdown: Any = s.get("shutdown_timeout", d.shutdown_timeout_s)
    if isinstance(shutdown, (int, float)) and not isinstance(shutdown, bool) and shutdown >= 0:
        shutdown_s = float(shutdown)
    else:
        got = _duration(s, "shutdown_timeout", "server", ctx, "30s")
        shutdown_s = float(got if got is not None else d.shutdown_timeout_s)
    return ServerConfig(
        host=_str(s, "host", "server", ctx, d.host),
        port=port,
        api_keys=tuple(str(k) for k in keys if isinstance(k, (str, int)) and str(k)),
        metrics_public=_bool(s, "metrics_public", "server", ctx, d.metrics_public),
        workers=_int(s, "workers", "server", ctx, d.workers, 1),
        secret=_str(s, "secret", "server", ctx, None) or None,
        data_dir=_str(s, "data_dir", "server", ctx, d.data_dir),
        shutdown_timeout_s=shutdown_s,
        websocket=_bool(s, "websocket", "server", ctx, d.websocket),
        websocket_max_per_key=_int(s, "websocket_max_per_key", "server", ctx, 16, 1),
        # "off" (None) is stored as 0: no limit.
        websocket_idle_timeout_s=float(
            _duration(s, "websocket_idle_timeout", "server", ctx, "10m") or 0
        ),
        websocket_max_lifetime_s=float(
            _duration(s, "websocket_max_lifetime", "server", ctx, "1h") or 0
        ),
    )


def _credentials(
    name: str, spec_env: str, creds: Mapping[str, Any], raw_key: object, ctx: Ctx
) -> tuple[str | None, str | None]:
    """(api_key, the variable it comes from). An absent key is recorded in ``missing_keys``."""
    path = f"providers.{name}.credentials"
    key_env: str | None = _str(creds, "api_key_env", path, ctx, None)
    if "api_key" in creds:
        api_key = _str(creds, "api_key", path, ctx, None) or None
        var = referenced_var(raw_key) or key_env
    else:
        var = key_env or spec_env
        api_key = ctx.env.get(var) or None
    if api_key is None:
        ctx.missing_keys[name] = var or spec_env
    return api_key, var


def _provider(name: str, p: object, ctx: Ctx, raw_key: object) -> ProviderConfig | None:
    from godex.providers import registry

    path = f"providers.{name}"
    known = list(registry.SPEC_NAMES)
    if not isinstance(p, dict):
        ctx.problems.append(f"{path}: expected a mapping with at least 'spec'")
        return None
    spec = p.get("spec")
    if spec is None:
        guess = name if name in known else "openai_compatible"
        ctx.problems.append(
            f"{path}.spec: missing. Each provider now names its implementation: add "
            f"'spec: {guess}' under providers.{name} (one of: {', '.join(known)}), and write the "
            "key as credentials.api_key and the URL as endpoint.base_url"
        )
        return None
    if not isinstance(spec, str) or spec not in known:
        ctx.problems.append(
            f"{path}.spec: unknown spec {spec!r}{_hint(str(spec), known)}; "
            f"known: {', '.join(known)}"
        )
        return None
    found = registry.get_spec(spec)
    creds = section(p, "credentials", path, ctx)
    api_key, key_env = _credentials(name, found.api_key_env if found else "", creds, raw_key, ctx)
    endpoint = section(p, "endpoint", path, ctx)
    base_url = _str(endpoint, "base_url", f"{path}.endpoint", ctx, None) or None
    if base_url is not None and not re.match(r"^https?://[^/\s]+", base_url):
        ctx.problems.append(f"{path}.endpoint.base_url: {base_url!r} is not an http(s) URL")
    headers = get(p, "headers", (dict,), path, ctx, {})
    for k, v in headers.items():
        if isinstance(v, (dict, list)):
            ctx.problems.append(f"{path}.headers.{k}: expected a string")
    models = get(p, "models", (list,), path, ctx, [])
    caps = get(p, "capabilities", (dict,), path, ctx, {})
    if caps and spec not in ("openai_compatible", "openai-compatible"):
        ctx.warnings.append(f"{path}.capabilities: only used by spec openai_compatible; ignored")
        caps = {}
    if caps:
        _check_capabilities(path, caps, base_url, ctx)
    d = ProviderConfig(name=name, spec=spec)
    return ProviderConfig(
        name=name,
        spec=spec,
        api_key=api_key,
        api_key_env=key_env,
        base_url=base_url,
        timeout_ms=_int(p, "timeout_ms", path, ctx, d.timeout_ms, 1),
        connect_timeout_ms=_int(p, "connect_timeout_ms", path, ctx, d.connect_timeout_ms, 1),
        first_byte_timeout_ms=_int(
            p, "first_byte_timeout_ms", path, ctx, d.first_byte_timeout_ms, 1
        ),
        idle_timeout_ms=_int(p, "idle_timeout_ms", path, ctx, d.idle_timeout_ms, 1),
        headers={str(k): str(v) for k, v in headers.items() if not isinstance(v, (dict, list))},
        models=tuple(str(m) for m in models),
        capabilities=dict(caps),
    )


def _check_capabilities(path: str, caps: Mapping[str, Any], base_url: str | None, ctx: Ctx) -> None:
    from godex.errors import GodexError
    from godex.providers import registry

    allowed = sorted(registry.capability_keys())
    for key in caps:
        if key not in allowed:
            ctx.problems.append(
                f"{path}.capabilities.{key}: unknown capability{_hint(str(key), allowed)}"
            )
    try:  # the spec builder knows each capability's type; reuse its checks
        registry.build_openai_compatible_spec(
            {k: v for k, v in caps.items() if k in allowed}, base_url
        )
    except GodexError as exc:
        ctx.problems += [f"{path}.{p.strip()}" for p in exc.message.split("; ") if p.strip()]


def _aliases(raw: Mapping[str, Any], providers: Mapping[str, Any], ctx: Ctx) -> dict[str, str]:
    models = section(raw, "models", "", ctx)
    aliases = get(models, "aliases", (dict,), "models", ctx, {})
    out: dict[str, str] = {}
    for alias, target in aliases.items():
        key = f"models.aliases.{alias}"
        prov, _, model = target.partition("/") if isinstance(target, str) else ("", "", "")
        if not prov or not model:
            ctx.problems.append(f"{key}: {target!r} must be 'provider/model'")
        elif prov not in providers:
            ctx.problems.append(
                f"{key}: {target!r} names unknown provider {prov!r}"
                f"{_hint(prov, [str(p) for p in providers])}"
            )
        else:
            out[str(alias)] = target
    return out


def _session(raw: Mapping[str, Any], data_dir: str, ctx: Ctx) -> SessionConfig:
    sess = section(raw, "session", "", ctx)
    d = SessionConfig()
    backend = _str(sess, "backend", "session", ctx, d.backend)
    if backend not in BACKENDS:
        ctx.problems.append(
            f"session.backend: {backend!r} is not a backend ({' or '.join(BACKENDS)})"
            f"{_hint(backend, list(BACKENDS))}"
        )
        backend = d.backend
    sqlite = section(sess, "sqlite", "session", ctx)
    return SessionConfig(
        enabled=_bool(sess, "enabled", "session", ctx, d.enabled),
        backend=backend,
        sqlite_path=_str(sqlite, "path", "session.sqlite", ctx, f"{data_dir}/sessions.db"),
        ttl_s=_duration(sess, "ttl", "session", ctx, "30d"),
        max_depth=_int(sess, "max_depth", "session", ctx, d.max_depth, 1),
    )


def _trace(raw: Mapping[str, Any], data_dir: str, ctx: Ctx) -> TraceConfig:
    tr = section(raw, "trace", "", ctx)
    d = TraceConfig()
    return TraceConfig(
        enabled=_bool(tr, "enabled", "trace", ctx, d.enabled),
        path=_str(tr, "path", "trace", ctx, f"{data_dir}/trace.db"),
        max_queue_size=_int(tr, "max_queue_size", "trace", ctx, d.max_queue_size, 1),
        flush_interval_ms=_int(tr, "flush_interval_ms", "trace", ctx, d.flush_interval_ms, 1),
        batch_size=_int(tr, "batch_size", "trace", ctx, d.batch_size, 1),
        capture_payload=_bool(tr, "capture_payload", "trace", ctx, d.capture_payload),
        payload_max_bytes=_int(tr, "payload_max_bytes", "trace", ctx, d.payload_max_bytes, 0),
        retention_s=_duration(tr, "retention", "trace", ctx, "7d"),
    )


def _sink(data: Mapping[str, Any], key: str, ctx: Ctx) -> dict[str, Any]:
    # The original schema also allows `console: false` / `file: true` as a shorthand.
    value = data.get(key)
    if isinstance(value, bool):
        return {"enabled": value}
    return section(data, key, "logging", ctx)


def _logging(raw: Mapping[str, Any], ctx: Ctx) -> LoggingConfig:
    lg = section(raw, "logging", "", ctx)
    console, file = _sink(lg, "console", ctx), _sink(lg, "file", ctx)
    dc, df = LogConsoleConfig(), LogFileConfig()
    return LoggingConfig(
        level=_level(lg, "level", "logging", ctx, "info"),
        console=LogConsoleConfig(
            enabled=_bool(console, "enabled", "logging.console", ctx, dc.enabled),
            level=_level(console, "level", "logging.console", ctx, None),
            pretty=_bool(console, "pretty", "logging.console", ctx, dc.pretty),
        ),
        file=LogFileConfig(
            enabled=_bool(file, "enabled", "logging.file", ctx, df.enabled),
            level=_level(file, "level", "logging.file", ctx, None),
            dir=_str(file, "dir", "logging.file", ctx, df.dir),
            filename=_str(file, "filename", "logging.file", ctx, df.filename),
            max_size=_size(file, "max_size", "logging.file", ctx, df.max_size),
            max_files=_int(file, "max_files", "logging.file", ctx, df.max_files, 1),
        ),
    )


def build(
    raw: Mapping[str, Any], raw_keys: Mapping[str, object], ctx: Ctx, source: str | None
) -> GodexConfig:
    """The typed config; problems and warnings accumulate in ``ctx``."""
    check_keys(raw, KEYS, "", ctx)
    server = _server(raw, ctx)
    raw_providers = section(raw, "providers", "", ctx)
    if not raw_providers:
        ctx.problems.append(
            "providers: no provider configured (add one, e.g. providers.deepseek.spec: deepseek)"
        )
    providers: dict[str, ProviderConfig] = {}
    for name, p in raw_providers.items():
        built = _provider(str(name), p, ctx, raw_keys.get(str(name)))
        if built is not None:
            providers[str(name)] = built
    default = _str(raw, "default_provider", "", ctx, None)
    if default is None and len(raw_providers) == 1:
        default = str(next(iter(raw_providers)))
    if default is not None and default not in raw_providers:
        ctx.problems.append(
            f"default_provider: {default!r} is not a configured provider"
            f"{_hint(default, [str(p) for p in raw_providers])}"
        )
    data_dir = server.data_dir.rstrip("/") or "."
    comp = section(raw, "compaction", "", ctx)
    return GodexConfig(
        server=server,
        default_provider=default,
        models=ModelsConfig(aliases=_aliases(raw, raw_providers, ctx)),
        providers=providers,
        session=_session(raw, data_dir, ctx),
        trace=_trace(raw, data_dir, ctx),
        logging=_logging(raw, ctx),
        compaction=CompactionConfig(enabled=_bool(comp, "enabled", "compaction", ctx, True)),
        source=source,
    )
