"""Config building blocks: durations, ${VAR} expansion, lookup order, the built-in default, and
the redacted print-out loading back as the same config."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from godex.config.durations import format_duration, parse_duration
from godex.config.interpolate import expand, referenced_var
from godex.config.loader import load_config, redacted_dict


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (45, 45),
        ("45", 45),
        ("30s", 30),
        ("15m", 900),
        ("12h", 43200),
        ("30d", 2592000),
        ("2w", 1209600),
        (" 7 d ", 604800),
        ("off", None),
        (None, None),
        (False, None),
    ],
)
def test_parse_duration(value: object, seconds: int | None) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["forever", "1.5h", "-3s", -3, True, "3 weeks", "10y"])
def test_parse_duration_rejects(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


@given(st.one_of(st.none(), st.integers(min_value=0, max_value=10**9)))
def test_format_duration_round_trips(seconds: int | None) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


def test_expand_nested_with_defaults_and_missing() -> None:
    missing: list[tuple[str, str]] = []
    raw = {
        "a": "${HOST}:${PORT:-80}",
        "b": {"c": ["x", "${NOPE}", 3], "d": "${EMPTY:-dflt}", "e": "${EMPTY}"},
        "f": "plain $HOME {not} a var",
    }
    out = expand(raw, "", {"HOST": "h", "EMPTY": ""}, missing)
    assert out == {
        "a": "h:80",
        "b": {"c": ["x", "", 3], "d": "dflt", "e": ""},
        "f": "plain $HOME {not} a var",
    }
    assert missing == [("b.c[1]", "NOPE")]
    assert raw["a"] == "${HOST}:${PORT:-80}"  # the input is not modified


def test_referenced_var() -> None:
    assert referenced_var("${DEEPSEEK_API_KEY}") == "DEEPSEEK_API_KEY"
    assert referenced_var("prefix-${A:-x}") == "A"
    assert referenced_var("literal") is None
    assert referenced_var(None) is None


def _provider_yaml(port: int) -> str:
    return f"server: {{port: {port}}}\nproviders: {{d: {{spec: deepseek}}}}\n"


def test_lookup_order_explicit_then_cwd_then_home(tmp_path: Path) -> None:
    cwd, home = tmp_path / "cwd", tmp_path / "home"
    (home / ".godex").mkdir(parents=True)
    cwd.mkdir()
    assert load_config(env={}, cwd=cwd, home=home)[0].source is None
    (home / ".godex" / "config.yaml").write_text(_provider_yaml(1111))
    assert load_config(env={}, cwd=cwd, home=home)[0].server.port == 1111
    (cwd / "godex.yaml").write_text(_provider_yaml(2222))
    cfg, _ = load_config(env={}, cwd=cwd, home=home)
    assert (cfg.server.port, cfg.source) == (2222, str(cwd / "godex.yaml"))
    (tmp_path / "explicit.yaml").write_text(_provider_yaml(3333))
    cfg, _ = load_config(str(tmp_path / "explicit.yaml"), env={}, cwd=cwd, home=home)
    assert cfg.server.port == 3333


def test_builtin_default(tmp_path: Path) -> None:
    cfg, warnings = load_config(env={}, cwd=tmp_path, home=tmp_path)
    assert (cfg.default_provider, list(cfg.providers)) == ("deepseek", ["deepseek"])
    ds = cfg.providers["deepseek"]
    assert ds.spec == "deepseek" and ds.api_key is None
    assert ds.unavailable_reason == "no API key: set the environment variable DEEPSEEK_API_KEY"
    assert len(warnings) == 1 and "DEEPSEEK_API_KEY" in warnings[0]
    assert cfg.session.backend == "sqlite" and cfg.session.sqlite_path == "./data/sessions.db"
    assert cfg.trace.path == "./data/trace.db" and cfg.server.port == 5678

    cfg, warnings = load_config(env={"DEEPSEEK_API_KEY": "sk-x"}, cwd=tmp_path, home=tmp_path)
    assert cfg.providers["deepseek"].api_key == "sk-x" and warnings == []
    assert cfg.providers["deepseek"].unavailable_reason is None


def test_printed_config_loads_back_unchanged(tmp_path: Path) -> None:
    source = tmp_path / "in.yaml"
    source.write_text(
        "server: {host: 0.0.0.0, port: 7000, workers: 2, shutdown_timeout: 2.5}\n"
        "default_provider: z\n"
        "models: {aliases: {gpt-5.5: z/glm-5.1, '*': o/local}}\n"
        "providers:\n"
        "  z: {spec: zhipu, credentials: {api_key: '${ZK}'}, headers: {X-Org: acme},"
        " models: [glm-5.1]}\n"
        "  o: {spec: openai_compatible, credentials: {api_key: k},"
        " endpoint: {base_url: 'http://127.0.0.1:9/v1'},"
        " capabilities: {parallel_tool_calls: false}}\n"
        "session: {backend: memory, ttl: 36h, max_depth: 50}\n"
        "trace: {enabled: false, retention: off, capture_payload: true}\n"
        "logging: {level: debug, console: {pretty: false}, file: {enabled: true, max_size: 1MB}}\n"
    )
    env = {"ZK": "zk-secret-value"}
    cfg, _ = load_config(str(source), env=env)
    printed = redacted_dict(cfg)
    out = tmp_path / "out.yaml"
    out.write_text(yaml.safe_dump(printed))
    again, warnings = load_config(str(out), env=env)
    assert warnings == []
    assert redacted_dict(again) == printed
    assert again.server == cfg.server and again.session == cfg.session
    assert again.trace == cfg.trace and again.logging == cfg.logging
    assert again.models == cfg.models and again.default_provider == cfg.default_provider


def test_redacted_dict_masks_every_secret(tmp_path: Path) -> None:
    path = tmp_path / "godex.yaml"
    path.write_text(
        "server: {api_keys: [client-key-1, client-key-2], secret: seal-secret}\n"
        "providers: {d: {spec: deepseek, credentials: {api_key: '${K}'},"
        " headers: {Authorization: Bearer hdr-secret, X-Api-Key: hdr-key, X-Org: acme}}}\n"
    )
    cfg, _ = load_config(str(path), env={"K": "upstream-secret"})
    printed = redacted_dict(cfg)
    text = yaml.safe_dump(printed)
    for secret in ("client-key-1", "client-key-2", "seal-secret", "upstream-secret", "hdr-"):
        assert secret not in text
    assert printed["server"]["api_keys"] == ["***", "***"]
    assert printed["providers"]["d"]["credentials"] == {"api_key": "***", "api_key_env": "K"}
    assert printed["providers"]["d"]["headers"]["X-Org"] == "acme"
