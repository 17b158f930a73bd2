"""The godex command: every subcommand's exit codes and output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from godex import cli
from godex.cli import main
from godex.config.schema import GodexConfig

OK_CONFIG = (
    "providers: {d: {spec: deepseek, credentials: {api_key: '${DS_KEY}'}}}\n"
    "models: {aliases: {gpt-5.5: d/deepseek-v4-pro}}\n"
)


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for var in (
        "DEEPSEEK_API_KEY",
        "DS_KEY",
        "GODEX_HOST",
        "GODEX_PORT",
        "GODEX_CONFIG",
        "GODEX_LOG_LEVEL",
        "ZHIPUAI_API_KEY",
    ):
        monkeypatch.delenv(var, raising=False)
    return CliRunner()


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["serve"],
        ["init"],
        ["config"],
        ["config", "check"],
        ["config", "print"],
        ["sessions"],
        ["sessions", "prune"],
        ["traces"],
    ],
)
def test_help(runner: CliRunner, args: list[str]) -> None:
    result = runner.invoke(main, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: godex ")
    if not args:
        for command in ("serve", "init", "config", "sessions", "traces"):
            assert f"  {command} " in result.output


def test_python_dash_m_godex(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "godex", "config", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert out.returncode == 0, out.stderr
    assert "check" in out.stdout and "print" in out.stdout


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("godex, version ")


def test_broken_lazy_command_leaves_the_rest_working(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(
        cli.LAZY_COMMANDS, "traces", ("godex.no_such_module", "traces", "Inspect traces.")
    )
    listing = runner.invoke(main, ["--help"])
    assert listing.exit_code == 0 and "traces" in listing.output and "unavailable" in listing.output
    broken = runner.invoke(main, ["traces"])
    assert broken.exit_code == 1
    assert "'godex traces' is unavailable: ModuleNotFoundError" in broken.output
    assert runner.invoke(main, ["config", "--help"]).exit_code == 0


def test_init_non_interactive_and_overwrite(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["init", "--provider", "deepseek", "--provider", "zhipu", "--yes"])
    assert result.exit_code == 0, result.output
    assert "DEEPSEEK_API_KEY=..." in result.output and "ZHIPUAI_API_KEY=..." in result.output
    written = (tmp_path / "godex.yaml").read_text()
    assert "spec: deepseek" in written and "spec: zhipu" in written
    assert '"${DEEPSEEK_API_KEY}"' in written and "# " in written  # commented

    (tmp_path / "godex.yaml").write_text("# mine\n")
    again = runner.invoke(main, ["init", "--yes"])
    assert again.exit_code == 1 and "already exists; use --force" in again.output
    assert (tmp_path / "godex.yaml").read_text() == "# mine\n"  # untouched
    forced = runner.invoke(main, ["init", "--yes", "--force"])
    assert forced.exit_code == 0, forced.output
    assert "spec: deepseek" in (tmp_path / "godex.yaml").read_text()


def test_generated_file_passes_config_check(runner: CliRunner, tmp_path: Path) -> None:
    assert runner.invoke(main, ["init", "--yes", "--path", "conf/g.yaml"]).exit_code == 0
    check = runner.invoke(
        main, ["config", "check", "--config", "conf/g.yaml"], env={"DEEPSEEK_API_KEY": "sk-1"}
    )
    assert check.exit_code == 0, check.output
    assert "warning" not in check.output
    assert "deepseek: spec deepseek, default endpoint, key set from DEEPSEEK_API_KEY" in (
        check.output
    )
    assert "gpt-5.5 -> deepseek/deepseek-v4-pro" in check.output
    assert "sessions: sqlite at ./data/sessions.db" in check.output
    assert "traces: sqlite at ./data/trace.db" in check.output


def test_init_interactive(runner: CliRunner, tmp_path: Path) -> None:
    answers = "deepseek, minimax\nDS_KEY\ndeepseek-v4-flash\nMM_KEY\nMiniMax-M3\n"
    result = runner.invoke(main, ["init"], input=answers)
    assert result.exit_code == 0, result.output
    assert "known: deepseek-v4-pro, deepseek-v4-flash" in result.output  # offered models
    data = yaml.safe_load((tmp_path / "godex.yaml").read_text())
    assert data["providers"]["deepseek"]["credentials"]["api_key"] == "${DS_KEY}"
    assert data["providers"]["minimax"]["credentials"]["api_key"] == "${MM_KEY}"
    aliases = data["models"]["aliases"]
    # A model of your own choosing answers every size of client model.
    assert set(aliases.values()) == {"deepseek/deepseek-v4-flash"}
    assert {"gpt-5.5", "gpt-5.4-mini", "claude-sonnet-*"} <= set(aliases)
    assert data["default_provider"] == "deepseek"
    check = runner.invoke(main, ["config", "check"], env={"DS_KEY": "a", "MM_KEY": "b"})
    assert check.exit_code == 0, check.output


def test_init_interactive_rejects_unknown_provider(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["init"], input="deepseek,acme\n")
    assert result.exit_code == 1 and "unknown provider(s): acme" in result.output
    assert not (tmp_path / "godex.yaml").exists()


def test_init_offers_every_registered_provider() -> None:
    from godex.providers import registry

    assert set(cli.INIT_PROVIDERS) == set(registry.SPECS)
    assert {"openai_compatible", "kimi", "qwen", "doubao", "vllm", "sglang", "ollama"} <= set(
        cli.INIT_PROVIDERS
    )


_SIZES = {"gpt-5.5": "big", "gpt-5.4": "main", "gpt-5.4-mini": "mini", "gpt-5.3-codex": "main"}
_EXPECTED_TIERS = {
    "kimi": ("kimi-k2.6", "kimi-k2.6", "kimi-k2.5"),
    "qwen": ("qwen3-max", "qwen3-coder-plus", "qwen3-coder-flash"),
    "doubao": (
        "doubao-seed-1-8-251228",
        "doubao-seed-code-preview-251028",
        "doubao-seed-1-6-flash-250615",
    ),
    "deepseek": ("deepseek-v4-pro", "deepseek-v4-pro", "deepseek-v4-flash"),
}


@pytest.mark.parametrize("name", cli.INIT_PROVIDERS)
def test_init_writes_a_checked_config_with_client_aliases_for_each_provider(
    runner: CliRunner, tmp_path: Path, name: str
) -> None:
    from godex.config.loader import load
    from godex.gateway.routing import ModelRouter
    from godex.gateway.wiring import build_runtimes
    from godex.providers import registry

    spec = registry.get_spec(name)
    assert spec is not None
    written = runner.invoke(main, ["init", "--provider", name, "--yes"])
    assert written.exit_code == 0, written.output
    env = {spec.api_key_env: "sk-test-1"} if spec.api_key_required else {}
    check = runner.invoke(main, ["config", "check"], env=env)
    assert check.exit_code == 0, check.output
    assert "warning" not in check.output
    if not spec.api_key_required:  # local engines: the key is optional, nothing to export
        assert f"${{{spec.api_key_env}:-}}" in (tmp_path / "godex.yaml").read_text()
        assert "export" not in written.output
    cfg = load(str(tmp_path / "godex.yaml"), env=env, strict=True).config
    router = ModelRouter(cfg, build_runtimes(cfg)[0])
    from godex.config.template import SUGGESTED

    fallback = SUGGESTED.get(name)
    local = (spec.default_model,) * 3
    big, main_, mini = _EXPECTED_TIERS.get(
        name, (fallback.big, fallback.main, fallback.mini) if fallback else local
    )
    tiers = {"big": big, "main": main_, "mini": mini}
    for client_model, size in _SIZES.items():
        assert router.resolve(client_model).label == f"{name}/{tiers[size]}"
    assert router.resolve("gpt-6.1-sol").label == f"{name}/{big}"
    assert router.resolve("claude-opus-4-7").label == f"{name}/{big}"
    assert router.resolve("claude-sonnet-4-6").label == f"{name}/{main_}"
    assert router.resolve("claude-haiku-4-5-20251001").label == f"{name}/{mini}"


def test_init_local_engine_takes_the_served_model_and_url(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(
        main,
        [
            "init",
            "--provider",
            "vllm",
            "--model",
            "Qwen/Qwen3-Coder",
            "--base-url",
            "http://gpu:8000/v1",
            "--yes",
        ],
    )
    assert result.exit_code == 0, result.output
    data = yaml.safe_load((tmp_path / "godex.yaml").read_text())
    assert data["providers"]["vllm"]["endpoint"] == {"base_url": "http://gpu:8000/v1"}
    assert data["providers"]["vllm"]["credentials"] == {"api_key": "${VLLM_API_KEY:-}"}
    assert set(data["models"]["aliases"].values()) == {"vllm/Qwen/Qwen3-Coder"}


def test_builtin_default_aliases_codex_and_claude_code_models() -> None:
    from godex.config.loader import default_raw

    aliases = default_raw()["models"]["aliases"]
    assert aliases["gpt-5.5"] == "deepseek/deepseek-v4-pro"
    assert aliases["gpt-5.4-mini"] == "deepseek/deepseek-v4-flash"
    assert aliases["claude-haiku-*"] == "deepseek/deepseek-v4-flash"
    assert "*" not in aliases  # other names still reach DeepSeek as they are


def test_check_counts_missing_variable(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "godex.yaml").write_text(OK_CONFIG)
    result = runner.invoke(main, ["config", "check"])
    assert result.exit_code == 1
    assert f"1 configuration problem(s) in {tmp_path / 'godex.yaml'}:" in result.output
    assert "providers.d.credentials.api_key: environment variable DS_KEY is not set" in (
        result.output
    )
    ok = runner.invoke(main, ["config", "check"], env={"DS_KEY": "k"})
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith(f"OK: {tmp_path / 'godex.yaml'}\n")
    assert "server: 127.0.0.1:5678, 1 worker(s), client auth off" in ok.output


def test_check_builtin_default(runner: CliRunner) -> None:
    missing = runner.invoke(main, ["config", "check"])
    assert missing.exit_code == 1 and "DEEPSEEK_API_KEY" in missing.output
    ok = runner.invoke(main, ["config", "check"], env={"DEEPSEEK_API_KEY": "sk-1"})
    assert ok.exit_code == 0 and "built-in default" in ok.output


def test_check_lists_every_problem(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "server: {port: x}\nproviders: {a: {spec: nope}, b: {api_key: k}}\nsesion: {}\n"
    )
    result = runner.invoke(main, ["config", "check", "--config", "bad.yaml"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == "3 configuration problem(s) in bad.yaml:"
    assert [line.split(":")[0].strip() for line in lines[1:4]] == [
        "- server.port",
        "- providers.a.spec",
        "- providers.b.spec",
    ]


def test_check_shows_warnings(runner: CliRunner, tmp_path: Path) -> None:
    # Issue 22 changed this: an unknown key now fails the check (serve still only warns).
    (tmp_path / "godex.yaml").write_text(OK_CONFIG + "sesion: {ttl: 1d}\n")
    result = runner.invoke(main, ["config", "check"], env={"DS_KEY": "k"})
    assert result.exit_code == 1
    assert "sesion: unknown key, ignored (did you mean 'session'?)" in result.output
    # A warning that is not about an unknown key leaves the check passing.
    (tmp_path / "godex.yaml").write_text(
        "providers: {d: {spec: deepseek, credentials: {api_key: k},"
        " capabilities: {parallel_tool_calls: false}}}\n"
    )
    ok = runner.invoke(main, ["config", "check"])
    assert ok.exit_code == 0, ok.output
    assert "warning: providers.d.capabilities: only used by spec openai_compatible" in ok.output


def test_check_malformed_yaml(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "godex.yaml").write_text("providers:\n  d: {spec: deepseek\n")
    result = runner.invoke(main, ["config", "check"])
    assert result.exit_code == 1 and "malformed YAML at line" in result.output


def test_print_redacts(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "godex.yaml").write_text(
        "server: {api_keys: [client-abcdef], secret: seal-abcdef}\n"
        "providers: {d: {spec: deepseek, credentials: {api_key: '${DS_KEY}'}}}\n"
    )
    result = runner.invoke(main, ["config", "print"], env={"DS_KEY": "upstream-abcdef"})
    assert result.exit_code == 0, result.output
    assert "abcdef" not in result.output
    data = yaml.safe_load(result.output)  # comments aside, it is YAML
    assert data["server"]["api_keys"] == ["***"] and data["server"]["secret"] == "***"
    assert data["providers"]["d"]["credentials"]["api_key"] == "***"
    assert data["providers"]["d"]["spec"] == "deepseek"
    assert result.output.startswith(f"# source: {tmp_path / 'godex.yaml'}\n")


def test_print_bad_config_exits_1(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "godex.yaml").write_text("providers: {d: {spec: nope}}\n")
    result = runner.invoke(main, ["config", "print"])
    assert result.exit_code == 1 and "providers.d.spec" in result.output


def test_serve_applies_flags_over_env_over_file(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import godex.server.runner as server_runner

    seen: list[tuple[GodexConfig, list[str]]] = []
    monkeypatch.setattr(server_runner, "serve", lambda c, w=None, s=None: seen.append((c, w or [])))
    (tmp_path / "godex.yaml").write_text(OK_CONFIG + "server: {host: 10.1.1.1, port: 1111}\n")
    env = {"GODEX_HOST": "10.2.2.2", "GODEX_PORT": "2222"}
    assert runner.invoke(main, ["serve"], env=env).exit_code == 0
    cfg, warnings = seen[-1]
    assert (cfg.server.host, cfg.server.port) == ("10.2.2.2", 2222)
    assert cfg.providers["d"].unavailable_reason is not None  # serve starts anyway
    assert len(warnings) == 1 and "DS_KEY" in warnings[0]
    args = ["serve", "--host", "127.0.0.3", "--port", "3333", "--log-level", "DEBUG"]
    result = runner.invoke(main, [*args, "--workers", "2"], env=env)
    assert result.exit_code == 0, result.output
    cfg, _ = seen[-1]
    assert (cfg.server.host, cfg.server.port, cfg.server.workers) == ("127.0.0.3", 3333, 2)
    assert cfg.logging.level == "debug"


def test_serve_refuses_invalid_config(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import godex.server.runner as server_runner

    called: list[object] = []
    monkeypatch.setattr(server_runner, "serve", lambda *a: called.append(a))
    (tmp_path / "godex.yaml").write_text("providers: {d: {spec: nope}}\n")
    result = runner.invoke(main, ["serve"])
    assert result.exit_code == 1 and "providers.d.spec" in result.output and not called
    bad_port = runner.invoke(main, ["serve", "--port", "99999"])
    assert bad_port.exit_code == 2 and not called


def test_sessions_prune_validates_age(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "godex.yaml").write_text(OK_CONFIG)
    bad = runner.invoke(main, ["sessions", "prune", "--older-than", "soon"])
    assert bad.exit_code == 2 and "'soon' is not a duration" in bad.output
    (tmp_path / "godex.yaml").write_text(OK_CONFIG + "session: {enabled: false}\n")
    off = runner.invoke(main, ["sessions", "prune"])
    assert off.exit_code == 1 and "sessions are disabled" in off.output


def test_sessions_prune_runs(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "godex.yaml").write_text(
        OK_CONFIG + f"session: {{sqlite: {{path: {tmp_path / 's.db'}}}}}\n"
    )
    result = runner.invoke(main, ["sessions", "prune", "--older-than", "1d"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "removed 0 stored response(s)\n"
    # Progress goes to stderr, the result stays alone on stdout.
    assert f"pruning stored responses older than 1d in {tmp_path / 's.db'} ..." in result.stderr


@pytest.mark.parametrize("command", [[], ["serve"], ["init"], ["reload"], ["config", "check"]])
def test_help_texts_show_examples(runner: CliRunner, command: list[str]) -> None:
    result = runner.invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and "Examples:" in result.output
    if not command:
        assert "_GODEX_COMPLETE=bash_source godex" in result.output


def test_reload_without_a_running_server_says_so(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "godex.yaml").write_text(OK_CONFIG)
    result = runner.invoke(main, ["reload"], env={"DS_KEY": "k"})
    assert result.exit_code == 1
    assert "no pid file at data/godex.pid: is godex serve running here?" in result.output


def test_reload_with_a_stale_pid_file_says_so(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "godex.yaml").write_text(OK_CONFIG)
    (tmp_path / "data").mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "data" / "godex.pid").write_text(f"{dead.pid}\n")
    result = runner.invoke(main, ["reload"], env={"DS_KEY": "k"})
    assert result.exit_code == 1 and f"no process {dead.pid} (stale pid file" in result.output
