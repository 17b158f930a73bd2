"""``/admin/keys``: runtime client keys (create, list, revoke), for admin keys only.

A key is returned once, when created; the store keeps its sha256. Revoking takes effect on the
next request: every request looks its runtime key up in the store.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

import msgspec

from godex.errors import AuthError, GodexError, InvalidRequestError, NotFoundError
from godex.server.auth import Principal, digest
from godex.server.http import Receive, Send, read_body, send_json
from godex.sessions.store import KeyRecord, SessionStore

_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
_PREFIX = "/admin/keys"


def _forbidden() -> AuthError:
    return AuthError(
        "This endpoint needs an admin key (auth.admin_keys).",
        code="auth.admin_required",
        status=403,
        wire_code="admin_required",
    )


def _listed(rec: KeyRecord) -> dict[str, Any]:
    return {"name": rec.name, "team": rec.team, **rec.policy, "created_at": rec.created_at,
            "revoked_at": rec.revoked_at, "key_sha256_prefix": rec.key_sha256[:8]}  # fmt: skip


def _policy(body: dict[str, Any]) -> dict[str, Any]:
    models = body.get("models") or []
    limits = body.get("limits") or {}
    budget = body.get("budget") or {}
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        raise InvalidRequestError("models must be a list of strings", param="models")
    if not isinstance(limits, dict) or not all(
        k in ("rpm", "tpm", "concurrent") and isinstance(v, int) and v > 0
        for k, v in limits.items()
    ):
        raise InvalidRequestError("limits takes positive rpm, tpm, concurrent", param="limits")
    if not isinstance(budget, dict) or not all(
        k in ("usd_per_day", "tokens_per_month") and isinstance(v, (int, float)) and v >= 0
        for k, v in budget.items()
    ):
        raise InvalidRequestError("budget takes usd_per_day, tokens_per_month", param="budget")
    return {"models": models, "limits": limits, "budget": budget}


class AdminHandler:
    def __init__(self, auth: Any, store: SessionStore | None) -> None:
        self.auth = auth
        self.store = store

    async def dispatch(
        self, method: str, path: str, who: Principal, receive: Receive, send: Send
    ) -> None:
        if not who.admin:
            raise _forbidden()
        store = self.store
        if store is None:
            raise GodexError("Runtime keys are stored in the session store; it is disabled "
                             "(session.enabled: false).", code="auth.keys_unavailable",
                             status=400, type="invalid_request_error")  # fmt: skip
        rest = path[len(_PREFIX) :] if path.startswith(_PREFIX) else None
        if rest is None:
            raise NotFoundError(f"Unknown route: {method} {path}", code="server.not_found")
        if rest == "" and method == "GET":
            keys = await store.list_keys()
            await send_json(send, 200, {"object": "list", "data": [_listed(k) for k in keys]})
        elif rest == "" and method == "POST":
            await self.create(store, await read_body(receive, 1 << 16), send)
        elif rest.startswith("/") and (
            method == "DELETE" or (method == "POST" and rest.endswith("/revoke"))
        ):
            name = rest[1:].removesuffix("/revoke")
            if not await store.revoke_key(name, int(time.time())):
                raise NotFoundError(f"No active runtime key named '{name}'.",
                                    code="auth.key_not_found")  # fmt: skip
            await send_json(send, 200, {"name": name, "revoked": True})
        else:
            raise NotFoundError(f"Unknown route: {method} {path}", code="server.not_found")

    async def create(self, store: SessionStore, raw: bytes, send: Send) -> None:
        try:
            body = msgspec.json.decode(raw) if raw else {}
        except msgspec.DecodeError as exc:
            raise InvalidRequestError("the body is not valid JSON") from exc
        if not isinstance(body, dict):
            raise InvalidRequestError("the body must be a JSON object")
        name = body.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise InvalidRequestError("name: 1-64 letters, digits or _.@-", param="name")
        active = [k for k in await store.list_keys() if k.name == name and k.revoked_at is None]
        if active or name in self.auth.names:
            raise GodexError(f"A key named '{name}' exists; revoke it first.",
                             code="auth.key_exists", status=409,
                             type="invalid_request_error")  # fmt: skip
        team = body.get("team")
        if team is not None and not isinstance(team, str):
            raise InvalidRequestError("team must be a string", param="team")
        token = "gdx-" + secrets.token_urlsafe(32)
        rec = KeyRecord(name, digest(token.encode()), team, _policy(body), int(time.time()))
        await store.put_key(rec)
        await send_json(send, 201, {**_listed(rec), "key": token})
