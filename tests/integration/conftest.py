from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx2 as httpx
import openai
import pytest

from godex.config.schema import SessionConfig
from tests.fakes.replay_upstream import FakeUpstream
from tests.support.gateway import RunningGateway, make_config, provider, run_gateway


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as up:
        yield up


@pytest.fixture(autouse=True)
def _fresh_upstream(request: pytest.FixtureRequest) -> None:
    if "upstream" in request.fixturenames:
        request.getfixturevalue("upstream").reset()


@pytest.fixture(scope="module")
def gateway(
    upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    tmp = tmp_path_factory.mktemp("gw")
    cfg = make_config(
        tmp,
        [
            provider("ds", "deepseek", upstream.base_url),
            provider("generic", "openai_compatible", upstream.base_url),
        ],
        aliases={"gpt-5.5": "ds/deepseek-v4-pro", "plain": "generic/some-model"},
    )
    with run_gateway(cfg) as gw:
        yield gw


@pytest.fixture
def client(gateway: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.v1, api_key="sk-client", max_retries=0, timeout=20)


@pytest.fixture
def http(gateway: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.base_url, timeout=20) as c:
        yield c


@contextmanager
def stored_gateway(
    backend: str, upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    """A gateway that stores responses on ``backend`` (sqlite or memory), aliasing gpt-5.5."""
    tmp = tmp_path_factory.mktemp(backend)
    cfg = make_config(
        tmp,
        [provider("ds", "deepseek", upstream.base_url)],
        aliases={"gpt-5.5": "ds/deepseek-v4-pro"},
        session=SessionConfig(backend=backend, sqlite_path=str(tmp / "s.db")),
    )
    with run_gateway(cfg) as gw:
        yield gw
