"""The typed configuration: the only thing the rest of the code reads.

Field names follow the original GodeX ``godex.yaml`` so users can migrate. Each field that is a
config key declares it here, once (``key``/``section``, see ``keys.py``): where it sits in the
file, how it is converted and checked, and whether it is a secret. Parsing, the unknown-key
check and ``godex config print`` all follow these declarations.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from godex.config.keys import (
    MASK,
    Bool,
    Choice,
    Duration,
    Int,
    Invalid,
    Keys,
    Kind,
    Level,
    Mapping_,
    Seconds,
    Size,
    Str,
    StrList,
    StrMap,
    Url,
    coerce,
    hint,
    key,
    meta,
    sub,
)

DEFAULT_PORT = 5678
DAY = 86400
BACKENDS = ("sqlite", "memory", "postgres")
TRACE_BACKENDS = ("sqlite", "postgres")
# Backends all instances of a deployment share: the sealing secret and pruner lease live there.
SHARED_BACKENDS = ("postgres",)
UPSTREAM_TRANSPORTS = ("builtin", "aiohttp")
WEB_SEARCH_MODES = ("auto", "provider_native", "godex_managed", "disabled")
# Header names whose values `config print` masks.
SECRET_HEADER = re.compile(r"auth|key|token|secret|cookie", re.I)

_STR, _OPT_STR, _BOOL, _POSITIVE = Str(), Str(empty_is_none=True), Bool(), Int(low=1)


@dataclass(frozen=True, slots=True)
class RequestLimitsConfig:
    """Caps on a request body; past one, a 400 naming the field."""

    max_depth: int = key(64, _POSITIVE)  # nesting of objects and arrays (Codex stays under ~15)
    max_string_chars: int = key(32 * 1024 * 1024, _POSITIVE)  # one string (an inline image fits)
    max_array_items: int = key(100_000, _POSITIVE)  # any one array anywhere in the body
    max_input_items: int = key(20_000, _POSITIVE)  # a long stateless Codex history fits
    max_tools: int = key(512, _POSITIVE)
    max_model_chars: int = key(256, _POSITIVE)


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = key("127.0.0.1", _STR)
    port: int = key(DEFAULT_PORT, Int(low=0, high=65535, what="port"))
    api_keys: tuple[str, ...] = key((), Keys(), secret=True)
    metrics_public: bool = key(False, _BOOL)
    workers: int = key(1, _POSITIVE)
    # Secret for authenticating encrypted_content (reasoning, compaction). When unset, one is
    # generated once and kept in data_dir/secret so all workers and restarts share it.
    secret: str | None = key(None, _OPT_STR, secret=True)
    data_dir: str = key("./data", _STR)
    shutdown_timeout_s: float = key(30.0, Seconds(), yaml="shutdown_timeout")
    # Keep-alive idle timeout of client connections (the TypeScript GodeX's server.idle_timeout).
    idle_timeout_s: int = key(75, Duration(allow_off=False), yaml="idle_timeout")
    # A request body must arrive within this (slow clients would hold connections), and stay
    # within this size.
    body_timeout_s: float = key(30.0, Seconds(), yaml="body_timeout")
    # Responses over WebSocket (GET /v1/responses with an upgrade); false keeps the fast 426.
    websocket: bool = key(True, _BOOL)
    websocket_max_per_key: int = key(16, _POSITIVE)  # open sockets per client key
    # No message and no turn running; the whole connection (OpenAI's 60 minutes). 0: no limit.
    websocket_idle_timeout_s: float = key(
        600.0, Seconds(off_is_zero=True), yaml="websocket_idle_timeout"
    )
    websocket_max_lifetime_s: float = key(
        3600.0, Seconds(off_is_zero=True), yaml="websocket_max_lifetime"
    )
    max_body_bytes: int = key(64 * 1024 * 1024, Size(), yaml="max_body_size")
    # input_file parts given by file_url are fetched by the gateway only when this is on (a
    # gateway fetching URLs its clients name can be pointed at internal hosts).
    fetch_file_urls: bool = key(False, _BOOL)
    request_limits: RequestLimitsConfig = field(
        default_factory=RequestLimitsConfig, metadata=sub(RequestLimitsConfig)
    )


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    name: str  # the key under providers:
    # The spec's canonical name (deepseek | xiaomi | zhipu | minimax | openai_compatible or one
    # added with registry.register), whatever accepted spelling the file used.
    spec: str = key(kind=_STR, custom=True)
    api_key: str | None = key(
        None, _OPT_STR, yaml="credentials.api_key", secret=True, legacy="api_key", custom=True
    )
    # The variable api_key came from, for clear messages.
    api_key_env: str | None = key(
        None, _STR, yaml="credentials.api_key_env", legacy="api_key_env", custom=True
    )
    base_url: str | None = key(None, Url(), yaml="endpoint.base_url", legacy="base_url")
    timeout_ms: int = key(600_000, _POSITIVE, legacy="timeout")  # whole request
    connect_timeout_ms: int = key(10_000, _POSITIVE)
    first_byte_timeout_ms: int = key(300_000, _POSITIVE)
    idle_timeout_ms: int = key(300_000, _POSITIVE)  # between data chunks; comments don't reset it
    headers: dict[str, str] = field(default_factory=dict, metadata=meta(StrMap(SECRET_HEADER)))
    models: tuple[str, ...] = field(default=(), metadata=meta(StrList()))
    # Only for specs that take them (openai_compatible): capability overrides.
    capabilities: dict[str, Any] = field(default_factory=dict, metadata=meta(Mapping_()))
    # Set when the provider cannot be used (e.g. its key variable is unset).
    unavailable_reason: str | None = None
    # The spelling the file used for spec when it was an alias (e.g. openai-compatible).
    spec_as_written: str | None = None


@dataclass(frozen=True, slots=True)
class ModelsConfig:
    # name -> "provider/model", or an ordered failover chain of them; checked in build.py
    aliases: dict[str, str | tuple[str, ...]] = field(
        default_factory=dict, metadata=meta(Mapping_(), custom=True)
    )


@dataclass(frozen=True, slots=True)
class RetryConfig:
    """Retries of one target before failing over (only before the client saw a byte)."""

    # Tries per target, the first one included. One by default: agents retry whole turns on
    # their own (Codex up to five times), so gateway retries would multiply the load.
    attempts: int = key(1, _POSITIVE)
    backoff_ms: int = key(200, _POSITIVE)  # base of the exponential backoff (full jitter)
    max_backoff_ms: int = key(5_000, _POSITIVE)
    # Retries may add at most this share of a provider's traffic (plus min_retries per window),
    # so a sick provider is not hammered.
    budget_percent: int = key(20, Int(low=0, high=100))
    min_retries: int = key(3, Int(low=0))


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """Per provider and model: skip a target that keeps failing, probe it after a cool-down."""

    failures: int = key(5, _POSITIVE)  # consecutive failures that open the breaker
    failure_percent: int = key(50, Int(low=1, high=100))  # or this share of a window's calls
    min_requests: int = key(10, _POSITIVE)  # ... once the window holds this many
    window_s: float = key(30.0, Seconds(), yaml="window")
    cooldown_s: float = key(30.0, Seconds(), yaml="cooldown")


@dataclass(frozen=True, slots=True)
class ResilienceConfig:
    retry: RetryConfig = field(default_factory=RetryConfig, metadata=sub(RetryConfig))
    breaker: BreakerConfig = field(default_factory=BreakerConfig, metadata=sub(BreakerConfig))


@dataclass(frozen=True, slots=True)
class PostgresConfig:
    """A PostgreSQL database several GodeX instances share."""

    # libpq connection string or URL; may hold a password, so it is masked in print-outs.
    dsn: str | None = key(None, _OPT_STR, secret=True)
    pool_size: int = key(10, _POSITIVE)  # connections per instance
    # Server-side cap on one statement, and (plus a margin) the client-side bound of a call.
    statement_timeout_s: float = key(5.0, Seconds(), yaml="statement_timeout")


@dataclass(frozen=True, slots=True)
class TracePostgresConfig:
    dsn: str | None = key(None, _OPT_STR, secret=True)


@dataclass(frozen=True, slots=True)
class SessionConfig:
    enabled: bool = key(True, _BOOL)
    backend: str = key("sqlite", Choice("backend", *BACKENDS))
    sqlite_path: str = key(
        "./data/sessions.db", _STR, yaml="sqlite.path", in_data_dir="sessions.db"
    )
    postgres: PostgresConfig = field(default_factory=PostgresConfig, metadata=sub(PostgresConfig))
    ttl_s: int | None = key(30 * DAY, Duration(), yaml="ttl")
    max_depth: int = key(1000, _POSITIVE)

    @property
    def shared(self) -> bool:
        """The store is one every instance of a deployment reaches (not a local file)."""
        return self.enabled and self.backend in SHARED_BACKENDS


@dataclass(frozen=True, slots=True)
class TraceConfig:
    enabled: bool = key(True, _BOOL)
    backend: str = key("sqlite", Choice("backend", *TRACE_BACKENDS))
    path: str = key("./data/trace.db", _STR, in_data_dir="trace.db")
    postgres: TracePostgresConfig = field(
        default_factory=TracePostgresConfig, metadata=sub(TracePostgresConfig)
    )
    max_queue_size: int = key(10_000, _POSITIVE)
    flush_interval_ms: int = key(1000, _POSITIVE)
    batch_size: int = key(100, _POSITIVE)
    capture_payload: bool = key(False, _BOOL)
    payload_max_bytes: int = key(65_536, Int(low=0))
    retention_s: int | None = key(7 * DAY, Duration(), yaml="retention")


@dataclass(frozen=True, slots=True)
class LogConsoleConfig:
    enabled: bool = key(True, _BOOL)
    level: str | None = key(None, Level())  # inherits logging.level
    pretty: bool = key(True, _BOOL)  # False: JSON lines


@dataclass(frozen=True, slots=True)
class LogFileConfig:
    enabled: bool = key(False, _BOOL)
    level: str | None = key(None, Level())
    dir: str = key("./logs", _STR)
    filename: str = key("godex.log", _STR)
    max_size: int = key(10 * 1024 * 1024, Size())
    max_files: int = key(5, _POSITIVE)


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    level: str = key("info", Level())  # trace and warn are read as debug and warning
    console: LogConsoleConfig = field(
        default_factory=LogConsoleConfig, metadata=sub(LogConsoleConfig, bool_shorthand=True)
    )
    file: LogFileConfig = field(
        default_factory=LogFileConfig, metadata=sub(LogFileConfig, bool_shorthand=True)
    )


@dataclass(frozen=True, slots=True)
class CompactionConfig:
    enabled: bool = key(True, _BOOL)


@dataclass(frozen=True, slots=True)
class WebSearchBackendConfig:
    """The search API GodeX calls itself in godex_managed mode."""

    type: str | None = key(None, _OPT_STR)  # which search API (e.g. zhipu)
    provider: str | None = key(None, _OPT_STR)  # a configured provider whose key to reuse
    api_key: str | None = key(None, _OPT_STR, secret=True)
    base_url: str | None = key(None, Url())

    @property
    def configured(self) -> bool:
        return bool(self.type or self.provider)


@dataclass(frozen=True, slots=True)
class WebSearchConfig:
    # auto: native search where the provider has it, else the backend when one is configured.
    mode: str = key("auto", Choice("mode", *WEB_SEARCH_MODES))
    backend: WebSearchBackendConfig = field(
        default_factory=WebSearchBackendConfig, metadata=sub(WebSearchBackendConfig)
    )
    # When no search is available for a request: drop the tool (with a diagnostic) or fail it.
    on_unavailable: str = key("drop", Choice("value", "drop", "error"))
    max_iterations: int = key(5, _POSITIVE)  # searches per response
    timeout_ms: int = key(15_000, _POSITIVE)  # per search


@dataclass(frozen=True, slots=True)
class KeyLimits:
    """Per key (or model, or gateway-wide) caps; None: no cap."""

    rpm: int | None = None  # requests per minute
    tpm: int | None = None  # tokens per minute, charged with the real usage when a turn ends
    concurrent: int | None = None  # requests in flight

    @property
    def any(self) -> bool:
        return bool(self.rpm or self.tpm or self.concurrent)


@dataclass(frozen=True, slots=True)
class KeyBudget:
    usd_per_day: float | None = None  # UTC days
    tokens_per_month: int | None = None  # UTC calendar months

    @property
    def any(self) -> bool:
        return self.usd_per_day is not None or self.tokens_per_month is not None


@dataclass(frozen=True, slots=True)
class ClientKeyConfig:
    """One named client key of ``auth.keys`` and its policy."""

    name: str
    key_sha256: str  # hex digest; a plain ``key`` is hashed when read, so only this is kept
    team: str | None = None
    models: tuple[str, ...] = ()  # globs over requested model names; empty: any model
    limits: KeyLimits = field(default_factory=KeyLimits)
    budget: KeyBudget = field(default_factory=KeyBudget)


_KEY_FIELDS = ("name", "key", "key_sha256", "team", "models", "limits", "budget")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def _limits(value: Any, where: str, problems: list[str]) -> KeyLimits:
    data = coerce(value, (dict,))
    out: dict[str, int | None] = {}
    for name in ("rpm", "tpm", "concurrent"):
        raw = data.get(name)
        if raw is None:
            continue
        try:
            out[name] = Int(low=1).parse(raw, f"{where}.{name}", problems, False)
        except Invalid as exc:
            problems.append(f"{where}.{name}: {exc.message}")
    for extra in set(data) - {"rpm", "tpm", "concurrent"}:
        problems.append(f"{where}.{extra}: unknown key (rpm, tpm, concurrent)")
    return KeyLimits(**out)


def _budget(value: Any, where: str, problems: list[str]) -> KeyBudget:
    data = coerce(value, (dict,))
    usd = data.get("usd_per_day")
    tokens = data.get("tokens_per_month")
    for extra in set(data) - {"usd_per_day", "tokens_per_month"}:
        problems.append(f"{where}.{extra}: unknown key (usd_per_day, tokens_per_month)")
    return KeyBudget(
        usd_per_day=None if usd is None else float(coerce(usd, (float,))),
        tokens_per_month=None
        if tokens is None
        else Int(low=0).parse(tokens, where, problems, False),
    )


class ClientKeys(Kind):
    """``auth.keys``: a list of named keys with their policies (see ``ClientKeyConfig``)."""

    def parse(self, value: Any, where: str, problems: list[str], secret: bool) -> Any:
        out: list[ClientKeyConfig] = []
        names: set[str] = set()
        for i, entry in enumerate(coerce(value, (list,), True)):
            at = f"{where}[{i}]"
            try:
                out.append(_client_key(entry, at, problems))
            except Invalid as exc:
                problems.append(f"{at}: {exc.message}")
                continue
            if out[-1].name in names:
                problems.append(f"{at}.name: duplicate key name {out[-1].name!r}")
            names.add(out[-1].name)
        return tuple(out)

    def dump(self, value: Any, secret: bool) -> Any:
        return [
            {
                "name": k.name,
                "key_sha256": MASK,
                "team": k.team,
                "models": list(k.models),
                "limits": {"rpm": k.limits.rpm, "tpm": k.limits.tpm,
                           "concurrent": k.limits.concurrent},
                "budget": {"usd_per_day": k.budget.usd_per_day,
                           "tokens_per_month": k.budget.tokens_per_month},
            }
            for k in value
        ]  # fmt: skip


def _client_key(entry: Any, at: str, problems: list[str]) -> ClientKeyConfig:
    data = coerce(entry, (dict,), True)
    for extra in set(data) - set(_KEY_FIELDS):
        problems.append(f"{at}.{extra}: unknown key{hint(str(extra), list(_KEY_FIELDS))}")
    name = data.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.@-]{1,64}", name):
        raise Invalid("name: expected 1-64 letters, digits or _.@-")
    plain, digest = data.get("key"), data.get("key_sha256")
    if (plain is None) == (digest is None):
        raise Invalid(f"key {name!r}: give exactly one of 'key' or 'key_sha256'")
    if plain is not None:
        if not isinstance(plain, str) or not plain:
            raise Invalid(f"key {name!r}: 'key' is empty (is its variable set?)")
        digest = hashlib.sha256(plain.encode()).hexdigest()
    elif not isinstance(digest, str) or not _HEX64.fullmatch(digest.lower()):
        raise Invalid(f"key {name!r}: key_sha256 must be 64 hex digits")
    team = data.get("team")
    models = StrList().parse(data.get("models") or [], f"{at}.models", problems, False)
    return ClientKeyConfig(
        name=name,
        key_sha256=str(digest).lower(),
        team=None if team is None else str(team),
        models=models,
        limits=_limits(data.get("limits") or {}, f"{at}.limits", problems),
        budget=_budget(data.get("budget") or {}, f"{at}.budget", problems),
    )


@dataclass(frozen=True, slots=True)
class AuthConfig:
    admin_keys: tuple[str, ...] = key((), Keys(), secret=True)
    keys: tuple[ClientKeyConfig, ...] = key((), ClientKeys(), secret=True)


class LimitsMap(Kind):
    """Names (model globs) to ``{rpm, tpm, concurrent}``."""

    free_keys = True

    def parse(self, value: Any, where: str, problems: list[str], secret: bool) -> Any:
        return {
            str(k): _limits(v, f"{where}.{k}", problems) for k, v in coerce(value, (dict,)).items()
        }

    def dump(self, value: Any, secret: bool) -> Any:
        return {
            k: {"rpm": v.rpm, "tpm": v.tpm, "concurrent": v.concurrent} for k, v in value.items()
        }


class LimitsOne(Kind):
    def parse(self, value: Any, where: str, problems: list[str], secret: bool) -> Any:
        return _limits(value, where, problems)

    def dump(self, value: Any, secret: bool) -> Any:
        return {"rpm": value.rpm, "tpm": value.tpm, "concurrent": value.concurrent}


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    # Where counters live: this process (memory) or Redis, shared by every instance.
    backend: str = key("memory", Choice("backend", "memory", "redis"))
    # Secret: a Redis URL may carry its password (redis://:pw@host).
    redis_url: str = key("redis://127.0.0.1:6379/0", _STR, yaml="redis.url", secret=True)
    redis_prefix: str = key("godex:limits:", _STR, yaml="redis.prefix")
    # Redis unreachable: admit requests (open) or refuse them with a 503 (closed).
    on_redis_down: str = key("open", Choice("value", "open", "closed"))
    global_: KeyLimits = field(default=KeyLimits(), metadata=meta(LimitsOne(), yaml="global"))
    models: dict[str, KeyLimits] = field(default_factory=dict, metadata=meta(LimitsMap()))


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens."""

    input: float
    cached_input: float
    output: float


