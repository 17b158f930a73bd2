"""Trace recording that never slows a request.

``record`` appends to a bounded in-memory queue; a writer thread drains it in batches (on an
interval, or early when a batch is full) and writes each batch in one transaction. When the
queue is full the record is dropped, counted and warned about (at most every 10 s). ``stop``
flushes everything queued. With tracing off the recorder is a no-op: the request pays nothing.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Protocol

import msgspec

from godex.background_thread import yield_to_the_loop
from godex.config.schema import TraceConfig
from godex.logging import get_logger
from godex.trace import rollup
from godex.trace.readers import SQLITE
from godex.trace.record import TraceRecord
from godex.trace.redact import capture
from godex.trace.schema import COLUMNS as _COLUMNS
from godex.trace.schema import FACT, connect

log = get_logger("godex.trace")

_INSERT = f"INSERT OR REPLACE INTO requests ({_COLUMNS}) VALUES ({','.join('?' * 29)})"


SINK_RETRY_S = 5.0


class NoopRecorder:
    enabled = False
    queue_depth = 0
    dropped = 0

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def record(self, rec: TraceRecord) -> None:
        pass


class TraceRecorder:
    enabled = True

    def __init__(self, cfg: TraceConfig) -> None:
        self.cfg = cfg
        self._limit = max(1, cfg.max_queue_size)
        # A deque, not queue.Queue: append is lock-free and wakes nobody, so recording costs
        # the request path a few hundred nanoseconds. The writer wakes on its own schedule.
        self._buf: deque[TraceRecord] = deque()
        self._wake = threading.Event()
        self._stopping = False
        self.dropped = 0
        self.written = 0
        self._last_warning = 0.0
        self._thread: threading.Thread | None = None
        self._last_retention = 0.0

    @property
    def queue_depth(self) -> int:
        return len(self._buf)

    def start(self) -> None:
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="godex-trace", daemon=True)
            self._thread.start()

    def record(self, rec: TraceRecord) -> None:
        buf = self._buf
        if len(buf) >= self._limit:
            self.dropped += 1
            now = time.monotonic()
            if now - self._last_warning > 10:
                self._last_warning = now
                log.warning("trace_queue_full", dropped_total=self.dropped)
            return
        buf.append(rec)
        if len(buf) == self.cfg.batch_size:
            self._wake.set()  # a full batch is worth writing now

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stopping = True
        self._wake.set()
        self._thread.join(30)
        self._thread = None

    # -- writer thread --------------------------------------------------------------------
    def _open(self) -> TraceSink:
        if self.cfg.backend == "postgres":
            from godex.trace.postgres import PostgresSink  # only a postgres deployment loads it

            return PostgresSink(self.cfg)
        return SqliteSink(self.cfg.path)

    def _run(self) -> None:
        yield_to_the_loop()
        sink = self._open_sink()
        if sink is None:
            return
        interval = max(0.01, self.cfg.flush_interval_ms / 1000)
        try:
            while True:
                self._wake.wait(interval)
                self._wake.clear()
                self._drain(sink)
                self._retention(sink)
                if self._stopping:
                    self._drain(sink)  # whatever arrived while the last batch was written
                    return
        finally:
            sink.close()

    def _open_sink(self) -> TraceSink | None:
        while True:
            try:
                return self._open()
            except Exception:
                log.exception("trace_db_unavailable", backend=self.cfg.backend)
            # A shared database may come back: keep trying (records queue up, bounded, in the
            # meantime). A local file that cannot be opened will not fix itself.
            if self.cfg.backend != "postgres" or self._stopping:
                return None
            self._wake.wait(SINK_RETRY_S)
            self._wake.clear()
            if self._stopping:
                return None

    def _drain(self, sink: TraceSink) -> None:
        buf = self._buf
        size = max(1, self.cfg.batch_size)
        while buf:
            batch: list[TraceRecord] = []
            while buf and len(batch) < size:
                batch.append(buf.popleft())
            self._write(sink, batch)

    def _write(self, sink: TraceSink, batch: list[TraceRecord]) -> None:
        if not batch:
            return
        limit = self.cfg.payload_max_bytes
        payloads = (
            [
                (
                    r.request_id,
                    capture(r.request_payload, limit),
                    capture(r.response_payload, limit),
                )
                for r in batch
                if r.request_payload is not None or r.response_payload is not None
            ]
            if self.cfg.capture_payload
            else []
        )
        try:
            sink.write([_row(r) for r in batch], payloads)
            self.written += len(batch)
        except Exception:
            log.exception("trace_write_failed", records=len(batch))

    def _retention(self, sink: TraceSink) -> None:
        keep = self.cfg.retention_s
        now = time.time()
        if keep is None or now - self._last_retention < 60:
            return
        self._last_retention = now
        try:
            sink.prune(now - keep)
        except Exception:
            log.exception("trace_retention_failed")


class TraceSink(Protocol):
    """Where the writer thread puts batches (on that thread only)."""

    def write(self, rows: list[tuple[Any, ...]], payloads: list[tuple[Any, ...]]) -> None: ...
    def prune(self, before_ts: float) -> None: ...
    def close(self) -> None: ...


_ROLLUP = rollup.upsert_sql(SQLITE, "?")


class SqliteSink:
    def __init__(self, path: str) -> None:
        self.db = connect(path)

    def write(self, rows: list[tuple[Any, ...]], payloads: list[tuple[Any, ...]]) -> None:
        db = self.db
        db.execute("BEGIN")
        try:
            # The rollup moves in the batch's transaction: it never disagrees with the rows.
            old = list(rollup.replaced(db.execute, [r[0] for r in rows], "?"))
            db.executemany(_INSERT, rows)
            if payloads:
                db.executemany("INSERT OR REPLACE INTO payloads VALUES (?,?,?)", payloads)
            rollup.apply(db, _ROLLUP, rollup.batch(rows, FACT, old))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def prune(self, before_ts: float) -> None:
        db = self.db
        db.execute("BEGIN")
        try:
            db.execute("DELETE FROM requests WHERE ts < ?", (before_ts,))
            for span in rollup.SPANS:
                for sql in rollup.prune_sql("?"):
                    db.execute(sql, (span, before_ts - span))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.db.close()


_encode = msgspec.json.Encoder().encode


def _json(value: Any) -> str:
    """JSON text for a column, in C (the standard library's took 4 µs a row here)."""
    return _encode(value).decode()


def _row(r: TraceRecord) -> tuple[Any, ...]:
    return (
        r.request_id,
        r.ts,
        r.route,
        r.method,
        r.http_status,
        r.client_key_id,
        r.requested_model,
        r.provider,
        r.upstream_model,
        int(r.stream),
        r.status,
        r.error_code,
        r.error_message,
        r.upstream_message,
        r.duration_ms,
        r.upstream_first_byte_ms,
        r.first_client_byte_ms,
        r.input_tokens,
        r.cached_tokens,
        r.output_tokens,
        r.reasoning_tokens,
        r.total_tokens,
        r.event_count,
        r.terminal_event,
        _json(r.diagnostics) if r.diagnostics else None,
        r.response_id,
        _json(r.attempts) if r.attempts else None,
        r.team,
        r.cost_usd,
    )


def make_recorder(cfg: TraceConfig) -> TraceRecorder | NoopRecorder:
    return TraceRecorder(cfg) if cfg.enabled else NoopRecorder()
