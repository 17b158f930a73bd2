"""The one step every door passes before dispatch: model allow-list, budgets, rate limits.

``enter`` admits a turn (or raises the error its client gets) and returns a ``Ticket`` whose
headers go on the response; ``leave`` gives the concurrency slots back and charges the turn's
real usage and cost. A limiter backend that fails applies ``limits.on_redis_down``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from godex.config.schema import GodexConfig, KeyLimits
from godex.errors import GodexError, RateLimitError
from godex.gateway.context import RequestContext
from godex.limits.base import Bucket, Decision, Limiter, Spend, Usage, periods, reset_in, window_of
from godex.limits.memory import MemoryLimiter
from godex.limits.prices import PriceBook
from godex.logging import get_logger
from godex.server.auth import Principal
from godex.server.metrics import Metrics

log = get_logger("godex.limits")
_BUCKETS_MEMO = 4096


Header = tuple[bytes, bytes]


@dataclass(slots=True)
class Ticket:
    buckets: tuple[Bucket, ...] = ()
    principal: Principal | None = None
    headers: list[Header] = field(default_factory=list)  # x-ratelimit-*, ready for the wire
    left: bool = False


@dataclass(frozen=True, slots=True)
class Caps:
    """A caller's buckets, and which of them each x-ratelimit-* trio reports: the first that
    caps that kind, as (bucket index, its cap, the cap spelled for the header)."""

    buckets: tuple[Bucket, ...]
    requests: tuple[int, int, bytes] | None = None
    tokens: tuple[int, int, bytes] | None = None


def caps_of(buckets: tuple[Bucket, ...]) -> Caps:
    requests = tokens = None
    for i, b in enumerate(buckets):
        rpm, tpm = b.limits.rpm, b.limits.tpm
        if rpm and requests is None:
            requests = (i, rpm, str(rpm).encode())
        if tpm and tokens is None:
            tokens = (i, tpm, str(tpm).encode())
    return Caps(buckets, requests, tokens)


def duration(seconds: float) -> str:
    """OpenAI's reset spelling: 1.2s, 6m0s."""
    if seconds < 60:
        return f"{seconds:.3g}s" if seconds < 10 else f"{round(seconds)}s"
    return f"{int(seconds // 60)}m{int(seconds % 60)}s"


def budget_exceeded(name: str, what: str) -> GodexError:
    # 400: Codex does not retry it (it retries 401, 429 and 5xx), and waiting will not help.
    return GodexError(
        f"Key '{name}' is over its budget ({what}); ask an administrator to raise it.",
        code="limits.budget_exceeded",
        status=400,
        type="insufficient_quota",
        wire_code="budget_exceeded",
    )


def model_not_allowed(name: str, model: str) -> GodexError:
    return GodexError(
        f"Key '{name}' may not use model '{model}'.",
        code="auth.model_not_allowed",
        status=403,
        type="invalid_request_error",
        param="model",
        wire_code="model_not_allowed",
    )


def backend_down() -> GodexError:
    return GodexError(
        "Rate limits cannot be checked right now (limits backend unreachable).",
        code="limits.backend_down",
        status=503,
    )


