"""examples/ci/smoke.sh on the test bed (examples/testbed.yaml): it passes and leaves nothing
behind; when the task never prints the expected text it fails naming the step, still takes the
stack down, and writes a diagnostic bundle when this mesostack has the `bundle` command."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from conftest import ENGINE26
from stackbed import all_container_ids, cli_env

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]
SMOKE = REPO / "examples" / "ci" / "smoke.sh"
TESTBED = REPO / "examples" / "testbed.yaml"
STACK = "testbed"  # examples/testbed.yaml's name
BIN = Path(sys.executable).parent  # the virtualenv's bin, with its `mesostack`


@dataclass(frozen=True)
class On:
    """An engine the script runs on: docker-py's client and its DOCKER_HOST (None: the
    machine's)."""

    client: docker.DockerClient
    host: str | None

    def ids(self) -> set[str]:
        return all_container_ids(self.client, host=self.host)

    def env(self) -> dict[str, str]:
        return {"DOCKER_HOST": self.host} if self.host else {}


def _cleaned(on: On) -> Iterator[On]:
    """`on`, with the test bed's stack removed whatever the script left."""
    try:
        yield on
    finally:
        for container in on.client.containers.list(
                all=True, ignore_removed=True, filters={"label": f"io.mesostack.stack={STACK}"}):
            container.remove(force=True)


@pytest.fixture(params=[None, ENGINE26], ids=["docker20", "docker26"])
def engine(request: pytest.FixtureRequest, docker_client: docker.DockerClient) -> Iterator[On]:
    """The machine's engine, then Docker 26.1."""
    client = request.getfixturevalue("client26") if request.param else docker_client
    yield from _cleaned(On(client, request.param))


@pytest.fixture
def engine20(docker_client: docker.DockerClient) -> Iterator[On]:
    yield from _cleaned(On(docker_client, None))


def run_smoke(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    environment = {**cli_env(), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
                   "MESOSTACK_FILE": str(TESTBED),
                   "SMOKE_BUNDLE": str(tmp_path / "bundle.tar.gz"), **env}
    started = time.monotonic()
    result = subprocess.run(["bash", str(SMOKE)], capture_output=True, text=True, timeout=600,
                            cwd=tmp_path, env=environment)
    return result, time.monotonic() - started


def has_bundle_command() -> bool:
    return subprocess.run([str(BIN / "mesostack"), "bundle", "--help"], capture_output=True,
                          env=cli_env()).returncode == 0


def test_the_smoke_script_passes_and_leaves_nothing(
        engine: On, tmp_path: Path, record_property: Callable[[str, object], None]) -> None:
    before = engine.ids()
    result, seconds = run_smoke(tmp_path, **engine.env())
    record_property("smoke_seconds", round(seconds, 2))
    print(f"smoke run: {seconds:.1f} s")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Hello Marathon" in result.stdout
    for step in ("app file", "doctor", "up", "deploy", "task output", "status", "down"):
        assert f"<== {step}: ok (" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("smoke: passed in ")
    assert engine.ids() == before
    assert not (tmp_path / "bundle.tar.gz").exists()


def test_a_failing_smoke_run_names_the_step_and_still_goes_down(
        engine20: On, tmp_path: Path, record_property: Callable[[str, object], None]) -> None:
    engine = engine20
    before = engine.ids()
    result, seconds = run_smoke(tmp_path, SMOKE_EXPECT="text no task prints", SMOKE_TIMEOUT="3",
                                MESOSTACK=str(BIN / "mesostack"))
    record_property("failing_smoke_seconds", round(seconds, 2))
    print(f"failing smoke run: {seconds:.1f} s")
    assert result.returncode == 1, result.stdout + result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("smoke: FAILED at step 'task output': no \"text no task prints\" in "
                           "basic-0's output within 3 s"), last
    assert "<== down: ok (" in result.stderr
    assert engine.ids() == before
    if has_bundle_command():
        assert (tmp_path / "bundle.tar.gz").stat().st_size > 0
        assert "<== bundle: ok (" in result.stderr
    else:
        assert "no `bundle` command" in result.stderr
        assert not (tmp_path / "bundle.tar.gz").exists()
