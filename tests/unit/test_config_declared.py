"""Config keys declared once; spec names told by a catalog; the TypeScript GodeX's keys;
environment overrides; unknown keys failing ``config check``."""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

import godex.config
from godex.cli import main
from godex.config import catalog as catalogs
from godex.config.build import KEYS
from godex.config.keys import KEY, MASK, Key, Tree, declared
from godex.config.loader import ConfigProblems, apply_overrides, load, load_config, redacted_dict
from godex.config.schema import GodexConfig
from godex.errors import ConfigError
from godex.providers import deepseek, registry
from godex.providers.spec import ProviderSpec

OK_PROVIDER = "providers: {d: {spec: deepseek, credentials: {api_key: k}}}\n"


def _write(tmp: Path, text: str, name: str = "godex.yaml") -> Path:
    path = tmp / name
    path.write_text(text)
    return path


def _load(tmp: Path, text: str, env: dict[str, str] | None = None) -> tuple[GodexConfig, list[str]]:
    return load_config(str(_write(tmp, text)), env=env or {})


def _problems(tmp: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigProblems) as info:
        load_config(str(_write(tmp, text)), env=env or {}, strict=True)
    return info.value.problems


# --- one declaration per key ---------------------------------------------------------------


def _leaf_paths(node: Tree, prefix: str = "") -> set[str]:
    out: set[str] = set()
    for name, sub in node.keys.items():
        path = f"{prefix}{name}"
        if sub is None or sub.free:
            out.add(path)
        elif sub.each is not None:
            out |= _leaf_paths(sub.each, f"{path}.*.")
        else:
            out |= _leaf_paths(sub, f"{path}.")
    return out


def _declared_paths(cls: type, prefix: str = "") -> set[str]:
    out: set[str] = set()
    for _, k, path in declared(cls):
        dotted = prefix + ".".join(path)
        if k.section is not None:
            out |= _declared_paths(k.section, dotted + ".")
        elif k.entries is not None:
            out |= _declared_paths(k.entries, dotted + ".*.")
        else:
            out.add(dotted)
    return out


def test_the_unknown_key_check_knows_exactly_the_declared_keys() -> None:
    known = _leaf_paths(KEYS)
    assert known == _declared_paths(GodexConfig)
    for path in (
        "server.idle_timeout",
        "logging.console.pretty",
        "providers.*.endpoint.base_url",
        "web_search.mode",
        "web_search.backend.api_key",
        "web_search.on_unavailable",
        "web_search.max_iterations",
        "web_search.timeout_ms",
    ):
        assert path in known, path


def _secret_fields(cls: type) -> Iterator[tuple[type, str]]:
    for f, k, _ in declared(cls):
        if k.section is not None:
            yield from _secret_fields(k.section)
        elif k.entries is not None:
            yield from _secret_fields(k.entries)
        elif k.secret:
            yield cls, f.name


def test_every_key_declared_secret_is_masked_in_the_print_out(tmp_path: Path) -> None:
    secrets = sorted(f"{c.__name__}.{n}" for c, n in _secret_fields(GodexConfig))
    assert secrets == [
        "AuthConfig.admin_keys",
        "AuthConfig.keys",
        "LimitsConfig.redis_url",
        "PostgresConfig.dsn",  # a DSN may carry the database password
        "ProviderConfig.api_key",
        "ServerConfig.api_keys",
        "ServerConfig.secret",
        "TracePostgresConfig.dsn",
        "WebSearchBackendConfig.api_key",
    ]
    cfg, _ = _load(
        tmp_path,
        "server: {api_keys: [cli-Secret-1], secret: seal-Secret-2}\n"
        "providers: {d: {spec: deepseek, credentials: {api_key: up-Secret-3}}}\n"
        "web_search: {mode: godex_managed, backend: {type: zhipu, api_key: ws-Secret-4}}\n"
        "auth: {admin_keys: [adm-Secret-5], keys: [{name: a, key: key-Secret-6}]}\n"
        "session: {backend: postgres, postgres: {dsn: 'postgresql://g:pg-Secret-7@db/g'}}\n"
        "trace: {backend: postgres, postgres: {dsn: 'postgresql://g:pg-Secret-8@db/g'}}\n",
    )
    printed = yaml.safe_dump(redacted_dict(cfg))
    assert "Secret-" not in printed
    assert redacted_dict(cfg)["web_search"]["backend"]["api_key"] == MASK


