"""The typed configuration: the only thing the rest of the code reads.

Field names follow the original GodeX ``godex.yaml`` so users can migrate. Each field that is a
config key declares it here, once (``key``/``section``, see ``keys.py``): where it sits in the
file, how it is converted and checked, and whether it is a secret. Parsing, the unknown-key
check and ``godex config print`` all follow these declarations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from godex.config.keys import (
    Bool,
    Choice,
    Duration,
    Int,
    Keys,
    Level,
    Mapping_,
    Seconds,
    Size,
    Str,
    StrList,
    StrMap,
    Url,
    key,
    meta,
    sub,
)

DEFAULT_PORT = 5678
DAY = 86400
BACKENDS = ("sqlite", "memory")
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
class SessionConfig:
    enabled: bool = key(True, _BOOL)
    backend: str = key("sqlite", Choice("backend", *BACKENDS))
    sqlite_path: str = key(
        "./data/sessions.db", _STR, yaml="sqlite.path", in_data_dir="sessions.db"
    )
    ttl_s: int | None = key(30 * DAY, Duration(), yaml="ttl")
    max_depth: int = key(1000, _POSITIVE)


@dataclass(frozen=True, slots=True)
class TraceConfig:
    enabled: bool = key(True, _BOOL)
    path: str = key("./data/trace.db", _STR, in_data_dir="trace.db")
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
    ui: UiConfig = field(default_factory=UiConfig, metadata=sub(UiConfig))
    source: str | None = None  # the file it came from; None for the built-in default
