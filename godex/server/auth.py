"""Who is calling: a bearer token (or ``x-api-key``) resolved to a ``Principal``.

Static keys come from config (``auth.keys``, ``auth.admin_keys``, the older ``server.api_keys``);
runtime keys from the session store (made through ``/admin/keys``). Keys are compared as sha256
digests in constant time; a runtime key is looked up on every request, so a revoked key fails on
the next request (no cache). Only key NAMES reach logs, traces and metrics.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from godex.config.schema import ClientKeyConfig, GodexConfig, KeyBudget, KeyLimits
from godex.errors import AuthError
from godex.gateway.context import OWNER, RequestContext
from godex.server.http import Scope, header
from godex.sessions.store import KeyRecord, SessionStore


@dataclass(frozen=True, slots=True)
class Principal:
    name: str | None  # None: client keys are off, everyone is anonymous
    team: str | None = None
    admin: bool = False
    models: tuple[str, ...] = ()  # globs over requested names; empty: any model
    limits: KeyLimits = field(default_factory=KeyLimits)
    budget: KeyBudget = field(default_factory=KeyBudget)
    # The scope of what this key stores and sees; None (admins, keys off): everything. Worked
    # out once: every request of the key asks.
    owner: str | None = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        owner = None
        if not self.admin and self.name is not None:
            owner = f"team:{self.team}" if self.team else f"key:{self.name}"
        object.__setattr__(self, "owner", owner)

    def allows(self, model: str) -> bool:
        return not self.models or any(fnmatchcase(model, g) for g in self.models)


ANONYMOUS = Principal(None)


def digest(token: bytes) -> str:
    return hashlib.sha256(token).hexdigest()


def _raw(token: bytes) -> bytes:
    return hashlib.sha256(token).digest()


def legacy_name(key: str) -> str:
    """The name a ``server.api_keys`` entry goes by: a short hash, never the key."""
    return "key_" + digest(key.encode())[:12]


def token_of(scope: Scope) -> bytes | None:
    auth = header(scope, b"authorization")
    if auth is not None and auth[:7].lower() == b"bearer ":
        return auth[7:].strip()
    return header(scope, b"x-api-key")


def invalid_key() -> AuthError:
    return AuthError(
        "Invalid or missing API key: send 'Authorization: Bearer <key>' or 'x-api-key'",
        code="auth.invalid_key",
        wire_code="invalid_api_key",
    )


def from_record(rec: KeyRecord) -> Principal:
    policy = rec.policy
    limits = policy.get("limits") or {}
    budget = policy.get("budget") or {}
    return Principal(
        rec.name,
        rec.team,
        models=tuple(policy.get("models") or ()),
        limits=KeyLimits(limits.get("rpm"), limits.get("tpm"), limits.get("concurrent")),
        budget=KeyBudget(budget.get("usd_per_day"), budget.get("tokens_per_month")),
    )


class Authenticator:
    def __init__(self, config: GodexConfig, store: SessionStore | None) -> None:
        self.store = store
        # Raw 32-byte digests: a request's token is hashed once and compared as bytes.
        static: list[tuple[bytes, Principal]] = []
        for k in config.auth.admin_keys:
            static.append((_raw(k.encode()), Principal("admin", admin=True)))
        for c in config.auth.keys:
            static.append((bytes.fromhex(c.key_sha256), _principal(c)))
        for k in config.server.api_keys:
            if k:
                static.append((_raw(k.encode()), Principal(legacy_name(k))))
        self.static = static
        self.enabled = bool(static)
        self.names = [p.name for _, p in static if p.name and not p.admin]

    async def resolve(self, token: bytes | None) -> Principal:
        """The caller; ``AuthError`` for a missing, unknown or revoked key."""
        if not self.enabled:
            return ANONYMOUS
        if token is None:
            raise invalid_key()
        wanted = _raw(token)
        found: Principal | None = None
        for known, principal in self.static:  # every entry compared: no early exit to time
            if hmac.compare_digest(known, wanted):
                found = principal
        if found is None and self.store is not None:
            # A lookup by digest: timing can only tell about the digest, not the key.
            rec = await self.store.get_key(wanted.hex())
            if rec is not None and rec.revoked_at is None:
                found = from_record(rec)
        if found is None:
            raise invalid_key()
        return found

    async def resolve_scope(self, scope: Scope) -> Principal:
        return await self.resolve(token_of(scope))


def _principal(c: ClientKeyConfig) -> Principal:
    return Principal(c.name, c.team, models=c.models, limits=c.limits, budget=c.budget)


def bind(who: Principal, ctx: RequestContext) -> None:
    """The caller onto the request: its name for traces, its scope for stored records."""
    ctx.client_key_id = ctx.key_name = who.name
    ctx.team = who.team
    ctx.owner = who.owner
    OWNER.set(who.owner)