def test_a_secret_of_the_wrong_type_is_not_echoed(tmp_path: Path) -> None:
    problems = _problems(tmp_path, "server: {secret: 918273645}\n" + OK_PROVIDER)
    assert problems == ["server.secret: expected a string, got int"]


def test_every_declaration_sits_in_field_metadata() -> None:
    # Keys are read from the dataclasses only: no second table can drift from them.
    for f in dataclasses.fields(GodexConfig):
        meta = f.metadata.get(KEY)
        assert meta is None or isinstance(meta, Key)
    assert [f.name for f, _, _ in declared(GodexConfig)] == [
        "server",
        "default_provider",
        "models",
        "providers",
        "session",
        "trace",
        "logging",
        "compaction",
        "web_search",
        "resilience",
        "upstream",
        "auth",
        "limits",
        "prices",
        "telemetry",
        "ui",
    ]


def test_the_full_print_out_loads_back_unchanged(tmp_path: Path) -> None:
    cfg, _ = _load(
        tmp_path,
        "server: {idle_timeout: 2m}\n"
        "providers:\n"
        "  o: {spec: openai-compatible, credentials: {api_key: k},"
        " capabilities: {parallel_tool_calls: false}}\n"
        "web_search: {mode: godex_managed, backend: {provider: o}, max_iterations: 2}\n"
        "logging: {level: warn, file: {level: trace}}\n",
    )
    printed = redacted_dict(cfg)
    again, warnings = _load(tmp_path, yaml.safe_dump(printed))
    assert warnings == [] and redacted_dict(again) == printed
    assert again.server == cfg.server and again.web_search == cfg.web_search
    assert again.logging == cfg.logging
    assert again.providers["o"].capabilities == {"parallel_tool_calls": False}


# --- config is told the spec names ----------------------------------------------------------


def test_no_config_module_imports_a_provider() -> None:
    root = Path(godex.config.__file__).parent
    for source in sorted(root.glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert not name.startswith("godex.providers"), f"{source.name} imports {name}"


class _Catalog:
    """A catalog that knows one spec, ``acme`` (also spelled ``ACME``)."""

    def names(self) -> tuple[str, ...]:
        return ("acme", "ACME")

    def canonical(self, name: str) -> str | None:
        return "acme" if name in ("acme", "ACME") else None

    def api_key_env(self, name: str) -> str:
        return "ACME_KEY"

    def accepts_capabilities(self, name: str) -> bool:
        return True

    def capability_keys(self) -> list[str]:
        return ["speed"]

    def check_capabilities(self, caps: Mapping[str, Any], base_url: str | None) -> list[str]:
        return [f"capabilities.{k}: unknown capability" for k in caps if k != "speed"]


def test_load_config_asks_the_catalog_it_is_given(tmp_path: Path) -> None:
    path = _write(tmp_path, "providers: {a: {spec: ACME, capabilities: {speed: 3, color: red}}}\n")
    with pytest.raises(ConfigProblems) as info:
        load_config(str(path), env={"ACME_KEY": "k"}, catalog=_Catalog())
    assert info.value.problems == ["providers.a.capabilities.color: unknown capability"]
    path.write_text("providers: {a: {spec: ACME}, d: {spec: deepseek}}\n")
    with pytest.raises(ConfigProblems) as info:
        load_config(str(path), env={"ACME_KEY": "k"}, catalog=_Catalog())
    (problem,) = info.value.problems
    assert problem.startswith("providers.d.spec: unknown spec 'deepseek'")
    path.write_text("providers: {a: {spec: ACME}}\n")
    cfg, _ = load_config(str(path), env={"ACME_KEY": "from-env"}, catalog=_Catalog())
    assert (cfg.providers["a"].spec, cfg.providers["a"].api_key) == ("acme", "from-env")


def test_without_a_catalog_installed_loading_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalogs, "_installed", [])
    with pytest.raises(ConfigError, match=r"import godex\.providers\.registry"):
        _load(tmp_path, OK_PROVIDER)


def test_the_registry_installs_itself() -> None:
    assert isinstance(catalogs.current(), registry.RegistryCatalog)


@pytest.fixture
def acme_spec(monkeypatch: pytest.MonkeyPatch) -> ProviderSpec:
    monkeypatch.setattr(registry, "SPECS", dict(registry.SPECS))  # undone after the test
    spec = dataclasses.replace(
        deepseek.SPEC, name="acme_test", api_key_env="ACME_TEST_KEY", display_name="Acme"
    )
    registry.register(spec)
    return spec


