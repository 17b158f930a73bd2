"""Host tools for the deployment tests: Debian packages, a Debian chroot, the Docker engine.

These tests prove what a newcomer and an operator do on a real machine, so they use the real tools.
A missing tool is installed from Debian's packages when the tests run as root (as CI does);
otherwise the test fails with the command to run. It is never skipped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_apt_updated = False
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
# TLS settings of the host's environment that point at its CA bundle; a chroot gets the same.
TLS_ENV = ("SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")


def tls_env() -> dict[str, str]:
    return {k: CA_BUNDLE for k in TLS_ENV if os.environ.get(k)}


def ensure_command(command: str, apt_package: str) -> str:
    """The path of `command`, installing `apt_package` first when it is missing and we are root."""
    global _apt_updated
    found = shutil.which(command) or shutil.which(command, path="/usr/sbin:/sbin")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise AssertionError(f"{command} is missing: run `apt-get install {apt_package}` as root")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not _apt_updated:
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
        _apt_updated = True
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", apt_package],
        check=True,
        env=env,
        timeout=900,
        stdout=subprocess.DEVNULL,
    )
    found = shutil.which(command) or shutil.which(command, path="/usr/sbin:/sbin")
    assert found, f"{apt_package} installed but {command} is still missing"
    return found


def debian_rootfs() -> Path:
    """The cached python3-only Debian root file system (built by debootstrap on first use)."""
    # debootstrap, chroot and mount need root; CI runs as root.
    assert os.geteuid() == 0, "the deployment tests need root (debootstrap, chroot, mount)"
    ensure_command("debootstrap", "debootstrap")
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "debian_rootfs.sh")],
        check=False,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, f"scripts/debian_rootfs.sh failed:\n{out.stderr[-3000:]}"
    return Path(out.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(
    url: str, *, deadline_s: float, alive: subprocess.Popen[bytes] | None = None
) -> bytes:
    """GET `url` until it answers 2xx; fail early if the process serving it has exited."""
    end = time.monotonic() + deadline_s
    last: Exception | None = None
    while time.monotonic() < end:
        if alive is not None and alive.poll() is not None:
            raise AssertionError(f"server exited with {alive.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return bytes(resp.read())
        except (urllib.error.URLError, ConnectionError, OSError) as exc:
            last = exc
        time.sleep(0.25)  # polling interval of a readiness probe, not a stand-in for an event
    raise AssertionError(f"{url} did not answer within {deadline_s:.0f}s: {last}")


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


def _mounted_below(path: Path) -> list[Path]:
    prefix = str(path)
    points = []
    for line in Path("/proc/mounts").read_text().splitlines():
        point = line.split()[1].replace("\\040", " ")
        if point == prefix or point.startswith(prefix + "/"):
            points.append(Path(point))
    return sorted(points, key=lambda p: len(str(p)), reverse=True)


@contextlib.contextmanager
def chroot_copy(rootfs: Path, workdir: Path, binds: dict[str, Path]) -> Iterator[Path]:
    """A throw-away copy of `rootfs` (an overlay when the kernel allows it) with /proc mounted and
    `binds` (path inside -> host dir) bind-mounted; every mount is undone however the block ends."""
    root = workdir / "root"
    root.mkdir()
    try:
        upper, work = workdir / "upper", workdir / "work"
        upper.mkdir()
        work.mkdir()
        overlay = subprocess.run(
            ["mount", "-t", "overlay", "overlay", "-o",
             f"lowerdir={rootfs},upperdir={upper},workdir={work}", str(root)],
            capture_output=True,
            check=False,
        )  # fmt: skip
        if overlay.returncode != 0:
            subprocess.run(["cp", "-a", f"{rootfs}/.", str(root)], check=True)
        shutil.copy("/etc/resolv.conf", root / "etc" / "resolv.conf")
        # The host's TLS trust: a network that intercepts TLS has its CA in the host's bundle, and a
        # machine on that network would have it too. Debian's own CAs are in that bundle as well.
        shutil.copy(CA_BUNDLE, root / "etc" / "ssl" / "certs" / "ca-certificates.crt")
        subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")], check=True)
        for inside, host in binds.items():
            host.mkdir(parents=True, exist_ok=True)
            target = root / inside.lstrip("/")
            target.mkdir(parents=True, exist_ok=True)
            subprocess.run(["mount", "--bind", str(host), str(target)], check=True)
        yield root
    finally:
        for point in _mounted_below(root):
            _umount(point)
        leftover = _mounted_below(root)
        assert not leftover, f"mounts left behind: {leftover}"


def copy_work_tree(dest: Path) -> None:
    """The work tree as a checkout would have it: tracked and untracked-but-not-ignored files."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for raw in listed:
        if not raw:
            continue
        rel = raw.decode()
        src = ROOT / rel
        if not src.is_file():
            continue  # deleted in the work tree but still in the index
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
