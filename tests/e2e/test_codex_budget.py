"""A key past its budget stops a real ``codex exec`` after one attempt, with the message shown."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator

import pytest

from godex.config.schema import AuthConfig, ClientKeyConfig, KeyBudget
from tests.e2e.conftest import ALIASES, CLIENT_KEY, CodexSession
from tests.e2e.gateway_log import GatewayLog
from tests.e2e.scripted_upstream import ScriptedUpstream, text_reply
from tests.support.gateway import RunningGateway, make_config, provider, run_gateway


@pytest.fixture(scope="module")
def gateway(
    upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    cfg = make_config(
        tmp_path_factory.mktemp("gw"),
        [provider("generic", "openai_compatible", upstream.base_url + "/v1")],
        aliases=ALIASES,
    )
    # 60 tokens per turn (text_reply's usage): the first turn uses the whole month.
    key = ClientKeyConfig(
        "codex-user",
        hashlib.sha256(CLIENT_KEY.encode()).hexdigest(),
        budget=KeyBudget(tokens_per_month=60),
    )
    with run_gateway(dataclasses.replace(cfg, auth=AuthConfig(keys=(key,)))) as gw:
        yield gw


def test_codex_stops_after_one_attempt_with_the_budget_message(
    codex: CodexSession, upstream: ScriptedUpstream, gateway_log: GatewayLog
) -> None:
    upstream.script(text_reply("Within budget."))
    first = codex.custom("Say something.", retries=4)
    assert first.returncode == 0, first.explain()
    gateway_log.clear()

    second = codex.custom("Say more.", retries=4)

    posts = gateway_log.posts()
    assert len(posts) == 1, second.explain()  # 400: Codex does not retry (it does 429 and 5xx)
    assert posts[0].status == 400
    assert second.returncode != 0
    assert "over its budget" in second.stdout + second.stderr, second.explain()
