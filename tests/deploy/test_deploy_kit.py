"""compose.yaml, deploy/godex.yaml and the systemd unit agree with each other and with GodeX."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from godex.config.loader import load_config
from tests.deploy.system import ROOT, ensure_command


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def compose_env(service: dict[str, Any]) -> dict[str, str]:
    """The service's environment as compose would pass it with nothing set on the host."""
    out = {}
    for key, value in service["environment"].items():
        out[key] = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value))
    return out


def test_compose_wires_godex_to_postgres_and_redis_once_they_are_healthy() -> None:
    services = compose()["services"]
    assert set(services) == {"godex", "postgres", "redis"}
    godex = services["godex"]
    for dep in ("postgres", "redis"):
        assert godex["depends_on"][dep] == {"condition": "service_healthy"}
        assert "healthcheck" in services[dep]
    env = compose_env(godex)
    assert env["GODEX_POSTGRES_DSN"].startswith("postgresql://godex:")
    assert env["GODEX_POSTGRES_DSN"].endswith("@postgres:5432/godex")
    assert env["GODEX_REDIS_URL"] == "redis://redis:6379/0"
    pg_env = services["postgres"]["environment"]
    assert pg_env["POSTGRES_USER"] == "godex" and pg_env["POSTGRES_DB"] == "godex"
    mounts = godex["volumes"]
    assert "./deploy/godex.yaml:/etc/godex/godex.yaml:ro" in mounts
    assert any(m.endswith(":/var/lib/godex") for m in mounts)
    assert godex["command"] == ["serve", "--config", "/etc/godex/godex.yaml"]
    # Published on loopback only: exposing the gateway is the operator's decision.
    assert godex["ports"] == ["127.0.0.1:5678:5678"]


def test_the_mounted_config_loads_with_the_compose_environment(tmp_path: Path) -> None:
    env = compose_env(compose()["services"]["godex"]) | {"DEEPSEEK_API_KEY": "sk-test"}
    config, warnings = load_config(str(ROOT / "deploy" / "godex.yaml"), env=env, cwd=tmp_path)
    assert config.server.host == "0.0.0.0" and config.server.port == 5678
    assert config.server.data_dir.startswith("/var/lib/godex")
    assert config.session.sqlite_path.startswith("/var/lib/godex")
    assert config.models.aliases["gpt-5.5"].startswith("deepseek/")
    assert config.providers["deepseek"].unavailable_reason is None
    assert config.server.api_keys == ()  # GODEX_CLIENT_KEY unset: no client key required
    # Only the not-yet-built shared-backend keys may be unknown to this GodeX.
    for warning in warnings:
        assert warning.split(":")[0] in {
            "session.postgres", "trace.backend", "trace.postgres", "limits"
        }, warning  # fmt: skip


def test_systemd_unit_verifies(tmp_path: Path) -> None:
    analyze = ensure_command("systemd-analyze", "systemd")
    unit = (ROOT / "deploy" / "godex.service").read_text()
    assert "ExecStart=/opt/godex/bin/godex serve --config /etc/godex/godex.yaml" in unit
    assert "ExecReload=/bin/kill -HUP $MAINPID" in unit  # systemctl reload: SIGHUP reloads
    # verify checks that ExecStart exists: point it at this environment's godex.
    beside = Path(sys.executable).parent / "godex"
    here = str(beside) if beside.exists() else shutil.which("godex")
    assert here, "the godex command is not installed"
    copy = tmp_path / "godex.service"
    copy.write_text(unit.replace("/opt/godex/bin/godex", here))
    done = subprocess.run(
        [analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0 and not done.stdout.strip() and not done.stderr.strip(), (
        done.stdout + done.stderr
    )
