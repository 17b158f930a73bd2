"""A running Docker engine for the image tests: installed from Debian's docker.io when missing (as
root), and dockerd started in the background when it is installed but not running."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from tests.deploy.system import ensure_command


def engine_answers() -> bool:
    done = subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False)
    return done.returncode == 0


@contextlib.contextmanager
def docker_engine(log_dir: Path) -> Iterator[None]:
    """Yield with `docker` talking to an engine; stop the engine after only if we started it."""
    ensure_command("docker", "docker.io")
    dockerd = ensure_command("dockerd", "docker.io")
    if engine_answers():
        yield
        return
    log = (log_dir / "dockerd.log").open("wb")
    proc = subprocess.Popen([dockerd], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        end = time.monotonic() + 90
        while not engine_answers():
            # An exited dockerd may have lost a race with another one starting: wait for that.
            if time.monotonic() > end:
                status = "running" if proc.poll() is None else f"exited with {proc.returncode}"
                raise AssertionError(
                    f"no Docker engine answered within 90 s (our dockerd {status}):\n"
                    + (log_dir / "dockerd.log").read_text()[-3000:]
                )
            time.sleep(0.5)  # polling the engine's readiness
        yield
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 15)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait(timeout=30)
        log.close()
