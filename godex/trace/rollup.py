"""The trace rollup: per-bucket totals the overview reads instead of every request.

Two tables, kept by the trace writer inside each batch's own transaction (on its thread, never
a request's), the same SQL on SQLite and PostgreSQL:

- ``trace_rollup``: per bucket, requests, errors, token sums, cost, failovers and the latest
  request time. Buckets of ``GROUP_SPANS`` (an hour, a day) are kept per (provider, upstream
  model, client key), for the tables per key and per model; the finer ``TOTAL_SPANS`` (a
  minute up to three hours) only as the whole traffic's total (all three columns ``'*'``), for
  the series: a bucket per key and model per minute would hold about as many rows as there
  are requests.
- ``trace_latency``: per bucket of ``LATENCY_SPANS`` and (provider, upstream model), the
  latency histogram in the steps the overview has always used (1 ms below 100 ms, 10 ms below
  1 s, 100 ms below 10 s, 1 s above), for the whole duration (``d``) and the first byte to the
  client (``f``). A percentile read from it is the lower edge of the sample's step: within
  one step.

The overview reads a range as the largest whole buckets inside it and the requests themselves
at its edges (``overview.cover``), so it answers the exact range. A replaced request (the same
id recorded again) first takes its old row's share back out. Missing provider, model or key
are stored as '': key columns cannot be NULL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from godex.trace.readers import Dialect

# Each span divides every coarser one and the series steps it serves (60 s to 30 days, see
# overview.bucket_size), so a step is read from whole buckets of the largest that divides it.
TOTAL_SPANS = (60, 300, 1800, 3 * 3600)
GROUP_SPANS = (3600, 86400)
SPANS = tuple(sorted(TOTAL_SPANS + GROUP_SPANS))
# Histograms are the bulk of the rollup (a row per step that occurs): three hours and a day.
LATENCY_SPANS = (3 * 3600, 86400)
ALL = "*"  # provider, model and key of a TOTAL_SPANS row

TABLES = """
CREATE TABLE trace_rollup (
    span INTEGER NOT NULL,
    t BIGINT NOT NULL,
    provider TEXT NOT NULL,
    upstream_model TEXT NOT NULL,
    client_key_id TEXT NOT NULL,
    n BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    input_tokens BIGINT NOT NULL,
    cached_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    reasoning_tokens BIGINT NOT NULL,
    total_tokens BIGINT NOT NULL,
    cost_usd DOUBLE PRECISION NOT NULL,
    failovers BIGINT NOT NULL,
    last_ts DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (span, t, provider, upstream_model, client_key_id)
);
CREATE TABLE trace_latency (
    span INTEGER NOT NULL,
    t BIGINT NOT NULL,
    provider TEXT NOT NULL,
    upstream_model TEXT NOT NULL,
    kind TEXT NOT NULL,
    edge BIGINT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (span, t, provider, upstream_model, kind, edge)
)
"""

# The summed columns of a rollup row, in storage order (the overview reads them by name).
SUMS = (
    "n",
    "errors",
    "input_tokens",
    "cached_tokens",
    "output_tokens",
    "reasoning_tokens",
    "total_tokens",
    "cost_usd",
    "failovers",
)
_GROUP = "span, t, provider, upstream_model, client_key_id"
_LAT_GROUP = "span, t, provider, upstream_model, kind, edge"
# The request columns one row contributes from, in this order (see ``Fact``).
FACT_COLUMNS = (
    "ts, provider, upstream_model, client_key_id, status, input_tokens, cached_tokens, "
    "output_tokens, reasoning_tokens, total_tokens, cost_usd, duration_ms, "
    "first_client_byte_ms, attempts"
)
Fact = Sequence[Any]


def edge(ms: float) -> int:
    """The histogram step ``ms`` falls in (its lower edge), as ``edge_sql`` computes it."""
    if ms < 100:
        return int(ms)
    if ms < 1000:
        return int(ms / 10) * 10
    if ms < 10_000:
        return int(ms / 100) * 100
    return int(ms / 1000) * 1000


def edge_sql(dialect: Dialect, column: str) -> str:
    f = dialect.floor
    return (
        f"CASE WHEN {column} < 100 THEN {f(column)}"
        f" WHEN {column} < 1000 THEN {f(f'{column} / 10')} * 10"
        f" WHEN {column} < 10000 THEN {f(f'{column} / 100')} * 100"
        f" ELSE {f(f'{column} / 1000')} * 1000 END"
    )


def is_failover(attempts: str | None) -> bool:
    # The same test as the SQL's `attempts LIKE '%failed_over%'`.
    return attempts is not None and "failed_over" in attempts


class Deltas:
    """What a batch adds to (or, for replaced rows, takes from) the rollup.

    Rows are first summed per (minute, provider, model, key) and per (three hours, provider,
    model, latency step); the spans are fanned out once per such group when the batch is
    applied, not once per row (this is the trace writer's hot loop: a row's fan-out to six
    spans cost as much CPU as serving the request).
    """

    def __init__(self) -> None:
        # (minute start, provider, model, key) -> [9 sums..., latest ts]
        self._minutes: dict[tuple[Any, ...], list[float]] = {}
        # (3 h start, provider, model, kind, edge) -> count
        self._steps: dict[tuple[Any, ...], int] = {}

    def add(self, fact: Fact, sign: int = 1) -> None:
        (ts, prov, model, key, status, inp, cached, out, reasoning, total, cost, dur, ttfb, att) = (
            fact
        )
        group = (int(ts / 60) * 60, prov or "", model or "", key or "")
        sums = self._minutes.get(group)
        if sums is None:
            sums = self._minutes[group] = [0.0] * 10
        sums[0] += sign
        if status != "completed":
            sums[1] += sign
        if inp:
            sums[2] += sign * inp
        if cached:
            sums[3] += sign * cached
        if out:
            sums[4] += sign * out
        if reasoning:
            sums[5] += sign * reasoning
        if total:
            sums[6] += sign * total
        if cost:
            sums[7] += sign * cost
        if is_failover(att):
            sums[8] += sign
        if ts > sums[9]:
            sums[9] = ts
        t3 = int(ts / LATENCY_SPANS[0]) * LATENCY_SPANS[0]
        for kind, ms in (("d", dur), ("f", ttfb)):
            if ms is not None:
                k = (t3, group[1], group[2], kind, edge(ms))
                self._steps[k] = self._steps.get(k, 0) + sign

    @property
    def totals(self) -> dict[tuple[Any, ...], list[float]]:
        """(span, bucket start, provider, model, key) -> [9 sums..., latest ts]."""
        out: dict[tuple[Any, ...], list[float]] = {}
        for (minute, prov, model, key), sums in self._minutes.items():
            for span in SPANS:
                # Every span is a whole number of minutes: the minute's bucket is the rows'.
                t = int(minute / span) * span
                group = (prov, model, key) if span in GROUP_SPANS else (ALL, ALL, ALL)
                acc = out.get((span, t, *group))
                if acc is None:
                    out[(span, t, *group)] = list(sums)
                    continue
                for i in range(9):
                    acc[i] += sums[i]
                if sums[9] > acc[9]:
                    acc[9] = sums[9]
        return out

    @property
    def latency(self) -> dict[tuple[Any, ...], int]:
        """(span, bucket start, provider, model, kind, step) -> count."""
        out: dict[tuple[Any, ...], int] = {}
        for (t3, prov, model, kind, step), n in self._steps.items():
            for span in LATENCY_SPANS:
                k = (span, int(t3 / span) * span, prov, model, kind, step)
                out[k] = out.get(k, 0) + n
        return out

    def __bool__(self) -> bool:
        return bool(self._minutes or self._steps)


class Cursor(Protocol):
    def execute(self, sql: Any, args: Any) -> Any: ...
    def executemany(self, sql: Any, rows: Iterable[Sequence[Any]]) -> Any: ...


# Column types, for PostgreSQL's one-array-per-column form of the upserts.
_TOTAL_TYPES = ("integer", "bigint", "text", "text", "text", *["bigint"] * 7)
_TOTAL_TYPES += ("double precision", "bigint", "double precision")
_LAT_TYPES = ("integer", "bigint", "text", "text", "text", "bigint", "bigint")


def upsert_sql(dialect: Dialect, placeholder: str, *, arrays: bool = False) -> tuple[str, str]:
    """The two upserts a batch's deltas go through, in the writer's placeholder style.

    ``arrays`` (PostgreSQL): each upsert takes one array per column and unnests it, one
    statement per table instead of one per row (a batch moves hundreds of rollup rows).
    """

    def source(types: tuple[str, ...]) -> str:
        if arrays:
            return f"SELECT * FROM unnest({', '.join(f'{placeholder}::{t}[]' for t in types)})"
        return f"VALUES ({', '.join([placeholder] * len(types))})"

    cols = f"{_GROUP}, {', '.join(SUMS)}, last_ts"
    sets = ", ".join(f"{c} = trace_rollup.{c} + excluded.{c}" for c in SUMS)
    totals = (
        f"INSERT INTO trace_rollup ({cols}) {source(_TOTAL_TYPES)} ON CONFLICT ({_GROUP})"
        f" DO UPDATE SET {sets},"
        f" last_ts = {dialect.greatest}(trace_rollup.last_ts, excluded.last_ts)"
    )
    latency = (
        f"INSERT INTO trace_latency ({_LAT_GROUP}, n) {source(_LAT_TYPES)}"
        f" ON CONFLICT ({_LAT_GROUP}) DO UPDATE SET n = trace_latency.n + excluded.n"
    )
    return totals, latency


Columns = Callable[[Sequence[str], Sequence[Sequence[Any]]], Sequence[Any]]


def apply(
    cur: Cursor, sql: tuple[str, str], deltas: Deltas, *, arrays: Columns | None = None
) -> None:
    """Add a batch's deltas; ``arrays`` (with ``upsert_sql(arrays=True)``) turns rows of the
    given column types into the one parameter per column the upserts take."""
    totals_sql, latency_sql = sql
    # Every sum is a whole number but the cost (index 7) and the latest time (index 9).
    totals = [
        (*k, *(v[i] if i in (7, 9) else int(v[i]) for i in range(10)))
        for k, v in deltas.totals.items()
    ]
    latency = [(*k, n) for k, n in deltas.latency.items() if n]
    for statement, rows in ((totals_sql, totals), (latency_sql, latency)):
        if not rows:
            continue
        if arrays is not None:
            types = _TOTAL_TYPES if statement is totals_sql else _LAT_TYPES
            cur.execute(statement, arrays(types, rows))
        else:
            cur.executemany(statement, rows)


def replaced(
    select: Callable[[str, Sequence[Any]], Iterable[Fact]],
    ids: Sequence[str],
    placeholder: str,
    *,
    arrays: bool = False,
) -> Iterable[Fact]:
    """The rows a batch is about to replace (the same request id written again).

    ``arrays`` (PostgreSQL): the ids as one array parameter, one plan for every batch size.
    """
    if arrays:
        yield from select(
            f"SELECT {FACT_COLUMNS} FROM requests WHERE request_id = ANY({placeholder})",
            [list(ids)],
        )
        return
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        marks = ", ".join([placeholder] * len(chunk))
        yield from select(
            f"SELECT {FACT_COLUMNS} FROM requests WHERE request_id IN ({marks})", chunk
        )


def batch(
    rows: Iterable[Sequence[Any]], fact: Callable[[Sequence[Any]], Fact], old: Iterable[Fact]
) -> Deltas:
    deltas = Deltas()
    for f in old:
        deltas.add(f, -1)
    for r in rows:
        deltas.add(fact(r))
    return deltas


def prune_sql(placeholder: str) -> list[str]:
    """Drop the buckets that ended before the cutoff (two parameters: span, cutoff - span).
    A bucket the cutoff falls inside stays whole until it has fully aged out."""
    return [
        f"DELETE FROM {table} WHERE span = {placeholder} AND t <= {placeholder}"
        for table in ("trace_rollup", "trace_latency")
    ]


def backfill(dialect: Dialect) -> str:
    """SQL (statements separated by ';') that fills the rollup from the requests already in
    the table: the migration that adds the rollup to an existing database. The finest span
    of each kind is summed from the requests, each coarser one from the finest (far fewer
    rows to read)."""
    failover = "CASE WHEN attempts LIKE '%failed_over%' THEN 1 ELSE 0 END"
    raw_sums = (
        "COUNT(*), SUM(CASE WHEN status <> 'completed' THEN 1 ELSE 0 END), SUM(input_tokens),"
        " SUM(cached_tokens), SUM(output_tokens), SUM(reasoning_tokens), SUM(total_tokens),"
        f" SUM(cost_usd), SUM({failover}), MAX(ts)"
    )
    sums = ", ".join(f"SUM({c})" for c in SUMS) + ", MAX(last_ts)"
    into = f"INSERT INTO trace_rollup ({_GROUP}, {', '.join(SUMS)}, last_ts)"
    lat_into = f"INSERT INTO trace_latency ({_LAT_GROUP}, n)"
    dims = "COALESCE(provider, ''), COALESCE(upstream_model, '')"

    def bucket(span: int) -> str:
        return f"{dialect.floor(f'ts / {span}')} * {span}"

    fine, group, lat = TOTAL_SPANS[0], GROUP_SPANS[0], LATENCY_SPANS[0]
    steps = [
        f"{into} SELECT {fine}, {bucket(fine)}, '{ALL}', '{ALL}', '{ALL}', {raw_sums}"
        " FROM requests GROUP BY 2",
        f"{into} SELECT {group}, {bucket(group)}, {dims}, COALESCE(client_key_id, ''),"
        f" {raw_sums} FROM requests GROUP BY 2, 3, 4, 5",
    ]
    for kind, column in (("d", "duration_ms"), ("f", "first_client_byte_ms")):
        steps.append(
            f"{lat_into} SELECT {lat}, {bucket(lat)}, {dims}, '{kind}',"
            f" {edge_sql(dialect, column)}, COUNT(*) FROM requests"
            f" WHERE {column} IS NOT NULL GROUP BY 2, 3, 4, 6"
        )
    for spans in (TOTAL_SPANS, GROUP_SPANS):
        for span in spans[1:]:
            steps.append(
                f"{into} SELECT {span}, t / {span} * {span}, provider, upstream_model,"
                f" client_key_id, {sums} FROM trace_rollup WHERE span = {spans[0]}"
                " GROUP BY 2, 3, 4, 5"
            )
    for span in LATENCY_SPANS[1:]:
        steps.append(
            f"{lat_into} SELECT {span}, t / {span} * {span}, provider, upstream_model, kind,"
            f" edge, SUM(n) FROM trace_latency WHERE span = {lat} GROUP BY 2, 3, 4, 5, 6"
        )
    return ";\n".join(steps)


def rebuild(dialect: Dialect) -> str:
    """Empty the rollup and fill it again from the requests (rows written around the writer)."""
    return "DELETE FROM trace_rollup;\nDELETE FROM trace_latency;\n" + backfill(dialect)
