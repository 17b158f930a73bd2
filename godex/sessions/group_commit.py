"""Group commit for stored responses, shared by the SQL backends.

Puts that arrive while a write is in flight go out together in the next transaction, so under
load a commit (and its fsync or round trip) is paid per batch, not per request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from godex.sessions.store import StoredResponse, with_ids

Row = tuple[Any, ...]
_enc = msgspec.json.Encoder().encode


def response_row(rec: StoredResponse) -> Row:
    """The ``responses`` row of a record, in the column order both SQL backends use; the
    response is stored as the bytes the client got when there are some (serialised once)."""
    rec.input_items = with_ids(rec.input_items)
    return (
        rec.id,
        rec.previous_response_id,
        rec.created_at,
        rec.status,
        rec.model,
        rec.provider,
        rec.upstream_model,
        _enc(rec.input_items),
        rec.response_json if rec.response_json is not None else _enc(rec.response),
        _enc(rec.reasoning),
        rec.replay,
        rec.owner,
    )


class GroupCommit:
    def __init__(self, write: Callable[[list[Row]], Awaitable[None]]) -> None:
        self._write = write
        self._pending: list[tuple[Row, asyncio.Future[None]]] = []
        self._flushing = False
        self._task: asyncio.Task[None] | None = None  # held so the flush is not collected

    async def put(self, row: Row) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._pending.append((row, fut))
        if not self._flushing:
            self._flushing = True
            self._task = loop.create_task(self._flush())
        await fut

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    await self._write([row for row, _ in batch])
                except Exception as exc:
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc)
                    continue
                for _, fut in batch:
                    if not fut.done():
                        fut.set_result(None)
        finally:
            self._flushing = False
