"""Trace recording that never slows a request.

``record`` is a ``put_nowait`` on a bounded queue; a writer thread drains it in batches (by size
or interval), and writes them in one transaction. When the queue is full the record is dropped,
counted and warned about (at most every 10 s). ``stop`` flushes everything queued. With tracing
off the recorder is a no-op object: the request path pays nothing.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from typing import Any

from godex.config.schema import TraceConfig
from godex.logging import get_logger
from godex.trace.record import TraceRecord
from godex.trace.redact import capture
from godex.trace.schema import connect

log = get_logger("godex.trace")

_COLUMNS = (
    "request_id, ts, route, method, http_status, client_key_id, requested_model, provider, "
    "upstream_model, stream, status, error_code, error_message, upstream_message, duration_ms, "
    "upstream_first_byte_ms, first_client_byte_ms, input_tokens, cached_tokens, output_tokens, "
    "reasoning_tokens, total_tokens, event_count, terminal_event, diagnostics, response_id"
)
_INSERT = f"INSERT OR REPLACE INTO requests ({_COLUMNS}) VALUES ({','.join('?' * 26)})"
_STOP = object()


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
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, cfg.max_queue_size))
        self.dropped = 0
        self.written = 0
        self._last_warning = 0.0
        self._thread: threading.Thread | None = None
        self._last_retention = 0.0

    @property
    def queue_depth(self) -> int:
        return self._queue.qsize()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="godex-trace", daemon=True)
            self._thread.start()

    def record(self, rec: TraceRecord) -> None:
        try:
            self._queue.put_nowait(rec)
        except queue.Full:
            self.dropped += 1
            now = time.monotonic()
            if now - self._last_warning > 10:
                self._last_warning = now
                log.warning("trace_queue_full", dropped_total=self.dropped)

    def stop(self) -> None:
        if self._thread is None:
            return
        self._queue.put(_STOP)  # blocks only if full: the writer is draining it
        self._thread.join(30)
        self._thread = None

    # -- writer thread --------------------------------------------------------------------
    def _run(self) -> None:
        try:
            db = connect(self.cfg.path)
        except Exception:
            log.exception("trace_db_unavailable", path=self.cfg.path)
            return
        interval = max(0.01, self.cfg.flush_interval_ms / 1000)
        batch: list[TraceRecord] = []
        deadline = time.monotonic() + interval
        try:
            while True:
                timeout = max(0.0, deadline - time.monotonic())
                try:
                    item = self._queue.get(timeout=timeout)
                except queue.Empty:
                    item = None
                if item is _STOP:
                    while True:  # drain what arrived before the stop
                        try:
                            rest = self._queue.get_nowait()
                        except queue.Empty:
                            break
                        if rest is not _STOP:
                            batch.append(rest)
                    self._write(db, batch)
                    return
                if item is not None:
                    batch.append(item)
                if len(batch) >= self.cfg.batch_size or time.monotonic() >= deadline:
                    self._write(db, batch)
                    batch = []
                    deadline = time.monotonic() + interval
                    self._retention(db)
        finally:
            db.close()

    def _write(self, db: Any, batch: list[TraceRecord]) -> None:
        if not batch:
            return
        limit = self.cfg.payload_max_bytes
        try:
            db.execute("BEGIN")
            db.executemany(_INSERT, [_row(r) for r in batch])
            if self.cfg.capture_payload:
                db.executemany(
                    "INSERT OR REPLACE INTO payloads VALUES (?,?,?)",
                    [
                        (
                            r.request_id,
                            capture(r.request_payload, limit),
                            capture(r.response_payload, limit),
                        )
                        for r in batch
                        if r.request_payload is not None or r.response_payload is not None
                    ],
                )
            db.execute("COMMIT")
            self.written += len(batch)
        except Exception:
            db.execute("ROLLBACK")
            log.exception("trace_write_failed", records=len(batch))

    def _retention(self, db: Any) -> None:
        keep = self.cfg.retention_s
        now = time.time()
        if keep is None or now - self._last_retention < 60:
            return
        self._last_retention = now
        try:
            db.execute("DELETE FROM requests WHERE ts < ?", (now - keep,))
        except Exception:
            log.exception("trace_retention_failed")


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
        json.dumps(r.diagnostics) if r.diagnostics else None,
        r.response_id,
    )


def make_recorder(cfg: TraceConfig) -> TraceRecorder | NoopRecorder:
    return TraceRecorder(cfg) if cfg.enabled else NoopRecorder()
