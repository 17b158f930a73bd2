"""auth.keys parsing, the authenticator, prices and the x-ratelimit header spelling."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from godex.config.loader import ConfigProblems, load_config, redacted_dict
from godex.config.schema import KeyBudget, KeyLimits, Price
from godex.errors import AuthError
from godex.limits.prices import PriceBook
from godex.server.admission import duration
from godex.server.auth import Authenticator
from godex.sessions.memory import MemoryStore
from godex.sessions.store import KeyRecord

PROVIDER = "providers: {ds: {spec: deepseek, credentials: {api_key: sk-up}}}\n"
KEYS = """
auth:
  admin_keys: ["${ADMIN}"]
  keys:
    - name: alice
      key: "${ALICE_KEY}"
      team: platform
      models: ["gpt-5.5", "deepseek/*"]
      limits: {rpm: 60, tpm: 400000, concurrent: 4}
      budget: {usd_per_day: 20, tokens_per_month: 50000000}
    - name: svc
      key_sha256: "SVC_DIGEST"
""".replace("SVC_DIGEST", hashlib.sha256(b"svc-key").hexdigest())
ENV = {"ADMIN": "adm-secret", "ALICE_KEY": "alice-secret"}


def _write(tmp: Path, text: str) -> str:
    path = tmp / "godex.yaml"
    path.write_text(text + PROVIDER)
    return str(path)


def test_named_keys_are_read_with_their_policies(tmp_path: Path) -> None:
    cfg, _ = load_config(_write(tmp_path, KEYS), env=ENV)
    alice, svc = cfg.auth.keys
    assert alice.name == "alice" and alice.team == "platform"
    assert alice.key_sha256 == hashlib.sha256(b"alice-secret").hexdigest()
    assert alice.models == ("gpt-5.5", "deepseek/*")
    assert alice.limits == KeyLimits(rpm=60, tpm=400000, concurrent=4)
    assert alice.budget == KeyBudget(usd_per_day=20.0, tokens_per_month=50000000)
    assert svc.key_sha256 == hashlib.sha256(b"svc-key").hexdigest()
    printed = yaml.safe_dump(redacted_dict(cfg))
    assert (
        "alice-secret" not in printed
        and "adm-secret" not in printed
        and hashlib.sha256(b"svc-key").hexdigest() not in printed
    )


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("{name: a}", "exactly one of 'key' or 'key_sha256'"),
        ("{name: a, key: x, key_sha256: 00}", "exactly one of"),
        ("{name: a, key_sha256: nothex}", "64 hex digits"),
        ("{name: 'bad name', key: x}", "name: expected"),
        ("{name: a, key: x, limits: {rpm: 0}}", "limits.rpm"),
        ("{name: a, key: x, limits: {rps: 3}}", "rps: unknown key"),
        ("{name: a, key: x, colour: red}", "colour: unknown key"),
    ],
)
def test_a_bad_key_entry_is_a_problem_naming_it(tmp_path: Path, entry: str, problem: str) -> None:
    with pytest.raises(ConfigProblems) as info:
        load_config(_write(tmp_path, f"auth: {{keys: [{entry}]}}\n"), env={}, strict=True)
    assert any(problem in p for p in info.value.problems), info.value.problems


def test_duplicate_key_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigProblems) as info:
        load_config(
            _write(tmp_path, "auth: {keys: [{name: a, key: x}, {name: a, key: y}]}\n"),
            env={},
            strict=True,
        )
    assert any("duplicate key name 'a'" in p for p in info.value.problems)


def _auth(tmp_path: Path, store: MemoryStore | None = None) -> Authenticator:
    cfg, _ = load_config(_write(tmp_path, KEYS), env=ENV)
    return Authenticator(cfg, store)


def test_tokens_resolve_to_principals_with_scopes(tmp_path: Path) -> None:
    auth = _auth(tmp_path)
    alice = asyncio.run(auth.resolve(b"alice-secret"))
    assert (alice.name, alice.owner, alice.admin) == ("alice", "team:platform", False)
    assert alice.allows("deepseek/deepseek-v4-pro") and not alice.allows("glm-5")
    svc = asyncio.run(auth.resolve(b"svc-key"))
    assert svc.owner == "key:svc" and svc.allows("anything")
    admin = asyncio.run(auth.resolve(b"adm-secret"))
    assert admin.admin and admin.owner is None


def test_a_revoked_runtime_key_fails_at_once(tmp_path: Path) -> None:
    store = MemoryStore()
    auth = _auth(tmp_path, store)
    digest = hashlib.sha256(b"rt-key").hexdigest()
    asyncio.run(store.put_key(KeyRecord("rt", digest, "ops", {"limits": {"rpm": 3}}, 1)))
    assert asyncio.run(auth.resolve(b"rt-key")).limits == KeyLimits(rpm=3)
    asyncio.run(store.revoke_key("rt", 2))
    with pytest.raises(AuthError):
        asyncio.run(auth.resolve(b"rt-key"))


@given(st.binary(max_size=200))
def test_no_other_token_authenticates(token: bytes) -> None:
    auth = Authenticator.__new__(Authenticator)
    auth.store, auth.enabled = None, True
    auth.static = [(hashlib.sha256(b"the-key").hexdigest().encode(), None)]  # type: ignore[list-item]
    if token == b"the-key":
        return
    with pytest.raises(AuthError):
        asyncio.run(auth.resolve(token))


def test_cost_uses_cached_and_fresh_input_and_output_prices() -> None:
    book = PriceBook({"ds/*": Price(input=2.0, cached_input=0.5, output=8.0)})
    usage = {"input_tokens": 1000, "input_tokens_details": {"cached_tokens": 400},
             "output_tokens": 100}  # fmt: skip
    assert book.cost("ds", "deepseek-v4-pro", usage) == pytest.approx(
        (600 * 2.0 + 400 * 0.5 + 100 * 8.0) / 1e6
    )
    assert book.cost("unpriced", "m", usage) == 0.0
    assert book.price("deepseek", "deepseek-v4-flash") is not None  # a built-in default


@pytest.mark.parametrize(("seconds", "text"), [(1.2, "1.2s"), (0.05, "0.05s"), (42.4, "42s"),
                                               (360, "6m0s")])  # fmt: skip
def test_reset_durations_are_spelled_as_openai_does(seconds: float, text: str) -> None:
    assert duration(seconds) == text


@given(st.floats(min_value=1e9, max_value=4e9))
def test_remembered_periods_and_reset_text_match_a_fresh_computation(now: float) -> None:
    import time as _time

    from godex.limits.base import periods, reset_in
    from godex.server.admission import _reset_bytes

    t = _time.gmtime(now)
    assert periods(now) == (_time.strftime("%Y-%m-%d", t), _time.strftime("%Y-%m", t))
    assert periods(now + 60) == periods(now + 60)  # a new minute is computed, not reused
    # within what the spelling rounds away anyway (whole seconds from 10 s up), plus 0.1 s
    assert abs(_parse(_reset_bytes(now).decode()) - reset_in(now)) <= 0.6 + 0.01 * reset_in(now)


def _parse(text: str) -> float:
    if "m" in text:
        m, s = text.rstrip("s").split("m")
        return int(m) * 60 + int(s)
    return float(text.rstrip("s"))


def test_buckets_are_remembered_per_caller_model_and_limits() -> None:
    from godex.config.schema import GodexConfig
    from godex.limits.memory import MemoryLimiter
    from godex.server.admission import Admission
    from godex.server.auth import Principal
    from godex.server.metrics import Metrics

    adm = Admission(GodexConfig(), MemoryLimiter(), Metrics())
    a = Principal("a", limits=KeyLimits(rpm=5))
    first = adm.caps(a, "m").buckets
    assert adm.caps(a, "m").buckets is first
    changed = adm.caps(Principal("a", limits=KeyLimits(rpm=9)), "m").buckets
    assert changed[0].limits.rpm == 9 and first[0].limits.rpm == 5
