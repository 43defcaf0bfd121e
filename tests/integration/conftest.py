"""The real engine for docker-marked tests: fail (CI) or skip (elsewhere) when none answers.

Every container a test starts carries the test label with the test's own run id and is removed
by that label when the test ends, pass or fail; a failed test first gets the containers' logs.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Generator, Iterator, Mapping
from pathlib import Path
from typing import Any

import docker
import pytest
import requests
from docker.errors import DockerException, ImageNotFound
from docker.models.containers import Container

from stackbed import Stack
from testbed import GENERATIONS, IMAGES, TEST_LABEL, wait_until, zk_mode

IN_CI = os.environ.get("CI") == "true"


def _unavailable(message: str) -> None:
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    try:
        client = docker.from_env()
        client.ping()
    except DockerException as exc:
        _unavailable(f"no Docker engine answers ({exc}); `bash scripts/test` starts one")
    yield client
    client.close()


class TestBed:
    """Starts labelled containers with host networking and removes them all at the end."""

    __test__ = False

    def __init__(self, client: docker.DockerClient, run_id: str) -> None:
        self.client = client
        self.run_id = run_id
        self.labels = {TEST_LABEL: run_id}

    def image(self, key: str) -> str:
        ref = IMAGES[key]
        try:
            self.client.images.get(ref)
        except ImageNotFound:
            try:
                self.client.images.pull(ref)
            except DockerException as exc:
                _unavailable(f"test image {ref} is missing ({exc}); build it: "
                             "python3 tests/standins/build.py")
        return ref

    def run(self, key: str, *, name: str, env: Mapping[str, str] | None = None,
            **kwargs: Any) -> Container:
        container: Container = self.client.containers.run(
            self.image(key),
            detach=True,
            name=f"mesostack-test-{name}-{self.run_id}",
            network_mode="host",
            environment=dict(env or {}),
            labels=self.labels,
            **kwargs,
        )
        return container

    def containers(self) -> list[Container]:
        found: list[Container] = self.client.containers.list(ignore_removed=True,
            all=True, filters={"label": f"{TEST_LABEL}={self.run_id}"}
        )
        return found

    def dump_logs(self) -> str:
        parts = []
        for container in self.containers():
            logs = container.logs(tail=40).decode(errors="replace")
            parts.append(f"--- {container.name} ({container.status}) ---\n{logs}")
        return "\n".join(parts)

    def cleanup(self) -> None:
        for container in self.containers():
            container.remove(force=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[
        None, pytest.TestReport, pytest.TestReport]:
    report = yield
    item.stash.setdefault(_FAILED, False)
    if report.failed:
        item.stash[_FAILED] = True
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def failed(request: pytest.FixtureRequest) -> Callable[[], bool]:
    """Whether the test using it has failed so far (for dumping logs before cleanup)."""
    return lambda: bool(request.node.stash.get(_FAILED, False))


@pytest.fixture
def bed(docker_client: docker.DockerClient, request: pytest.FixtureRequest) -> Iterator[TestBed]:
    testbed = TestBed(docker_client, uuid.uuid4().hex[:8])
    try:
        yield testbed
    finally:
        if request.node.stash.get(_FAILED, False):
            print(testbed.dump_logs())
        testbed.cleanup()


class Standins:
    """ZooKeeper + master + agent + Marathon stand-ins on 127.0.0.1, started with plain docker-py.

    `generation` is legacy or modern; `knobs` are extra env for every stand-in (delays).
    """

    def __init__(self, bed: TestBed, generation: str) -> None:
        self.bed = bed
        self.generation = generation
        self.legacy = generation == "legacy"
        self.zk = "zk://127.0.0.1:2181"
        self.master_url = "http://127.0.0.1:5050"
        self.marathon_url = "http://127.0.0.1:8080"

    @property
    def state_path(self) -> str:
        return "/master/state.json" if self.legacy else "/master/state"

    @property
    def agent_state_path(self) -> str:
        return "/state.json" if self.legacy else "/state"

    @property
    def files_path(self) -> str:
        return "/files/read.json" if self.legacy else "/files/read"

    def env(self, **extra: str) -> dict[str, str]:
        return {"STANDIN_GENERATION": self.generation, **extra}

    def zookeeper(self) -> Container:
        container = self.bed.run("zookeeper-official", name="zk", env={
            "ZOO_MY_ID": "1", "ZOO_SERVERS": "server.1=127.0.0.1:2888:3888;127.0.0.1:2181",
            "ZOO_4LW_COMMANDS_WHITELIST": "srvr,ruok", "ZOO_ADMINSERVER_ENABLED": "false"})
        wait_until(lambda: zk_mode("127.0.0.1"), timeout=30, what="ZooKeeper on 127.0.0.1")
        return container

    def master(self, ip: str = "127.0.0.1", **extra: str) -> Container:
        env = self.env(MESOS_IP=ip, MESOS_HOSTNAME=ip, MESOS_QUORUM="1",
                       MESOS_ZK=f"{self.zk}/mesos", MESOS_ZK_SESSION_TIMEOUT="4secs")
        return self.bed.run("mesos-master", name=f"master-{ip}", env={**env, **extra})

    def agent(self, ip: str = "127.0.0.1", **extra: str) -> Container:
        env = self.env(MESOS_IP=ip, MESOS_HOSTNAME=ip, MESOS_MASTER=f"{self.zk}/mesos",
                       MESOS_RESOURCES="cpus:2;mem:2048")
        return self.bed.run("mesos-slave", name=f"agent-{ip}", env={**env, **extra},
                            volumes={"/var/run/docker.sock": {"bind": "/var/run/docker.sock",
                                                              "mode": "rw"}})

    def marathon(self, **extra: str) -> Container:
        env = self.env(MARATHON_HOSTNAME="127.0.0.1", MARATHON_HTTP_ADDRESS="127.0.0.1",
                       MARATHON_HTTPS_ADDRESS="127.0.0.1",
                       MARATHON_MASTER=f"{self.zk}/mesos", MARATHON_ZK=f"{self.zk}/marathon")
        return self.bed.run("marathon", name="marathon", env={**env, **extra})

    def master_state(self, base: str | None = None) -> dict[str, Any]:
        answer = requests.get((base or self.master_url) + self.state_path, timeout=5)
        answer.raise_for_status()
        state: dict[str, Any] = answer.json()
        return state

    def marathon_framework(self) -> dict[str, Any] | None:
        try:
            state = self.master_state()
        except requests.RequestException:
            return None
        return next((f for f in state.get("frameworks", [])
                     if f["name"] == "marathon" and f["active"]), None)

    def up(self) -> Standins:
        """The whole stack, returned once Marathon is an active framework with one agent."""
        self.zookeeper()
        self.master()
        self.agent()
        self.marathon()
        wait_until(self.marathon_framework, timeout=60, what="Marathon registered as framework")
        wait_until(lambda: self.master_state()["activated_slaves"] >= 1, timeout=30,
                   what="the agent registered")
        return self

    def app(self, app_id: str) -> dict[str, Any]:
        answer = requests.get(f"{self.marathon_url}/v2/apps/{app_id.strip('/')}", timeout=5)
        answer.raise_for_status()
        app: dict[str, Any] = answer.json()["app"]
        return app

    def post_app(self, app: dict[str, Any]) -> requests.Response:
        return requests.post(f"{self.marathon_url}/v2/apps", json=app, timeout=10)

    def running(self, app_id: str, count: int = 1) -> dict[str, Any] | None:
        app = self.app(app_id)
        ok = app["tasksRunning"] == count and not app["deployments"]
        return app if ok else None


@pytest.fixture(params=GENERATIONS)
def standins(request: pytest.FixtureRequest, bed: TestBed) -> Standins:
    return Standins(bed, request.param)


ENGINE26 = os.environ.get("MESOSTACK_TEST_DOCKER26", "unix:///run/mesostack-test/docker26.sock")


@pytest.fixture(scope="session")
def client26() -> Iterator[docker.DockerClient]:
    """The test bed's Docker 26.1 engine (scripts/engine26), with the test images."""
    try:
        client = docker.DockerClient(base_url=ENGINE26, timeout=60)
        client.ping()
    except DockerException as exc:
        _unavailable(f"no Docker 26.1 engine at {ENGINE26} ({exc}); `scripts/engine26 up` "
                     "starts it")
    yield client
    client.close()


