"""The built-in default and the tutorial's stack as a user runs them (issue 14's "done when"):
on Docker 26.1, with the per-family test images under the real images' names (tagged on that
engine only, by scripts/test), and the tutorial's stack on the 20.10 engine with the same test
images named by their `family:`. Nothing is pulled from anywhere but the local registry.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest
import yaml

from conftest import ENGINE26
from stackbed import cli_env, one_error
from testbed import REGISTRY, TEST_LABEL, wait_until

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_NAMES = ("zookeeper:3.9.3", "mesosphere/mesos-master:1.7.1",
                 "mesosphere/mesos-slave:1.7.1", "mesosphere/marathon:v1.11.24")
TUTORIAL_NAMES = ("mesoscloud/zookeeper:3.4.6-ubuntu-14.04",
                  "mesoscloud/mesos-master:0.23.0-ubuntu-14.04",
                  "mesoscloud/mesos-slave:0.23.0-ubuntu-14.04", "mesosphere/marathon:v0.11.1")
# The tutorial's stack on the 20.10 engine: the same test images under their own names, each
# saying its family (the real names exist on the test bed's own 26.1 engine only).
FAMILY_IMAGES = {
    "zookeeper": (f"{REGISTRY}/mesostack-test/zookeeper-mesoscloud:testbed", "mesoscloud"),
    "master": (f"{REGISTRY}/mesostack-test/mesos-master-mesoscloud:testbed", "mesoscloud"),
    "slave": (f"{REGISTRY}/mesostack-test/mesos-slave-mesoscloud:testbed", "mesoscloud"),
    "marathon": (f"{REGISTRY}/mesostack-test/marathon-0.11:testbed", "mesosphere-legacy"),
}
DOCKER_APP = {"id": "docker-refused", "cmd": "sleep 600", "cpus": 0.1, "mem": 16,
              "container": {"type": "DOCKER", "docker": {"image": "busybox", "network": "HOST"}}}


@pytest.fixture(scope="module")
def named26(client26: docker.DockerClient) -> docker.DockerClient:
    """Docker 26.1, holding the test images under the real images' names."""
    missing = [n for n in (*DEFAULT_NAMES, *TUTORIAL_NAMES) if not client26.images.list(name=n)]
    if missing:
        pytest.fail(f"{ENGINE26} lacks {missing}: scripts/test tags the test images with the "
                    "real names there", pytrace=False)
    return client26


