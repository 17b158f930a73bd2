"""The dashboard's routes: pages, static files and the JSON API behind them.

Served only with `ui.enabled`; everything but the login page needs a session made from an
admin key. Reads run in the default executor so trace queries never block the event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from functools import partial
from importlib import resources
from typing import Any, Protocol
from urllib.parse import parse_qsl

from godex.errors import AuthError, GodexError, NotFoundError
from godex.server.http import (
    Receive,
    Scope,
    Send,
    header,
    query_params,
    read_body,
    send_bytes,
    send_json,
)
from godex.server.state import AppState
from godex.server.ui import auth, queries
from godex.server.ui.admin_proxy import call_admin
from godex.server.ui.live import InFlight
from godex.trace.readers import source_of

_STATIC: dict[str, bytes] = {
    "app.js": b"text/javascript; charset=utf-8",
    "app.css": b"text/css; charset=utf-8",
    "uPlot.iife.min.js": b"text/javascript; charset=utf-8",
    "uPlot.min.css": b"text/css; charset=utf-8",
}
_RANGES = {"hour": 3600, "day": 86400, "week": 7 * 86400, "month": 30 * 86400}
_SECURITY = [
    (b"x-content-type-options", b"nosniff"),
    # same-origin, not no-referrer: under no-referrer browsers send `Origin: null` on our own
    # form posts, and the login's origin check needs the real one.
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    # Only our own files: no inline script, nothing from elsewhere.
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        b" frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
    (b"cache-control", b"no-store"),
]


class App(Protocol):
    """What the dashboard needs of GodexApp (not imported: server.app imports this)."""

    state: AppState

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...

    def health(self, *, detailed: bool = True) -> dict[str, Any]: ...


def _asset(name: str) -> bytes:
    return resources.files("godex.server.ui").joinpath("static", name).read_bytes()


class Dashboard:
    def __init__(self, app: App) -> None:
        self.app = app
        self.sessions = auth.Sessions(app.state.config.ui.session_ttl_s)
        # SQLite path or PostgreSQL URL, whichever `trace.backend` writes to.
        self.reads = queries.Reads(lambda: source_of(self.app.state.config.trace))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.app.state.config.ui.enabled:
            raise NotFoundError(f"Unknown route: {scope['method']} {scope['path']}")
        path: str = scope["path"]
        method: str = scope["method"]
        secure = scope.get("scheme") in ("https", "wss")
        if path in ("/ui", "/ui/"):
            if self._session(scope) is None:
                await _redirect(send, "/ui/login")
                return
            await self._app_page(scope, send)
            return
        if path == "/ui/login":
            if method == "POST":
                await self._login(scope, receive, send, secure)
                return
            await _html(send, 200, _asset("login.html"))
            return
        if path.startswith("/ui/static/") and method == "GET":
            name = path[len("/ui/static/") :]
            if name not in _STATIC:
                raise NotFoundError(f"Unknown route: {method} {path}")
            headers = [(b"content-type", _STATIC[name]), (b"x-content-type-options", b"nosniff")]
            await send_bytes(send, 200, _asset(name), headers)
            return
        session = self._session(scope)
        if path == "/ui/logout" and method == "POST":
            if session is not None:
                self._check_csrf(scope, session)
                self.sessions.drop(session.sid)
            await _redirect(send, "/ui/login", [(b"set-cookie", auth.clear_cookie(secure=secure))])
            return
        if not path.startswith("/ui/api/"):
            raise NotFoundError(f"Unknown route: {method} {path}")
        if session is None:
            raise AuthError("Log in to the dashboard first", code="auth.ui_login_required")
        if method not in ("GET", "HEAD"):
            self._check_csrf(scope, session)
        await self._api(path[len("/ui/api/") :], method, scope, receive, send, session)

    # -- sessions ---------------------------------------------------------------------------
    def _session(self, scope: Scope) -> auth.Session | None:
        return self.sessions.get(auth.cookie_value(header(scope, b"cookie")))

    @staticmethod
    def _check_csrf(scope: Scope, session: auth.Session) -> None:
        if not auth.csrf_ok(session, header(scope, auth.CSRF_HEADER)):
            raise GodexError(
                "Missing or wrong CSRF token",
                code="auth.ui_csrf",
                status=403,
                type="invalid_request_error",
            )

    async def _login(self, scope: Scope, receive: Receive, send: Send, secure: bool) -> None:
        _same_origin(scope)
        body = await read_body(receive, 16 * 1024, self.app.state.body_timeout_s)
        fields = dict(parse_qsl(body.decode("utf-8", "replace")))
        token = fields.get("key", "").strip()
        if not auth.admin_key_ok(self.app.state, token):
            page = _asset("login.html").replace(
                b"<!--error-->",
                b'<p class="error" role="alert" id="login-error">That is not an admin key.</p>',
            )
            await _html(send, 401, page)
            return
        session = self.sessions.create(token)
        cookie = auth.set_cookie(
            session.sid, secure=secure, max_age=int(self.app.state.config.ui.session_ttl_s)
        )
        await _redirect(send, "/ui/", [(b"set-cookie", cookie)])

    async def _app_page(self, scope: Scope, send: Send) -> None:
        session = self._session(scope)
        assert session is not None
        page = _asset("app.html").replace(b"__CSRF__", session.csrf.encode())
        await _html(send, 200, page)

    # -- the JSON API -----------------------------------------------------------------------
    async def _api(
        self,
        route: str,
        method: str,
        scope: Scope,
        receive: Receive,
        send: Send,
        session: auth.Session,
    ) -> None:
        params = query_params(scope)
        if route == "overview" and method == "GET":
            since, until = _range(params)
            data = await _off_loop(partial(self.reads.overview, since, until))
            data["health"] = self.app.health(detailed=True)
            await send_json(send, 200, data)
            return
        if route == "requests" and method == "GET":
            after, before = _optional_range(params)
            data = await _off_loop(
                partial(
                    self.reads.list_requests,
                    filters=params,
                    since=after,
                    until=before,
                    text=params.get("q") or None,
                    limit=_int(params.get("limit"), 50),
                    offset=_int(params.get("offset"), 0),
                )
            )
            data["capture"] = self.app.state.config.trace.capture_payload
            await send_json(send, 200, data)
            return
        if route.startswith("requests/") and method == "GET":
            rid = route[len("requests/") :]
            found = await _off_loop(partial(self.reads.get_request, rid))
            if found is None:
                raise NotFoundError(f"No traced request {rid!r}", code="server.not_found")
            await send_json(send, 200, found)
            return
        if route == "meta" and method == "GET":
            await send_json(send, 200, self._meta())
            return
        if route == "live" and method == "GET":
            recent = await _off_loop(partial(self.reads.recent, 15))
            await send_json(send, 200, self._live(recent))
            return
        if route == "keys" and method == "GET":
            await send_json(send, 200, await self._keys(session))
            return
        if route == "keys" and method == "POST":
            body = await read_body(receive, 64 * 1024, self.app.state.body_timeout_s)
            status, out = await call_admin(self.app, "POST", "/admin/keys", body, session)
            await send_json(send, status, out)
            return
        if route.startswith("keys/") and method == "DELETE":
            kid = route[len("keys/") :]
            status, out = await call_admin(self.app, "DELETE", f"/admin/keys/{kid}", b"", session)
            await send_json(send, status, out)
            return
        raise NotFoundError(f"Unknown route: {method} /ui/api/{route}")

    def _meta(self) -> dict[str, Any]:
        config = self.app.state.config
        return {
            "keys": list(self.app.state.auth.names),
            "models": self.app.state.services.router.model_ids(),
            "providers": list(config.providers),
            "capture": config.trace.capture_payload,
            "trace": config.trace.enabled,
        }

    def _live(self, recent: list[dict[str, Any]]) -> dict[str, Any]:
        state = self.app.state
        drain = getattr(self.app, "drain", None)
        streams = len(getattr(drain, "_tasks", ()))
        in_flight = InFlight.wired(state.services)
        return {
            "now": time.time(),
            # The requests themselves once GodexApp feeds the registry (see live.py).
            "requests": in_flight.snapshot() if in_flight is not None else None,
            # This poll is itself in flight: leave it out.
            "in_flight": max(0, state.in_flight - 1),
            "streams": streams,
            "recent": recent,
        }

    async def _keys(self, session: auth.Session) -> dict[str, Any]:
        now = time.time()
        usage = await _off_loop(partial(self.reads.usage_by_key, now - 30 * 86400, now + 1))
        # Configured client keys by name (never the key); admin keys are not client keys.
        configured = [
            {"id": name, "source": "config", "admin": False, "usage_30d": usage.get(name)}
            for name in self.app.state.auth.names
        ]
        status, runtime = await call_admin(self.app, "GET", "/admin/keys", b"", session)
        admin_api = status == 200
        return {
            "configured": configured,
            "admin_api": admin_api,
            "runtime": runtime if admin_api else None,
            "usage_30d": usage,
        }


async def _off_loop(fn: Callable[[], Any]) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, fn)


def _same_origin(scope: Scope) -> None:
    """A cross-site form post carries a foreign Origin: refuse it (login CSRF)."""
    origin = header(scope, b"origin")
    host = header(scope, b"host")
    if origin is None:  # not a browser, or one that sends no Origin on same-origin posts
        return
    if host is None or origin.split(b"://", 1)[-1] != host:
        raise GodexError(
            "Cross-origin login refused",
            code="auth.ui_csrf",
            status=403,
            type="invalid_request_error",
        )


def _int(raw: str | None, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise GodexError(
            f"expected an integer, got {raw[:40]!r}",
            code="server.bad_query",
            status=400,
            type="invalid_request_error",
        ) from None


def _float(raw: str, name: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if value != value or value in (float("inf"), float("-inf")):
        raise GodexError(
            f"{name}: expected a Unix time in seconds",
            code="server.bad_query",
            status=400,
            type="invalid_request_error",
        )
    return value


def _range(params: dict[str, str]) -> tuple[float, float]:
    now = time.time()
    name = params.get("range", "day")
    if name == "custom":
        since = _float(params.get("since", ""), "since")
        until = _float(params.get("until", ""), "until") if params.get("until") else now
        if until <= since:
            raise GodexError(
                "until must be after since",
                code="server.bad_query",
                status=400,
                type="invalid_request_error",
            )
        return since, until
    if name not in _RANGES:
        raise GodexError(
            "range: one of hour, day, week, month, custom",
            code="server.bad_query",
            status=400,
            type="invalid_request_error",
        )
    return now - _RANGES[name], now + 1


def _optional_range(params: dict[str, str]) -> tuple[float | None, float | None]:
    since = _float(params["since"], "since") if params.get("since") else None
    until = _float(params["until"], "until") if params.get("until") else None
    return since, until


async def _html(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"text/html; charset=utf-8"), *_SECURITY]
    await send_bytes(send, status, body, headers)


async def _redirect(
    send: Send, location: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [(b"location", location.encode()), *(extra or []), *_SECURITY]
    await send_bytes(send, 303, b"", headers)


def close(app: App) -> None:
    """At shutdown: the dashboard's trace reader (a connection of its own), if it was used."""
    board = app.state.services.extra.pop("ui_dashboard", None)
    if isinstance(board, Dashboard):
        board.reads.close()


def dispatch_for(app: App) -> Dashboard:
    """The dashboard of an app, made on first use (it holds the sessions)."""
    extra = app.state.services.extra
    board = extra.get("ui_dashboard")
    if not isinstance(board, Dashboard):
        board = Dashboard(app)
        extra["ui_dashboard"] = board
    return board


async def dispatch(app: App, scope: Scope, receive: Receive, send: Send) -> None:
    await dispatch_for(app)(scope, receive, send)
