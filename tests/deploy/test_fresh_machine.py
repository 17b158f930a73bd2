"""The README's two commands on a fresh Debian machine that has only python3.

A debootstrap root file system (cached once per machine, see scripts/debian_rootfs.sh) with python3
and nothing else: no python3-venv (so no ensurepip), no pip, no node. The work tree is copied in and
the README's commands run in a chroot, as root, with the host's loopback network.
Download caches for pip and npm are kept between runs (under ~/.cache/godex/chroot-cache) so a rerun
costs about a minute; the first run on a machine takes a few minutes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.system import (
    chroot_copy,
    copy_work_tree,
    debian_rootfs,
    free_port,
    tls_env,
    wait_http,
)

pytestmark = pytest.mark.timeout(1500)

CACHE = Path(os.environ.get("GODEX_CACHE", Path.home() / ".cache" / "godex")) / "chroot-cache"
# What a login shell on a fresh machine has; nothing from this process leaks in.
CHROOT_ENV = {
    "HOME": "/root",
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "TERM": "dumb",
    **tls_env(),
}


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    rootfs = debian_rootfs()
    binds = {"/root/.cache/pip": CACHE / "pip", "/root/.npm": CACHE / "npm"}
    with chroot_copy(rootfs, tmp_path_factory.mktemp("fresh"), binds) as root:
        copy_work_tree(root / "src")
        yield root


def in_chroot(root: Path, script: str) -> list[str]:
    return ["chroot", str(root), "/usr/bin/env", "-i", *[f"{k}={v}" for k, v in CHROOT_ENV.items()],
            "/bin/sh", "-c", f"cd /src && {script}"]  # fmt: skip


def run(root: Path, script: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        in_chroot(root, script), capture_output=True, text=True, timeout=timeout, check=False
    )


def test_the_machine_has_python3_without_venv_pip_or_node(machine: Path) -> None:
    # The precondition that makes the next tests mean something.
    probe = run(machine, "python3 -c 'import sys; print(sys.version_info[:2] >= (3, 11))'")
    assert probe.stdout.strip() == "True", probe.stderr
    for missing in ("python3 -m ensurepip --version", "python3 -m pip --version", "node -v"):
        assert run(machine, missing).returncode != 0, f"`{missing}` works on the fresh machine"


def test_readme_install_command_serves_health_without_touching_system_python(
    machine: Path,
) -> None:
    port = free_port()
    server = subprocess.Popen(
        in_chroot(machine, f"exec ./scripts/serve --host 127.0.0.1 --port {port}"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        body = wait_http(f"http://127.0.0.1:{port}/health", deadline_s=900, alive=server)
    except AssertionError:
        server.kill()
        out = server.communicate(timeout=30)[0].decode(errors="replace")
        raise AssertionError(out[-4000:]) from None
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
    health = json.loads(body)
    assert isinstance(health, dict) and "status" in health
    # GodeX went into the project venv, not into the system Python.
    assert run(machine, ".venv/bin/python -c 'import godex'").returncode == 0
    # (from /, where the work tree is not on sys.path)
    assert run(machine, "cd / && python3 -c 'import godex'").returncode != 0
    assert run(machine, "python3 -m pip --version").returncode != 0


def test_second_bootstrap_reuses_the_venv_without_pip(machine: Path) -> None:
    again = run(machine, "python3 scripts/bootstrap.py", timeout=120)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "/src/.venv"
    assert "installing" not in again.stderr and "making" not in again.stderr


def test_readme_test_command_bootstraps_its_venv_and_runs_the_gates(machine: Path) -> None:
    done = run(machine, "bash scripts/test.sh tests/unit/test_config_units.py", timeout=1200)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-6000:]
    for gate in ("== ruff check", "== ruff format", "== mypy", "== pytest"):
        assert gate in out
    assert " passed" in out and " failed" not in out
    # node/npm came from PyPI into the venv, so Codex's pinned CLI installed.
    assert run(machine, ".venv/bin/node -v").returncode == 0
