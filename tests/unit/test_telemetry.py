"""Telemetry config and span timing, without a collector."""

from __future__ import annotations

from pathlib import Path

import pytest

import godex.providers.registry  # noqa: F401  (the spec catalog config validation asks)
from godex.config.loader import ConfigProblems, load
from godex.config.schema import TelemetryConfig
from godex.telemetry import NoTelemetry, _attempt_times, make_telemetry, traces_url


def test_telemetry_is_off_without_an_endpoint() -> None:
    assert isinstance(make_telemetry(TelemetryConfig()), NoTelemetry)


def test_a_bad_endpoint_is_a_config_problem(tmp_path: Path) -> None:
    (tmp_path / "g.yaml").write_text("telemetry: {otlp_endpoint: collector, servce_name: x}\n")
    with pytest.raises(ConfigProblems) as info:
        load(str(tmp_path / "g.yaml"), env={})
    assert any(p.startswith("telemetry.otlp_endpoint") for p in info.value.problems)
    assert any("telemetry.servce_name" in w for w in info.value.warnings)


def test_traces_url_appends_the_signal_path_once() -> None:
    assert traces_url("http://c:4318") == "http://c:4318/v1/traces"
    assert traces_url("http://c:4318/v1/traces/") == "http://c:4318/v1/traces"


def test_attempts_are_laid_end_to_end_before_the_last_upstream_call() -> None:
    attempts = [{"duration_ms": 2.0}, {"duration_ms": 3.0}, {"duration_ms": 5.0}]
    times = _attempt_times(attempts, last_start=100_000_000, floor=0)
    assert times == [
        (95_000_000, 97_000_000),
        (97_000_000, 100_000_000),
        (100_000_000, 105_000_000),
    ]
    clamped = _attempt_times(attempts, last_start=4_000_000, floor=1_000_000)
    assert all(start >= 1_000_000 for start, _ in clamped)
