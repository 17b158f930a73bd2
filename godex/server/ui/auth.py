"""Who may use the dashboard: admin keys, server-side sessions, CSRF tokens.

The browser holds only an opaque session id in an HttpOnly cookie; the admin key it logged in
with stays in this process's memory (it is needed to call the admin API on the user's behalf)
and is never sent back. Write actions also need the session's CSRF token in a header, which a
cross-site page cannot read.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

COOKIE = "godex_ui"
CSRF_HEADER = b"x-csrf-token"
_MAX_SESSIONS = 1000  # a bound, so repeated logins cannot grow memory without limit


def admin_key_ok(app_state: Any, token: str | None) -> bool:
    """True for one of ``auth.admin_keys`` (client keys never open the dashboard)."""
    if not token:
        return False
    keys = tuple(app_state.config.auth.admin_keys)
    found = False
    given = token.encode()
    for candidate in keys:  # constant time over every key, like AppState.authenticate
        if candidate and hmac.compare_digest(candidate.encode(), given):
            found = True
    return found


@dataclass(slots=True)
class Session:
    sid: str
    csrf: str
    admin_key: str = field(repr=False)
    expires: float


class Sessions:
    """Sessions in memory: a restart logs everyone out, which is fine for an admin page."""

    def __init__(self, ttl_s: float, clock: Any = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._by_id: dict[str, Session] = {}

    def create(self, admin_key: str) -> Session:
        self._prune()
        if len(self._by_id) >= _MAX_SESSIONS:
            oldest = min(self._by_id.values(), key=lambda s: s.expires)
            del self._by_id[oldest.sid]
        session = Session(
            sid=secrets.token_urlsafe(32),
            csrf=secrets.token_urlsafe(32),
            admin_key=admin_key,
            expires=self._clock() + self.ttl_s,
        )
        self._by_id[session.sid] = session
        return session

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        session = self._by_id.get(sid)
        if session is None:
            return None
        if session.expires <= self._clock():
            del self._by_id[sid]
            return None
        return session

    def drop(self, sid: str | None) -> None:
        if sid:
            self._by_id.pop(sid, None)

    def _prune(self) -> None:
        now = self._clock()
        for sid in [s.sid for s in self._by_id.values() if s.expires <= now]:
            del self._by_id[sid]


def csrf_ok(session: Session, sent: bytes | None) -> bool:
    return sent is not None and hmac.compare_digest(session.csrf.encode(), sent)


def cookie_value(raw: bytes | None) -> str | None:
    """The session id from a Cookie header, if any."""
    if not raw:
        return None
    for part in raw.decode("latin-1").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE and value:
            return value
    return None


def set_cookie(sid: str, *, secure: bool, max_age: int) -> bytes:
    # Strict: the cookie never rides on a request started by another site.
    attrs = f"{COOKIE}={sid}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={max_age}"
    if secure:
        attrs += "; Secure"
    return attrs.encode()


def clear_cookie(*, secure: bool) -> bytes:
    attrs = f"{COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0"
    return (attrs + "; Secure" if secure else attrs).encode()
