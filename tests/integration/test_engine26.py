"""The test bed's second engine, Docker 26.1 from Debian trixie (scripts/engine26), as mesostack
and its agents see it: a current engine's facts, the local registry's images, containers that
run on it (not on the machine's 20.10 engine), and its refusal of a 2015 client's API 1.20.

`bash scripts/test` starts it, pulls the test images into it and names its socket in
$MESOSTACK_TEST_DOCKER26; by hand: `scripts/engine26 up`. No test here binds a port.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from mesostack.runtime import Engine, EngineUnreachable
from testbed import IMAGES, TEST_LABEL

pytestmark = pytest.mark.docker

ENDPOINT = os.environ.get("MESOSTACK_TEST_DOCKER26", "unix:///run/mesostack-test/docker26.sock")
LABELS = {TEST_LABEL: uuid.uuid4().hex[:8]}  # this module's containers, removed by it
REFUSAL = "client version 1.20 is too old. Minimum supported API version is 1.24"
# Asks the engine behind the socket mounted at /var/run/docker.sock for its version, as an
# agent's Docker client would (the task image has python3, and no network here).
ASK_VERSION = """
import json, socket
s = socket.socket(socket.AF_UNIX)
s.connect("/var/run/docker.sock")
s.sendall(b"GET /version HTTP/1.0\\r\\nHost: docker\\r\\n\\r\\n")
answer = b""
while chunk := s.recv(65536):
    answer += chunk
print(json.loads(answer.split(b"\\r\\n\\r\\n", 1)[1])["Version"])
"""


def _missing(message: str) -> None:
    """Fail in CI, where scripts/test starts the engine; skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def engine() -> Engine:
    try:
        return Engine.connect(ENDPOINT, timeout=30)
    except EngineUnreachable as exc:
        _missing(f"no Docker 26.1 engine at {ENDPOINT} ({exc}); `scripts/engine26 up` starts it")
        raise


@pytest.fixture
def client26(engine: Engine) -> Iterator[docker.DockerClient]:
    """docker-py on the 26.1 engine; every container it started is removed at the end."""
    client = docker.DockerClient(base_url=ENDPOINT, timeout=60)
    try:
        yield client
    finally:
        mine = {"label": f"{TEST_LABEL}={LABELS[TEST_LABEL]}"}
        for container in client.containers.list(all=True, filters=mine):
            container.remove(force=True)
        client.close()


def _api(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def test_its_facts_are_docker_26_with_api_1_45_or_later(engine: Engine) -> None:
    facts = engine.facts()

    assert facts.server_version.startswith("26."), facts
    assert _api(facts.api_version) >= (1, 45), facts
    assert facts.endpoint == ENDPOINT


def test_an_image_from_the_local_registry_is_there(engine: Engine) -> None:
    ref = IMAGES["task"]
    pulled = engine.pull(ref, lambda progress: None)  # a no-op when scripts/test pulled it

    assert engine.image_id(ref) == pulled


def test_a_container_without_network_runs_there_on_bookworms_runc(
        client26: docker.DockerClient) -> None:
    container = client26.containers.run(IMAGES["task"], ["sh", "-c", "echo ran"], detach=True,
                                        network_mode="none", labels=LABELS)

    result = container.wait(timeout=60)

    assert result["StatusCode"] == 0, container.logs().decode(errors="replace")
    assert container.logs().decode().strip() == "ran"
    assert client26.info()["RuncCommit"]["ID"].startswith("1.1.")


def test_a_container_mounting_its_engines_socket_reaches_26_1(
        client26: docker.DockerClient) -> None:
    """What an agent on this engine needs (issue 14, finding 7): the socket it is created on."""
    socket_path = ENDPOINT.removeprefix("unix://")
    container = client26.containers.run(
        IMAGES["task"], ["python3", "-c", ASK_VERSION], detach=True, network_mode="none",
        labels=LABELS,
        volumes={socket_path: {"bind": "/var/run/docker.sock", "mode": "rw"}})

    result = container.wait(timeout=60)

    logs = container.logs().decode(errors="replace")
    assert result["StatusCode"] == 0, logs
    assert logs.strip().startswith("26."), logs


def test_a_client_pinned_at_api_1_20_is_refused(engine: Engine) -> None:
    # docker-py 7 will not itself speak below 1.24, so its session asks as a 2015 client does:
    # the API version is the path's prefix.
    api = docker.APIClient(base_url=ENDPOINT, version="1.24", timeout=30)
    try:
        answer = api.get(f"{api.base_url}/v1.20/version")
    finally:
        api.close()

    assert answer.status_code == 400
    assert REFUSAL in answer.json()["message"]


def test_an_agent_drives_the_engine_it_was_created_on(
        client26: docker.DockerClient, docker_client: docker.DockerClient,
        tmp_path: Path) -> None:
    """A stack on this engine through DOCKER_HOST: its agent mounts this engine's socket (not
    /var/run/docker.sock, the machine's 20.10), so its Docker tasks run here."""
    from stackbed import Stack

    stack = Stack(client26, tmp_path, "modern")
    on26 = {"DOCKER_HOST": ENDPOINT}
    try:
        up = stack.cli("up", env=on26)
        assert up.returncode == 0, up.stderr
        app = {"id": "docker-26", "cmd": "sleep 600", "cpus": 0.1, "mem": 16,
               "container": {"type": "DOCKER", "docker": {
                   "image": IMAGES["task"], "network": "HOST",
                   "parameters": [{"key": "label", "value": f"{TEST_LABEL}={stack.run_id}"}]}}}
        (tmp_path / "app.json").write_text(json.dumps(app))
        deployed = stack.cli("deploy", str(tmp_path / "app.json"), env=on26)
        assert deployed.returncode == 0, deployed.stderr
        mine = {"label": f"{TEST_LABEL}={stack.run_id}"}
        assert len(client26.containers.list(filters=mine)) == 1
        assert docker_client.containers.list(all=True, filters=mine) == []
        down = stack.cli("down", env=on26)
        assert down.returncode == 0, down.stderr
        assert client26.containers.list(all=True, filters=mine) == []
    finally:
        stack.remove_all()
