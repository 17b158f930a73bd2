"""The resolved config as ``godex.yaml``-shaped data with secrets replaced by ``***``.

The shape is the file's own, so ``godex config print`` output is itself a valid config.
"""

from __future__ import annotations

import re
from typing import Any

from godex.config.durations import format_duration
from godex.config.schema import GodexConfig, ProviderConfig

MASK = "***"
_SECRET_HEADER = re.compile(r"auth|key|token|secret|cookie", re.I)


def _provider(p: ProviderConfig) -> dict[str, Any]:
    creds: dict[str, Any] = {"api_key": MASK if p.api_key else None}
    if p.api_key_env:
        creds["api_key_env"] = p.api_key_env
    out: dict[str, Any] = {
        "spec": p.spec,
        "credentials": creds,
        "endpoint": {"base_url": p.base_url},
        "timeout_ms": p.timeout_ms,
        "connect_timeout_ms": p.connect_timeout_ms,
        "first_byte_timeout_ms": p.first_byte_timeout_ms,
        "idle_timeout_ms": p.idle_timeout_ms,
        "headers": {k: MASK if _SECRET_HEADER.search(k) else v for k, v in p.headers.items()},
        "models": list(p.models),
    }
    if p.capabilities:
        out["capabilities"] = dict(p.capabilities)
    return out


def redacted_dict(config: GodexConfig) -> dict[str, Any]:
    s, sess, tr, lg = config.server, config.session, config.trace, config.logging
    return {
        "server": {
            "host": s.host,
            "port": s.port,
            "api_keys": [MASK for _ in s.api_keys],
            "metrics_public": s.metrics_public,
            "workers": s.workers,
            "secret": MASK if s.secret else None,
            "data_dir": s.data_dir,
            "shutdown_timeout": s.shutdown_timeout_s,
            "websocket": s.websocket,
            "websocket_max_per_key": s.websocket_max_per_key,
            "websocket_idle_timeout": format_duration(int(s.websocket_idle_timeout_s) or None),
            "websocket_max_lifetime": format_duration(int(s.websocket_max_lifetime_s) or None),
        },
        "default_provider": config.default_provider,
        "models": {"aliases": dict(config.models.aliases)},
        "providers": {name: _provider(p) for name, p in config.providers.items()},
        "session": {
            "enabled": sess.enabled,
            "backend": sess.backend,
            "sqlite": {"path": sess.sqlite_path},
            "ttl": format_duration(sess.ttl_s),
            "max_depth": sess.max_depth,
        },
        "trace": {
            "enabled": tr.enabled,
            "path": tr.path,
            "max_queue_size": tr.max_queue_size,
            "flush_interval_ms": tr.flush_interval_ms,
            "batch_size": tr.batch_size,
            "capture_payload": tr.capture_payload,
            "payload_max_bytes": tr.payload_max_bytes,
            "retention": format_duration(tr.retention_s),
        },
        "logging": {
            "level": lg.level,
            "console": {
                "enabled": lg.console.enabled,
                "level": lg.console.level,
                "pretty": lg.console.pretty,
            },
            "file": {
                "enabled": lg.file.enabled,
                "level": lg.file.level,
                "dir": lg.file.dir,
                "filename": lg.file.filename,
                "max_size": lg.file.max_size,
                "max_files": lg.file.max_files,
            },
        },
        "compaction": {"enabled": config.compaction.enabled},
    }
