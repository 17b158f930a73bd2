"""Read the trace database (SQLite or PostgreSQL): recent requests, one request, usage per
provider/model (`godex traces`), and the dashboard's page of requests. The path-taking
functions open a reader on a SQLite path or a PostgreSQL URL; ``request_of`` and
``page_of_requests`` run on a reader the caller keeps (the dashboard's shared one)."""

from __future__ import annotations

import json
from typing import Any

from godex.trace.readers import Reader, is_dsn, reading

__all__ = ["Reader", "is_dsn"]

_open = reading


def list_requests(
    path: str,
    *,
    limit: int = 50,
    model: str | None = None,
    provider: str | None = None,
    status: str | None = None,
    since_ts: float | None = None,
    until_ts: float | None = None,
) -> list[dict[str, Any]]:
    where, args = _filters(model, provider, status, since_ts, until_ts)
    sql = f"SELECT * FROM requests {where} ORDER BY ts DESC LIMIT ?"
    with _open(path) as db:
        return [_clean(r) for r in db.rows(sql, (*args, limit))]


def get_request(path: str, request_id: str) -> dict[str, Any] | None:
    with _open(path) as db:
        return request_of(db, request_id)


def request_of(db: Reader, request_id: str) -> dict[str, Any] | None:
    """One request by its request id or response id, with its captured payloads."""
    # Two lookups, one index each: with OR, SQLite may scan the whole table instead.
    found = db.rows("SELECT * FROM requests WHERE request_id = ?", (request_id,)) or db.rows(
        "SELECT * FROM requests WHERE response_id = ? LIMIT 1", (request_id,)
    )
    if not found:
        return None
    out = _clean(found[0])
    payloads = db.rows(
        "SELECT request, response FROM payloads WHERE request_id = ?", (out["request_id"],)
    )
    if payloads:
        payload = payloads[0]
        out["request_payload"] = _text(payload["request"])
        out["response_payload"] = _text(payload["response"])
    return out


# The dashboard's filters: query parameter -> column.
PAGE_FILTERS = {
    "key": "client_key_id",
    "model": "requested_model",
    "provider": "provider",
    "status": "status",
    "error_code": "error_code",
}
MAX_PAGE = 200


def page_of_requests(
    db: Reader,
    *,
    filters: dict[str, str],
    since: float | None,
    until: float | None,
    text: str | None,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    """Newest first, filtered by ``PAGE_FILTERS``, a time range and bytes in the captured
    payloads; ``more`` says whether another page follows."""
    limit = max(1, min(limit, MAX_PAGE))
    offset = max(0, offset)
    clauses, args = _conditions(
        [(column, filters.get(name)) for name, column in PAGE_FILTERS.items()],
        since,
        until,
        until_op="<",
    )
    if text:
        needle = text.encode()
        contains = db.dialect.contains
        clauses.append(
            "request_id IN (SELECT request_id FROM payloads"
            f" WHERE {contains('request')} OR {contains('response')})"
        )
        args += [needle, needle]
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    rows = db.rows(
        "SELECT request_id, ts, route, http_status, client_key_id, requested_model,"
        " provider, upstream_model, stream, status, error_code, duration_ms,"
        " first_client_byte_ms, input_tokens, cached_tokens, output_tokens,"
        f" reasoning_tokens, attempts FROM requests {where}"
        " ORDER BY ts DESC LIMIT ? OFFSET ?",
        (*args, limit + 1, offset),
    )
    items = []
    for item in rows[:limit]:
        item["stream"] = bool(item["stream"])
        attempts = json.loads(item.pop("attempts") or "[]")
        item["attempt_count"] = len(attempts)
        items.append(item)
    return {"items": items, "offset": offset, "limit": limit, "more": len(rows) > limit}


USAGE_GROUPS = ("model", "provider", "key", "team")


def _group(r: dict[str, Any], by: str) -> tuple[str, ...]:
    if by == "model":
        return (r["provider"] or "-", r["upstream_model"] or "-")
    column = {"provider": "provider", "key": "client_key_id", "team": "team"}[by]
    return (r[column] or "-",)


def usage_summary(
    path: str,
    *,
    since_ts: float | None = None,
    until_ts: float | None = None,
    by: str = "model",
) -> list[dict[str, Any]]:
    """Totals per group: ``model`` (provider/model), ``provider``, ``key`` (name) or ``team``."""
    where, args = _filters(None, None, None, since_ts, until_ts)
    with _open(path) as db:
        rows = db.rows(
            f"SELECT provider, upstream_model, client_key_id, team, cost_usd, duration_ms, "
            f"input_tokens, cached_tokens, output_tokens, reasoning_tokens, total_tokens, "
            f"status FROM requests {where}",
            args,
        )
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(_group(r, by), []).append(r)
    out: list[dict[str, Any]] = []
    for names, items in sorted(groups.items()):
        latencies = sorted(i["duration_ms"] for i in items)
        inp = sum(i["input_tokens"] for i in items)
        cached = sum(i["cached_tokens"] for i in items)
        named: dict[str, str] = (
            {"provider": names[0], "model": names[1]} if by == "model" else {by: names[0]}
        )
        out.append(
            {
                **named,
                "cost_usd": round(sum(i["cost_usd"] or 0.0 for i in items), 6),
                "requests": len(items),
                "errors": sum(1 for i in items if i["status"] != "completed"),
                "input_tokens": inp,
                "cached_tokens": cached,
                "output_tokens": sum(i["output_tokens"] for i in items),
                "reasoning_tokens": sum(i["reasoning_tokens"] for i in items),
                "total_tokens": sum(i["total_tokens"] for i in items),
                "cache_hit_ratio": round(cached / inp, 4) if inp else 0.0,
                "p50_ms": round(percentile(latencies, 50), 2),
                "p95_ms": round(percentile(latencies, 95), 2),
            }
        )
    return out


def percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return 0.0
    k = (len(sorted_values) - 1) * pct / 100
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def _filters(
    model: str | None,
    provider: str | None,
    status: str | None,
    since_ts: float | None,
    until_ts: float | None,
) -> tuple[str, list[Any]]:
    clauses, args = _conditions(
        [("requested_model", model), ("provider", provider), ("status", status)],
        since_ts,
        until_ts,
        until_op="<=",
    )
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), args


def _conditions(
    equal: list[tuple[str, str | None]],
    since: float | None,
    until: float | None,
    *,
    until_op: str,
) -> tuple[list[str], list[Any]]:
    """``column = ?`` for each given value, and the time range (``until_op``: ``<`` for a
    half-open range, ``<=`` for the CLI's inclusive one)."""
    clauses: list[str] = []
    args: list[Any] = []
    for column, value in equal:
        if value:
            clauses.append(f"{column} = ?")
            args.append(value)
    if since is not None:
        clauses.append("ts >= ?")
        args.append(since)
    if until is not None:
        clauses.append(f"ts {until_op} ?")
        args.append(until)
    return clauses, args


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    row["stream"] = bool(row.get("stream"))
    for key in ("diagnostics", "attempts"):
        if row.get(key):
            row[key] = json.loads(row[key])
    return row


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8", "replace")
