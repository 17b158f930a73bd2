"""Retention outside the server: ``godex sessions prune``."""

from __future__ import annotations

import asyncio
import time

from godex.config.schema import SessionConfig
from godex.sessions.factory import open_store


def prune_expired(cfg: SessionConfig, older_than_s: int | None = None) -> int:
    """Delete stored responses older than ``older_than_s`` (default ``session.ttl``)."""
    age = cfg.ttl_s if older_than_s is None else older_than_s
    if age is None:
        return 0

    async def run() -> int:
        store = open_store(cfg)
        if store is None:
            return 0
        try:
            return await store.prune(int(time.time()) - age)
        finally:
            await store.close()

    return asyncio.run(run())
