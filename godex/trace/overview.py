"""The dashboard's overview of a time range: a series of totals, totals per key and per
provider/model with latency percentiles, and failovers; and the keys page's usage per key.

Read through a ``Reader`` (SQLite or PostgreSQL, the same SQL). The range is cut by ``cover``
into the largest rollup buckets that fit inside it, smaller ones towards its edges, and the
requests themselves for what is left at each edge (less than the finest span of the table
read: a minute for the series, an hour per key and model, three hours for latency). The answer
is the one the requests alone give (``use_rollup=False``), read from thousands of rollup rows
and requests instead of hundreds of thousands of requests.
"""

from __future__ import annotations

from typing import Any

from godex.trace import rollup
from godex.trace.readers import Reader

Segment = tuple[int | None, float, float]  # (rollup span, or None for the requests; lo, hi)
_SUMS = rollup.SUMS
# The names the dashboard's API has always used for them.
_NAMES = dict(
    zip(
        _SUMS,
        ("n", "errors", "input", "cached", "output", "reasoning", "tokens", "cost", "failovers"),
        strict=True,
    )
)
_ERROR = "CASE WHEN status <> 'completed' THEN 1 ELSE 0 END"
_FAILOVER = "CASE WHEN attempts LIKE '%failed_over%' THEN 1 ELSE 0 END"
_SHOWN = ("n", "errors", "input", "cached", "output", "reasoning", "cost")


def bucket_size(since: float, until: float) -> int:
    """About 60 points across the range, on a round step."""
    span = max(until - since, 60.0)
    for step in (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 86400, 7 * 86400):
        if span / step <= 90:
            return step
    return 30 * 86400


