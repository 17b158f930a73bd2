from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from godex.config.schema import AuthConfig, GodexConfig, TraceConfig, UiConfig
from tests.fakes.replay_upstream import FakeUpstream
from tests.support.gateway import make_config, provider

ADMIN = "sk-admin-key-0123456789"
CLIENT = "sk-client-key-9876543210"


@pytest.fixture()
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as up:
        yield up


def ui_config(tmp: Path, base_url: str, *, enabled: bool = True, **trace: object) -> GodexConfig:
    cfg = make_config(
        tmp,
        [provider("ds", "deepseek", base_url), provider("glm", "glm", base_url)],
        aliases={"gpt-5.5": "ds/deepseek-v4-pro", "glm": "glm/glm-5"},
        trace=TraceConfig(enabled=True, path=str(tmp / "trace.db"), flush_interval_ms=20, **trace),  # type: ignore[arg-type]
        server={"api_keys": (CLIENT,)},
    )
    return dataclasses.replace(
        cfg, ui=UiConfig(enabled=enabled), auth=AuthConfig(admin_keys=(ADMIN,))
    )
