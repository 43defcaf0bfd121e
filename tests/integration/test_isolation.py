"""Two stacks on one engine: stack A on 127.0.0.1 (legacy), stack B on 127.0.0.2 (modern).

`up`, `down` and `down --purge` of one never touch the other's containers or task containers, nor
containers of nobody's; a stack whose agents would remove the other's tasks (docker_kill_orphans)
is refused before anything of it is created. Compared through an unfiltered `docker ps -a`.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from stackbed import Stack, all_container_ids
from testbed import IMAGES, TEST_LABEL, wait_until

pytestmark = pytest.mark.docker

OFF = {"MESOS_DOCKER_KILL_ORPHANS": "false"}


@pytest.fixture
def pair(docker_client: docker.DockerClient, tmp_path: Path,
         failed: Callable[[], bool]) -> Iterator[tuple[Stack, Stack]]:
    stacks = []
    for generation, ip in (("legacy", "127.0.0.1"), ("modern", "127.0.0.2")):
        directory = tmp_path / generation
        directory.mkdir()
        stack = Stack(docker_client, directory, generation)
        stack.config["host_ip"] = ip
        stack.env("slave", **OFF)
        stacks.append(stack)
    a, b = stacks
    a.config["zookeeper"]["data_dir"] = str(tmp_path / "a-data" / "zk")  # for --purge
    a.write()
    try:
        yield a, b
    finally:
        for stack in stacks:
            if failed():
                for role, container in stack.containers().items():
                    print(f"--- {stack.name} {role} ---\n"
                          f"{container.logs(tail=30).decode(errors='replace')}")
            stack.remove_all()


@pytest.fixture
def strangers(docker_client: docker.DockerClient) -> Iterator[list[str]]:
    """Two running containers of nobody's (no io.mesostack.* label), one named like a task."""
    suffix = str(time.monotonic_ns())[-8:]
    made = [docker_client.containers.run(IMAGES["task"], ["sleep", "600"], detach=True,
                                         network_mode="host", name=name)
            for name in (f"mesos-foreign-{suffix}", f"unrelated-{suffix}")]
    try:
        yield [c.id for c in made]
    finally:
        for container in made:  # an agent with docker_kill_orphans on may have removed one
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)


def engine_view(client: docker.DockerClient) -> dict[str, tuple[str, str, str]]:
    """Every container on the engine, unfiltered: id -> (name, status, StartedAt)."""
    view = {}
    for cid in all_container_ids(client):
        try:
            attrs = client.api.inspect_container(cid)
        except docker.errors.NotFound:
            continue
        view[cid] = (attrs["Name"].lstrip("/"), attrs["State"]["Status"],
                     attrs["State"]["StartedAt"])
    return view


def owned_by(view: dict[str, tuple[str, str, str]], client: docker.DockerClient,
             stack: Stack) -> set[str]:
    """The ids of `stack`'s containers and of its task containers (by the test label)."""
    ids = {c.id for c in client.containers.list(all=True, ignore_removed=True, filters={
        "label": f"io.mesostack.stack={stack.name}"})}
    ids |= {c.id for c in client.containers.list(all=True, ignore_removed=True, filters={
        "label": f"{TEST_LABEL}={stack.run_id}"})}
    return ids & set(view)


def deploy_apps(stack: Stack, tmp_path: Path) -> None:
    """A command app and a Docker app (a sibling container named mesos-…), both running."""
    apps = {
        "cmd": {"id": "cmd", "cmd": "while true; do sleep 5; done", "cpus": 0.1, "mem": 16},
        "docker": {"id": "docker", "cmd": "sleep 600", "cpus": 0.1, "mem": 16,
                   "container": {"type": "DOCKER", "docker": {
                       "image": IMAGES["task"], "network": "HOST",
                       "parameters": [{"key": "label",
                                       "value": f"{TEST_LABEL}={stack.run_id}"}]}}},
    }
    for name, app in apps.items():
        path = tmp_path / f"{stack.name}-{name}.json"
        path.write_text(json.dumps(app))
        deployed = stack.cli("deploy", str(path))
        assert deployed.returncode == 0, deployed.stderr


def task_containers(client: docker.DockerClient, stack: Stack) -> list[str]:
    return [c.name for c in client.containers.list(ignore_removed=True, filters={
        "label": f"{TEST_LABEL}={stack.run_id}"}) if c.name.startswith("mesos-")]


def running_apps(stack: Stack) -> dict[str, int]:
    listing = stack.cli("apps", "-o", "json")
    assert listing.returncode == 0, listing.stderr
    return {a["id"]: a["running"] for a in json.loads(listing.stdout)}


def timed(stack: Stack, *args: str) -> tuple[Any, float]:
    started = time.monotonic()
    result = stack.cli(*args)
    return result, time.monotonic() - started


