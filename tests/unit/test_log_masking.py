"""Secret masking hides credentials and leaves ordinary words alone; TS level names."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from godex.config.schema import LogConsoleConfig, LogFileConfig, LoggingConfig
from godex.logging import configure_logging, get_logger, mask_text

MISSING_KEY = (
    "providers.deepseek.credentials.api_key: environment variable DEEPSEEK_API_KEY is not set; "
    "provider 'deepseek' is unavailable until it is"
)


@pytest.fixture(autouse=True)
def _restore_root() -> Iterator[None]:
    yield
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()


@pytest.mark.parametrize(
    "text",
    [
        MISSING_KEY,
        "server.secret: environment variable GODEX_SECRET is not set",
        "upstream wants Basic authentication",
        "token: expired",
        "Bearer tokens are sent upstream",
    ],
)
def test_ordinary_words_are_not_masked(text: str) -> None:
    assert mask_text(text) == text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("api_key: Zx9opaqueTOKENvalue42", "api_key: ***"),
        ("token=abcdefghijklmnopqrstuvwxyz", "token=***"),  # too long for a word
        ("Authorization: Bearer eyJhbGciOi.J9", "Authorization: Bearer ***"),
        ("password=MixedCase", "password=***"),
    ],
)
def test_secret_values_are_still_masked(text: str, masked: str) -> None:
    assert mask_text(text) == masked


@given(st.from_regex(r"[a-z]{6,20}", fullmatch=True))
def test_a_lowercase_word_after_a_secret_name_survives(word: str) -> None:
    assert mask_text(f"api_key: {word} here") == f"api_key: {word} here"


@given(st.from_regex(r"[A-Za-z]{3,10}[0-9][A-Za-z0-9]{2,20}", fullmatch=True))
def test_a_value_with_a_digit_after_a_secret_name_is_masked(value: str) -> None:
    assert mask_text(f"api_key={value}") == "api_key=***"


def test_the_missing_key_warning_reaches_the_log_intact(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(
        LoggingConfig(console=LogConsoleConfig(pretty=False), file=LogFileConfig(enabled=False))
    )
    get_logger("test.masking").warning("config_warning", detail=MISSING_KEY)
    for handler in logging.getLogger().handlers:
        handler.flush()
    (line,) = capsys.readouterr().err.splitlines()
    assert json.loads(line)["detail"] == MISSING_KEY


@pytest.mark.parametrize(("name", "level"), [("trace", logging.DEBUG), ("warn", logging.WARNING)])
def test_typescript_level_names_configure_the_sinks(name: str, level: int) -> None:
    logging.addLevelName(5, "TRACE")  # as uvicorn does when it starts serving

    configure_logging(LoggingConfig(level=name, console=LogConsoleConfig(pretty=False)))
    assert logging.getLogger().level == level
