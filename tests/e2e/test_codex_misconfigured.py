"""A provider whose key variable is unset: Codex shows the variable on its first attempt."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import ALIASES, CodexSession
from tests.e2e.gateway_log import GatewayLog
from tests.e2e.scripted_upstream import ScriptedUpstream
from tests.support.gateway import RunningGateway, make_config, provider, run_gateway


@pytest.fixture(scope="module")
def gateway(
    upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    missing = provider(
        "generic",
        "openai_compatible",
        upstream.base_url + "/v1",
        api_key=None,
        api_key_env="E2E_UNSET_PROVIDER_KEY",
        unavailable_reason="E2E_UNSET_PROVIDER_KEY is not set",
    )
    cfg = make_config(tmp_path_factory.mktemp("gw"), [missing], aliases=ALIASES)
    with run_gateway(cfg) as gw:
        yield gw


def test_a_missing_provider_key_is_shown_on_the_first_attempt(
    codex: CodexSession, upstream: ScriptedUpstream, gateway_log: GatewayLog
) -> None:
    run = codex.custom("Say something.", retries=4)
    posts = gateway_log.posts()
    assert len(posts) == 1, run.explain()
    assert posts[0].status == 400
    assert "E2E_UNSET_PROVIDER_KEY" in run.stdout + run.stderr, run.explain()
    assert run.seconds < 20
