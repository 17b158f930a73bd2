"""Each config problem is reported with its key path, all at once; warnings stay warnings."""

from __future__ import annotations

from pathlib import Path

import pytest

from godex.config.loader import ConfigProblems, apply_overrides, load_config
from godex.config.schema import GodexConfig, LogConsoleConfig, LogFileConfig, LoggingConfig
from godex.errors import GodexError

OK_PROVIDER = "providers: {d: {spec: deepseek, credentials: {api_key: k}}}\n"


def _load(
    tmp: Path, text: str, env: dict[str, str] | None = None, *, strict: bool = False
) -> tuple[GodexConfig, list[str]]:
    path = tmp / "godex.yaml"
    path.write_text(text)
    return load_config(str(path), env=env or {}, strict=strict)


def _problems(tmp: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigProblems) as info:
        _load(tmp, text, env, strict=True)
    assert isinstance(info.value, GodexError) and info.value.code == "config.invalid"
    return info.value.problems


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'server: {api_keys: ["${CLIENT_KEY}"]}\n' + OK_PROVIDER,
            "server.api_keys[0]: environment variable CLIENT_KEY is not set",
        ),
        (
            "providers: {d: {spec: deepseek, headers: {X-Org: '${ORG_ID}'}}}\n",
            "providers.d.headers.X-Org: environment variable ORG_ID is not set",
        ),
        (
            "server: {metrics_public: maybe}\n" + OK_PROVIDER,
            "server.metrics_public: expected a boolean",
        ),
        ("server: {port: 70000}\n" + OK_PROVIDER, "server.port: 70000 is not a valid port"),
        ("server: {port: 80.5}\n" + OK_PROVIDER, "server.port: expected an integer"),
        ("server: {workers: 0}\n" + OK_PROVIDER, "server.workers: must be at least 1"),
        ("server: {shutdown_timeout: soon}\n" + OK_PROVIDER, "server.shutdown_timeout: 'soon'"),
        ("server: [1, 2]\n" + OK_PROVIDER, "server: expected a mapping, got list"),
        ("session: true\n" + OK_PROVIDER, "session: expected a mapping, got a boolean"),
        (
            "providers: {d: {spec: deepseek, credentials: {api_key: k}, models: one}}\n",
            "providers.d.models: expected a list",
        ),
        (
            "providers: {d: {spec: deepseek, credentials: {api_key: k}, timeout_ms: -5}}\n",
            "providers.d.timeout_ms: must be at least 1",
        ),
        (
            "providers: {d: {spec: deepseek, credentials: {api_key: k},"
            " endpoint: {base_url: 'api.deepseek.com'}}}\n",
            "providers.d.endpoint.base_url: 'api.deepseek.com' is not an http(s) URL",
        ),
        (
            OK_PROVIDER + "models: {aliases: {fast: deepseek-v4-flash}}\n",
            "models.aliases.fast: 'deepseek-v4-flash' must be 'provider/model'",
        ),
        (
            OK_PROVIDER + "models: {aliases: {fast: ds/deepseek-v4-flash}}\n",
            "models.aliases.fast: 'ds/deepseek-v4-flash' names unknown provider 'ds'",
        ),
        (
            OK_PROVIDER + "default_provider: e\n",
            "default_provider: 'e' is not a configured provider",
        ),
        (
            "providers: {deepseek: {api_key: k, base_url: 'https://api.deepseek.com'}}\n",
            "providers.deepseek.spec: missing. Each provider now names its implementation: add "
            "'spec: deepseek'",
        ),
        (
            "providers: {d: {spec: deepsek, credentials: {api_key: k}}}\n",
            "providers.d.spec: unknown spec 'deepsek' (did you mean 'deepseek'?)",
        ),
        (
            "providers: {o: {spec: openai_compatible, credentials: {api_key: k},"
            " capabilities: {parallel_tool_cals: true}}}\n",
            "providers.o.capabilities.parallel_tool_cals: unknown capability "
            "(did you mean 'parallel_tool_calls'?)",
        ),
        (
            "providers: {o: {spec: openai_compatible, credentials: {api_key: k},"
            " capabilities: {parallel_tool_calls: 3}}}\n",
            "providers.o.capabilities.parallel_tool_calls: expected bool",
        ),
        (OK_PROVIDER + "session: {backend: redis}\n", "session.backend: 'redis' is not a backend"),
        (OK_PROVIDER + "session: {ttl: forever}\n", "session.ttl: 'forever' is not a duration"),
        (OK_PROVIDER + "session: {max_depth: 0}\n", "session.max_depth: must be at least 1"),
        (OK_PROVIDER + "trace: {retention: 3 weeks}\n", "trace.retention: '3 weeks'"),
        (OK_PROVIDER + "trace: {batch_size: many}\n", "trace.batch_size: expected an integer"),
        (OK_PROVIDER + "logging: {level: loud}\n", "logging.level: 'loud' is not a level"),
        (
            OK_PROVIDER + "logging: {file: {max_size: lots}}\n",
            "logging.file.max_size: 'lots' is not a size",
        ),
        (OK_PROVIDER + "compaction: {enabled: 2}\n", "compaction.enabled: expected a boolean"),
        ("server: {port: 1}\n", "providers: no provider configured"),
        (
            "providers: {d: {spec: deepseek, credentials: {api_key: '${DS_KEY}'}}}\n",
            "providers.d.credentials.api_key: environment variable DS_KEY is not set",
        ),
    ],
)
def test_each_problem_names_its_key(tmp_path: Path, text: str, expected: str) -> None:
    problems = _problems(tmp_path, text)
    assert any(expected in p for p in problems), problems


