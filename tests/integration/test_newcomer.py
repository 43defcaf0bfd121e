"""The newcomer's first four commands on the test bed, typed as README's quick start has them:
`mesostack -f examples/testbed.yaml up`, then `deploy`, `task-logs` and `down` without `-f`,
which use the stack that runs (named on stderr). In a directory without a stack file and in the
repository root (whose stack.yaml is the built-in default); nothing is left behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from stackbed import all_container_ids, cli_env
from testbed import wait_until

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the virtualenv's bin, with its `mesostack`
STACK = "testbed"  # examples/testbed.yaml's name


@pytest.fixture(params=["empty-directory", "repository-root"])
def where(request: pytest.FixtureRequest, tmp_path: Path,
          docker_client: docker.DockerClient) -> Iterator[Path]:
    """The directory the commands are typed in (with the examples they name); the test bed's
    stack removed by its label whatever the commands left."""
    if request.param == "repository-root":
        directory = REPO
    else:
        directory = tmp_path
        (directory / "examples").mkdir()
        for name in ("testbed.yaml", "basic-0.json"):
            shutil.copy(REPO / "examples" / name, directory / "examples" / name)
    assert (directory / "stack.yaml").exists() == (request.param == "repository-root")
    try:
        yield directory
    finally:
        for container in docker_client.containers.list(
                all=True, ignore_removed=True, filters={"label": f"io.mesostack.stack={STACK}"}):
            container.remove(force=True)


def typed(where: Path, line: str, *, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`line` as typed in a shell in `where` (no MESOSTACK_FILE: the stack file is implicit)."""
    env = {**cli_env(), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("MESOSTACK_FILE")
    return subprocess.run(line.split(), capture_output=True, text=True, timeout=timeout,
                          cwd=where, env=env)


def test_the_quick_start_works_as_typed(where: Path, docker_client: docker.DockerClient) -> None:
    before = all_container_ids(docker_client)
    up = typed(where, "mesostack -f examples/testbed.yaml up")
    assert up.returncode == 0, up.stderr
    said = (f"mesostack: using the running stack {STACK} "
            f"({where / 'examples' / 'testbed.yaml'}); -f picks another")

    deploy = typed(where, "mesostack deploy examples/basic-0.json")
    assert deploy.returncode == 0, deploy.stderr
    assert said in deploy.stderr.splitlines()
    assert deploy.stdout == "/basic-0: running\n"

    def logs() -> str | None:
        shown = typed(where, "mesostack task-logs basic-0", timeout=60)
        assert shown.returncode in (0, 1), shown.stderr
        return shown.stdout if "Hello Marathon" in shown.stdout else None

    wait_until(logs, timeout=30, what="basic-0's output", interval=1)

    down = typed(where, "mesostack down")
    assert down.returncode == 0, down.stderr
    assert said in down.stderr.splitlines()
    assert f"stack {STACK}: removed 4 containers" in down.stderr
    assert all_container_ids(docker_client) == before