def test_two_stacks_on_one_engine_leave_each_other_alone(
        pair: tuple[Stack, Stack], strangers: list[str], docker_client: docker.DockerClient,
        tmp_path: Path) -> None:
    a, b = pair
    before = all_container_ids(docker_client) - set(strangers)
    times: dict[str, float] = {}
    for stack in (a, b):
        result, times[f"up {stack.name}"] = timed(stack, "up")
        assert result.returncode == 0, result.stderr
        deploy_apps(stack, tmp_path)
        assert len(task_containers(docker_client, stack)) == 1
    assert running_apps(b) == {"/cmd": 1, "/docker": 1}
    doctor = b.cli("doctor")
    assert doctor.returncode == 0, doctor.stdout
    assert "docker_kill_orphans off on both sides" in doctor.stdout

    def untouched_by_a(step: str, before: dict[str, tuple[str, str, str]]) -> None:
        after = engine_view(docker_client)
        kept = {cid: seen for cid, seen in after.items() if cid in before}
        assert kept == before, f"{step}: changed {set(before.items()) ^ set(kept.items())}"
        for cid in strangers:
            assert after[cid][1] == "running", f"{step}: {after[cid][0]} is not running"
        assert running_apps(b) == {"/cmd": 1, "/docker": 1}, step

    view = engine_view(docker_client)
    not_a = {cid: seen for cid, seen in view.items() if cid not in owned_by(view, docker_client,
                                                                           a)}
    assert len(owned_by(view, docker_client, b)) == 5 and set(strangers) <= set(not_a)

    down, times["down A"] = timed(a, "down")
    assert down.returncode == 0, down.stderr
    assert "removed 4 containers and 1 task container" in down.stderr
    untouched_by_a("down A", not_a)
    assert a.containers() == {} and task_containers(docker_client, a) == []

    again, times["up A again"] = timed(a, "up")  # its apps come back from its ZooKeeper data
    assert again.returncode == 0, again.stderr
    wait_until(lambda: task_containers(docker_client, a), timeout=60,
               what="A's Docker task relaunched")
    untouched_by_a("up A again", not_a)

    purged, times["down --purge A"] = timed(a, "down", "--purge")
    assert purged.returncode == 0, purged.stderr
    assert f"deleted {a.config['zookeeper']['data_dir']}" in purged.stderr
    untouched_by_a("down --purge A", not_a)
    assert a.containers() == {} and task_containers(docker_client, a) == []

    # B with docker_kill_orphans on (the agents' default) next to A: refused, nothing created.
    assert b.cli("down").returncode == 0
    assert a.cli("up").returncode == 0
    view = engine_view(docker_client)
    a_before = {cid: view[cid] for cid in owned_by(view, docker_client, a)}
    del b.config["slave"]["env"]["MESOS_DOCKER_KILL_ORPHANS"]
    b.write()
    refused, times["refused up B"] = timed(b, "up")
    assert refused.returncode == 1, refused.stderr
    error = one_error(refused.stderr)
    assert error.startswith(f"mesostack: error: stack {a.name}'s agent {a.name}-slave runs on "
                            "the Docker engine at "), error
    assert error.endswith(
        f", where this stack's {b.name}-slave would run, and docker_kill_orphans is on in "
        f"stack {b.name}: a starting agent removes the other stack's task containers (set "
        "`slave.env.MESOS_DOCKER_KILL_ORPHANS: \"false\"` in both stacks' files, or run this "
        "stack's agents on another engine)"), error
    assert b.containers() == {}
    after = engine_view(docker_client)
    assert {cid: after.get(cid) for cid in a_before} == a_before
    doctor = b.cli("doctor")
    assert doctor.returncode == 1
    assert "docker_kill_orphans is on in stack" in doctor.stdout
    assert f"1 blocking problem: stack {a.name}'s agent" in doctor.stderr + doctor.stdout

    # The other way round: A's agent kills orphans, B's doesn't. Still refused: A's agent would
    # remove B's task containers when it restarts.
    del a.config["slave"]["env"]["MESOS_DOCKER_KILL_ORPHANS"]
    a.write()
    assert a.cli("up").returncode == 0
    # Its new agent removed the stranger named like a task: the agent's doing (what `doctor`
    # warns about), not mesostack's; the other stranger runs on.
    foreign, unrelated = strangers
    assert foreign not in all_container_ids(docker_client)
    agent_log = a.containers()["slave"].logs().decode(errors="replace")
    assert f"Killing orphaned container {after[foreign][0]}" in agent_log
    assert docker_client.containers.get(unrelated).status == "running"
    b.env("slave", **OFF)
    refused = b.cli("up")
    assert refused.returncode == 1
    error = one_error(refused.stderr)
    assert f"docker_kill_orphans is on in stack {a.name}: " in error
    assert f"in both stacks' files, then `mesostack up` stack {a.name} again, or" in error
    assert b.containers() == {}

    assert a.cli("down").returncode == 0
    assert all_container_ids(docker_client) - set(strangers) == before
    print("; ".join(f"{what} {seconds:.1f} s" for what, seconds in times.items()))


def one_error(stderr: str) -> str:
    errors = [line for line in stderr.splitlines() if line.startswith("mesostack: error:")]
    assert len(errors) == 1, stderr
    assert "Traceback" not in stderr
    return errors[0]


def test_a_stack_that_came_up_meanwhile_stops_the_agents_of_a_slower_up(
        pair: tuple[Stack, Stack]) -> None:
    a, b = pair
    a.env("master", STANDIN_ELECTION_DELAY="8")  # A's `up` waits for its master meanwhile
    del b.config["slave"]["env"]["MESOS_DOCKER_KILL_ORPHANS"]
    b.write()
    slow = a.popen("up")
    try:
        wait_until(lambda: "master" in a.containers() or None, timeout=30,
                   what="A's master container")
        fast = b.cli("up")  # no agent of A's yet: B may come up
        assert fast.returncode == 0, fast.stderr
        _, stderr = slow.communicate(timeout=60)
    finally:
        slow.kill()
        slow.wait()
    assert slow.returncode == 1, stderr
    error = one_error(stderr)
    assert error.startswith(f"mesostack: error: stack {b.name}'s agent {b.name}-slave runs on")
    assert f"docker_kill_orphans is on in stack {b.name}: " in error
    assert set(a.containers()) == {"zookeeper", "master"}  # its agent was never created
