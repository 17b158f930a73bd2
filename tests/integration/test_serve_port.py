"""`godex serve` on a taken port says so before starting, and how to pick another."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def test_port_in_use_fails_before_startup_with_how_to_pick_another(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "godex", "serve", "--port", str(port)],
            cwd=tmp_path,
            env={**os.environ, "DEEPSEEK_API_KEY": "sk-test-1"},
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 1
    assert f"server.port_in_use: port {port} on 127.0.0.1 is already in use" in done.stderr
    assert f"godex serve --port {port + 1}" in done.stderr and "GODEX_PORT" in done.stderr
    assert "Application startup complete" not in done.stderr + done.stdout
    assert not (tmp_path / "data" / "godex.pid").exists()
