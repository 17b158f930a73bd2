"""``godex keys``: the admin API (``/admin/keys``) of a running GodeX, from the shell.

The admin key comes from ``--admin-key`` or ``GODEX_ADMIN_KEY``; a created key is printed once.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from typing import Any

import click

_DEFAULT_URL = "http://127.0.0.1:5678"


def _call(url: str, admin_key: str, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        url.rstrip("/") + path,
        data=data,
        method=method,
        headers={"authorization": f"Bearer {admin_key}", "content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read())["error"]["message"]
        except Exception:
            message = f"HTTP {exc.code}"
        click.echo(f"error: {message}", err=True)
        sys.exit(1)
    except urllib.error.URLError as exc:
        click.echo(f"error: cannot reach {url}: {exc.reason}", err=True)
        sys.exit(1)


_options = [
    click.option("--url", default=_DEFAULT_URL, show_default=True, help="The GodeX server."),
    click.option("--admin-key", envvar="GODEX_ADMIN_KEY", required=True, help="An admin key."),
]


def _common(fn: Any) -> Any:
    for option in reversed(_options):
        fn = option(fn)
    return fn


@click.group()
def keys() -> None:
    """Runtime client keys (kept hashed in the session store)."""


@keys.command("create")
@_common
@click.argument("name")
@click.option("--team")
@click.option("--model", "models", multiple=True, help="A model glob the key may use.")
@click.option("--rpm", type=int)
@click.option("--tpm", type=int)
@click.option("--concurrent", type=int)
@click.option("--usd-per-day", type=float)
@click.option("--tokens-per-month", type=int)
def create(
    url: str,
    admin_key: str,
    name: str,
    team: str | None,
    models: tuple[str, ...],
    rpm: int | None,
    tpm: int | None,
    concurrent: int | None,
    usd_per_day: float | None,
    tokens_per_month: int | None,
) -> None:
    """Create a key; it is printed once and never shown again."""
    limits = {k: v for k, v in (("rpm", rpm), ("tpm", tpm), ("concurrent", concurrent)) if v}
    budget = {
        k: v
        for k, v in (("usd_per_day", usd_per_day), ("tokens_per_month", tokens_per_month))
        if v is not None
    }
    body = {"name": name, "team": team, "models": list(models), "limits": limits,
            "budget": budget}  # fmt: skip
    made = _call(url, admin_key, "POST", "/admin/keys", body)
    click.echo(made["key"])


@keys.command("list")
@_common
@click.option("--json", "as_json", is_flag=True)
def list_keys(url: str, admin_key: str, as_json: bool) -> None:
    """Runtime keys (names and policies; never the keys)."""
    data = _call(url, admin_key, "GET", "/admin/keys")["data"]
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for k in data:
        state = "revoked" if k["revoked_at"] else "active"
        click.echo(f"{k['name']}\tteam={k['team'] or '-'}\t{state}\tlimits={k['limits']}")


@keys.command("revoke")
@_common
@click.argument("name")
def revoke(url: str, admin_key: str, name: str) -> None:
    """Revoke a key: its next request fails."""
    _call(url, admin_key, "DELETE", f"/admin/keys/{name}")
    click.echo(f"revoked {name}")