class Prices(Kind):
    """``prices``: "provider/model" (globs allowed) -> {input, cached_input, output} per 1M."""

    free_keys = True

    def parse(self, value: Any, where: str, problems: list[str], secret: bool) -> Any:
        out: dict[str, Price] = {}
        for name, entry in coerce(value, (dict,)).items():
            at = f"{where}.{name}"
            try:
                data = coerce(entry, (dict,))
                inp = float(coerce(data.get("input", 0), (float,)))
                cached = float(coerce(data.get("cached_input", inp), (float,)))
                outp = float(coerce(data.get("output", 0), (float,)))
            except Invalid as exc:
                problems.append(f"{at}: {exc.message}")
                continue
            if min(inp, cached, outp) < 0:
                problems.append(f"{at}: prices cannot be negative")
                continue
            out[str(name)] = Price(inp, cached, outp)
        return out

    def dump(self, value: Any, secret: bool) -> Any:
        return {
            k: {"input": p.input, "cached_input": p.cached_input, "output": p.output}
            for k, p in value.items()
        }


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    """The HTTP client GodeX calls providers with."""

    # builtin: GodeX's own HTTP/1.1 client (godex/upstream/http1.py, the leaner one);
    # aiohttp: aiohttp's client (godex/upstream/aiohttp_transport.py).
    transport: str = key("builtin", Choice("transport", *UPSTREAM_TRANSPORTS))