def test_all_problems_are_listed_together(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        "server: {port: x, workers: 0}\n"
        "models: {aliases: {a: nope}}\n"
        "providers:\n"
        "  legacy: {api_key: k}\n"
        "  odd: {spec: nope}\n"
        "  d: {spec: deepseek, credentials: {api_key: '${UNSET_ONE}'}, timeout_ms: soon}\n"
        "session: {backend: redis, ttl: forever}\n"
        "logging: {level: loud}\n",
    )
    paths = [p.split(":", 1)[0] for p in problems]
    assert sorted(paths) == sorted(
        [
            "server.port",
            "server.workers",
            "models.aliases.a",
            "providers.legacy.spec",
            "providers.odd.spec",
            "providers.d.timeout_ms",
            "providers.d.credentials.api_key",
            "session.backend",
            "session.ttl",
            "logging.level",
        ]
    )


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigProblems) as info:
        _load(tmp_path, "server:\n  port: 1\n  host: [unclosed\nproviders: {}\n")
    (problem,) = info.value.problems
    assert "malformed YAML at line 4" in problem and "godex.yaml" in problem


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigProblems, match="top level must be a mapping"):
        _load(tmp_path, "- a\n- b\n")


def test_explicit_path_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigProblems, match="no such file"):
        load_config(str(tmp_path / "absent.yaml"), env={})


def test_bad_godex_port(tmp_path: Path) -> None:
    with pytest.raises(ConfigProblems, match="GODEX_PORT: 'eighty' is not a valid port"):
        _load(tmp_path, OK_PROVIDER, {"GODEX_PORT": "eighty"})


def test_missing_provider_key_serve_vs_check(tmp_path: Path) -> None:
    text = (
        "providers:\n"
        "  d: {spec: deepseek, credentials: {api_key: '${DS_KEY}'}}\n"
        "  z: {spec: zhipu, credentials: {api_key: '${ZP_KEY}'}}\n"
        "default_provider: d\n"
    )
    cfg, warnings = _load(tmp_path, text, {"ZP_KEY": "zk-1"})
    providers = cfg.providers
    assert providers["d"].unavailable_reason == "no API key: set the environment variable DS_KEY"
    assert providers["d"].api_key_env == "DS_KEY"
    assert providers["z"].unavailable_reason is None and providers["z"].api_key == "zk-1"
    assert warnings == [
        "providers.d.credentials.api_key: environment variable DS_KEY is not set; provider 'd' "
        "is unavailable until it is"
    ]
    assert _problems(tmp_path, text, {"ZP_KEY": "zk-1"}) == [
        "providers.d.credentials.api_key: environment variable DS_KEY is not set"
    ]


@pytest.mark.parametrize(
    ("credentials", "env", "key", "var"),
    [
        ("{api_key: literal-key}", {}, "literal-key", None),
        ("{api_key: '${K}'}", {"K": "from-k"}, "from-k", "K"),
        ("{api_key: '${K:-fallback}'}", {}, "fallback", "K"),
        ("{api_key: '${K:-fallback}'}", {"K": ""}, "fallback", "K"),
        ("{api_key_env: MY_DS}", {"MY_DS": "from-env"}, "from-env", "MY_DS"),
        ("{}", {"DEEPSEEK_API_KEY": "spec-default"}, "spec-default", "DEEPSEEK_API_KEY"),
    ],
)
def test_api_key_sources(
    tmp_path: Path, credentials: str, env: dict[str, str], key: str, var: str | None
) -> None:
    text = f"providers: {{d: {{spec: deepseek, credentials: {credentials}}}}}\n"
    cfg, warnings = _load(tmp_path, text, env)
    p = cfg.providers["d"]
    assert (p.api_key, p.api_key_env, p.unavailable_reason, warnings) == (key, var, None, [])


