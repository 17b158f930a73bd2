"""Glob aliases: exact names first, then the first matching glob in config order, then "*"."""

from __future__ import annotations

from pathlib import Path

from godex.gateway.wiring import build_services
from tests.support.gateway import make_config, provider


def test_globs_resolve_after_exact_aliases_and_before_the_catch_all(tmp_path: Path) -> None:
    cfg = make_config(
        tmp_path,
        [
            provider("ds", "deepseek", "http://127.0.0.1:9"),
            provider("mm", "minimax", "http://127.0.0.1:9"),
        ],
        aliases={
            "claude-sonnet-4-5": "mm/MiniMax-M3",
            "claude-haiku-*": "ds/deepseek-v4-flash",
            "claude-*": "ds/deepseek-v4-pro",
            "*": "mm/MiniMax-M2",
        },
    )
    router = build_services(cfg).router
    resolved = {
        m: (r.provider.name, r.upstream_model)
        for m in ("claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-5-5", "gpt-5.5")
        for r in [router.resolve(m)]
    }
    assert resolved == {
        "claude-sonnet-4-5": ("mm", "MiniMax-M3"),
        "claude-haiku-4-5": ("ds", "deepseek-v4-flash"),
        "claude-opus-5-5": ("ds", "deepseek-v4-pro"),
        "gpt-5.5": ("mm", "MiniMax-M2"),
    }
    assert not any("*" in i for i in router.model_ids())
