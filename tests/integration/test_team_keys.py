"""Named keys, tenant isolation, limits and budgets through the real server."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from click.testing import CliRunner

from godex.cli import main
from godex.config.schema import (
    AuthConfig,
    ClientKeyConfig,
    GodexConfig,
    KeyBudget,
    KeyLimits,
    LimitsConfig,
    Price,
    SessionConfig,
    TraceConfig,
)
from tests.fakes.replay_upstream import FakeUpstream, Reply, completion_body, text_stream
from tests.support.gateway import RunningGateway, make_config, provider, run_gateway

ALICE, CAROL, BOB, ADMIN = "sk-alice-1", "sk-carol-2", "sk-bob-3", "sk-admin-4"
SECRET = "the launch code is 0000"


def answer(body: dict[str, Any]) -> Reply:
    if body.get("stream"):
        return Reply(body=text_stream("hello there", prompt=100, completion=50))
    return Reply.json(completion_body("hello there", prompt=100, completion=50))


def _key(name: str, key: str, team: str | None = None, **kw: Any) -> ClientKeyConfig:
    return ClientKeyConfig(name, hashlib.sha256(key.encode()).hexdigest(), team, **kw)


def team_config(tmp: Path, up: FakeUpstream, **kw: Any) -> GodexConfig:
    cfg = make_config(
        tmp,
        [provider("ds", "deepseek", up.base_url)],
        session=kw.pop("session", SessionConfig(backend="memory")),
        trace=kw.pop("trace", None),
    )
    keys = kw.pop("keys", None) or (
        _key("alice", ALICE, "platform"),
        _key("carol", CAROL, "platform"),
        _key("bob", BOB, "web"),
    )
    auth = AuthConfig(admin_keys=(ADMIN,), keys=keys)
    return dataclasses.replace(cfg, auth=auth, **kw)


def h(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


@pytest.fixture
def up() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        fake.default = answer
        yield fake


@pytest.fixture(params=["memory", "sqlite"])
def gw(
    request: pytest.FixtureRequest, up: FakeUpstream, tmp_path: Path
) -> Iterator[RunningGateway]:
    session = SessionConfig(backend=request.param, sqlite_path=str(tmp_path / "s.db"))
    with run_gateway(team_config(tmp_path, up, session=session)) as g:
        yield g


def _create(c: httpx.Client, key: str, text: str = SECRET) -> dict[str, Any]:
    r = c.post("/v1/responses", headers=h(key), json={"model": "m", "input": text})
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_another_teams_key_gets_the_unknown_id_404_on_every_id_endpoint(
    gw: RunningGateway, up: FakeUpstream
) -> None:
    with httpx.Client(base_url=gw.base_url, timeout=10) as c:
        rid = _create(c, ALICE)["id"]
        unknown = "resp_" + "0" * 48

        def shapes(key: str, some_id: str) -> list[tuple[int, Any]]:
            out = []
            for method, path in (
                ("GET", f"/v1/responses/{some_id}"),
                ("GET", f"/v1/responses/{some_id}/input_items"),
                ("POST", f"/v1/responses/{some_id}/cancel"),
                ("DELETE", f"/v1/responses/{some_id}"),
            ):
                r = c.request(method, path, headers=h(key))
                out.append((r.status_code, r.text.replace(some_id, "<id>")))
            return out

        assert shapes(BOB, rid) == shapes(BOB, unknown)
        assert all(status == 404 for status, _ in shapes(BOB, rid))
        assert SECRET not in str(shapes(BOB, rid))
        # Chaining onto it is the same 400 an unknown id gets, and nothing of it goes up.
        sent_before = len(up.requests)
        chained = c.post(
            "/v1/responses",
            headers=h(BOB),
            json={"model": "m", "input": "go on", "previous_response_id": rid},
        )
        assert chained.status_code == 400
        assert chained.json()["error"]["code"] == "previous_response_not_found"
        assert len(up.requests) == sent_before
        # The response is still there for its owner (bob's DELETE deleted nothing).
        assert c.get(f"/v1/responses/{rid}", headers=h(ALICE)).status_code == 200


def test_keys_of_one_team_share_and_admins_see_all(gw: RunningGateway) -> None:
    with httpx.Client(base_url=gw.base_url, timeout=10) as c:
        rid = _create(c, ALICE)["id"]
        items = c.get(f"/v1/responses/{rid}/input_items", headers=h(CAROL))
        assert items.status_code == 200 and SECRET in items.text
        follow = c.post(
            "/v1/responses",
            headers=h(CAROL),
            json={"model": "m", "input": "and?", "previous_response_id": rid},
        )
        assert follow.status_code == 200
        assert c.get(f"/v1/responses/{rid}", headers=h(ADMIN)).status_code == 200
        assert c.delete(f"/v1/responses/{rid}", headers=h(ADMIN)).status_code == 200
        assert c.get(f"/v1/responses/{rid}", headers=h(ALICE)).status_code == 404


def test_an_item_reference_to_another_teams_item_does_not_reach_upstream(
    gw: RunningGateway, up: FakeUpstream
) -> None:
    with httpx.Client(base_url=gw.base_url, timeout=10) as c:
        made = _create(c, ALICE)
        items = c.get(f"/v1/responses/{made['id']}/input_items", headers=h(ALICE)).json()
        item_id = items["data"][0]["id"]
        c.post(
            "/v1/responses",
            headers=h(BOB),
            json={
                "model": "m",
                "previous_response_id": made["id"],
                "input": [{"type": "item_reference", "id": item_id}],
            },
        )
        c.post(
            "/v1/responses",
            headers=h(BOB),
            json={"model": "m", "input": [{"type": "item_reference", "id": item_id}]},
        )
        assert all(SECRET not in str(s.body) for s in up.requests[1:])


def test_traces_record_the_key_name_team_and_cost_never_the_key(
    up: FakeUpstream, tmp_path: Path
) -> None:
    trace = TraceConfig(enabled=True, path=str(tmp_path / "trace.db"), flush_interval_ms=10)
    cfg = team_config(tmp_path, up, trace=trace, prices={"ds/*": Price(2.0, 1.0, 10.0)})
    with run_gateway(cfg) as g, httpx.Client(base_url=g.base_url, timeout=10) as c:
        _create(c, ALICE)
        _create(c, CAROL)
        _create(c, BOB)
        metrics = c.get("/metrics", headers=h(ADMIN)).text
    runner = CliRunner()
    args = ["traces", "usage", "--db", str(tmp_path / "trace.db"), "--json", "--by"]
    by_team = json.loads(runner.invoke(main, [*args, "team"]).output)
    by_key = json.loads(runner.invoke(main, [*args, "key"]).output)
    one = (100 * 2.0 + 50 * 10.0) / 1e6
    assert [(r["team"], r["requests"], r["cost_usd"]) for r in by_team] == [
        ("platform", 2, pytest.approx(2 * one)),
        ("web", 1, pytest.approx(one)),
    ]
    assert [r["key"] for r in by_key] == ["alice", "bob", "carol"]
    db = sqlite3.connect(tmp_path / "trace.db")
    rows = db.execute(
        "SELECT client_key_id, team, cost_usd FROM requests WHERE client_key_id = 'alice'"
    ).fetchall()
    dump = "\n".join(db.iterdump())
    assert rows == [("alice", "platform", pytest.approx(one))]
    assert ALICE not in dump
    assert 'godex_key_requests_total{key="alice"} 1.0' in metrics
    assert 'godex_key_cost_usd_total{key="alice"}' in metrics


def test_a_model_outside_the_keys_globs_is_refused(up: FakeUpstream, tmp_path: Path) -> None:
    keys = (_key("alice", ALICE, models=("deepseek/*", "gpt-5.5")),)
    cfg = team_config(tmp_path, up, keys=keys)
    with run_gateway(cfg) as g, httpx.Client(base_url=g.base_url, timeout=10) as c:
        ok = c.post("/v1/responses", headers=h(ALICE), json={"model": "gpt-5.5", "input": "x"})
        no = c.post("/v1/responses", headers=h(ALICE), json={"model": "other", "input": "x"})
    assert ok.status_code == 200
    assert no.status_code == 403 and no.json()["error"]["code"] == "model_not_allowed"


def fresh_window() -> None:
    """Counters use one-minute windows: keep a burst from straddling the boundary."""
    left = 60 - time.time() % 60
    if left < 3:
        time.sleep(left + 0.05)


def _parallel(base_url: str, key: str, n: int, path: str = "/v1/responses") -> list[httpx.Response]:
    body: dict[str, Any] = {"model": "m", "input": "hi"}
    if path == "/v1/chat/completions":
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    if path == "/v1/messages":
        body = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}

    def one(_: int) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=30) as c:
            return c.post(path, headers=h(key), json=body)

    fresh_window()
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


@pytest.mark.parametrize("path", ["/v1/responses", "/v1/chat/completions", "/v1/messages"])
def test_requests_per_minute_hold_exactly_under_parallel_load(
    up: FakeUpstream, tmp_path: Path, path: str
) -> None:
    keys = (_key("alice", ALICE, limits=KeyLimits(rpm=7)),)
    with run_gateway(team_config(tmp_path, up, keys=keys)) as g:
        results = _parallel(g.base_url, ALICE, 24, path)
    ok = [r for r in results if r.status_code == 200]
    refused = [r for r in results if r.status_code == 429]
    assert len(ok) == 7 and len(refused) == 17
    assert ok[0].headers["x-ratelimit-limit-requests"] == "7"
    assert "x-ratelimit-remaining-requests" in ok[0].headers
    assert "x-ratelimit-reset-requests" in ok[0].headers
    r = refused[0]
    assert int(r.headers["retry-after"]) >= 1
    assert r.headers["x-ratelimit-remaining-requests"] == "0"
    if path != "/v1/messages":
        err = r.json()["error"]
        assert err["code"] == "rate_limit_exceeded"
        assert "Please try again in " in err["message"] and err["message"].endswith("s.")


def test_concurrent_requests_are_capped_and_slots_come_back(
    up: FakeUpstream, tmp_path: Path
) -> None:
    import threading

    gate = threading.Event()
    held = Reply(body=text_stream("x"), headers_after=gate)
    up.push(held, held, held)
    keys = (_key("alice", ALICE, limits=KeyLimits(concurrent=3)),)
    with run_gateway(team_config(tmp_path, up, keys=keys)) as g:
        with ThreadPoolExecutor(3) as pool:
            first = [
                pool.submit(
                    httpx.post,
                    g.base_url + "/v1/responses",
                    headers=h(ALICE),
                    json={"model": "m", "input": "hi", "stream": True},
                    timeout=30,
                )
                for _ in range(3)
            ]
            for _ in range(500):  # the three are up (held there) before the fourth
                if len(up.requests) == 3:
                    break
                threading.Event().wait(0.01)
            fourth = httpx.post(
                g.base_url + "/v1/responses",
                headers=h(ALICE),
                json={"model": "m", "input": "hi"},
                timeout=30,
            )
            gate.set()
            assert all(f.result().status_code == 200 for f in first)
        again = httpx.post(
            g.base_url + "/v1/responses", headers=h(ALICE), json={"model": "m", "input": "hi"}
        )
    assert fourth.status_code == 429 and "concurrent" in fourth.json()["error"]["message"]
    assert again.status_code == 200


def test_tokens_per_minute_are_charged_with_the_real_usage(
    up: FakeUpstream, tmp_path: Path
) -> None:
    keys = (_key("alice", ALICE, limits=KeyLimits(tpm=300)),)
    cfg = team_config(tmp_path, up, keys=keys)
    with run_gateway(cfg) as g, httpx.Client(base_url=g.base_url, timeout=10) as c:
        fresh_window()
        codes = [_post(c, ALICE).status_code for _ in range(2)]
        last = _post(c, ALICE)
    assert codes == [200, 200]  # 150 tokens each: 300 used before the third
    assert last.status_code == 429
    assert last.json()["error"]["type"] == "tokens"


def _post(c: httpx.Client, key: str) -> httpx.Response:
    return c.post("/v1/responses", headers=h(key), json={"model": "m", "input": "hi"})


def test_a_key_past_its_budget_gets_a_400_naming_the_budget(
    up: FakeUpstream, tmp_path: Path
) -> None:
    keys = (_key("alice", ALICE, budget=KeyBudget(usd_per_day=0.0005)),)
    cfg = team_config(tmp_path, up, keys=keys, prices={"ds/*": Price(2.0, 1.0, 10.0)})
    with run_gateway(cfg) as g, httpx.Client(base_url=g.base_url, timeout=10) as c:
        first = _post(c, ALICE)  # costs $0.0007: the next one is past the budget
        second = _post(c, ALICE)
        metrics = c.get("/metrics", headers=h(ADMIN)).text
    assert first.status_code == 200
    assert second.status_code == 400
    assert "over its budget" in second.json()["error"]["message"]
    assert 'godex_key_budget_remaining_usd{key="alice"} 0.0' in metrics


def test_runtime_keys_rotate_through_the_admin_api_while_requests_run(
    gw: RunningGateway,
) -> None:
    with httpx.Client(base_url=gw.base_url, timeout=10) as c:
        assert c.post("/admin/keys", headers=h(ALICE), json={"name": "x"}).status_code == 403
        made = c.post("/admin/keys", headers=h(ADMIN), json={"name": "svc", "team": "web"})
        assert made.status_code == 201
        token = made.json()["key"]
        listed = c.get("/admin/keys", headers=h(ADMIN)).text
        assert token not in listed and '"svc"' in listed

        stop = False

        def hammer() -> list[int]:
            codes = []
            with httpx.Client(base_url=gw.base_url, timeout=10) as hc:
                while not stop:
                    codes.append(_post(hc, token).status_code)
            return codes

        with ThreadPoolExecutor(2) as pool:
            runs = [pool.submit(hammer) for _ in range(2)]
            for _ in range(500):
                if _post(c, token).status_code == 200:
                    break
            new = c.post("/admin/keys", headers=h(ADMIN), json={"name": "svc2", "team": "web"})
            assert c.delete("/admin/keys/svc", headers=h(ADMIN)).status_code == 200
            after = _post(c, token)
            stop = True
            codes = [code for r in runs for code in r.result()]
        assert after.status_code == 401  # revoked: the very next request fails
        assert set(codes) <= {200, 401}
        assert _post(c, new.json()["key"]).status_code == 200
        # A response made by the rotated-out key stays with its team (web).
        assert c.get("/v1/models", headers=h(BOB)).status_code == 200


def test_websocket_turns_pass_the_same_limits_and_scopes(up: FakeUpstream, tmp_path: Path) -> None:
    from tests.integration.test_websocket import open_ws, send, turn

    keys = (_key("alice", ALICE, "platform", limits=KeyLimits(rpm=2)), _key("bob", BOB, "web"))
    with run_gateway(team_config(tmp_path, up, keys=keys)) as g:
        fresh_window()
        with httpx.Client(base_url=g.base_url, timeout=10) as c:
            rid = _create(c, ALICE)["id"]  # the first of alice's two
        with open_ws(g, ALICE) as ws:
            send(ws, model="m", input="hi")
            assert turn(ws)[-1]["type"] == "response.completed"
            send(ws, model="m", input="hi")
            refused = turn(ws)[-1]
        with open_ws(g, BOB) as ws:
            send(ws, model="m", input="go on", previous_response_id=rid)
            chained = turn(ws)[-1]
    assert refused["type"] == "error" and refused["status"] == 429
    assert refused["error"]["code"] == "rate_limit_exceeded"
    assert chained["type"] == "error"
    assert chained["error"]["code"] == "previous_response_not_found"


def test_a_key_revoked_mid_connection_fails_its_next_websocket_turn(gw: RunningGateway) -> None:
    from tests.integration.test_websocket import open_ws, send, turn

    with httpx.Client(base_url=gw.base_url, timeout=10) as c:
        token = c.post("/admin/keys", headers=h(ADMIN), json={"name": "ws"}).json()["key"]
        with open_ws(gw, token) as ws:
            send(ws, model="m", input="hi")
            assert turn(ws)[-1]["type"] == "response.completed"
            assert c.post("/admin/keys/ws/revoke", headers=h(ADMIN)).status_code == 200
            send(ws, model="m", input="hi")
            after = turn(ws)[-1]
    assert after["type"] == "error" and after["status"] == 401


def test_global_and_per_model_limits_are_shared_by_every_key(
    up: FakeUpstream, tmp_path: Path
) -> None:
    limits = LimitsConfig(global_=KeyLimits(rpm=5), models={"slow-*": KeyLimits(rpm=2)})
    with run_gateway(team_config(tmp_path, up, limits=limits)) as g:
        fresh_window()
        with httpx.Client(base_url=g.base_url, timeout=10) as c:
            slow = [
                c.post("/v1/responses", headers=h(k), json={"model": "slow-1", "input": "x"})
                for k in (ALICE, BOB, CAROL)
            ]
            rest = [_post(c, k).status_code for k in (ALICE, BOB, CAROL, ALICE)]
    assert [r.status_code for r in slow] == [200, 200, 429]
    assert "model:slow-*" in slow[2].json()["error"]["message"]
    assert rest == [200, 200, 200, 429]  # 5 a minute for the whole gateway


def test_conversations_belong_to_their_team(gw: RunningGateway, up: FakeUpstream) -> None:
    """Another team's conversation is the unknown-id 404 on every route and as a turn's
    ``conversation``; the same team shares it; admins see all."""
    with httpx.Client(base_url=gw.base_url, timeout=10) as c:
        made = c.post(
            "/v1/conversations",
            headers=h(ALICE),
            json={"items": [{"type": "message", "role": "user", "content": SECRET}]},
        )
        assert made.status_code == 200, made.text
        cid = made.json()["id"]
        unknown = "conv_" + "0" * 48

        def shapes(key: str, some_id: str) -> list[tuple[int, Any]]:
            out = []
            for method, path, body in (
                ("GET", f"/v1/conversations/{some_id}", None),
                ("POST", f"/v1/conversations/{some_id}", {"metadata": {"x": "y"}}),
                ("GET", f"/v1/conversations/{some_id}/items", None),
                ("POST", f"/v1/conversations/{some_id}/items", {"items": [{"role": "user",
                                                                            "content": "x"}]}),
                ("DELETE", f"/v1/conversations/{some_id}", None),
            ):  # fmt: skip
                r = c.request(method, path, headers=h(key), json=body)
                out.append((r.status_code, r.text.replace(some_id, "<id>")))
            return out

        assert shapes(BOB, cid) == shapes(BOB, unknown)
        assert all(status == 404 for status, _ in shapes(BOB, cid))
        assert SECRET not in str(shapes(BOB, cid))
        turn = c.post(
            "/v1/responses",
            headers=h(BOB),
            json={"model": "m", "input": "go on", "conversation": cid},
        )
        assert turn.status_code == 404
        assert SECRET not in turn.text
        for key in (CAROL, ADMIN):  # the same team, and an admin
            items = c.get(f"/v1/conversations/{cid}/items", headers=h(key))
            assert items.status_code == 200 and SECRET in items.text
