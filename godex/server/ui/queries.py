"""The dashboard's reads of the trace database.

Each function takes the database path and runs synchronously: the routes call them through
`run_in_executor`, so a slow query never holds up the event loop. The SQL is plain (no SQLite
extensions beyond `instr`) so it can move behind the backend-neutral layer of
`godex.trace.query`, which already serves the single-request page (`get_request`) and the
percentile arithmetic.

Latency percentiles come from a histogram grouped in SQL (1 ms steps below 100 ms, 10 ms below
1 s, 100 ms below 10 s, 1 s above): one pass over the index instead of shipping every
duration to Python, at a cost of at most one step of error.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from godex.trace import query

_BUCKET = (
    "CASE WHEN {c} < 100 THEN CAST({c} AS INTEGER)"
    " WHEN {c} < 1000 THEN CAST({c} / 10 AS INTEGER) * 10"
    " WHEN {c} < 10000 THEN CAST({c} / 100 AS INTEGER) * 100"
    " ELSE CAST({c} / 1000 AS INTEGER) * 1000 END"
)
_FILTERS = {
    "key": "client_key_id",
    "model": "requested_model",
    "provider": "provider",
    "status": "status",
    "error_code": "error_code",
}
MAX_PAGE = 200


def _open(path: str) -> sqlite3.Connection | None:
    if not Path(path).is_file():
        return None
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    return conn


def _columns(db: sqlite3.Connection) -> set[str]:
    return {r["name"] for r in db.execute("PRAGMA table_info(requests)")}


def bucket_size(since: float, until: float) -> int:
    """About 60 points across the range, on a round step."""
    span = max(until - since, 60.0)
    for step in (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 86400, 7 * 86400):
        if span / step <= 90:
            return step
    return 30 * 86400


def overview(path: str, since: float, until: float) -> dict[str, Any]:
    step = bucket_size(since, until)
    empty: dict[str, Any] = {
        "since": since,
        "until": until,
        "step": step,
        "has_cost": False,
        "series": [],
        "by_key": [],
        "by_model": [],
        "failovers": [],
    }
    db = _open(path)
    if db is None:
        return empty
    with db:
        has_cost = "cost_usd" in _columns(db)
        cost = "SUM(cost_usd)" if has_cost else "NULL"
        rows = db.execute(
            f"SELECT CAST(ts / ? AS INTEGER) * ? AS t, provider, upstream_model,"
            f" client_key_id, COUNT(*) AS n, SUM(status != 'completed') AS errors,"
            f" SUM(input_tokens) AS input, SUM(cached_tokens) AS cached,"
            f" SUM(output_tokens) AS output, SUM(reasoning_tokens) AS reasoning, {cost} AS cost"
            f" FROM requests WHERE ts >= ? AND ts < ?"
            f" GROUP BY t, provider, upstream_model, client_key_id",
            (step, step, since, until),
        ).fetchall()
        hist = db.execute(
            f"SELECT provider, upstream_model, 'd' AS kind, {_BUCKET.format(c='duration_ms')}"
            " AS b, COUNT(*) AS n FROM requests WHERE ts >= ? AND ts < ?"
            " GROUP BY provider, upstream_model, b"
            f" UNION ALL SELECT provider, upstream_model, 'f', "
            f"{_BUCKET.format(c='first_client_byte_ms')}, COUNT(*) FROM requests"
            " WHERE ts >= ? AND ts < ? AND first_client_byte_ms IS NOT NULL"
            " GROUP BY provider, upstream_model, 3, 4",
            (since, until, since, until),
        ).fetchall()
        # A failover leaves more than one attempt; `attempts` is NULL or '[]' otherwise.
        failovers = db.execute(
            "SELECT provider, upstream_model, COUNT(*) AS n FROM requests"
            " WHERE ts >= ? AND ts < ? AND attempts LIKE '%failed_over%'"
            " GROUP BY provider, upstream_model",
            (since, until),
        ).fetchall()
    empty["has_cost"] = has_cost
    empty["series"] = _series(rows, has_cost, since, until, step)
    empty["by_key"] = _group(rows, lambda r: (r["client_key_id"] or "-",), ("key",), has_cost)
    by_model = _group(
        rows,
        lambda r: (r["provider"] or "-", r["upstream_model"] or "-"),
        ("provider", "model"),
        has_cost,
    )
    latency = _percentiles(hist)
    for entry in by_model:
        entry.update(latency.get((entry["provider"], entry["model"]), {}))
    empty["by_model"] = by_model
    empty["failovers"] = [
        {"provider": r["provider"] or "-", "model": r["upstream_model"] or "-", "count": r["n"]}
        for r in failovers
    ]
    return empty


_SUMS = ("n", "errors", "input", "cached", "output", "reasoning")


def _series(
    rows: list[sqlite3.Row], has_cost: bool, since: float, until: float, step: int
) -> list[dict[str, Any]]:
    """One point per step across the whole range, zeros included: a quiet hour is data."""
    points: dict[int, dict[str, Any]] = {}
    t = int(since // step) * step
    while t < until:
        points[t] = {"t": t, **dict.fromkeys(_SUMS, 0), "cost": 0.0}
        t += step
    for r in rows:
        p = points.setdefault(r["t"], {"t": r["t"], **dict.fromkeys(_SUMS, 0), "cost": 0.0})
        for k in _SUMS:
            p[k] += r[k] or 0
        if has_cost:
            p["cost"] += r["cost"] or 0.0
    return [points[t] for t in sorted(points)]


def _group(
    rows: list[sqlite3.Row], by: Any, names: tuple[str, ...], has_cost: bool
) -> list[dict[str, Any]]:
    groups: dict[tuple[str, ...], dict[str, Any]] = {}
    for r in rows:
        ident = by(r)
        g = groups.setdefault(
            ident, {**dict(zip(names, ident, strict=True)), **dict.fromkeys(_SUMS, 0)}
        )
        for k in _SUMS:
            g[k] += r[k] or 0
        if has_cost:
            g["cost"] = g.get("cost", 0.0) + (r["cost"] or 0.0)
    out = sorted(groups.values(), key=lambda g: -g["n"])
    for g in out:
        g["cache_hit_ratio"] = round(g["cached"] / g["input"], 4) if g["input"] else 0.0
    return out


def _percentiles(hist: list[sqlite3.Row]) -> dict[tuple[str, str], dict[str, float]]:
    counts: dict[tuple[str, str, str], list[tuple[float, int]]] = {}
    for r in hist:
        key = (r[0] or "-", r[1] or "-", r[2])
        counts.setdefault(key, []).append((float(r[3]), int(r[4])))
    out: dict[tuple[str, str], dict[str, float]] = {}
    for (prov, model, kind), buckets in counts.items():
        buckets.sort()
        total = sum(n for _, n in buckets)
        name = "latency" if kind == "d" else "ttfb"
        entry = out.setdefault((prov, model), {})
        for pct in (50, 95):
            entry[f"{name}_p{pct}_ms"] = _from_histogram(buckets, total, pct)
    return out


def _from_histogram(buckets: list[tuple[float, int]], total: int, pct: float) -> float:
    rank = (total - 1) * pct / 100
    seen = 0
    for value, n in buckets:
        seen += n
        if seen > rank:
            return value
    return buckets[-1][0] if buckets else 0.0


def list_requests(
    path: str,
    *,
    filters: dict[str, str],
    since: float | None,
    until: float | None,
    text: str | None,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    limit = max(1, min(limit, MAX_PAGE))
    offset = max(0, offset)
    clauses: list[str] = []
    args: list[Any] = []
    for name, column in _FILTERS.items():
        value = filters.get(name)
        if value:
            clauses.append(f"{column} = ?")
            args.append(value)
    if since is not None:
        clauses.append("ts >= ?")
        args.append(since)
    if until is not None:
        clauses.append("ts < ?")
        args.append(until)
    if text:
        needle = text.encode()
        clauses.append(
            "request_id IN (SELECT request_id FROM payloads"
            " WHERE instr(request, ?) > 0 OR instr(response, ?) > 0)"
        )
        args += [needle, needle]
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    db = _open(path)
    if db is None:
        return {"items": [], "offset": offset, "limit": limit, "more": False}
    with db:
        rows = db.execute(
            "SELECT request_id, ts, route, http_status, client_key_id, requested_model,"
            " provider, upstream_model, stream, status, error_code, duration_ms,"
            " first_client_byte_ms, input_tokens, cached_tokens, output_tokens,"
            f" reasoning_tokens, attempts FROM requests {where}"
            " ORDER BY ts DESC LIMIT ? OFFSET ?",
            (*args, limit + 1, offset),
        ).fetchall()
    items = []
    for r in rows[:limit]:
        item = dict(r)
        item["stream"] = bool(item["stream"])
        attempts = json.loads(item.pop("attempts") or "[]")
        item["attempt_count"] = len(attempts)
        items.append(item)
    return {"items": items, "offset": offset, "limit": limit, "more": len(rows) > limit}


def get_request(path: str, request_id: str) -> dict[str, Any] | None:
    if not Path(path).is_file():
        return None
    return query.get_request(path, request_id)


def usage_by_key(path: str, since: float) -> dict[str, dict[str, Any]]:
    db = _open(path)
    if db is None:
        return {}
    with db:
        has_cost = "cost_usd" in _columns(db)
        rows = db.execute(
            "SELECT client_key_id, COUNT(*) AS n, SUM(total_tokens) AS tokens,"
            f" SUM(status != 'completed') AS errors, {'SUM(cost_usd)' if has_cost else 'NULL'}"
            " AS cost, MAX(ts) AS last FROM requests WHERE ts >= ? GROUP BY client_key_id",
            (since,),
        ).fetchall()
    return {r["client_key_id"] or "-": dict(r) for r in rows}


def recent(path: str, limit: int = 20) -> list[dict[str, Any]]:
    out = list_requests(path, filters={}, since=None, until=None, text=None, limit=limit, offset=0)
    return list(out["items"])
