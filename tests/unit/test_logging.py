"""Secrets never reach the logs, whichever way they are passed."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from godex.config.schema import LogConsoleConfig, LogFileConfig, LoggingConfig
from godex.logging import configure_logging, get_logger

SECRET = "sk-live-0123456789abcdef"


def test_secrets_are_masked_everywhere(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(
        LoggingConfig(
            level="debug",
            console=LogConsoleConfig(enabled=True, pretty=False),
            file=LogFileConfig(enabled=True, dir=str(tmp_path), filename="g.log"),
        )
    )
    log = get_logger("test.redaction")
    log.info("call", api_key=SECRET, headers={"Authorization": f"Bearer {SECRET}"})
    log.info("text", detail=f"upstream said: invalid key {SECRET}")
    try:
        raise RuntimeError(f"boom with {SECRET}")
    except RuntimeError:
        log.exception("failed")
    logging.getLogger("uvicorn.error").error("library line Bearer %s", SECRET)
    for h in logging.getLogger().handlers:
        h.flush()
    out = capsys.readouterr().err + (tmp_path / "g.log").read_text()
    assert "call" in out and "failed" in out and "library line" in out
    assert SECRET not in out
    assert "***" in out


def test_file_rotates(tmp_path: Path) -> None:
    configure_logging(
        LoggingConfig(
            level="info",
            console=LogConsoleConfig(enabled=False),
            file=LogFileConfig(
                enabled=True, dir=str(tmp_path), filename="r.log", max_size=2000, max_files=3
            ),
        )
    )
    log = get_logger("test.rotate")
    for i in range(200):
        log.info("line", n=i, pad="x" * 50)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert "r.log" in files and "r.log.1" in files
    assert len(files) <= 3