def test_a_registered_spec_works_from_godex_yaml(tmp_path: Path, acme_spec: ProviderSpec) -> None:
    text = (
        "providers:\n"
        "  a: {spec: acme_test, endpoint: {base_url: 'https://acme.example/v1'}}\n"
        "  acme_test: {}\n"  # the TypeScript form: the name stands for the spec
        "models: {aliases: {fast: a/acme-1}}\n"
        "default_provider: a\n"
    )
    cfg, warnings = _load(tmp_path, text, {"ACME_TEST_KEY": "k-acme"})
    assert warnings == []
    a = cfg.providers["a"]
    assert (a.spec, a.api_key, a.api_key_env) == ("acme_test", "k-acme", "ACME_TEST_KEY")
    assert cfg.providers["acme_test"].spec == "acme_test"
    assert registry.resolve_spec(a.spec, a.capabilities, a.base_url) is acme_spec


def test_an_unregistered_spec_is_still_rejected(tmp_path: Path) -> None:
    (problem,) = _problems(tmp_path, "providers: {a: {spec: acme_test}}\n")
    assert problem.startswith("providers.a.spec: unknown spec 'acme_test'")


@pytest.mark.parametrize(
    ("written", "canonical"),
    [("openai-compatible", "openai_compatible"), ("mimo", "xiaomi"), ("glm", "zhipu")],
)
def test_every_spelling_is_stored_canonically(tmp_path: Path, written: str, canonical: str) -> None:
    cfg, _ = _load(
        tmp_path, f"providers: {{p: {{spec: {written}, credentials: {{api_key: k}}}}}}\n"
    )
    p = cfg.providers["p"]
    assert (p.spec, p.spec_as_written) == (canonical, written)
    spec = registry.resolve_spec(written, p.capabilities, p.base_url)
    assert spec is not None and spec.name == canonical


def test_openai_compatible_spelled_with_a_dash_keeps_its_capabilities(tmp_path: Path) -> None:
    cfg, warnings = _load(
        tmp_path,
        "providers: {o: {spec: openai-compatible, credentials: {api_key: k},"
        " endpoint: {base_url: 'http://127.0.0.1:9/v1'},"
        " capabilities: {parallel_tool_calls: false, reasoning_control: effort}}}\n",
    )
    o = cfg.providers["o"]
    assert warnings == []
    assert o.capabilities == {"parallel_tool_calls": False, "reasoning_control": "effort"}
    spec = registry.resolve_spec(o.spec_as_written or o.spec, o.capabilities, o.base_url)
    assert spec is not None and spec.name == "openai_compatible"
    assert spec.parallel_tool_calls is False and spec.reasoning_control == "effort"
    assert spec.default_base_url == "http://127.0.0.1:9/v1"
    problems = _problems(
        tmp_path,
        "providers: {o: {spec: openai-compatible, credentials: {api_key: k},"
        " capabilities: {parallel_tool_calls: 3}}}\n",
    )
    assert any("providers.o.capabilities.parallel_tool_calls: expected bool" in p for p in problems)


def test_resolve_spec_of_an_unknown_name_is_none() -> None:
    assert registry.resolve_spec("nope", {}, None) is None


# --- the TypeScript GodeX's config ------------------------------------------------------------

TS_CONFIG = """
server: {host: 127.0.0.1, port: 5678, idle_timeout: 30s}
default_provider: deepseek
models: {aliases: {gpt-5.5: deepseek/deepseek-v4-pro}}
providers:
  deepseek: {credentials: {api_key: '${DEEPSEEK_API_KEY}'}, timeout_ms: 600000}
  glm: {credentials: {api_key: '${ZHIPUAI_API_KEY}'}}
session: {backend: sqlite, sqlite: {path: ./data/sessions.db}}
trace: {enabled: true, path: ./data/trace.db, capture_payload: false}
logging:
  level: warn
  console: {enabled: true, level: trace, pretty: false}
  file: {enabled: false, level: warn, dir: ./logs}
web_search:
  mode: auto
  backend: {type: zhipu, api_key: '${ZHIPUAI_API_KEY}', base_url: 'https://open.bigmodel.cn'}
  on_unavailable: error
  max_iterations: 3
  timeout_ms: 8000
"""
TS_ENV = {"DEEPSEEK_API_KEY": "sk-d", "ZHIPUAI_API_KEY": "zk-z"}


