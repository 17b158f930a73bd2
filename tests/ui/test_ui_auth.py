"""Who gets into the dashboard, over real HTTP: only admin keys, only with a session, and
write actions only with the session's CSRF token."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx2 as httpx
import pytest
import uvicorn

from godex.server.runner import _uvicorn_options, create_app
from godex.server.ui import auth
from tests.fakes.replay_upstream import FakeUpstream, Reply, completion_body
from tests.support.gateway import run_gateway
from tests.ui.conftest import ADMIN, CLIENT, ui_config


def _login(base: str, key: str, **kw: Any) -> httpx.Response:
    return httpx.post(base + "/ui/login", data={"key": key}, follow_redirects=False, **kw)


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert found is not None
    return found.group(1)


class _AuthOf:
    """A config as issue 16 will shape it: `auth.admin_keys` next to the other keys."""

    def __init__(self, config: Any, admin_keys: tuple[str, ...]) -> None:
        self._config = config
        self.auth = SimpleNamespace(admin_keys=admin_keys)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._config, name)


def test_the_dashboard_is_not_served_unless_enabled(upstream: FakeUpstream, tmp_path: Path) -> None:
    with run_gateway(ui_config(tmp_path, upstream.base_url, enabled=False)) as gw:
        assert httpx.get(gw.base_url + "/ui/login").status_code == 404
        assert _login(gw.base_url, ADMIN).status_code == 404
        assert httpx.get(gw.base_url + "/ui/api/overview").status_code == 404


def test_no_key_or_a_wrong_key_gets_no_session(upstream: FakeUpstream, tmp_path: Path) -> None:
    with run_gateway(ui_config(tmp_path, upstream.base_url)) as gw:
        base = gw.base_url
        page = httpx.get(base + "/ui/", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/ui/login"
        assert httpx.get(base + "/ui/api/overview").status_code == 401
        for key in ("", "sk-not-a-key", ADMIN + "x"):
            refused = _login(base, key)
            assert refused.status_code == 401
            assert "set-cookie" not in refused.headers
            assert "not an admin key" in refused.text
        forged = httpx.get(base + "/ui/api/overview", cookies={auth.COOKIE: "made-up"})
        assert forged.status_code == 401
        assert forged.json()["error"]["godex_code"] == "auth.ui_login_required"


def test_a_non_admin_key_is_refused_once_admin_keys_exist(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    with run_gateway(ui_config(tmp_path, upstream.base_url)) as gw:
        services = gw.app.state.services
        services.config = _AuthOf(services.config, (ADMIN,))  # type: ignore[assignment]
        assert _login(gw.base_url, CLIENT).status_code == 401
        assert _login(gw.base_url, ADMIN).status_code == 303


def test_an_admin_key_gets_a_strict_http_only_session(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    with run_gateway(ui_config(tmp_path, upstream.base_url)) as gw:
        ok = _login(gw.base_url, ADMIN)
        assert ok.status_code == 303 and ok.headers["location"] == "/ui/"
        cookie = ok.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/ui" in cookie
        assert "Secure" not in cookie  # plain HTTP here; see the TLS test below
        assert ADMIN not in cookie
        with httpx.Client(base_url=gw.base_url, cookies=ok.cookies) as client:
            page = client.get("/ui/")
            assert page.status_code == 200 and ADMIN not in page.text
            assert "default-src 'self'" in page.headers["content-security-policy"]
            assert client.get("/ui/api/overview?range=hour").status_code == 200
            assert client.get("/ui/api/overview?range=fortnight").status_code == 400
            assert client.get("/ui/api/requests?limit=abc").status_code == 400


def test_the_cookie_is_secure_when_the_request_came_over_tls(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    cfg = ui_config(tmp_path, upstream.base_url)
    app = create_app(cfg)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # GodeX's own uvicorn options (log_config=None: leave the process's logging alone).
    options = {**_uvicorn_options(cfg), "ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    server = uvicorn.Server(uvicorn.Config(app, **options))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            threading.Event().wait(0.01)  # uvicorn flips `started` from its own loop
        ok = _login(f"https://127.0.0.1:{port}", ADMIN, verify=False)
        assert ok.status_code == 303
        assert ok.headers["set-cookie"].endswith("; Secure")
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def test_write_actions_need_the_csrf_token(upstream: FakeUpstream, tmp_path: Path) -> None:
    with run_gateway(ui_config(tmp_path, upstream.base_url)) as gw:
        ok = _login(gw.base_url, ADMIN)
        with httpx.Client(base_url=gw.base_url, cookies=ok.cookies) as client:
            token = _csrf(client.get("/ui/").text)
            for headers in ({}, {"x-csrf-token": "wrong"}):
                refused = client.post("/ui/api/keys", json={"name": "x"}, headers=headers)
                assert refused.status_code == 403
                assert refused.json()["error"]["godex_code"] == "auth.ui_csrf"
                assert client.delete("/ui/api/keys/k1", headers=headers).status_code == 403
                assert client.post("/ui/logout", headers=headers).status_code == 403
            # With the token the request gets through to the admin API (absent here: 404).
            good = {"x-csrf-token": token}
            passed = client.post("/ui/api/keys", json={"name": "x"}, headers=good)
            assert passed.status_code != 403
            out = client.post("/ui/logout", headers={"x-csrf-token": token})
            assert out.status_code == 303
            assert client.get("/ui/api/overview").status_code == 401


def test_a_cross_site_login_post_is_refused(upstream: FakeUpstream, tmp_path: Path) -> None:
    with run_gateway(ui_config(tmp_path, upstream.base_url)) as gw:
        forged = _login(gw.base_url, ADMIN, headers={"origin": "https://evil.example"})
        assert forged.status_code == 403 and "set-cookie" not in forged.headers


def test_sessions_expire() -> None:
    now = [1000.0]
    sessions = auth.Sessions(60, clock=lambda: now[0])
    s = sessions.create(ADMIN)
    assert sessions.get(s.sid) is s
    now[0] += 61
    assert sessions.get(s.sid) is None


@pytest.mark.parametrize(
    ("config", "token", "expected"),
    [
        (SimpleNamespace(auth=SimpleNamespace(admin_keys=(ADMIN,))), ADMIN, True),
        (SimpleNamespace(auth=SimpleNamespace(admin_keys=(ADMIN,))), None, False),
        (SimpleNamespace(auth=SimpleNamespace(admin_keys=())), "", False),
        (
            SimpleNamespace(
                server=SimpleNamespace(api_keys=(ADMIN, CLIENT)),
                auth=SimpleNamespace(admin_keys=(ADMIN,)),
            ),
            CLIENT,
            False,
        ),
    ],
)
def test_admin_key_ok_reads_auth_admin_keys_when_present(
    config: Any, token: str | None, expected: bool
) -> None:
    assert auth.admin_key_ok(SimpleNamespace(config=config), token) is expected


def test_the_dashboards_trace_reader_closes_with_the_gateway(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    upstream.push(Reply(body=json.dumps(completion_body("hi")).encode()))
    with run_gateway(ui_config(tmp_path, upstream.base_url)) as gw:
        served = httpx.post(
            gw.base_url + "/v1/responses",
            json={"model": "gpt-5.5", "input": "x"},
            headers={"authorization": f"Bearer {CLIENT}"},
        )
        assert served.status_code == 200
        ok = _login(gw.base_url, ADMIN)
        with httpx.Client(base_url=gw.base_url, cookies=ok.cookies) as client:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # until the trace writer's batch is in
                series = client.get("/ui/api/overview?range=hour").json()["series"]
                if sum(p["n"] for p in series):
                    break
        board = gw.app.state.services.extra["ui_dashboard"]
        assert board.reads._reader is not None and board.reads._reader._reader is not None
    assert "ui_dashboard" not in gw.app.state.services.extra
    assert board.reads._reader is None
