"""server.websocket and its limits: parsed, defaulted, validated, dumped so they load back."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from godex.config.loader import ConfigProblems, load_config, redacted_dict

PROVIDER = "providers: {d: {spec: deepseek, credentials: {api_key: sk-x}}}\n"


def _load(tmp: Path, server: str) -> object:
    path = tmp / "godex.yaml"
    path.write_text(f"server: {server}\n{PROVIDER}")
    cfg, _ = load_config(str(path), env={})
    return cfg


def test_websocket_is_on_by_default_with_openai_like_limits(tmp_path: Path) -> None:
    cfg, _ = load_config(None, env={}, cwd=tmp_path, home=tmp_path)
    s = cfg.server
    assert s.websocket is True
    assert s.websocket_max_per_key == 16
    assert s.websocket_idle_timeout_s == 600 and s.websocket_max_lifetime_s == 3600


def test_websocket_keys_parse_and_off_means_no_limit(tmp_path: Path) -> None:
    cfg = _load(
        tmp_path,
        "{websocket: false, websocket_max_per_key: 3, websocket_idle_timeout: off, "
        "websocket_max_lifetime: 30m}",
    )
    s = cfg.server  # type: ignore[attr-defined]
    assert (s.websocket, s.websocket_max_per_key) == (False, 3)
    assert (s.websocket_idle_timeout_s, s.websocket_max_lifetime_s) == (0, 1800)
    dumped = redacted_dict(cfg)["server"]  # type: ignore[arg-type]
    assert dumped["websocket_idle_timeout"] == "off"
    assert dumped["websocket_max_lifetime"] == "30m"
    # The dump loads back to the same values.
    again = _load(tmp_path, yaml.safe_dump(dumped, default_flow_style=True).strip())
    assert again.server == s  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("server", "key"),
    [
        ("{websocket: maybe}", "server.websocket"),
        ("{websocket_max_per_key: 0}", "server.websocket_max_per_key"),
        ("{websocket_idle_timeout: soon}", "server.websocket_idle_timeout"),
    ],
)
def test_bad_websocket_values_are_problems_naming_the_key(
    tmp_path: Path, server: str, key: str
) -> None:
    with pytest.raises(ConfigProblems) as caught:
        _load(tmp_path, server)
    assert key in str(caught.value)