@dataclass(frozen=True, slots=True)
class TelemetryConfig:
    # OTLP/HTTP collector base URL (spans go to <it>/v1/traces); unset: no export. Needs the
    # optional extra: pip install 'godex[otel]'.
    otlp_endpoint: str | None = key(None, Url())
    service_name: str = key("godex", _STR)


@dataclass(frozen=True, slots=True)
class UiConfig:
    """The admin dashboard at /ui (godex/server/ui): off unless asked for."""

    enabled: bool = key(False, _BOOL)
    session_ttl_s: int = key(8 * 3600, Duration(allow_off=False), yaml="session_ttl")


@dataclass(frozen=True, slots=True)
class GodexConfig:
    server: ServerConfig = field(
        default_factory=ServerConfig, metadata=sub(ServerConfig, custom=True)
    )
    default_provider: str | None = field(default=None, metadata=meta(_STR, custom=True))
    models: ModelsConfig = field(default_factory=ModelsConfig, metadata=sub(ModelsConfig))
    providers: dict[str, ProviderConfig] = field(
        default_factory=dict, metadata=meta(None, entries=ProviderConfig)
    )
    session: SessionConfig = field(default_factory=SessionConfig, metadata=sub(SessionConfig))
    trace: TraceConfig = field(default_factory=TraceConfig, metadata=sub(TraceConfig))
    logging: LoggingConfig = field(default_factory=LoggingConfig, metadata=sub(LoggingConfig))
    compaction: CompactionConfig = field(
        default_factory=CompactionConfig, metadata=sub(CompactionConfig)
    )
    web_search: WebSearchConfig = field(
        default_factory=WebSearchConfig, metadata=sub(WebSearchConfig)
    )
    resilience: ResilienceConfig = field(
        default_factory=ResilienceConfig, metadata=sub(ResilienceConfig)
    )
    upstream: UpstreamConfig = field(default_factory=UpstreamConfig, metadata=sub(UpstreamConfig))
    auth: AuthConfig = field(default_factory=AuthConfig, metadata=sub(AuthConfig))
    limits: LimitsConfig = field(default_factory=LimitsConfig, metadata=sub(LimitsConfig))
    # Overrides and additions to the built-in prices (godex/limits/prices.py).
    prices: dict[str, Price] = field(default_factory=dict, metadata=meta(Prices()))
    telemetry: TelemetryConfig = field(
        default_factory=TelemetryConfig, metadata=sub(TelemetryConfig)
    )
    ui: UiConfig = field(default_factory=UiConfig, metadata=sub(UiConfig))
    source: str | None = None  # the file it came from; None for the built-in default