def test_a_typescript_godex_config_loads_unchanged(tmp_path: Path) -> None:
    cfg, warnings = _load(tmp_path, TS_CONFIG, TS_ENV)
    assert warnings == []
    assert cfg.server.idle_timeout_s == 30
    assert (cfg.providers["deepseek"].spec, cfg.providers["glm"].spec) == ("deepseek", "zhipu")
    assert cfg.providers["glm"].api_key == "zk-z"
    lg = cfg.logging
    assert (lg.level, lg.console.level, lg.file.level, lg.console.pretty) == (
        "warning",
        "debug",
        "warning",
        False,
    )
    ws = cfg.web_search
    assert (ws.mode, ws.on_unavailable, ws.max_iterations, ws.timeout_ms) == (
        "auto",
        "error",
        3,
        8000,
    )
    assert (ws.backend.type, ws.backend.api_key, ws.backend.base_url) == (
        "zhipu",
        "zk-z",
        "https://open.bigmodel.cn",
    )


def test_a_typescript_godex_config_passes_config_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, TS_CONFIG)
    result = CliRunner().invoke(main, ["config", "check"], env=TS_ENV)
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output


def test_defaults_of_the_new_keys(tmp_path: Path) -> None:
    cfg, _ = _load(tmp_path, OK_PROVIDER)
    assert cfg.server.idle_timeout_s == 75
    ws = cfg.web_search
    assert (ws.mode, ws.on_unavailable, ws.backend.configured) == ("auto", "drop", False)
    cfg, _ = _load(tmp_path, "server: {idle_timeout: 12}\n" + OK_PROVIDER)
    assert cfg.server.idle_timeout_s == 12


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("server: {idle_timeout: soon}\n", "server.idle_timeout: 'soon' is not a duration"),
        ("server: {idle_timeout: never}\n", "server.idle_timeout: 'never' is not a duration here"),
        ("server: {idle_timeout: off}\n", "server.idle_timeout: 'off' is not a duration here"),
        ("web_search: {mode: sometimes}\n", "web_search.mode: 'sometimes' is not a mode"),
        ("web_search: {on_unavailable: retry}\n", "web_search.on_unavailable: 'retry'"),
        ("web_search: {max_iterations: 0}\n", "web_search.max_iterations: must be at least 1"),
        ("web_search: {timeout_ms: quick}\n", "web_search.timeout_ms: expected an integer"),
        ("web_search: {mode: godex_managed}\n", "web_search.backend: mode godex_managed needs"),
        (
            "web_search: {backend: {provider: dd}}\n",
            "web_search.backend.provider: 'dd' is not a configured provider (did you mean 'd'?)",
        ),
        (
            "web_search: {backend: {base_url: nowhere}}\n",
            "web_search.backend.base_url: 'nowhere' is not an http(s) URL",
        ),
        ("logging: {console: {level: loud}}\n", "logging.console.level: 'loud' is not a level"),
    ],
)
def test_new_keys_are_validated(tmp_path: Path, text: str, expected: str) -> None:
    problems = _problems(tmp_path, text + OK_PROVIDER)
    assert any(expected in p for p in problems), problems


def test_a_provider_named_like_no_spec_still_needs_one(tmp_path: Path) -> None:
    (problem,) = _problems(tmp_path, "providers: {mine: {credentials: {api_key: k}}}\n")
    assert problem.startswith("providers.mine.spec: missing")


# --- unknown keys ---------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for var in ("DEEPSEEK_API_KEY", "GODEX_CONFIG", "GODEX_LOG_LEVEL", "GODEX_HOST", "GODEX_PORT"):
        monkeypatch.delenv(var, raising=False)
    return CliRunner()


