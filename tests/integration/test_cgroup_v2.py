"""A cgroup-v2-only host, reached through the engine's reported facts: a proxy in front of the
engine's socket answers `/info` with `CgroupVersion: "2"` (everything else passes through), and
the agent stand-in is told the host's layout (`STANDIN_HOST_CGROUP=2`) and decides from its own
settings, as the real agent does, whether it starts. This machine itself is cgroup v1.
"""

from __future__ import annotations

import json
import os
import re
import socket
import tempfile
import threading
from collections.abc import Iterator

import docker
import pytest
import requests

from stackbed import Stack, one_error
from testbed import IMAGES, TEST_LABEL

pytestmark = pytest.mark.docker

ENGINE_SOCKET = "/var/run/docker.sock"
INFO = re.compile(rb"^GET (/v[0-9.]+)?/info[ ?]")


class CgroupV2Proxy:
    """A unix socket that relays each HTTP request to the engine on a connection of its own
    (closed after the answer), and rewrites the answer to `GET /info` to say cgroup v2."""

    def __init__(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="ms-v2-")
        self.path = os.path.join(self.directory, "docker.sock")
        self.endpoint = f"unix://{self.path}"
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(self.path)
        self.listener.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.listener.close()
        os.unlink(self.path)
        os.rmdir(self.directory)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            try:
                while self._one(client):
                    pass
            except OSError:
                pass

    def _one(self, client: socket.socket) -> bool:
        """One request and its answer; False once the client is gone."""
        head, body = _read_request(client)
        if head is None:
            return False
        head = re.sub(rb"(?im)^connection:.*\r\n", b"", head)
        head = head.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
        with socket.socket(socket.AF_UNIX) as engine:
            engine.connect(ENGINE_SOCKET)
            engine.sendall(head + body)
            if INFO.match(head):
                client.sendall(_as_v2(_read_all(engine)))
                return False
            while chunk := engine.recv(65536):  # streams (pulls, logs) as they come
                client.sendall(chunk)
        return False  # the answer said `Connection: close`: the client reconnects


