"""Fixtures for the real-Codex e2e suite: scripted upstream, GodeX in-process, Codex sessions.

The suite fails (never skips) when the pinned Codex binary is missing: scripts/test.sh installs it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.catalog import CATALOG
from tests.e2e.codex import CodexRun, codex_binary, run_codex
from tests.e2e.gateway_log import GatewayLog, attach
from tests.e2e.scripted_upstream import ScriptedUpstream
from tests.support.gateway import RunningGateway, make_config, provider, run_gateway

# Codex slug (custom provider, see model_catalog.json) or built-in slug -> GodeX target.
ALIASES = {
    "godex-e2e": "generic/e2e-model",
    "godex-e2e-deepseek": "ds/deepseek-v4-pro",
    "godex-e2e-glm": "glm/glm-5.1",
    "gpt-5.5": "generic/e2e-model",  # what Codex's built-in provider asks for
    "claude-*": "ds/deepseek-v4-pro",  # every model Claude Code asks for (a glob alias)
}
CLIENT_KEY = "sk-e2e-client"


@pytest.fixture(scope="session")
def codex_bin() -> Path:
    return codex_binary()


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as up:
        yield up


@pytest.fixture(scope="module")
def gateway(
    upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    cfg = make_config(
        tmp_path_factory.mktemp("gw"),
        [
            provider("generic", "openai_compatible", upstream.base_url + "/v1"),
            provider("ds", "deepseek", upstream.base_url + "/v1"),
            provider("glm", "zhipu", upstream.base_url + "/v1"),
        ],
        aliases=ALIASES,
    )
    with run_gateway(cfg) as gw:
        yield gw


@pytest.fixture(scope="module")
def gateway_log(gateway: RunningGateway) -> GatewayLog:
    return attach(gateway)


@dataclass
class CodexSession:
    """One throwaway Codex: its own CODEX_HOME and a fresh git work tree."""

    home: Path
    work: Path
    gateway: RunningGateway

    def custom(
        self, prompt: str, *extra: str, model: str = "godex-e2e", retries: int = 0
    ) -> CodexRun:
        """``codex exec`` through a custom ``model_providers.godex`` block (issue 6 set-up)."""
        block = (
            f'{{name="GodeX", base_url="{self.gateway.v1}", env_key="GODEX_KEY", '
            f'wire_api="responses", request_max_retries={retries}, '
            f"stream_max_retries={retries}}}"
        )
        args = [
            "-c",
            "model_provider=godex",
            "-c",
            f"model_providers.godex={block}",
            "-c",
            f'model_catalog_json="{CATALOG}"',
            *extra,
            "-m",
            model,
            prompt,
        ]
        return run_codex(args, home=self.home, workdir=self.work, env={"GODEX_KEY": CLIENT_KEY})

    def builtin(self, prompt: str, *extra: str, model: str = "gpt-5.5") -> CodexRun:
        """``codex exec`` with the built-in ``openai`` provider pointed at GodeX (issue 10)."""
        args = ["-c", f'openai_base_url="{self.gateway.v1}"', *extra, "-m", model, prompt]
        return run_codex(args, home=self.home, workdir=self.work, env={"CODEX_API_KEY": CLIENT_KEY})


def _git(work: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=work, check=True, capture_output=True, timeout=30)


@pytest.fixture
def codex(
    codex_bin: Path,
    gateway: RunningGateway,
    gateway_log: GatewayLog,
    upstream: ScriptedUpstream,
    tmp_path: Path,
) -> CodexSession:
    gateway_log.clear()
    upstream.script()  # no steps until the test scripts some
    home, work = tmp_path / "codex-home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    _git(work, "init", "-q")
    (work / "README.md").write_text("e2e work tree\n")
    _git(work, "add", "README.md")
    _git(
        work, "-c", "user.name=e2e", "-c", "user.email=e2e@example.invalid", "commit", "-qm", "init"
    )
    return CodexSession(home, work, gateway)