# Each generation on the machine's engine (20.10); in these modules, the modern one on
# Docker 26.1 too.
ON_BOTH_ENGINES = ("test_lifecycle", "test_deploy")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "stack" not in metafunc.fixturenames:
        return
    params = [pytest.param((generation, None), id=generation) for generation in GENERATIONS]
    if metafunc.module.__name__.rsplit(".", 1)[-1] in ON_BOTH_ENGINES:
        params.append(pytest.param(("modern", ENGINE26), id="modern-docker26"))
    metafunc.parametrize("stack", params, indirect=True)


@pytest.fixture
def stack(request: pytest.FixtureRequest, docker_client: docker.DockerClient, tmp_path: Path,
          failed: Callable[[], bool]) -> Iterator[Stack]:
    generation, engine = request.param
    client = request.getfixturevalue("client26") if engine else docker_client
    made = Stack(client, tmp_path, generation, docker_host=engine)
    try:
        yield made
    finally:
        if failed():
            for role, container in made.containers().items():
                print(f"--- {role} log ---\n{container.logs(tail=40).decode(errors='replace')}")
        made.remove_all()


@pytest.fixture
def modern_stack(docker_client: docker.DockerClient, tmp_path: Path) -> Iterator[Stack]:
    made = Stack(docker_client, tmp_path, "modern")
    try:
        yield made
    finally:
        made.remove_all()
