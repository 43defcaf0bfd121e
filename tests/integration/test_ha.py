"""High availability on the test bed: three "hosts" share one engine as 127.0.0.1, .2 and .3."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from stackbed import Stack, all_container_ids
from testbed import wait_until

pytestmark = pytest.mark.docker

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HOSTS = [{"name": f"n{i}", "ip": f"127.0.0.{i}"} for i in (1, 2, 3)]


@pytest.fixture(params=["legacy", "modern"])
def ha(request: pytest.FixtureRequest, docker_client: docker.DockerClient,
       tmp_path: Path, failed: Callable[[], bool]) -> Iterator[Stack]:
    stack = Stack(docker_client, tmp_path, request.param)
    del stack.config["host_ip"]  # each host's ip is used
    stack.config["hosts"] = HOSTS
    stack.config["zookeeper"]["count"] = 3
    stack.config["master"]["count"] = 3
    stack.config["master"]["env"]["MESOS_REGISTRY_FETCH_TIMEOUT"] = "10secs"
    stack.config["slave"]["on"] = ["n1", "n2"]
    stack.write()
    try:
        yield stack
    finally:
        if failed():
            for container in docker_client.containers.list(ignore_removed=True,
                    all=True, filters={"label": f"io.mesostack.stack={stack.name}"}):
                print(f"--- {container.name} ---\n"
                      f"{container.logs(tail=30).decode(errors='replace')}")
        stack.remove_all()


def status(stack: Stack) -> dict[str, Any]:
    result = stack.cli("status", "-o", "json")
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def by_role(document: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return [c for c in document["components"] if c["role"] == role]


def leader(document: dict[str, Any], role: str) -> str | None:
    leaders = [c["name"] for c in by_role(document, role) if c["leadership"] == "leader"]
    return leaders[0] if len(leaders) == 1 else None


def test_ha_stack_survives_losing_its_leading_master_and_a_zookeeper(
        ha: Stack, docker_client: docker.DockerClient) -> None:
    before = all_container_ids(docker_client)
    started = time.monotonic()
    up = ha.cli("up")
    up_seconds = time.monotonic() - started
    assert up.returncode == 0, up.stderr
    assert "masters  ready" in up.stderr and "zookeeper  ready" in up.stderr
    document = status(ha)
    assert document["ready"] is True
    assert [c["host"] for c in by_role(document, "master")] == ["n1", "n2", "n3"]
    assert leader(document, "zookeeper") and leader(document, "master")
    assert document["agents"] == 2
    assert document["notes"] == ["zookeeper ensemble healthy: 3 of 3 serving"]

    assert ha.cli("deploy", str(EXAMPLES / "basic-0.json")).returncode == 0
    first = leader(document, "master")
    assert first is not None
    killed = time.monotonic()
    docker_client.containers.get(first).kill()  # a deliberate stop: it stays down
    after = wait_until(lambda: (lambda d: d if leader(d, "master") not in (None, first) else None)(
        status(ha)), timeout=30, what="a new leading master")
    failover = time.monotonic() - killed
    assert ha.cli("apps", "-o", "json").stdout.count('"running": 1') == 1
    assert [c["state"] for c in by_role(after, "master") if c["name"] == first] == ["exited"]

    docker_client.containers.get(first).start()
    rejoined = wait_until(lambda: (lambda d: d if any(
        c["name"] == first and c["ready"] and c["leadership"] == "follower"
        for c in by_role(d, "master")) else None)(status(ha)), timeout=30,
        what="the old leader back as a follower")
    assert leader(rejoined, "master") != first

    # A crash Docker doesn't know about (the process killed from the host): restarted.
    victim = docker_client.containers.get(f"{ha.name}-master-2")
    restarts = victim.attrs["RestartCount"]
    os.kill(victim.attrs["State"]["Pid"], signal.SIGKILL)
    wait_until(lambda: docker_client.containers.get(victim.id).attrs["RestartCount"] > restarts
               or None, timeout=30, what="Docker restarting the crashed master")

    zookeeper = f"{ha.name}-zookeeper-1"
    docker_client.containers.get(zookeeper).kill()
    degraded = wait_until(lambda: (lambda d: d if d["notes"] == [
        "zookeeper ensemble degraded: 2 of 3 serving"] else None)(status(ha)), timeout=20,
        what="status to call the ensemble degraded")
    assert degraded["ready"] is False  # one component is down: not a green CI check
    # Marathon 1.10, whose ZooKeeper server that was, saw its session SUSPENDED and, leading,
    # crashed (ElectionService.scala, "Lost leadership; crashing"); restarted, it leads again
    worked = wait_until(lambda: (lambda r: r if r.returncode == 0 else None)(
        ha.cli("scale", "basic-0", "2")), timeout=60, what="Marathon to take the scale",
        interval=1)
    assert worked.returncode == 0, worked.stderr

    down = ha.cli("down")
    assert down.returncode == 0, down.stderr
    assert all_container_ids(docker_client) == before
    print(f"HA up {up_seconds:.1f} s; failover {failover:.1f} s")


def test_up_names_the_quorum_when_masters_cannot_start(
        ha: Stack, docker_client: docker.DockerClient) -> None:
    ha.env("master", STANDIN_STARTUP_DELAY="5")
    process = ha.popen("up", "--timeout", "60")
    try:
        for index in (2, 3):
            name = f"{ha.name}-master-{index}"
            wait_until(lambda n=name: n in {c.name for c in docker_client.containers.list(
                ignore_removed=True)} or None, timeout=60, what=f"container {name}")
            docker_client.containers.get(name).kill()
        _, stderr = process.communicate(timeout=90)
    finally:
        process.kill()
    assert process.returncode == 1
    errors = [line for line in stderr.splitlines() if line.startswith("mesostack: error:")]
    assert len(errors) == 1, stderr
    assert "the masters need a quorum of 2 of 3 up" in errors[0]
    left = docker_client.containers.list(
        ignore_removed=True, all=True, filters={"label": f"io.mesostack.stack={ha.name}"})
    assert "slave" not in {c.labels["io.mesostack.role"] for c in left}


def test_two_marathons_elect_one_leader(docker_client: docker.DockerClient,
                                        tmp_path: Path) -> None:
    stack = Stack(docker_client, tmp_path, "modern")
    del stack.config["host_ip"]
    stack.config["hosts"] = HOSTS[:2]
    stack.config["marathon"]["on"] = ["n1", "n2"]
    stack.write()
    try:
        up = stack.cli("up")
        assert up.returncode == 0, up.stderr
        assert "marathons  ready" in up.stderr
        marathons = by_role(status(stack), "marathon")
        assert sorted(m["leadership"] for m in marathons) == ["follower", "leader"]
        follower = next(m for m in marathons if m["leadership"] == "follower")
        deployed = stack.cli("deploy", str(EXAMPLES / "basic-0.json"),
                             "--marathon", follower["url"])  # it proxies to the leader
        assert deployed.returncode == 0, deployed.stderr
    finally:
        stack.remove_all()