def test_a_typo_under_a_provider_fails_config_check_but_not_serve(
    cli_env: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import godex.server.runner as server_runner

    _write(
        tmp_path,
        "providers: {d: {spec: deepseek, credentials: {api_key: k},"
        " endpont: {base_url: 'https://x.example'}}}\n",
    )
    check = cli_env.invoke(main, ["config", "check"])
    assert check.exit_code == 1
    assert "1 unknown key(s) in" in check.output
    assert "providers.d.endpont: unknown key, ignored (did you mean 'endpoint'?)" in check.output
    seen: list[list[str]] = []
    monkeypatch.setattr(server_runner, "serve", lambda c, w=None, s=None: seen.append(w or []))
    served = cli_env.invoke(main, ["serve"])
    assert served.exit_code == 0, served.output
    assert seen == [["providers.d.endpont: unknown key, ignored (did you mean 'endpoint'?)"]]


def test_old_flat_spellings_fail_config_check_too(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "providers: {d: {spec: deepseek, credentials: {api_key: k}, timeout: 5}}\n"
    )
    result = load(str(path), env={}, strict=True)
    assert result.unknown == [
        "providers.d.timeout: ignored; it is now written providers.d.timeout_ms"
    ]


def test_problems_and_unknown_keys_are_listed_together(cli_env: CliRunner, tmp_path: Path) -> None:
    _write(tmp_path, "server: {port: x, prot: 1}\n" + OK_PROVIDER)
    result = cli_env.invoke(main, ["config", "check"])
    assert result.exit_code == 1
    assert "1 configuration problem(s)" in result.output and "- server.port" in result.output
    assert "warning: server.prot: unknown key, ignored (did you mean 'port'?)" in result.output


# --- environment overrides ------------------------------------------------------------------


def test_godex_config_comes_after_the_flag_and_before_the_working_directory(
    tmp_path: Path,
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    _write(cwd, "server: {port: 1111}\n" + OK_PROVIDER)
    env_file = _write(tmp_path, "server: {port: 2222}\n" + OK_PROVIDER, "env.yaml")
    flag_file = _write(tmp_path, "server: {port: 3333}\n" + OK_PROVIDER, "flag.yaml")
    env = {"GODEX_CONFIG": str(env_file)}
    assert load_config(env=env, cwd=cwd, home=tmp_path)[0].server.port == 2222
    assert load_config(str(flag_file), env=env, cwd=cwd, home=tmp_path)[0].server.port == 3333
    assert load_config(env={}, cwd=cwd, home=tmp_path)[0].server.port == 1111
    with pytest.raises(ConfigProblems, match="no such file"):
        load_config(env={"GODEX_CONFIG": str(tmp_path / "absent.yaml")}, cwd=cwd, home=tmp_path)


def test_godex_config_reaches_the_cli(cli_env: CliRunner, tmp_path: Path) -> None:
    path = _write(tmp_path, "server: {port: 4321}\n" + OK_PROVIDER, "elsewhere.yaml")
    result = cli_env.invoke(main, ["config", "check"], env={"GODEX_CONFIG": str(path)})
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"OK: {path}\n") and "127.0.0.1:4321" in result.output


def test_godex_log_level(tmp_path: Path) -> None:
    text = "logging: {level: error, console: {level: error}}\n" + OK_PROVIDER
    cfg, _ = _load(tmp_path, text, {"GODEX_LOG_LEVEL": "WARN"})
    assert (cfg.logging.level, cfg.logging.console.level) == ("warning", None)
    cfg, _ = _load(tmp_path, text, {"GODEX_LOG_LEVEL": "trace"})
    assert cfg.logging.level == "debug"
    assert apply_overrides(cfg, log_level="info").logging.level == "info"  # the flag wins
    assert apply_overrides(cfg, log_level="warn").logging.level == "warning"
    problems = _problems(tmp_path, text, {"GODEX_LOG_LEVEL": "loud"})
    levels = "trace, debug, info, warn, warning, error, critical"
    assert problems == [f"GODEX_LOG_LEVEL: 'loud' is not a level ({levels})"]


def test_serve_accepts_the_typescript_level_names(
    cli_env: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import godex.server.runner as server_runner

    seen: list[GodexConfig] = []
    monkeypatch.setattr(server_runner, "serve", lambda c, w=None, s=None: seen.append(c))
    _write(tmp_path, OK_PROVIDER)
    assert cli_env.invoke(main, ["serve", "--log-level", "warn"]).exit_code == 0
    assert seen[-1].logging.level == "warning"


def test_the_upstream_transport_is_a_choice(tmp_path: Path) -> None:
    from godex.gateway.wiring import make_transport
    from godex.upstream.aiohttp_transport import AiohttpTransport
    from godex.upstream.http1 import Http1Transport

    cfg, _ = _load(tmp_path, OK_PROVIDER)
    assert cfg.upstream.transport == "builtin" and isinstance(make_transport(cfg), Http1Transport)
    cfg, _ = _load(tmp_path, OK_PROVIDER + "upstream: {transport: aiohttp}\n")
    assert isinstance(make_transport(cfg), AiohttpTransport)
    problems = _problems(tmp_path, OK_PROVIDER + "upstream: {transport: curl}\n")
    assert len(problems) == 1 and problems[0].startswith("upstream.transport:")
