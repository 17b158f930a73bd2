"""The built-in default (no godex.yaml at all) answers Codex's and Claude Code's model names."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from godex.config.loader import load
from tests.fakes.replay_upstream import FakeUpstream, Reply, completion_body
from tests.support.gateway import run_gateway


@pytest.mark.parametrize(
    ("client_model", "upstream_model"),
    [
        ("gpt-5.5", "deepseek-v4-pro"),
        ("gpt-5.4-mini", "deepseek-v4-flash"),
        ("gpt-6.1-sol", "deepseek-v4-pro"),
        ("claude-haiku-4-5-20251001", "deepseek-v4-flash"),
    ],
)
def test_builtin_default_serves_client_model_names_on_deepseek_models(
    tmp_path: Path, client_model: str, upstream_model: str
) -> None:
    env = {"DEEPSEEK_API_KEY": "sk-test-default-1"}
    config = load(None, env=env, cwd=tmp_path, home=tmp_path).config
    assert config.source is None  # really the built-in default
    with FakeUpstream() as up:
        up.default = lambda body: Reply.json(completion_body("hello"))
        deepseek = dataclasses.replace(config.providers["deepseek"], base_url=up.base_url)
        data_dir = str(tmp_path / "data")
        config = dataclasses.replace(
            config,
            providers={"deepseek": deepseek},
            server=dataclasses.replace(config.server, data_dir=data_dir),
            session=dataclasses.replace(config.session, sqlite_path=str(tmp_path / "s.db")),
            trace=dataclasses.replace(config.trace, path=str(tmp_path / "t.db")),
        )
        with run_gateway(config) as gw:
            body: dict[str, Any] = {"model": client_model, "input": "hi", "stream": False}
            r = httpx.post(f"{gw.v1}/responses", json=body, timeout=10)
        assert r.status_code == 200, r.text
        assert r.json()["output"][-1]["content"][0]["text"] == "hello"
        assert up.last["model"] == upstream_model
