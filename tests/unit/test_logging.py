"""Secrets never reach the logs, whichever way they are passed; sinks, levels and rotation."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from godex.config.schema import LogConsoleConfig, LogFileConfig, LoggingConfig
from godex.logging import access_log, configure_logging, get_logger, mask_text

SECRET = "sk-live-0123456789abcdef"
OPAQUE = "Zx9opaqueTOKENvalue42"  # no recognisable prefix: only its field name gives it away


@pytest.fixture(autouse=True)
def _restore_root() -> Iterator[None]:
    # configure_logging replaces the root handlers; leave the next test a clean slate.
    yield
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()


def _flush() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()


def _json_console(level: str = "debug", **file: object) -> LoggingConfig:
    return LoggingConfig(
        level=level,
        console=LogConsoleConfig(enabled=True, pretty=False),
        file=LogFileConfig(**file),  # type: ignore[arg-type]
    )


def test_secrets_are_masked_in_console_and_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(_json_console(enabled=True, dir=str(tmp_path), filename="g.log"))
    log = get_logger("test.redaction.sinks")
    log.info(
        "call",
        api_key=OPAQUE,
        headers={"Authorization": f"Bearer {SECRET}", "x-api-key": OPAQUE, "X-Org": "acme"},
        pairs=[("authorization", f"Bearer {OPAQUE}")],
        password=OPAQUE,
        input_tokens=12,
    )
    log.info(
        "text", detail=f"upstream said: invalid key {SECRET}", raw=b"api_key=" + OPAQUE.encode()
    )
    log.warning("kv", line=f'{{"token": "{OPAQUE}"}} and secret={OPAQUE}')
    try:
        raise RuntimeError(f"boom with {SECRET} and Authorization: Bearer {OPAQUE}")
    except RuntimeError as exc:
        log.exception("failed")
        log.error("as_field", error=exc)
    logging.getLogger("uvicorn.error").error("library line Bearer %s %s", OPAQUE, SECRET)
    _flush()
    console = capsys.readouterr().err
    file = (tmp_path / "g.log").read_text()
    for out in (console, file):
        for name in ("call", "text", "kv", "failed", "as_field", "library line"):
            assert name in out
        assert SECRET not in out and OPAQUE not in out
        assert "***" in out
        assert "RuntimeError" in out  # the trace is still there, only masked
    events = [json.loads(line) for line in console.splitlines()]
    call = next(e for e in events if e["event"] == "call")
    assert call["input_tokens"] == 12 and call["headers"]["X-Org"] == "acme"
    assert call["api_key"] == "***" and call["headers"]["Authorization"] == "***"


def test_redacted_before_configure_logging() -> None:
    # A fresh interpreter: nothing configured yet, only the import-time default.
    code = (
        "from godex.logging import get_logger\n"
        f"get_logger('early').info('early', api_key='{OPAQUE}', note='Bearer {SECRET}')\n"
        "get_logger('early').debug('hidden_at_info')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "early" in out.stderr and "hidden_at_info" not in out.stderr
    assert OPAQUE not in out.stderr and SECRET not in out.stderr and "***" in out.stderr


def test_access_log_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(_json_console(level="info"))
    access_log("req_1", "POST", "/v1/responses", 200, 12.3456, "gpt-5.5")
    _flush()
    (line,) = capsys.readouterr().err.splitlines()
    event = json.loads(line)
    assert {k: event[k] for k in ("event", "request_id", "method", "path", "status")} == {
        "event": "request",
        "request_id": "req_1",
        "method": "POST",
        "path": "/v1/responses",
        "status": 200,
    }
    assert (event["duration_ms"], event["model"], event["level"]) == (12.35, "gpt-5.5", "info")


def test_levels_per_sink(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(
        LoggingConfig(
            level="warning",
            console=LogConsoleConfig(enabled=True, pretty=False),
            file=LogFileConfig(enabled=True, level="debug", dir=str(tmp_path), filename="d.log"),
        )
    )
    log = get_logger("test.levels")
    log.debug("debug_line")
    log.warning("warning_line")
    _flush()
    console = capsys.readouterr().err
    file = (tmp_path / "d.log").read_text()
    assert "warning_line" in console and "debug_line" not in console
    assert "warning_line" in file and "debug_line" in file


def test_file_rotates_and_keeps_max_files(tmp_path: Path) -> None:
    configure_logging(
        LoggingConfig(
            level="info",
            console=LogConsoleConfig(enabled=False),
            file=LogFileConfig(
                enabled=True,
                dir=str(tmp_path / "logs"),
                filename="r.log",
                max_size=2000,
                max_files=3,
            ),
        )
    )
    log = get_logger("test.rotate")
    for i in range(300):
        log.info("line", n=i, pad="x" * 50)
    _flush()
    files = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert files == ["r.log", "r.log.1", "r.log.2"]
    assert all((tmp_path / "logs" / f).stat().st_size <= 2000 for f in files)
    newest = (tmp_path / "logs" / "r.log").read_text().splitlines()
    assert json.loads(newest[-1])["n"] == 299


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (f"Authorization: Bearer {OPAQUE}", "Authorization: Bearer ***"),
        (f"key {SECRET} rejected", "key *** rejected"),
        (f"api_key={OPAQUE}&x=1", "api_key=***&x=1"),
        (f'{{"api-key": "{OPAQUE}"}}', '{"api-key": "***"}'),
        ("input_tokens=123456789 max_tokens: 4096", "input_tokens=123456789 max_tokens: 4096"),
        ("nothing to see", "nothing to see"),
    ],
)
def test_mask_text(text: str, masked: str) -> None:
    assert mask_text(text) == masked
