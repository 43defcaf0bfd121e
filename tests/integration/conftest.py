"""The real engine for docker-marked tests: fail (CI) or skip (elsewhere) when none answers.

Every container a test starts carries the test label with the test's own run id and is removed
by that label when the test ends, pass or fail; a failed test first gets the containers' logs.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Generator, Iterator, Mapping
from typing import Any

import docker
import pytest
from docker.errors import DockerException, ImageNotFound
from docker.models.containers import Container

from testbed import IMAGES, TEST_LABEL

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
        found: list[Container] = self.client.containers.list(
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
def bed(docker_client: docker.DockerClient, request: pytest.FixtureRequest) -> Iterator[TestBed]:
    testbed = TestBed(docker_client, uuid.uuid4().hex[:8])
    try:
        yield testbed
    finally:
        if request.node.stash.get(_FAILED, False):
            print(testbed.dump_logs())
        testbed.cleanup()