def cover(lo: float, hi: float, spans: tuple[int, ...]) -> list[Segment]:
    """[lo, hi) as whole buckets of the largest span that fits, then of smaller spans towards
    the edges, then raw seconds: no bucket reaches outside the range."""
    if hi <= lo:
        return []
    if not spans:
        return [(None, lo, hi)]
    span, finer = spans[-1], spans[:-1]
    first = -(-lo // span) * span  # lo rounded up to the span
    last = hi // span * span
    if first >= last:
        return cover(lo, hi, finer)
    return [*cover(lo, first, finer), (span, first, last), *cover(last, hi, finer)]


def has_rollup(reader: Reader) -> bool:
    return bool(reader.rows(reader.dialect.has_table(), ("trace_rollup",)))


def _totals(
    reader: Reader,
    since: float,
    until: float,
    step: int | None,
    by: tuple[str, ...],
    use_rollup: bool,
) -> list[dict[str, Any]]:
    """Sums per ``by`` (of ``bt``, the series point, and the provider, model and key
    columns); ``step`` None: no series, any span will do. One statement: every segment of
    the range is a part of one UNION ALL, grouped in the database (in C, not Python)."""
    # The series reads the whole traffic's totals; anything per key or model the per-group
    # buckets (see rollup).
    usable = rollup.SPANS if by == ("bt",) else rollup.GROUP_SPANS
    fits = [s for s in usable if step is None or "bt" not in by or step % s == 0]
    spans = tuple(fits) if use_rollup else ()
    parts: list[str] = []
    args: list[Any] = []
    for span, lo, hi in cover(since, until, spans):
        point = "0" if step is None else f"t / {step} * {step}"
        if span is None:
            if step is not None:
                point = f"{reader.dialect.floor(f'ts / {step}')} * {step}"
            sums = ", ".join(
                [
                    "COUNT(*) AS n",
                    _sum(_ERROR, "errors"),
                    *(_sum(c) for c in _SUMS[2:-1]),
                    _sum(_FAILOVER, "failovers"),
                    "MAX(ts) AS last_ts",
                ]
            )
            source = "requests WHERE ts >= ? AND ts < ?"
            args += [lo, hi]
        else:
            sums = ", ".join([*(_sum(c) for c in _SUMS), "MAX(last_ts) AS last_ts"])
            source = "trace_rollup WHERE span = ? AND t >= ? AND t < ?"
            args += [span, int(lo), int(hi)]
        keys = ", ".join(f"{point} AS bt" if c == "bt" else c for c in by)
        ordinals = ", ".join(str(i + 1) for i in range(len(by)))
        parts.append(f"SELECT {keys}, {sums} FROM {source} GROUP BY {ordinals}")
    return reader.rows(" UNION ALL ".join(parts), args) if parts else []


def _sum(expr: str, name: str | None = None) -> str:
    # PostgreSQL sums BIGINTs as NUMERIC (Decimal in Python): keep whole numbers whole.
    total = f"SUM({expr})" if expr == "cost_usd" else f"CAST(SUM({expr}) AS BIGINT)"
    return f"{total} AS {name or expr}"


def _latency(reader: Reader, since: float, until: float, use_rollup: bool) -> list[dict[str, Any]]:
    parts: list[str] = []
    args: list[Any] = []
    for span, lo, hi in cover(since, until, rollup.LATENCY_SPANS if use_rollup else ()):
        if span is None:
            d = reader.dialect
            parts.append(
                f"SELECT provider, upstream_model, 'd' AS kind,"
                f" {rollup.edge_sql(d, 'duration_ms')} AS edge, COUNT(*) AS n FROM requests"
                " WHERE ts >= ? AND ts < ? GROUP BY 1, 2, 4"
                f" UNION ALL SELECT provider, upstream_model, 'f',"
                f" {rollup.edge_sql(d, 'first_client_byte_ms')}, COUNT(*) FROM requests"
                " WHERE ts >= ? AND ts < ? AND first_client_byte_ms IS NOT NULL"
                " GROUP BY 1, 2, 4"
            )
            args += [lo, hi, lo, hi]
        else:
            parts.append(
                "SELECT provider, upstream_model, kind, edge, CAST(SUM(n) AS BIGINT) AS n"
                " FROM trace_latency WHERE span = ? AND t >= ? AND t < ? GROUP BY 1, 2, 3, 4"
            )
            args += [span, int(lo), int(hi)]
    return reader.rows(" UNION ALL ".join(parts), args) if parts else []


def overview(
    reader: Reader, since: float, until: float, *, use_rollup: bool | None = None
) -> dict[str, Any]:
    """``use_rollup`` None: when the database has the rollup (every migrated one does)."""
    step = bucket_size(since, until)
    if use_rollup is None:
        use_rollup = has_rollup(reader)
    models = _totals(reader, since, until, step, ("provider", "upstream_model"), use_rollup)
    latency = _percentiles(_latency(reader, since, until, use_rollup))
    by_model = _group(models, ("provider", "model"), ("provider", "upstream_model"))
    for entry in by_model:
        entry.update(latency.get((entry["provider"], entry["model"]), {}))
    failovers = [
        {"provider": m["provider"], "model": m["model"], "count": m["failovers"]}
        for m in by_model
        if m["failovers"]
    ]
    return {
        "since": since,
        "until": until,
        "step": step,
        "has_cost": True,
        "series": _series(
            _totals(reader, since, until, step, ("bt",), use_rollup), since, until, step
        ),
        "by_key": _group(
            _totals(reader, since, until, step, ("client_key_id",), use_rollup),
            ("key",),
            ("client_key_id",),
        ),
        "by_model": by_model,
        "failovers": failovers,
    }


def usage_by_key(
    reader: Reader, since: float, until: float, *, use_rollup: bool | None = None
) -> dict[str, dict[str, Any]]:
    """Per client key: requests, tokens, errors, cost and the last request's time."""
    if use_rollup is None:
        use_rollup = has_rollup(reader)
    out: dict[str, dict[str, Any]] = {}
    for r in _totals(reader, since, until, None, ("client_key_id",), use_rollup):
        key = _name(r["client_key_id"])
        u = out.setdefault(
            key, {"client_key_id": key, "n": 0, "tokens": 0, "errors": 0, "cost": 0.0, "last": 0}
        )
        u["n"] += int(r["n"] or 0)
        u["tokens"] += int(r["total_tokens"] or 0)
        u["errors"] += int(r["errors"] or 0)
        u["cost"] += float(r["cost_usd"] or 0.0)
        u["last"] = max(u["last"], r["last_ts"] or 0)
    return {k: {**u, "cost": round(u["cost"], 9)} for k, u in out.items() if u["n"]}


def _name(value: str | None) -> str:
    return value or "-"


def _zero() -> dict[str, Any]:
    return {**dict.fromkeys(_SHOWN, 0), "cost": 0.0}


def _series(
    rows: list[dict[str, Any]], since: float, until: float, step: int
) -> list[dict[str, Any]]:
    """One point per step across the whole range, zeros included: a quiet hour is data."""
    points: dict[int, dict[str, Any]] = {}
    t = int(since // step) * step
    while t < until:
        points[t] = {"t": t, **_zero()}
        t += step
    for r in rows:
        bt = int(r["bt"])
        p = points.setdefault(bt, {"t": bt, **_zero()})
        _add(p, r)
    for p in points.values():
        p["cost"] = round(p["cost"], 9)
    return [points[t] for t in sorted(points)]


def _add(into: dict[str, Any], r: dict[str, Any]) -> None:
    for column in _SUMS:
        name = _NAMES[column]
        if name in into:
            into[name] += r[column] or 0


def _group(
    rows: list[dict[str, Any]], names: tuple[str, ...], columns: tuple[str, ...]
) -> list[dict[str, Any]]:
    groups: dict[tuple[str, ...], dict[str, Any]] = {}
    for r in rows:
        ident = tuple(_name(r[c]) for c in columns)
        g = groups.get(ident)
        if g is None:
            g = groups[ident] = {**dict(zip(names, ident, strict=True)), **_zero()}
            g["failovers"] = 0
        _add(g, r)
    # A bucket whose only request was replaced by a later record can sum to nothing.
    kept = [(ident, g) for ident, g in groups.items() if g["n"]]
    out = [g for _, g in sorted(kept, key=lambda item: (-item[1]["n"], item[0]))]
    for g in out:
        g["cost"] = round(g["cost"], 9)
        g["cache_hit_ratio"] = round(g["cached"] / g["input"], 4) if g["input"] else 0.0
    return out


def _percentiles(hist: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, float]]:
    counts: dict[tuple[str, str, str], dict[float, int]] = {}
    for r in hist:
        key = (_name(r["provider"]), _name(r["upstream_model"]), str(r["kind"]))
        by_edge = counts.setdefault(key, {})
        by_edge[float(r["edge"])] = by_edge.get(float(r["edge"]), 0) + int(r["n"])
    out: dict[tuple[str, str], dict[str, float]] = {}
    for (prov, model, kind), by_edge in counts.items():
        buckets = sorted((e, n) for e, n in by_edge.items() if n > 0)
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
