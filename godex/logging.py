"""Structured logging (structlog): console (pretty or JSON) and a rotating file, secrets masked.

Every event passes through ``redact`` before it is rendered, so an API key that reaches a log
call by accident (in a field, a header string or an exception message) is still masked.
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

from godex.config.schema import LoggingConfig

_SECRET_KEYS = re.compile(r"(api[_-]?key|authorization|secret|password|token|credential)", re.I)
_SECRET_TEXT = re.compile(
    r"(?:(Bearer\s+)[A-Za-z0-9._~+/=-]{6,})|(?:\b(sk-[A-Za-z0-9_-]{6,}))|"
    r"(?:((?:api[_-]?key|x-api-key)[\"']?\s*[:=]\s*[\"']?)[A-Za-z0-9._-]{6,})",
    re.I,
)
MASK = "***"


def _mask_text(text: str) -> str:
    def sub(m: re.Match[str]) -> str:
        prefix = m.group(1) or m.group(3) or ""
        return prefix + MASK

    return _SECRET_TEXT.sub(sub, text)


def _redact_value(key: str, value: Any) -> Any:
    if isinstance(value, str):
        if _SECRET_KEYS.search(key) and key not in ("token_kind", "tokens"):
            return MASK
        return (
            _mask_text(value) if ("sk-" in value or "earer" in value or "key" in value) else value
        )
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_value(key, v) for v in value]
    return value


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if isinstance(value, (str, dict, list, tuple)):
            event[key] = _redact_value(key, value)
    return event


_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def _level(name: str | None, default: str) -> int:
    return int(getattr(logging, (name or default).upper(), logging.INFO))


def configure_logging(cfg: LoggingConfig) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    base = _level(cfg.level, "info")
    handlers: list[logging.Handler] = []
    if cfg.console.enabled:
        console = logging.StreamHandler(sys.stderr)
        console.setLevel(_level(cfg.console.level, cfg.level))
        renderer: Any = (
            structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
            if cfg.console.pretty
            else structlog.processors.JSONRenderer()
        )
        console.setFormatter(_processor_formatter(renderer))
        handlers.append(console)
    if cfg.file.enabled:
        directory = Path(cfg.file.dir)
        directory.mkdir(parents=True, exist_ok=True)
        file = logging.handlers.RotatingFileHandler(
            directory / cfg.file.filename,
            maxBytes=cfg.file.max_size,
            backupCount=max(0, cfg.file.max_files - 1),
            encoding="utf-8",
        )
        file.setLevel(_level(cfg.file.level, cfg.level))
        file.setFormatter(_processor_formatter(structlog.processors.JSONRenderer()))
        handlers.append(file)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(min([base, *(h.level for h in handlers)]) if handlers else logging.CRITICAL + 1)
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).disabled = True
    structlog.configure(
        processors=[
            *_SHARED,
            structlog.processors.format_exc_info,
            redact,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(base),
        cache_logger_on_first_use=True,
    )


def _processor_formatter(renderer: Any) -> logging.Formatter:
    class _F(structlog.stdlib.ProcessorFormatter):
        def format(self, record: logging.LogRecord) -> str:
            return _mask_text(super().format(record))

    return _F(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        foreign_pre_chain=[*_SHARED],
    )


structlog.configure(
    processors=[
        *_SHARED,
        structlog.processors.format_exc_info,
        redact,
        structlog.dev.ConsoleRenderer(colors=False),
    ],
    wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


_access = structlog.get_logger("godex.access")


def access_log(
    request_id: str, method: str, path: str, status: int, duration_ms: float, model: str
) -> None:
    _access.info(
        "request",
        request_id=request_id,
        method=method,
        path=path,
        status=status,
        duration_ms=round(duration_ms, 2),
        model=model or None,
    )
