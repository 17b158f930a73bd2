"""The typed configuration: the only thing the rest of the code reads.

Field names follow the original GodeX ``godex.yaml`` so users can migrate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_PORT = 5678
DAY = 86400


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    api_keys: tuple[str, ...] = ()
    metrics_public: bool = False
    workers: int = 1
    # Secret for authenticating encrypted_content (reasoning, compaction). When unset, one is
    # generated once and kept in data_dir/secret so all workers and restarts share it.
    secret: str | None = None
    data_dir: str = "./data"
    shutdown_timeout_s: float = 30.0
    # Responses over WebSocket (GET /v1/responses with an upgrade); false answers 426.
    websocket: bool = True
    websocket_max_per_key: int = 16  # open sockets per client key
    websocket_idle_timeout_s: float = 600.0  # no message and no turn running
    websocket_max_lifetime_s: float = 3600.0  # OpenAI's 60 minutes


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    name: str  # the key under providers:
    spec: str  # which ProviderSpec: deepseek | xiaomi | zhipu | minimax | openai_compatible ...
    api_key: str | None = None
    api_key_env: str | None = None  # the variable api_key came from, for clear messages
    base_url: str | None = None
    timeout_ms: int = 600_000  # whole request
    connect_timeout_ms: int = 10_000
    first_byte_timeout_ms: int = 300_000
    idle_timeout_ms: int = 300_000  # between data chunks; comments do not reset it
    headers: dict[str, str] = field(default_factory=dict)
    models: tuple[str, ...] = ()
    # Only for spec openai_compatible: capability overrides declared in config.
    capabilities: dict[str, Any] = field(default_factory=dict)
    # Set when the provider cannot be used (e.g. its key variable is unset).
    unavailable_reason: str | None = None


@dataclass(frozen=True, slots=True)
class ModelsConfig:
    aliases: dict[str, str] = field(default_factory=dict)  # name -> "provider/model"


@dataclass(frozen=True, slots=True)
class SessionConfig:
    enabled: bool = True
    backend: str = "sqlite"  # sqlite | memory
    sqlite_path: str = "./data/sessions.db"
    ttl_s: int | None = 30 * DAY
    max_depth: int = 1000


@dataclass(frozen=True, slots=True)
class TraceConfig:
    enabled: bool = True
    path: str = "./data/trace.db"
    max_queue_size: int = 10_000
    flush_interval_ms: int = 1000
    batch_size: int = 100
    capture_payload: bool = False
    payload_max_bytes: int = 65_536
    retention_s: int | None = 7 * DAY


@dataclass(frozen=True, slots=True)
class LogConsoleConfig:
    enabled: bool = True
    level: str | None = None  # inherits logging.level
    pretty: bool = True  # False: JSON lines


@dataclass(frozen=True, slots=True)
class LogFileConfig:
    enabled: bool = False
    level: str | None = None
    dir: str = "./logs"
    filename: str = "godex.log"
    max_size: int = 10 * 1024 * 1024
    max_files: int = 5


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    level: str = "info"
    console: LogConsoleConfig = field(default_factory=LogConsoleConfig)
    file: LogFileConfig = field(default_factory=LogFileConfig)


@dataclass(frozen=True, slots=True)
class CompactionConfig:
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class GodexConfig:
    server: ServerConfig = field(default_factory=ServerConfig)
    default_provider: str | None = None
    models: ModelsConfig = field(default_factory=ModelsConfig)
    providers: dict[str, ProviderConfig] = field(default_factory=dict)
    session: SessionConfig = field(default_factory=SessionConfig)
    trace: TraceConfig = field(default_factory=TraceConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    compaction: CompactionConfig = field(default_factory=CompactionConfig)
    source: str | None = None  # the file it came from; None for the built-in default