def test_empty_variable_counts_as_missing(tmp_path: Path) -> None:
    text = "providers: {d: {spec: deepseek, credentials: {api_key: '${K}'}}}\n"
    cfg, _ = _load(tmp_path, text, {"K": ""})
    assert "K" in (cfg.providers["d"].unavailable_reason or "")


def test_unknown_keys_warn_with_a_suggestion(tmp_path: Path) -> None:
    text = (
        "servr: {port: 1}\n"
        "providers: {d: {spec: deepseek, api_key: k, credentials: {api_key: k}, timout_ms: 5}}\n"
        "session: {sqlite: {pth: x.db}}\n"
    )
    cfg, warnings = _load(tmp_path, text)
    assert warnings == [
        "servr: unknown key, ignored (did you mean 'server'?)",
        "providers.d.api_key: ignored; it is now written providers.d.credentials.api_key",
        "providers.d.timout_ms: unknown key, ignored (did you mean 'timeout_ms'?)",
        "session.sqlite.pth: unknown key, ignored (did you mean 'path'?)",
    ]
    assert cfg.server.port == 5678


def test_capabilities_only_for_openai_compatible(tmp_path: Path) -> None:
    text = (
        "providers: {d: {spec: deepseek, credentials: {api_key: k},"
        " capabilities: {parallel_tool_calls: false}}}\n"
    )
    cfg, warnings = _load(tmp_path, text)
    assert cfg.providers["d"].capabilities == {}
    assert warnings == ["providers.d.capabilities: only used by spec openai_compatible; ignored"]


def test_values_and_shorthands(tmp_path: Path) -> None:
    text = (
        "server: {port: '${P:-6000}', shutdown_timeout: 1m, metrics_public: 'true'}\n"
        + OK_PROVIDER
        + "session: {ttl: off, backend: memory}\n"
        "trace: {retention: 12h}\n"
        "logging: {console: false, file: {enabled: true, max_size: 2MB, max_files: 2}}\n"
    )
    cfg, _ = _load(tmp_path, text)
    c = cfg
    assert (c.server.port, c.server.shutdown_timeout_s, c.server.metrics_public) == (
        6000,
        60.0,
        True,
    )
    assert c.default_provider == "d"  # the only provider is the default
    assert (c.session.ttl_s, c.session.backend, c.trace.retention_s) == (None, "memory", 43200)
    assert c.logging.console.enabled is False
    assert (c.logging.file.enabled, c.logging.file.max_size) == (True, 2 * 1024 * 1024)


def test_relative_paths_follow_data_dir_and_stay_relative(tmp_path: Path) -> None:
    cfg, _ = _load(tmp_path, "server: {data_dir: ./state/}\n" + OK_PROVIDER)
    assert cfg.session.sqlite_path == "./state/sessions.db"
    assert cfg.trace.path == "./state/trace.db"


def test_env_overrides_and_flags(tmp_path: Path) -> None:
    cfg, _ = _load(
        tmp_path,
        "server: {host: 10.0.0.1, port: 1000}\n" + OK_PROVIDER,
        {"GODEX_HOST": "0.0.0.0", "GODEX_PORT": "2000"},
    )
    assert (cfg.server.host, cfg.server.port) == ("0.0.0.0", 2000)
    flagged = apply_overrides(cfg, "127.0.0.2", 3000, "DEBUG", workers=3)
    assert (flagged.server.host, flagged.server.port, flagged.server.workers) == (
        "127.0.0.2",
        3000,
        3,
    )


def test_log_level_flag_overrides_sink_levels() -> None:
    cfg = GodexConfig(
        logging=LoggingConfig(
            level="warning",
            console=LogConsoleConfig(level="error"),
            file=LogFileConfig(level="error"),
        )
    )
    lg = apply_overrides(cfg, log_level="debug").logging
    assert (lg.level, lg.console.level, lg.file.level) == ("debug", None, None)
