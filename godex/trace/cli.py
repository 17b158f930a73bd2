"""``godex traces``: what happened to each request, without SQL."""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
import time
from typing import Any

import click

from godex.errors import GodexError
from godex.trace import query

_AGO = re.compile(r"^(\d+)([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(value: str | None) -> float | None:
    """``30m``/``2d`` (that long ago) or an ISO date/time (UTC if no zone)."""
    if not value:
        return None
    m = _AGO.match(value.strip())
    if m:
        return time.time() - int(m.group(1)) * _UNIT[m.group(2)]
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r}: use e.g. 30m, 24h, 7d or 2026-11-24T10:00") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def _db(config_path: str | None, db: str | None) -> str:
    if db:
        return db
    from godex.config.loader import ConfigProblems, load_config

    try:
        cfg, _ = load_config(config_path)
    except ConfigProblems as exc:
        raise click.ClickException("; ".join(exc.problems)) from exc
    if cfg.trace.backend == "postgres":
        if not cfg.trace.postgres.dsn:
            raise click.ClickException("trace.postgres.dsn is not set")
        return cfg.trace.postgres.dsn
    return cfg.trace.path


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _route(r: dict[str, Any]) -> str:
    target = f"{r['provider'] or '-'}/{r['upstream_model'] or '-'}"
    return f"{r['requested_model'] or '-'} → {target}"


def _fmt_time(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=False))
    click.echo(line)
    click.echo("  ".join("-" * w for w in widths))
    for r in rows:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=False)))


_common = [
    click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Config file."),
    click.option(
        "--db", help="Trace database: a SQLite file or a postgresql:// URL (overrides config)."
    ),
    click.option("--json", "as_json", is_flag=True, help="Machine-readable output."),
]


def common(fn: Any) -> Any:
    for opt in reversed(_common):
        fn = opt(fn)
    return fn


@click.group("traces", invoke_without_command=True)
@common
@click.option("--model", help="Requested model.")
@click.option("--provider", help="Provider name.")
@click.option(
    "--status",
    help="completed | incomplete | failed | cancelled | error (an HTTP error, no response).",
)
@click.option("--since", help="30m, 24h, 7d or an ISO time.")
@click.option("--until", help="30m, 24h, 7d or an ISO time.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.pass_context
def traces(
    ctx: click.Context,
    config_path: str | None,
    db: str | None,
    as_json: bool,
    model: str | None,
    provider: str | None,
    status: str | None,
    since: str | None,
    until: str | None,
    limit: int,
) -> None:
    """Recent requests: time, model → provider/model, status, tokens, latency, error."""
    if ctx.invoked_subcommand is not None:
        return
    try:
        rows = query.list_requests(
            _db(config_path, db),
            limit=limit,
            model=model,
            provider=provider,
            status=status,
            since_ts=parse_time(since),
            until_ts=parse_time(until),
        )
    except GodexError as exc:
        click.echo(exc.message, err=True)
        sys.exit(1)
    if as_json:
        _emit_json(rows)
        return
    if not rows:
        click.echo("no requests recorded")
        return
    _table(
        [
            [
                _fmt_time(r["ts"]),
                _route(r),
                f"{r['status']} {r['http_status']}",
                f"{r['input_tokens']}/{r['output_tokens']}",
                f"{r['duration_ms']:.0f} ms",
                r["error_code"] or "",
                r["request_id"],
            ]
            for r in rows
        ],
        [
            "time (UTC)",
            "model → provider/model",
            "status",
            "tokens in/out",
            "latency",
            "error",
            "id",
        ],
    )


@traces.command("show")
@click.argument("request_id")
@common
def show(request_id: str, config_path: str | None, db: str | None, as_json: bool) -> None:
    """One request in detail (by request id or response id)."""
    try:
        row = query.get_request(_db(config_path, db), request_id)
    except GodexError as exc:
        click.echo(exc.message, err=True)
        sys.exit(1)
    if row is None:
        click.echo(f"no trace for {request_id}", err=True)
        sys.exit(1)
    if as_json:
        _emit_json(row)
        return
    for key, value in row.items():
        if key == "attempts" and isinstance(value, list):
            click.echo(f"{key:>24}:")
            for i, a in enumerate(value, 1):
                failure = f" {a.get('status')} {a.get('code')}" if a.get("code") else ""
                why = f" ({a['reason']})" if a.get("reason") else ""
                click.echo(
                    f"{'':>26}{i}. {a.get('provider')}/{a.get('model')} {a.get('outcome')}"
                    f"{failure}{why} {a.get('duration_ms', 0):.1f} ms"
                )
            continue
        if key == "ts":
            value = _fmt_time(value)
        elif key == "cost_usd" and isinstance(value, (int, float)):
            value = f"${value:.4f}"
        elif isinstance(value, float):
            value = f"{value:.1f}"  # durations in ms: a tenth is all a reader needs
        if isinstance(value, (list, dict)):
            value = json.dumps(value, ensure_ascii=False)
        click.echo(f"{key:>24}: {value}")


@traces.command("usage")
@common
@click.option("--since", default="24h", show_default=True)
@click.option("--until")
@click.option(
    "--by", type=click.Choice(query.USAGE_GROUPS), default="model", show_default=True,
    help="Group by provider/model, provider, key name or team.",
)  # fmt: skip
def usage(
    config_path: str | None,
    db: str | None,
    as_json: bool,
    since: str,
    until: str | None,
    by: str,
) -> None:
    """Tokens, cost, cache-hit ratio and p50/p95 latency per model, provider, key or team."""
    try:
        rows = query.usage_summary(
            _db(config_path, db), since_ts=parse_time(since), until_ts=parse_time(until), by=by
        )
    except GodexError as exc:
        click.echo(exc.message, err=True)
        sys.exit(1)
    if as_json:
        _emit_json(rows)
        return
    if not rows:
        click.echo("no requests in that range")
        return
    _table(
        [
            [
                f"{r['provider']}/{r['model']}" if by == "model" else r[by],
                r["requests"],
                r["errors"],
                r["input_tokens"],
                r["cached_tokens"],
                r["output_tokens"],
                r["reasoning_tokens"],
                f"{r['cache_hit_ratio']:.1%}",
                f"{r['p50_ms']:.0f} ms",
                f"{r['p95_ms']:.0f} ms",
                f"${r['cost_usd']:.4f}",
            ]
            for r in rows
        ],
        [
            "provider/model" if by == "model" else by,
            "reqs",
            "errors",
            "input",
            "cached",
            "output",
            "reasoning",
            "cache hit",
            "p50",
            "p95",
            "cost",
        ],
    )
