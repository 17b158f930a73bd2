"""Config loading: lookup order, interpolation, and every problem reported with its key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from godex.config.loader import ConfigProblems, apply_overrides, load_config, redacted_dict


def _write(tmp: Path, text: str, name: str = "godex.yaml") -> Path:
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_builtin_default_without_key(tmp_path: Path) -> None:
    cfg, warnings = load_config(None, env={}, cwd=tmp_path, home=tmp_path)
    assert cfg.source is None
    assert cfg.server.port == 5678
    ds = cfg.providers["deepseek"]
    assert ds.unavailable_reason and "DEEPSEEK_API_KEY" in ds.unavailable_reason
    assert any("DEEPSEEK_API_KEY" in w for w in warnings)
    assert cfg.session.backend == "sqlite" and cfg.session.sqlite_path.startswith("./data")


def test_builtin_default_with_key(tmp_path: Path) -> None:
    cfg, _ = load_config(None, env={"DEEPSEEK_API_KEY": "sk-x"}, cwd=tmp_path, home=tmp_path)
    assert cfg.providers["deepseek"].api_key == "sk-x"
    assert cfg.providers["deepseek"].unavailable_reason is None


def test_lookup_order(tmp_path: Path) -> None:
    home = tmp_path / "home"
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    _write(
        home / ".godex", "server: {port: 1111}\nproviders: {d: {spec: deepseek}}\n", "config.yaml"
    )
    cfg, _ = load_config(None, env={}, cwd=cwd, home=home)
    assert cfg.server.port == 1111
    _write(cwd, "server: {port: 2222}\nproviders: {d: {spec: deepseek}}\n")
    cfg, _ = load_config(None, env={}, cwd=cwd, home=home)
    assert cfg.server.port == 2222
    explicit = _write(
        tmp_path, "server: {port: 3333}\nproviders: {d: {spec: deepseek}}\n", "x.yaml"
    )
    cfg, _ = load_config(str(explicit), env={"GODEX_PORT": "4444"}, cwd=cwd, home=home)
    assert cfg.server.port == 4444  # env overrides the file
    assert apply_overrides(cfg, port=5555).server.port == 5555  # flags override both


def test_interpolation(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "server: {host: '${HOST:-0.0.0.0}', port: '${PORT}'}\n"
        "providers:\n  d: {spec: deepseek, credentials: {api_key: '${KEY}'}}\n",
    )
    cfg, _ = load_config(str(path), env={"PORT": "7000", "KEY": "sk-abc"})
    assert (cfg.server.host, cfg.server.port) == ("0.0.0.0", 7000)
    assert cfg.providers["d"].api_key == "sk-abc"


def test_every_problem_listed_with_key_path(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
server: {port: "many", workers: 0}
default_provider: nope
models:
  aliases: {a: deepseek-only, b: ghost/model}
providers:
  legacy: {credentials: {api_key: x}}
  odd: {spec: deepsek}
  d: {spec: deepseek, credentials: {api_key: "${MISSING_VAR}"}, timeout_ms: soon}
session: {backend: redis, ttl: forever}
trace: {retention: 3 weeks}
logging: {level: loud}
""",
    )
    with pytest.raises(ConfigProblems) as info:
        load_config(str(path), env={}, strict=True)
    text = "\n".join(info.value.problems)
    for needle in (
        "server.port",
        "server.workers",
        "default_provider",
        "models.aliases.a",
        "models.aliases.b",
        "providers.legacy.spec: missing",
        "providers.odd.spec",
        "did you mean 'deepseek'",
        "providers.d.timeout_ms",
        "providers.d.credentials.api_key: environment variable MISSING_VAR",
        "session.backend",
        "session.ttl",
        "trace.retention",
        "logging.level",
    ):
        assert needle in text, needle


def test_missing_key_is_a_warning_for_serve(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "providers:\n  d: {spec: deepseek, credentials: {api_key: '${NOPE}'}}\n"
    )
    cfg, warnings = load_config(str(path), env={})
    assert cfg.providers["d"].unavailable_reason is not None
    assert "NOPE" in cfg.providers["d"].unavailable_reason
    assert any("NOPE" in w for w in warnings)


def test_unknown_key_warns_with_suggestion(tmp_path: Path) -> None:
    path = _write(tmp_path, "servr: {port: 1}\nproviders: {d: {spec: deepseek, timout_ms: 5}}\n")
    _, warnings = load_config(str(path), env={})
    assert any("servr" in w and "server" in w for w in warnings)
    assert any("providers.d.timout_ms" in w and "timeout_ms" in w for w in warnings)


def test_malformed_yaml_gives_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "server:\n  port: 1\n  host: [unclosed\n")
    with pytest.raises(ConfigProblems) as info:
        load_config(str(path), env={})
    assert "line" in info.value.problems[0]


def test_redacted_dict_hides_secrets(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "server: {api_keys: [sk-client-1], secret: s3cr3t}\n"
        "providers: {d: {spec: deepseek, credentials: {api_key: sk-up-2}}}\n",
    )
    cfg, _ = load_config(str(path), env={})
    text = str(redacted_dict(cfg))
    for secret in ("sk-client-1", "s3cr3t", "sk-up-2"):
        assert secret not in text