class Admission:
    def __init__(self, config: GodexConfig, limiter: Limiter, metrics: Metrics) -> None:
        self.limiter = limiter
        self.metrics = metrics
        self.global_limits = config.limits.global_
        self.model_limits = config.limits.models
        self.fail_open = config.limits.on_redis_down == "open"
        self.prices = PriceBook(config.prices)
        self._caps: dict[tuple[str | None, KeyLimits, str | None], Caps] = {}

    def applies(self, who: Principal) -> bool:
        """Anything to check for this caller (anonymous with no limits: nothing)."""
        return who.name is not None or bool(self.model_limits) or self.global_limits.any

    def caps(self, who: Principal, model: str | None) -> Caps:
        # Remembered per caller and model (bounded): the same few pairs ask every turn.
        memo = (who.name, who.limits, model)
        found = self._caps.get(memo)
        if found is None:
            if len(self._caps) >= _BUCKETS_MEMO:
                self._caps.clear()
            found = self._caps[memo] = caps_of(self._make_buckets(who, model))
        return found

    def _make_buckets(self, who: Principal, model: str | None) -> tuple[Bucket, ...]:
        out: list[Bucket] = []
        if who.name is not None and who.limits.any:
            out.append(Bucket(f"key:{who.name}", who.limits))
        if model:
            for pattern, lim in self.model_limits.items():
                if fnmatchcase(model, pattern):
                    out.append(Bucket(f"model:{pattern}", lim))
                    break
        if self.global_limits.any:
            out.append(Bucket("global", self.global_limits))
        return tuple(out)

    async def enter(
        self, who: Principal, model: str | None, ctx: RequestContext, ticket: Ticket | None = None
    ) -> Ticket:
        """Admit a turn into ``ticket`` (a new one when not given), or raise its refusal."""
        if ticket is None:
            ticket = Ticket()
        ticket.principal = who
        if who.name is not None and model and not who.allows(model):
            raise model_not_allowed(who.name, model)
        if who.name is not None and who.budget.any:
            await self._check_budget(who)
        caps = self.caps(who, model)
        buckets = caps.buckets
        if not buckets:
            return ticket
        now = time.time()
        try:
            decision = await self.limiter.admit(buckets, window_of(now))
        except Exception as exc:  # the backend (Redis) is down: the configured policy applies
            self._down(exc)
            return ticket
        headers = _headers(caps, decision.usage, now)
        if not decision.admitted:  # the refusal carries the headers itself
            b = buckets[decision.bucket]
            self.metrics.limit_rejected(self.metrics.key_label(who.name or ""), decision.what)
            raise _rate_limited(b, decision, now, headers)
        ticket.headers, ticket.buckets = headers, buckets
        return ticket

    async def _check_budget(self, who: Principal) -> None:
        day, month = periods(time.time())
        try:
            micro_usd, tokens = await self.limiter.spent(who.name or "", day, month)
        except Exception as exc:
            self._down(exc)
            return
        budget = who.budget
        name = who.name or ""
        if budget.usd_per_day is not None and micro_usd >= budget.usd_per_day * 1_000_000:
            raise budget_exceeded(name, f"${budget.usd_per_day:g} per day")
        if budget.tokens_per_month is not None and tokens >= budget.tokens_per_month:
            raise budget_exceeded(name, f"{budget.tokens_per_month} tokens per month")

    def _down(self, exc: Exception) -> None:
        self.metrics.limits_backend_down()
        log.warning("limits_backend_down", error=type(exc).__name__, fail_open=self.fail_open)
        if not self.fail_open:
            raise backend_down() from exc

    async def leave(self, ticket: Ticket, ctx: RequestContext) -> None:
        """Release and charge once; the turn's usage is final by now."""
        if ticket.left:
            return
        ticket.left = True
        usage = ctx.usage or {}
        tokens = int(usage.get("total_tokens") or 0) or (
            int(usage.get("input_tokens") or 0) + int(usage.get("output_tokens") or 0)
        )
        cost = self.prices.cost(ctx.provider or "", ctx.upstream_model or "", usage)
        ctx.cost_usd = cost
        who = ticket.principal
        spend = None
        now = time.time()
        if who is not None and who.name is not None and (tokens or cost):
            day, month = periods(now)
            spend = Spend(who.name, day, month, round(cost * 1_000_000), tokens)
        if not ticket.buckets and spend is None:
            return
        try:
            totals = await self.limiter.settle(ticket.buckets, window_of(now), tokens, spend)
        except Exception as exc:
            self.metrics.limits_backend_down()
            log.warning("limits_charge_failed", error=type(exc).__name__)
            return
        if totals is not None and who is not None:
            self._note_spend(who, totals[0])

    def _note_spend(self, who: Principal, micro_usd: int) -> None:
        remaining = None
        if who.budget.usd_per_day is not None:
            remaining = max(who.budget.usd_per_day - micro_usd / 1_000_000, 0.0)
        self.metrics.key_spend(who.name or "", micro_usd / 1_000_000, remaining)


_reset: tuple[int, bytes] = (-1, b"")


def _reset_bytes(now: float) -> bytes:
    """``duration(reset_in(now))``, the same for a tenth of a second (it prints 3 digits)."""
    global _reset
    tick = int(now * 10)
    if tick != _reset[0]:
        _reset = (tick, duration(reset_in(tick / 10)).encode())
    return _reset[1]


# Per kind, in the order of ``Usage``'s fields (requests, tokens): limit, remaining, reset.
_NAMES = (
    (b"x-ratelimit-limit-requests", b"x-ratelimit-remaining-requests",
     b"x-ratelimit-reset-requests"),
    (b"x-ratelimit-limit-tokens", b"x-ratelimit-remaining-tokens", b"x-ratelimit-reset-tokens"),
)  # fmt: skip


def _headers(caps: Caps, usage: tuple[Usage, ...], now: float) -> list[Header]:
    """OpenAI's x-ratelimit-* headers, from the first bucket that caps each kind."""
    out: list[Header] = []
    reset = _reset_bytes(now)
    for kind, capped in enumerate((caps.requests, caps.tokens)):
        if capped is not None and capped[0] < len(usage):
            i, cap, spelled = capped
            limit, remaining, resets = _NAMES[kind]
            left = b"%d" % max(cap - usage[i][kind], 0)
            out += ((limit, spelled), (remaining, left), (resets, reset))
    return out


def _rate_limited(b: Bucket, d: Decision, now: float, raw: list[Header]) -> RateLimitError:
    headers = {k.decode(): v.decode() for k, v in raw}
    lim: KeyLimits = b.limits
    # A concurrency slot frees when a turn ends; a second is a fair guess for the client.
    wait = 1.0 if d.what == "concurrent" else reset_in(now)
    cap = {"requests": lim.rpm, "tokens": lim.tpm, "concurrent": lim.concurrent}[d.what]
    unit = {"requests": "requests per minute", "tokens": "tokens per minute",
            "concurrent": "concurrent requests"}[d.what]  # fmt: skip
    return RateLimitError(
        f"Rate limit reached for {b.name} on {unit}: limit {cap}. Please try again in {wait:.1f}s.",
        code="limits.rate_limited",
        type="tokens" if d.what == "tokens" else "requests",
        wire_code="rate_limit_exceeded",
        headers={
            **headers,
            "retry-after": str(max(1, round(wait))),
            "retry-after-ms": str(int(wait * 1000)),
        },
    )


def make_limiter(config: GodexConfig) -> Limiter:
    if config.limits.backend == "redis":
        from godex.limits.redis import RedisLimiter  # only when configured

        return RedisLimiter(config.limits.redis_url, config.limits.redis_prefix)
    return MemoryLimiter()
