"""Hosts reached through remote Docker endpoints, on loopback: SSH and TCP with TLS.

`bash scripts/test` starts both in front of this machine's engine: sshd on 127.0.0.1:22 with a
key made for the tests, and a TLS listener on 127.0.0.1:2376 with certificates made by openssl
(client certificates in $MESOSTACK_TEST_TLS_CERTS).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from stackbed import Stack, all_container_ids

pytestmark = pytest.mark.docker

SSH = "ssh://root@127.0.0.1"
TLS = "tcp://127.0.0.1:2376"


def endpoints_ready() -> str | None:
    """Why the endpoints can't be used, or None."""
    certs = os.environ.get("MESOSTACK_TEST_TLS_CERTS", "")
    if not certs or not (Path(certs) / "cert.pem").is_file():
        return "no TLS client certificates ($MESOSTACK_TEST_TLS_CERTS); run bash scripts/test"
    ssh = subprocess.run(["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=3",
                          "root@127.0.0.1", "docker", "version", "--format", "ok"],
                         capture_output=True, text=True, check=False)
    if ssh.returncode != 0:
        return f"ssh root@127.0.0.1 does not reach docker ({ssh.stderr.strip()[:120]})"
    return None


@pytest.fixture
def remote(docker_client: docker.DockerClient, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    problem = endpoints_ready()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(problem, pytrace=False)
        pytest.skip(problem)
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", os.environ["MESOSTACK_TEST_TLS_CERTS"])
    stack = Stack(docker_client, tmp_path, "modern")
    del stack.config["host_ip"]
    stack.config["hosts"] = [{"name": "viassh", "ip": "127.0.0.1", "docker": SSH},
                             {"name": "viatls", "ip": "127.0.0.2", "docker": TLS}]
    for role in ("zookeeper", "master"):
        stack.config[role]["on"] = ["viassh"]
    for role in ("slave", "marathon"):
        stack.config[role]["on"] = ["viatls"]
    stack.write()
    try:
        yield stack
    finally:
        stack.remove_all()


def test_up_status_down_through_ssh_and_tls(remote: Stack,
                                            docker_client: docker.DockerClient) -> None:
    before = all_container_ids(docker_client)
    dry = remote.cli("up", "--dry-run")
    assert "# host viassh 127.0.0.1 (docker ssh://root@127.0.0.1)" in dry.stdout
    assert "# host viatls 127.0.0.2 (docker tcp://127.0.0.1:2376)" in dry.stdout
    up = remote.cli("up")
    assert up.returncode == 0, up.stderr
    status = remote.cli("status", "-o", "json")
    assert status.returncode == 0, status.stderr
    document = json.loads(status.stdout)
    assert {c["name"]: c["host"] for c in document["components"]} == {
        f"{remote.name}-zookeeper": "viassh", f"{remote.name}-master": "viassh",
        f"{remote.name}-slave": "viatls", f"{remote.name}-marathon": "viatls"}
    again = remote.cli("up")
    assert again.returncode == 0 and "nothing changed" in again.stderr
    logs = remote.cli("logs", "marathon", "--tail", "3")
    assert logs.returncode == 0 and logs.stdout.strip()
    down = remote.cli("down")
    assert down.returncode == 0, down.stderr
    assert "removed 4 containers" in down.stderr
    assert all_container_ids(docker_client) == before


def test_an_unreachable_endpoint_is_named(remote: Stack) -> None:
    remote.config["hosts"][1]["docker"] = "tcp://127.0.0.1:2377"
    remote.write()
    up = remote.cli("up")
    assert up.returncode == 1
    error = [line for line in up.stderr.splitlines() if line.startswith("mesostack: error:")]
    assert len(error) == 1 and "tcp://127.0.0.1:2377" in error[0], up.stderr
    assert "Traceback" not in up.stderr
