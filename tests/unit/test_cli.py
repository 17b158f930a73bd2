"""The godex command: every subcommand's exit codes and output."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from godex.cli import main


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
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
        ["sessions", "prune"],
        ["traces"],
    ],
)
def test_help(runner: CliRunner, args: list[str]) -> None:
    result = runner.invoke(main, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_init_non_interactive_then_check(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["init", "--provider", "deepseek", "--provider", "zhipu", "--yes"])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "godex.yaml").read_text()
    assert "spec: deepseek" in text and "spec: zhipu" in text and "${DEEPSEEK_API_KEY}" in text
    again = runner.invoke(main, ["init", "--yes"])
    assert again.exit_code == 1 and "--force" in again.output
    assert runner.invoke(main, ["init", "--yes", "--force"]).exit_code == 0
    check = runner.invoke(main, ["config", "check"], env={"DEEPSEEK_API_KEY": "sk-1"})
    assert check.exit_code == 0, check.output
    assert "deepseek" in check.output and "sessions: sqlite" in check.output


def test_init_interactive(runner: CliRunner, tmp_path: Path) -> None:
    answers = "deepseek,minimax\nDS_KEY\ndeepseek-v4-flash\nMM_KEY\nMiniMax-M3\nmy-model\n"
    result = runner.invoke(main, ["init"], input=answers)
    assert result.exit_code == 0, result.output
    text = (tmp_path / "godex.yaml").read_text()
    assert "${DS_KEY}" in text and "${MM_KEY}" in text
    assert '"my-model": deepseek/deepseek-v4-flash' in text


def test_check_missing_variable_fails(runner: CliRunner, tmp_path: Path) -> None:
    runner.invoke(main, ["init", "--yes"])
    result = runner.invoke(main, ["config", "check"])
    assert result.exit_code == 1
    assert "DEEPSEEK_API_KEY" in result.output
    assert "providers.deepseek.credentials.api_key" in result.output


def test_check_lists_every_problem(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("server: {port: x}\nproviders: {a: {spec: nope}}\n")
    result = runner.invoke(main, ["config", "check", "--config", "bad.yaml"])
    assert result.exit_code == 1
    assert "server.port" in result.output and "providers.a.spec" in result.output


def test_print_redacts(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "godex.yaml").write_text(
        "server: {api_keys: [sk-client-abcdef]}\n"
        "providers: {d: {spec: deepseek, credentials: {api_key: sk-upstream-abcdef}}}\n"
    )
    result = runner.invoke(main, ["config", "print"])
    assert result.exit_code == 0, result.output
    assert "sk-client-abcdef" not in result.output and "sk-upstream-abcdef" not in result.output
    assert "***" in result.output and "spec: deepseek" in result.output


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0 and "godex" in result.output
