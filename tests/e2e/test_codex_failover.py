"""A real ``codex exec`` whose first provider is dead: the second serves, Codex never retries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.e2e.codex import codex_binary
from tests.e2e.conftest import ALIASES, CodexSession, _git
from tests.e2e.gateway_log import GatewayLog, attach
from tests.e2e.scripted_upstream import ScriptedUpstream, text_reply, tool_call_reply
from tests.support.gateway import RunningGateway, make_config, provider, run_gateway


@pytest.fixture(scope="module")
def chain_gateway(
    upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    cfg = make_config(
        tmp_path_factory.mktemp("gw-chain"),
        [
            # Nothing listens on port 9: every call to "dead" is refused.
            provider("dead", "openai_compatible", "http://127.0.0.1:9/v1"),
            provider("generic", "openai_compatible", upstream.base_url + "/v1"),
        ],
        aliases={**ALIASES, "godex-e2e": ("dead/e2e-model", "generic/e2e-model")},
    )
    with run_gateway(cfg) as gw:
        yield gw


def test_codex_finishes_through_the_second_provider(
    chain_gateway: RunningGateway, upstream: ScriptedUpstream, tmp_path: Path
) -> None:
    codex_binary()
    log: GatewayLog = attach(chain_gateway)
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    _git(work, "init", "-q")
    upstream.script(
        tool_call_reply("call_fo_1", "exec_command", {"cmd": "printf saved > failover.txt"}),
        text_reply("Created failover.txt."),
    )
    run = CodexSession(home, work, chain_gateway).custom("Create failover.txt.", retries=0)
    assert run.returncode == 0, run.explain()
    assert (work / "failover.txt").read_text() == "saved"
    # Each turn reached GodeX once (no retry visible to Codex) and was served by "generic".
    posts = log.posts()
    assert len(posts) == 2
    assert len(upstream.chat_bodies) == 2
    metrics = httpx.get(chain_gateway.base_url + "/metrics", timeout=5).text
    assert 'godex_upstream_attempts_total{outcome="failed_over",provider="dead"} 2.0' in metrics
    assert 'godex_upstream_attempts_total{outcome="served",provider="generic"} 2.0' in metrics