def mesostack(directory: Path, *args: str, engine: str | None = None,
              timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = cli_env(**({"DOCKER_HOST": engine} if engine else {}))
    if not engine:
        env.pop("DOCKER_HOST", None)
    return subprocess.run([sys.executable, "-m", "mesostack", *args], cwd=directory,
                          capture_output=True, text=True, timeout=timeout, env=env)


def every_container(client: docker.DockerClient) -> list[tuple[str, str]]:
    return sorted((c.id, c.status) for c in client.containers.list(all=True))


def deploy_hello(directory: Path, engine: str | None) -> None:
    """basic-0 deployed and its "Hello Marathon" read back through task-logs."""
    deployed = mesostack(directory, "deploy", str(ROOT / "examples" / "basic-0.json"),
                         engine=engine)
    assert deployed.returncode == 0, deployed.stderr

    def hello() -> bool:
        logs = mesostack(directory, "task-logs", "basic-0", engine=engine, timeout=60)
        return logs.returncode == 0 and "Hello Marathon" in logs.stdout

    wait_until(hello, timeout=60, what="Hello Marathon in basic-0's task output", interval=1)


def up_deploy_down(directory: Path, client: docker.DockerClient, engine: str | None) -> str:
    """up, basic-0, down; `docker ps -a` as before. up's first line."""
    before = every_container(client)
    try:
        up = mesostack(directory, "up", engine=engine)
        assert up.returncode == 0, up.stderr
        deploy_hello(directory, engine)
    finally:
        down = mesostack(directory, "down", engine=engine)
    assert down.returncode == 0, down.stderr
    assert every_container(client) == before
    return up.stderr.splitlines()[0]


def test_the_default_stack_runs_on_docker_26(named26: docker.DockerClient,
                                             tmp_path: Path) -> None:
    """A stack file holding only host_ip: the default's images, the agent `auto` chose."""
    (tmp_path / "stack.yaml").write_text("host_ip: 127.0.0.1\n")
    first = up_deploy_down(tmp_path, named26, ENGINE26)
    assert first.startswith("stack mesostack from stack.yaml; host_ip 127.0.0.1"), first
    # cgroup v1 here; what `auto` became, and why, from this engine's own answers
    assert re.search(r"; agent mesostack-slave: (docker tasks \(auto: cgroup v1, and Docker "
                     r"26\.1\S* runs privileged containers\)|command tasks \(auto: Docker "
                     r"26\.1\S* refuses --privileged containers\))$", first), first


def tutorial_file(directory: Path, *, families: bool, fix: bool = False) -> None:
    stack = yaml.safe_load((ROOT / "examples" / "tutorial.yaml").read_text())
    stack["host_ip"] = "127.0.0.1"  # the CI machine's own address is not loopback
    stack["slave"]["privileged"] = False  # the CI machine refuses --privileged
    if families:
        for role, (image, family) in FAMILY_IMAGES.items():
            stack[role].update(image=image, family=family)
    if fix:
        stack["slave"]["env"] = {"MESOS_CONTAINERIZERS": "mesos"}
    (directory / "stack.yaml").write_text(yaml.safe_dump(stack))


def test_the_tutorials_stack_runs_on_docker_20_10(docker_client: docker.DockerClient,
                                                  tmp_path: Path) -> None:
    tutorial_file(tmp_path, families=True)
    dry = mesostack(tmp_path, "up", "--dry-run")
    assert dry.returncode == 0 and dry.stdout.count("docker run") == 4, dry.stderr
    first = up_deploy_down(tmp_path, docker_client, None)
    assert "agent mesostack-slave: docker tasks" in first, first


def test_the_tutorials_stack_on_docker_26_is_refused_then_runs_with_the_fix(
        named26: docker.DockerClient, tmp_path: Path) -> None:
    tutorial_file(tmp_path, families=False)
    before = every_container(named26)
    started = time.monotonic()
    refused = mesostack(tmp_path, "up", engine=ENGINE26)
    line = one_error(refused.stderr)
    assert refused.returncode != 0 and time.monotonic() - started < 60
    for part in ("mesoscloud/mesos-slave:0.23.0-ubuntu-14.04", "API 1.20", "1.24 and later",
                 "MESOS_CONTAINERIZERS: mesos"):
        assert part in line, line
    assert every_container(named26) == before  # nothing created

    tutorial_file(tmp_path, families=False, fix=True)
    try:
        up = mesostack(tmp_path, "up", engine=ENGINE26)
        assert up.returncode == 0, up.stderr
        deploy_hello(tmp_path, ENGINE26)
        (tmp_path / "docker-app.json").write_text(json.dumps(DOCKER_APP))
        started = time.monotonic()
        docker_app = mesostack(tmp_path, "deploy", str(tmp_path / "docker-app.json"),
                               engine=ENGINE26)
        assert docker_app.returncode == 2 and time.monotonic() - started < 30
        assert "docker-refused" in one_error(docker_app.stderr)
    finally:
        down = mesostack(tmp_path, "down", engine=ENGINE26)
    assert down.returncode == 0, down.stderr
    assert every_container(named26) == before


def test_the_tutorials_agent_restarted_on_docker_26_exits_at_recovery(
        named26: docker.DockerClient, tmp_path: Path) -> None:
    """Why a tutorial agent on Docker 25+ is refused: 0.23's Docker containerizer runs `docker
    ps -a` when it recovers a checkpointed agent, with its API 1.20 client, which the engine
    refuses, so a restarted agent would exit and restart forever. A fresh one starts."""
    socket_path = ENGINE26.removeprefix("unix://")
    work = tmp_path / "work"
    (work / "meta" / "slaves" / "S0").mkdir(parents=True)
    (work / "meta" / "slaves" / "latest").symlink_to(work / "meta" / "slaves" / "S0")

    def agent(work_dir: Path) -> docker.models.containers.Container:
        return named26.containers.run(
            "mesoscloud/mesos-slave:0.23.0-ubuntu-14.04", detach=True, network_mode="none",
            labels={TEST_LABEL: "recovery"},
            environment={"MESOS_MASTER": "127.0.0.1:5050", "MESOS_WORK_DIR": str(work_dir)},
            volumes={socket_path: {"bind": "/var/run/docker.sock", "mode": "rw"},
                     str(work_dir): {"bind": str(work_dir), "mode": "rw"}})

    restarted = agent(work)
    try:
        assert restarted.wait(timeout=60)["StatusCode"] != 0
        logs = restarted.logs().decode(errors="replace")
        assert "Failed to perform recovery" in logs and "client version 1.20 is too old" in logs
    finally:
        restarted.remove(force=True)
    fresh_dir = tmp_path / "fresh"
    fresh_dir.mkdir()
    fresh = agent(fresh_dir)
    try:
        time.sleep(3)
        fresh.reload()
        assert fresh.status == "running", fresh.logs().decode(errors="replace")
    finally:
        fresh.remove(force=True)


MESOSPHERE_FAMILY_IMAGES = {
    "zookeeper": (f"{REGISTRY}/mesostack-test/zookeeper-official:testbed", "official"),
    "master": (f"{REGISTRY}/mesostack-test/mesos-master-mesosphere:testbed", "mesosphere"),
    "slave": (f"{REGISTRY}/mesostack-test/mesos-slave-mesosphere:testbed", "mesosphere"),
    "marathon": (f"{REGISTRY}/mesostack-test/marathon-1.11:testbed", "mesosphere"),
}


def readme_row(engine: str) -> str:
    """README's "What runs where" cell for the default's images on Docker `engine`, cgroup v1."""
    text = (ROOT / "README.md").read_text().split("## What runs where", 1)[1]
    row = next(line for line in text.splitlines() if line.startswith(f"| {engine} | v1 |"))
    return row.strip("|").split("|")[2].strip()


def test_doctor_on_each_test_engine_says_what_readme_says(
        named26: docker.DockerClient, docker_client: docker.DockerClient,
        tmp_path: Path) -> None:
    """The default stack: on Docker 26.1 (cgroup v1, --privileged allowed) Docker tasks, as
    README's row says; on this machine's 20.10, which refuses --privileged, command tasks, as
    README's note says (its row is for engines that allow it)."""
    (tmp_path / "stack.yaml").write_text("host_ip: 127.0.0.1\n")
    on26 = mesostack(tmp_path, "doctor", engine=ENGINE26)
    assert "agent tasks" in on26.stdout, on26.stdout + on26.stderr
    assert "mesostack-slave: docker tasks (auto: cgroup v1, and Docker 26.1" in on26.stdout
    assert readme_row("26.1") == "Docker apps"

    stack = {"host_ip": "127.0.0.1", **{role: {"image": image, "family": family}
                                        for role, (image, family) in
                                        MESOSPHERE_FAMILY_IMAGES.items()}}
    (tmp_path / "stack.yaml").write_text(yaml.safe_dump(stack))
    on20 = mesostack(tmp_path, "doctor")
    assert "mesostack-slave: command tasks (auto: Docker 20.10" in on20.stdout, on20.stdout
    assert "refuses --privileged containers)" in on20.stdout
    assert readme_row("20.10") == "Docker apps"
    assert "where it doesn't, as on this project's 20.10 test engine, `tasks: auto` gives" in (
        (ROOT / "README.md").read_text().replace("\n", " "))
