"""Structured logging (structlog): console (pretty or JSON lines) and a rotating file.

Secrets are masked twice: ``redact`` rewrites every event before rendering (fields named like
secrets, ``Bearer …`` and ``sk-…`` anywhere in strings, exception text included), and each
rendered line is masked again so log lines from other libraries are covered too. Both steps
skip strings that cannot hold a secret with a few substring tests, which keeps the hot path
cheap. A usable default is installed at import, so logging before ``configure_logging`` is
already redacted.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import structlog
from structlog.typing import FilteringBoundLogger

from godex.config.schema import LoggingConfig

MASK = "***"
# Field names whose whole value is a secret (matched on the lower-cased key's ending, so
# "x-api-key" and "upstream_api_key" match but "input_tokens" does not).
_SECRET_KEY = re.compile(
    r"(?:^|[_-])(?:api[_-]?key|authorization|proxy-authorization|secret|secret[_-]?key|"
    r"private[_-]?key|password|passwd|token|access[_-]?token|refresh[_-]?token|credentials?|"
    r"cookie|set-cookie)$"
)
_SECRET_TEXT = re.compile(
    r"(?P<p1>\b(?:Bearer|Basic)\s+)(?P<v1>[A-Za-z0-9._~+/=-]{6,})"
    r"|\bsk-[A-Za-z0-9_-]{6,}"
    r"|(?P<p2>(?:api[_-]?key|token|secret|password|authorization)[\"']?\s*[:=]\s*[\"']?)"
    r"(?!Bearer\b|Basic\b)(?P<v2>[A-Za-z0-9._~+/=-]{6,})",
    re.I,
)
# A plain word after "api_key:" or "Bearer" is prose ("api_key: environment variable ... is
# not set"), not a credential: keys and tokens are longer or carry digits, case or symbols.
_WORD = re.compile(r"[A-Za-z][a-z]*(?:-[a-z]+)*")
# A string without any of these cannot match _SECRET_TEXT: skip the regex.
_GATES = ("sk-", "earer", "asic", "key", "KEY", "oken", "ecret", "assword", "uthorization")
_key_cache: dict[str, bool] = {}


def _is_secret_key(key: str) -> bool:
    hit = _key_cache.get(key)
    if hit is None:
        hit = bool(_SECRET_KEY.search(key.lower()))
        if len(_key_cache) < 4096:  # keys are code-defined; bound it anyway
            _key_cache[key] = hit
    return hit


def mask_text(text: str) -> str:
    """``text`` with bearer tokens, ``sk-`` keys and ``key=value`` secrets replaced."""
    for gate in _GATES:
        if gate in text:
            return _SECRET_TEXT.sub(_mask_match, text)
    return text


def _mask_match(m: re.Match[str]) -> str:
    value = m.group("v1") or m.group("v2")
    if value is not None and len(value) <= 20 and _WORD.fullmatch(value):
        return m.group(0)
    return (m.group("p1") or m.group("p2") or "") + MASK


def _redact_value(key: str, value: Any) -> Any:
    if isinstance(value, str):
        return MASK if value and _is_secret_key(key) else mask_text(value)
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_value(key, v) for v in value]
    if isinstance(value, BaseException):
        return mask_text(f"{type(value).__name__}: {value}")
    if isinstance(value, bytes):
        return _redact_value(key, value.decode("utf-8", "replace"))
    return value


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: mask secrets in every field of the event."""
    for key, value in event.items():
        if not isinstance(value, (int, float, bool)) and value is not None:
            event[key] = _redact_value(key, value)
    return event


def _mask_rendered(_: Any, __: str, rendered: Any) -> Any:
    return mask_text(rendered) if isinstance(rendered, str) else rendered


_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


class _MaskingFormatter(structlog.stdlib.ProcessorFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return mask_text(super().format(record))


def _formatter(renderer: Any) -> logging.Formatter:
    return _MaskingFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        foreign_pre_chain=[*_SHARED, structlog.processors.format_exc_info, redact],
    )


def _level(name: str | None, default: str) -> int:
    # "trace" (the TypeScript GodeX's lowest level) is debug here, even once uvicorn has
    # registered its own TRACE (5), which structlog's filtering loggers do not know.
    wanted = (name or default).upper()
    if wanted == "TRACE":
        return logging.DEBUG
    return logging.getLevelNamesMapping().get(wanted, logging.INFO)


def configure_logging(cfg: LoggingConfig) -> None:
    """Install the sinks from ``cfg``; safe to call again (handlers are replaced)."""
    global _access
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    handlers: list[logging.Handler] = []
    if cfg.console.enabled:
        console = logging.StreamHandler(sys.stderr)
        console.setLevel(_level(cfg.console.level, cfg.level))
        pretty = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        renderer = pretty if cfg.console.pretty else structlog.processors.JSONRenderer()
        console.setFormatter(_formatter(renderer))
        handlers.append(console)
    if cfg.file.enabled:
        directory = Path(cfg.file.dir)
        directory.mkdir(parents=True, exist_ok=True)
        file = logging.handlers.RotatingFileHandler(
            directory / cfg.file.filename,
            maxBytes=cfg.file.max_size,
            backupCount=max(0, cfg.file.max_files - 1),  # max_files counts the live file
            encoding="utf-8",
        )
        file.setLevel(_level(cfg.file.level, cfg.level))
        file.setFormatter(_formatter(structlog.processors.JSONRenderer()))
        handlers.append(file)
    for handler in handlers:
        root.addHandler(handler)
    # Filter once, at the lowest level any sink wants, before any event is built.
    lowest = min((h.level for h in handlers), default=logging.CRITICAL + 1)
    root.setLevel(lowest)
    logging.getLogger("uvicorn.access").disabled = True  # we write our own access line
    structlog.configure(
        processors=[
            *_SHARED,
            structlog.processors.format_exc_info,
            redact,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(lowest),
        cache_logger_on_first_use=True,
    )
    _access = structlog.get_logger("godex.access").bind()


def _install_default() -> None:
    # Before configure_logging: info and above, pretty, on stderr, redacted.
    structlog.configure(
        processors=[
            *_SHARED,
            structlog.processors.format_exc_info,
            redact,
            structlog.dev.ConsoleRenderer(colors=False),
            _mask_rendered,
        ],
        # Looks sys.stderr up per call, so redirection (and test capture) is honoured.
        logger_factory=lambda *_: structlog.PrintLogger(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=False,
    )


_install_default()


def get_logger(name: str) -> FilteringBoundLogger:
    logger: FilteringBoundLogger = structlog.get_logger(name)
    return logger


_access: FilteringBoundLogger = get_logger("godex.access")


def access_log(
    request_id: str,
    method: str,
    path: str,
    status: int,
    duration_ms: float,
    model: str,
    *,
    provider: str | None = None,
    error_code: str | None = None,
) -> None:
    """One line per request, at info: who was asked, who served it, and why it failed."""
    _access.info(
        "request",
        request_id=request_id,
        method=method,
        path=path,
        status=status,
        duration_ms=round(duration_ms, 2),
        model=model or None,
        provider=provider or None,
        error_code=error_code,
    )
