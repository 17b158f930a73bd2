"""The dashboard's API answers the same on a PostgreSQL trace backend as on SQLite.

Real requests go through GodeX (to fake upstreams: served, failed, failed over, from two keys)
with traces in SQLite; the very rows it wrote are then written to PostgreSQL through the
PostgreSQL trace writer, and a second GodeX with ``trace.backend: postgres`` must give the
same overview, request lists and request pages. A request made through that second GodeX
then shows up on its own dashboard: its writer and its reader meet in PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx2 as httpx

from godex.config.schema import AuthConfig, GodexConfig, TraceConfig, TracePostgresConfig, UiConfig
from godex.server.auth import legacy_name
from godex.trace.postgres import PostgresSink
from godex.trace.schema import COLUMNS
from tests.fakes.replay_upstream import FakeUpstream, Reply, chunk, completion_body, sse, usage
from tests.support.gateway import make_config, provider, run_gateway
from tests.ui.conftest import ADMIN, CLIENT


def _answer(text: str) -> Callable[[dict[str, Any]], Reply]:
    def reply(body: dict[str, Any]) -> Reply:
        if body.get("stream"):
            return Reply(body=sse(chunk(text), chunk("", finish="stop", usage=usage(40, 9))))
        return Reply.json(completion_body(text, prompt=40, completion=9, cached=30))

    return reply


def _config(tmp: Path, a: FakeUpstream, b: FakeUpstream, trace: TraceConfig) -> GodexConfig:
    cfg = make_config(
        tmp,
        [provider("a", "deepseek", a.base_url), provider("b", "deepseek", b.base_url)],
        aliases={"gpt-5.5": ("a/model-a", "b/model-b"), "solo": "a/model-a"},  # type: ignore[dict-item]
        trace=trace,
        server={"api_keys": (CLIENT,)},
    )
    return dataclasses.replace(cfg, ui=UiConfig(enabled=True), auth=AuthConfig(admin_keys=(ADMIN,)))


def _post(base: str, key: str, **body: Any) -> httpx.Response:
    return httpx.post(
        base + "/v1/responses",
        json={"input": "the blue whale", **body},
        headers={"authorization": f"Bearer {key}"},
        timeout=20,
    )


def _dashboard(base: str) -> httpx.Client:
    login = httpx.post(base + "/ui/login", data={"key": ADMIN}, follow_redirects=False)
    assert login.status_code == 303
    return httpx.Client(base_url=base, cookies=login.cookies, timeout=20)


def _wait_for(client: httpx.Client, n: int) -> list[dict[str, Any]]:
    """The requests page once the trace writer (flushing every 20 ms) has written n rows."""
    deadline = time.monotonic() + 15
    while True:
        items: list[dict[str, Any]] = client.get("/ui/api/requests?limit=50").json()["items"]
        if len(items) >= n:
            return items
        assert time.monotonic() < deadline, f"{len(items)} of {n} requests traced"
        client.get("/ui/api/meta")  # a round trip, not a sleep, between two looks


def _answers(client: httpx.Client, since: float, until: float, ids: list[str]) -> dict[str, Any]:
    client_id = legacy_name(CLIENT)
    out: dict[str, Any] = {}
    for name, query in {
        "overview": {"range": "custom", "since": since, "until": until},
        "overview-month": {"range": "custom", "since": until - 30 * 86400, "until": until},
        "requests": {"limit": 50},
        "requests-filtered": {"key": client_id, "status": "error"},
        "requests-text": {"q": "blue whale"},
        "requests-model": {"model": "gpt-5.5", "limit": 1, "offset": 1},
    }.items():
        path = "overview" if name.startswith("overview") else "requests"
        got = client.get(f"/ui/api/{path}?{urlencode(query)}")
        assert got.status_code == 200, (name, got.text)
        body = got.json()
        body.pop("health", None)  # the instance's own state, not the traces
        out[name] = body
    for rid in ids:
        page = client.get(f"/ui/api/requests/{rid}")
        assert page.status_code == 200
        out[rid] = page.json()
    keys = client.get("/ui/api/keys").json()
    out["usage"] = keys["usage_30d"]
    return out


def test_the_dashboard_answers_the_same_on_postgres_as_on_sqlite(
    tmp_path: Path, pg_dsn: str
) -> None:
    sqlite_trace = TraceConfig(
        enabled=True, path=str(tmp_path / "trace.db"), flush_interval_ms=20, capture_payload=True
    )
    pg_trace = dataclasses.replace(
        sqlite_trace, backend="postgres", postgres=TracePostgresConfig(dsn=pg_dsn)
    )
    with FakeUpstream() as a, FakeUpstream() as b:
        a.default = _answer("from A")
        b.default = _answer("from B")
        with run_gateway(_config(tmp_path / "one", a, b, sqlite_trace)) as gw:
            assert _post(gw.base_url, CLIENT, model="solo", temperature=5).status_code == 200
            a.push(Reply.json({"error": {"message": "Insufficient Balance"}}, status=402))
            assert _post(gw.base_url, CLIENT, model="solo").status_code >= 400
            a.push(Reply.json({"error": {"message": "overloaded"}}, status=503))
            assert _post(gw.base_url, CLIENT, model="gpt-5.5", stream=True).status_code == 200
            assert _post(gw.base_url, ADMIN, model="solo").status_code == 200
            with _dashboard(gw.base_url) as board:
                rows = _wait_for(board, 4)
                ids = [r["request_id"] for r in rows]
                since = min(r["ts"] for r in rows) - 3600
                until = time.time() + 60
                on_sqlite = _answers(board, since, until, ids)
        assert len(on_sqlite["requests-filtered"]["items"]) == 1
        assert len(on_sqlite["requests-text"]["items"]) == 4
        assert on_sqlite["overview"]["failovers"] and on_sqlite["overview"]["by_model"]

        # The same rows, through the PostgreSQL trace writer (which keeps its rollup too).
        db = sqlite3.connect(sqlite_trace.path)
        copied = db.execute(f"SELECT {COLUMNS} FROM requests").fetchall()
        payloads = db.execute("SELECT request_id, request, response FROM payloads").fetchall()
        db.close()
        sink = PostgresSink(pg_trace)
        try:
            sink.write(copied, payloads)
        finally:
            sink.close()

        with (
            run_gateway(_config(tmp_path / "two", a, b, pg_trace)) as gw,
            _dashboard(gw.base_url) as board,
        ):
            on_postgres = _answers(board, since, until, ids)
            assert on_postgres == on_sqlite
            # Its own request, written by its own PostgreSQL writer, read back.
            assert _post(gw.base_url, CLIENT, model="solo").status_code == 200
            fresh = _wait_for(board, 5)
            assert fresh[0]["request_id"] not in ids
            overview = board.get("/ui/api/overview?range=hour").json()
            assert sum(p["n"] for p in overview["series"]) == 5
