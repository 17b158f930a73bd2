"""The image from scripts/build_image.sh: built with the classic builder on a local Debian base (no
registry here), run with host networking on loopback, healthy, and proxying one real request to a
fake upstream on 127.0.0.1. About a minute with a cached base and wheels, a few on a new machine."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.docker_engine import docker_engine
from tests.deploy.system import ROOT, debian_rootfs, free_port, wait_http
from tests.fakes.replay_upstream import FakeUpstream, Reply, completion_body, text_stream

pytestmark = pytest.mark.timeout(900)
IMAGE = "godex:deploy-test"


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with docker_engine(tmp_path_factory.mktemp("dockerd")):
        debian_rootfs()  # installs debootstrap when missing; the script builds the base from it
        done = subprocess.run(
            ["bash", str(ROOT / "scripts" / "build_image.sh")],
            env={**os.environ, "IMAGE": IMAGE},
            capture_output=True,
            text=True,
            timeout=840,
            check=False,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert done.stdout.strip().splitlines()[-1] == IMAGE
        yield IMAGE


def docker(*args: str, timeout: float = 120) -> str:
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr}"
    return done.stdout


def inspect(ref: str) -> dict[str, Any]:
    data = json.loads(docker("inspect", ref))
    assert isinstance(data, list) and isinstance(data[0], dict)
    return data[0]


def wait_healthy(name: str, *, deadline_s: float) -> str:
    """The container's health status once Docker has run its HEALTHCHECK and it passed or failed."""
    end = time.monotonic() + deadline_s
    status = "starting"
    while time.monotonic() < end:
        status = docker("inspect", "-f", "{{.State.Health.Status}}", name).strip()
        if status != "starting":
            return status
        time.sleep(0.25)  # polling Docker's own health state
    return status


def test_image_runs_as_non_root_with_a_data_volume_and_a_healthcheck(image: str) -> None:
    config = inspect(image)["Config"]
    assert config["User"] == "10001:10001"
    assert "/var/lib/godex" in config["Volumes"]
    assert config["WorkingDir"] == "/var/lib/godex"
    assert any("/health/live" in part for part in config["Healthcheck"]["Test"])
    uid = docker("run", "--rm", "--network", "none", "--entrypoint", "id", image, "-u")
    assert uid.strip() != "0"


def test_container_serves_health_and_proxies_a_request_to_the_upstream(
    image: str, tmp_path: Path
) -> None:
    port = free_port()
    with FakeUpstream() as upstream:

        def reply(body: dict[str, Any]) -> Reply:
            if body.get("stream"):
                return Reply(body=text_stream("hello from upstream"))
            return Reply.json(completion_body("hello from upstream"))

        upstream.default = reply
        config = tmp_path / "godex.yaml"
        config.write_text(
            f"""
server: {{host: 127.0.0.1, port: {port}}}
default_provider: fake
providers:
  fake:
    spec: openai_compatible
    credentials: {{api_key: sk-upstream-test}}
    endpoint: {{base_url: "{upstream.base_url}/v1"}}
"""
        )
        config.chmod(0o644)
        name = f"godex-deploy-test-{port}"
        docker(
            "run", "-d", "--name", name, "--network", "host",
            "-v", f"{config}:/etc/godex/godex.yaml:ro",
            "-e", f"GODEX_PORT={port}", "-e", "GODEX_HOST=127.0.0.1",
            # The image's own HEALTHCHECK command, asked every 0.5 s instead of every 30 s.
            "--health-interval", "500ms", "--health-start-period", "0s",
            image, "serve", "--config", "/etc/godex/godex.yaml",
        )  # fmt: skip
        try:
            wait_http(f"http://127.0.0.1:{port}/health/live", deadline_s=60)
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/v1/responses",
                data=json.dumps({"model": "fake/some-model", "input": "hi"}).encode(),
                headers={"content-type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=30) as resp:
                answer = json.load(resp)
            health = wait_healthy(name, deadline_s=60)
            logs = docker("logs", name)
        finally:
            subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True, check=False)
    assert health == "healthy"
    assert answer["status"] == "completed", answer
    texts = [
        part["text"]
        for item in answer["output"]
        if item["type"] == "message"
        for part in item["content"]
    ]
    assert texts == ["hello from upstream"], (answer, logs)
    assert upstream.requests and upstream.requests[-1].path.endswith("/chat/completions")
    assert upstream.requests[-1].headers["Authorization"] == "Bearer sk-upstream-test"