def _read_request(client: socket.socket) -> tuple[bytes | None, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.recv(65536)
        if not chunk:
            return None, b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    found = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    length = int(found.group(1)) if found else 0
    while len(body) < length:
        body += client.recv(65536)
    return head + b"\r\n\r\n", body


def _read_all(engine: socket.socket) -> bytes:
    data = b""
    while chunk := engine.recv(65536):
        data += chunk
    return data


def _as_v2(answer: bytes) -> bytes:
    head, _, body = answer.partition(b"\r\n\r\n")
    if re.search(rb"(?im)^transfer-encoding:\s*chunked", head):
        body = _unchunk(body)
        head = re.sub(rb"(?im)^transfer-encoding:.*(\r\n|$)", b"", head)
    info = json.loads(body)
    info["CgroupVersion"] = "2"
    body = json.dumps(info).encode()
    head = re.sub(rb"(?im)^content-length:.*(\r\n|$)", b"", head).rstrip(b"\r\n")
    head += b"\r\nContent-Length: " + str(len(body)).encode()
    if not re.search(rb"(?im)^connection:", head):
        head += b"\r\nConnection: close"
    return head + b"\r\n\r\n" + body


def _unchunk(body: bytes) -> bytes:
    out = b""
    while body:
        size, _, rest = body.partition(b"\r\n")
        length = int(size.split(b";")[0], 16)
        if length == 0:
            break
        out, body = out + rest[:length], rest[length + 2:]
    return out


@pytest.fixture
def v2() -> Iterator[CgroupV2Proxy]:
    proxy = CgroupV2Proxy()
    try:
        yield proxy
    finally:
        proxy.close()


def test_the_proxy_says_cgroup_v2_and_passes_the_rest(v2: CgroupV2Proxy) -> None:
    client = docker.DockerClient(base_url=v2.endpoint, timeout=30)
    try:
        assert client.info()["CgroupVersion"] == "2"
        assert client.version()["ApiVersion"]
        assert isinstance(client.containers.list(all=True), list)
    finally:
        client.close()


def test_auto_gives_command_tasks_and_docker_tasks_are_refused(
        modern_stack: Stack, v2: CgroupV2Proxy) -> None:
    on_v2 = {"DOCKER_HOST": v2.endpoint}
    modern_stack.env("slave", STANDIN_HOST_CGROUP="2")
    del modern_stack.config["slave"]["privileged"]  # as the default leaves it
    modern_stack.write()
    before = modern_stack.ids()
    try:
        up = modern_stack.cli("up", env=on_v2)
        assert up.returncode == 0, up.stderr
        assert ("command tasks (auto: the host has cgroup v2 only (Docker tasks need cgroup "
                "v1))") in up.stderr.splitlines()[0], up.stderr
        agent = modern_stack.containers()["slave"]
        env = dict(item.split("=", 1) for item in agent.attrs["Config"]["Env"])
        assert (env["MESOS_CONTAINERIZERS"], env["MESOS_LAUNCHER"]) == ("mesos", "posix")
        assert agent.attrs["HostConfig"]["Privileged"] is False
        status = modern_stack.cli("status", env=on_v2)
        assert status.returncode == 0 and "command tasks (auto: " in status.stdout
    finally:
        down = modern_stack.cli("down", env=on_v2)
    assert down.returncode == 0, down.stderr

    modern_stack.config["slave"]["tasks"] = "docker"
    modern_stack.write()
    refused = modern_stack.cli("up", env=on_v2)
    assert refused.returncode != 0
    assert "the Docker containerizer needs a cgroup v1 `cpu` hierarchy" in one_error(
        refused.stderr)
    assert modern_stack.ids() == before


@pytest.mark.parametrize(("settings", "line"), [
    ({"MESOS_CONTAINERIZERS": "docker,mesos", "MESOS_LAUNCHER": "posix"},
     "Failed to find a mounted cgroups hierarchy for the 'cpu' subsystem"),
    ({"MESOS_CONTAINERIZERS": "mesos"}, "Failed to create Linux launcher"),
])
def test_the_agent_stand_in_exits_on_a_v2_host_as_the_real_one_does(
        docker_client: docker.DockerClient, settings: dict[str, str], line: str) -> None:
    """Without mesostack in between: a root agent told the host has cgroup v2 only."""
    container = docker_client.containers.run(
        IMAGES["mesos-slave-mesosphere"], detach=True, network_mode="none",
        labels={TEST_LABEL: "cgroup-v2"},
        environment={"STANDIN_HOST_CGROUP": "2", "MESOS_MASTER": "127.0.0.1:5050",
                     "MESOS_WORK_DIR": "/tmp/mesos", **settings})
    try:
        result = container.wait(timeout=60)
        logs = container.logs().decode(errors="replace")
        assert result["StatusCode"] != 0, logs
        assert line in logs, logs
    finally:
        container.remove(force=True)


def test_command_settings_start_on_a_v2_host(docker_client: docker.DockerClient) -> None:
    container = docker_client.containers.run(
        IMAGES["mesos-slave-mesosphere"], detach=True, network_mode="none",
        labels={TEST_LABEL: "cgroup-v2"},
        environment={"STANDIN_HOST_CGROUP": "2", "MESOS_MASTER": "127.0.0.1:5050",
                     "MESOS_WORK_DIR": "/tmp/mesos", "MESOS_CONTAINERIZERS": "mesos",
                     "MESOS_LAUNCHER": "posix", "MESOS_ISOLATION": "posix/cpu,posix/mem",
                     "MESOS_SYSTEMD_ENABLE_SUPPORT": "false", "MESOS_PORT": "25051"})
    try:
        with pytest.raises((requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
            container.wait(timeout=5)
        container.reload()
        assert container.status == "running", container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)
