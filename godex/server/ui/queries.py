"""The dashboard's reads of the trace database, whichever backend holds it.

The SQL lives in the trace layer (``godex.trace.overview`` and ``godex.trace.query``, which
`godex traces` reads through too); this module gives the dashboard one shared reader per
trace source (one connection per process, not one per chart) and the empty answers for a
gateway that has not written its first trace yet. Every method is synchronous: the routes run
them in the executor, so a slow query never holds up the event loop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from godex.errors import NotFoundError
from godex.trace import overview as trace_overview
from godex.trace import query
from godex.trace.readers import SharedReader

MAX_PAGE = query.MAX_PAGE
T = TypeVar("T")


class Reads:
    def __init__(self, source: Callable[[], str]) -> None:
        self._source = source  # read on each call: a reload may move the traces
        self._lock = threading.Lock()
        self._reader: SharedReader | None = None

    def _db(self) -> SharedReader:
        source = self._source()
        with self._lock:
            if self._reader is None or self._reader.source != source:
                if self._reader is not None:
                    self._reader.close()
                self._reader = SharedReader(source)
            return self._reader

    def _or(self, empty: T, read: Callable[[SharedReader], T]) -> T:
        try:
            return read(self._db())
        except NotFoundError as exc:
            if exc.code != "server.trace_db_missing":
                raise
            return empty  # no request traced yet: the SQLite file does not exist

    def overview(self, since: float, until: float) -> dict[str, Any]:
        empty = {
            "since": since,
            "until": until,
            "step": trace_overview.bucket_size(since, until),
            "has_cost": True,
            "series": [],
            "by_key": [],
            "by_model": [],
            "failovers": [],
        }
        return self._or(empty, lambda db: trace_overview.overview(db, since, until))

    def list_requests(
        self,
        *,
        filters: dict[str, str],
        since: float | None,
        until: float | None,
        text: str | None,
        limit: int,
        offset: int,
    ) -> dict[str, Any]:
        def read(db: SharedReader) -> dict[str, Any]:
            return query.page_of_requests(
                db,
                filters=filters,
                since=since,
                until=until,
                text=text,
                limit=limit,
                offset=offset,
            )

        empty = {"items": [], "offset": max(0, offset), "limit": limit, "more": False}
        return self._or(empty, read)

    def get_request(self, request_id: str) -> dict[str, Any] | None:
        return self._or(None, lambda db: query.request_of(db, request_id))

    def usage_by_key(self, since: float, until: float) -> dict[str, dict[str, Any]]:
        return self._or({}, lambda db: trace_overview.usage_by_key(db, since, until))

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        out = self.list_requests(
            filters={}, since=None, until=None, text=None, limit=limit, offset=0
        )
        return list(out["items"])

    def close(self) -> None:
        with self._lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
