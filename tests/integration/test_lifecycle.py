"""`mesostack up / status / down` end to end on the test bed, both generations.

Every stack here binds 127.0.0.1 (loopback only) and is removed by its label at the end, pass or
fail. "Nothing left behind" is checked with an unfiltered `docker ps -a`.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import docker
import pytest
import requests

from stackbed import ROLES, Stack, timestamp
from testbed import IMAGES, REGISTRY, TEST_LABEL, wait_until

pytestmark = pytest.mark.docker

def marathon_app(stack: Stack, app: dict[str, Any]) -> None:
    answer = requests.post("http://127.0.0.1:8080/v2/apps", json=app, timeout=10)
    assert answer.status_code == 201, answer.text


def test_up_status_up_again_down(stack: Stack) -> None:
    before = stack.ids()

    started = time.monotonic()
    up = stack.cli("up")
    up_seconds = time.monotonic() - started
    assert up.returncode == 0, up.stderr
    assert "Marathon: http://127.0.0.1:8080" in up.stdout
    assert "host_ip 127.0.0.1" in up.stderr
    names = {c.name for c in stack.containers().values()}
    assert names == {f"{stack.name}-{role}" for role in ROLES}
    assert not any(name.startswith("mesos-") for name in names)

    status = stack.cli("status", "--output", "json")
    assert status.returncode == 0, status.stderr
    document = json.loads(status.stdout)
    assert document["ready"] is True
    assert [c["role"] for c in document["components"]] == list(ROLES)
    assert document["agents"] == 1 and document["frameworks"] == ["marathon"]
    assert document["apps"] == 0
    roles = {c["role"]: c for c in document["components"]}
    assert roles["zookeeper"]["leadership"] == "standalone"
    assert roles["master"]["leadership"] == "leader"
    assert roles["master"]["url"] == "http://127.0.0.1:5050"
    assert roles["marathon"]["url"] == "http://127.0.0.1:8080"
    assert stack.cli("status").returncode == 0

    first = {role: (c.id, c.attrs["State"]["StartedAt"]) for role, c in stack.containers().items()}
    started = time.monotonic()
    again = stack.cli("up")
    again_seconds = time.monotonic() - started
    assert again.returncode == 0, again.stderr
    assert "nothing changed" in again.stderr
    assert {role: (c.id, c.attrs["State"]["StartedAt"])
            for role, c in stack.containers().items()} == first

    # A changed component is recreated; what it does not feed is left alone.
    stack.env("marathon", MARATHON_TASK_LAUNCH_TIMEOUT="300000")
    changed = stack.cli("up")
    assert changed.returncode == 0, changed.stderr
    now = {role: c.id for role, c in stack.containers().items()}
    assert now["marathon"] != first["marathon"][0]
    assert all(now[r] == first[r][0] for r in ("zookeeper", "master", "slave"))

    # A command task and a Docker task (a sibling container named mesos-…) run on the agent.
    marathon_app(stack, {"id": "basic-0", "cmd": "while true; do echo hi; sleep 5; done",
                         "cpus": 0.1, "mem": 10, "instances": 1})
    marathon_app(stack, {
        "id": "docker-0", "cmd": "sleep 600", "cpus": 0.1, "mem": 10, "instances": 1,
        "container": {"type": "DOCKER", "docker": {
            "image": IMAGES["task"], "network": "HOST",
            "parameters": [{"key": "label", "value": f"{TEST_LABEL}={stack.run_id}"}]}},
    })
    wait_until(lambda: [c for c in stack.client.containers.list(ignore_removed=True,
        filters={"label": f"{TEST_LABEL}={stack.run_id}"}) if c.name.startswith("mesos-")],
        timeout=60, what="the Docker task's container")

    started = time.monotonic()
    down = stack.cli("down")
    down_seconds = time.monotonic() - started
    assert down.returncode == 0, down.stderr
    assert "removed 4 containers and 1 task container" in down.stderr
    assert stack.ids() == before
    print(f"up {up_seconds:.1f} s, up again {again_seconds:.1f} s, down {down_seconds:.1f} s")

    nothing = stack.cli("down")
    assert nothing.returncode == 0 and "nothing to remove" in nothing.stderr
    assert stack.cli("status").returncode == 1


def test_up_waits_for_each_stage(stack: Stack) -> None:
    stack.env("master", STANDIN_STARTUP_DELAY="1", STANDIN_ELECTION_DELAY="2")
    stack.env("slave", STANDIN_STARTUP_DELAY="1", STANDIN_REGISTRATION_DELAY="1.5")
    stack.env("marathon", STANDIN_STARTUP_DELAY="1", STANDIN_REGISTRATION_DELAY="2")
    up = stack.cli("up")
    assert up.returncode == 0, up.stderr
    containers = stack.containers()
    created = {role: timestamp(c.attrs["Created"]) for role, c in containers.items()}

    zk_log = containers["zookeeper"].logs().decode()
    bound = next(line for line in zk_log.splitlines() if "binding to port" in line)
    # ZooKeeper's log4j time, in UTC: `2026-12-01 11:48:46,013` (3.8) or `...T11:48:46,013` (3.9)
    stamp = bound[:23].replace("T", " ")
    zk_serving = datetime.strptime(stamp + "+0000", "%Y-%m-%d %H:%M:%S,%f%z").timestamp()
    assert created["master"] > zk_serving

    state = requests.get("http://127.0.0.1:5050/master/state" if "modern" in stack.name
                         else "http://127.0.0.1:5050/master/state.json", timeout=5).json()
    assert created["slave"] > state["elected_time"]
    assert created["marathon"] > state["elected_time"]
    # the report shows the awaited steps, in order
    lines = up.stderr.splitlines()
    master_ready = next(i for i, line in enumerate(lines) if line.startswith(
        f"{stack.name}-master  ready"))
    slave_created = next(i for i, line in enumerate(lines) if line.startswith(
        f"{stack.name}-slave  starting"))
    assert master_ready < slave_created
    assert any("waiting" in line and "register" in line for line in lines)


def test_a_component_that_never_gets_ready_fails_with_its_logs(stack: Stack) -> None:
    stack.env("master", STANDIN_ELECTION_DELAY="600")
    started = time.monotonic()
    up = stack.cli("up", "--timeout", "6")
    took = time.monotonic() - started
    assert up.returncode == 1
    first = up.stderr.split("mesostack: error: ", 1)[1].splitlines()[0]
    assert first.startswith(f"{stack.name}-master (master) not ready after ")
    assert "still waiting for" in first and "leading master" in first
    assert first.endswith("; run `mesostack bundle` to collect logs and state)")
    assert f"last 20 log lines of {stack.name}-master:" in up.stderr
    assert "Traceback" not in up.stderr
    assert took < 20
    assert set(stack.containers()) == {"zookeeper", "master"}  # left for inspection


def test_sigkill_midway_then_up_converges(stack: Stack) -> None:
    stack.env("master", STANDIN_ELECTION_DELAY="3")
    process = stack.popen("up")
    try:
        wait_until(lambda: "master" in stack.containers() or None, timeout=60,
                   what="the master container")
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert "slave" not in stack.containers()
    up = stack.cli("up")
    assert up.returncode == 0, up.stderr
    assert stack.cli("status").returncode == 0
    assert set(stack.containers()) == set(ROLES)


def test_images_come_from_the_registry(modern_stack: Stack,
                                       docker_client: docker.DockerClient) -> None:
    tag = f"{REGISTRY}/mesostack-test/zookeeper:pull-{modern_stack.run_id}"
    docker_client.images.get(IMAGES["zookeeper-official"]).tag(tag)
    for line in docker_client.images.push(tag, stream=True, decode=True):
        assert "error" not in line, line
    docker_client.images.remove(tag)
    modern_stack.config["zookeeper"]["image"] = tag
    modern_stack.write()
    try:
        up = modern_stack.cli("up")
        assert up.returncode == 0, up.stderr
        assert f"pulling: {tag}" in up.stderr
        docker_client.images.get(tag)
    finally:
        modern_stack.remove_all()
        docker_client.images.remove(tag, force=True)


def test_a_missing_tag_is_named(modern_stack: Stack) -> None:
    missing = f"{REGISTRY}/mesostack-test/marathon:no-such-tag-{modern_stack.run_id}"
    modern_stack.config["marathon"]["image"] = missing
    modern_stack.write()
    up = modern_stack.cli("up")
    assert up.returncode == 1
    error = [line for line in up.stderr.splitlines() if line.startswith("mesostack: error:")]
    assert len(error) == 1 and missing in error[0], up.stderr
    assert "manifest unknown" in error[0] or "not found" in error[0]
    assert modern_stack.containers() == {}  # nothing started before every image is there


def test_preflight_names_a_held_port_and_a_refused_privilege(modern_stack: Stack) -> None:
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", 5051))
    holder.listen()
    try:
        doctor = modern_stack.cli("doctor")
        assert doctor.returncode == 1
        assert "port 127.0.0.1:5051 for" in doctor.stdout
        assert f"(pid {os.getpid()})" in doctor.stdout
        up = modern_stack.cli("up")
        assert up.returncode == 1
        error = up.stderr.split("mesostack: error: ", 1)[1].strip()
        assert error.startswith(f"port 127.0.0.1:5051 for {modern_stack.name}-slave is already in "
                                "use by ")
        assert "`slave.port`" in error and "\n" not in error
        assert modern_stack.containers() == {}
    finally:
        holder.close()

    modern_stack.config["slave"]["privileged"] = True
    modern_stack.write()
    up = modern_stack.cli("up")
    assert up.returncode == 1
    error = up.stderr.split("mesostack: error: ", 1)[1].strip()
    assert error.startswith(f"{modern_stack.name}-slave: the engine refuses privileged")
    assert "`slave.privileged: false`" in error
    assert modern_stack.containers() == {}  # refused before anything was created
    doctor = modern_stack.cli("doctor")
    assert doctor.returncode == 1 and "refuses privileged containers" in doctor.stdout


def test_doctor_ls_logs_and_purge(modern_stack: Stack, tmp_path: Path) -> None:
    data = tmp_path / "data"
    modern_stack.config["zookeeper"]["data_dir"] = str(data / "zk")
    modern_stack.config["master"]["data_dir"] = str(data / "master")
    modern_stack.write()
    assert modern_stack.cli("up").returncode == 0
    doctor = modern_stack.cli("doctor")
    assert doctor.returncode == 0, doctor.stdout
    assert f"held by {modern_stack.name}-marathon, this stack's" in doctor.stdout
    listing = modern_stack.cli("ls")
    assert any(line.split()[:1] == [modern_stack.name] and line.split()[-2:] == [
        "yes", str(modern_stack.file)] for line in listing.stdout.splitlines()), listing.stdout
    logs = modern_stack.cli("logs", "master", "--tail", "5")
    assert logs.returncode == 0 and 0 < len(logs.stdout.splitlines()) <= 5
    every = modern_stack.cli("logs", "--tail", "2")
    prefixes = {line.split(" | ")[0] for line in every.stdout.splitlines()}
    assert prefixes == {f"{modern_stack.name}-{role}" for role in ROLES}
    assert (data / "zk" / "version-2").is_dir() and (data / "master").is_dir()
    down = modern_stack.cli("down", "--purge")
    assert down.returncode == 0, down.stderr
    assert not (data / "zk").exists() and not (data / "master").exists()
    assert f"deleted {data / 'zk'}" in down.stderr


def test_ctrl_c_during_up_exits_130_and_up_converges(modern_stack: Stack) -> None:
    modern_stack.env("master", STANDIN_ELECTION_DELAY="30")
    process = modern_stack.popen("up")

    def master_running() -> bool:
        """Started, so `up` is waiting for its election (delayed by 30 s)."""
        master = modern_stack.containers().get("master")
        return master is not None and master.status == "running"

    try:
        wait_until(master_running, timeout=60, what="the master container running")
        interrupted = time.monotonic()
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=15)
        took = time.monotonic() - interrupted
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert "mesostack: interrupted" in stderr and "Traceback" not in stderr
    assert took < 5
    modern_stack.env("master", STANDIN_ELECTION_DELAY="0")
    up = modern_stack.cli("up")
    assert up.returncode == 0, up.stderr
    assert set(modern_stack.containers()) == set(ROLES)


def test_a_new_image_behind_the_same_tag_recreates_what_depends_on_it(
        modern_stack: Stack, docker_client: docker.DockerClient) -> None:
    tag = f"mesostack-test/zookeeper:cascade-{modern_stack.run_id}"
    docker_client.images.get(IMAGES["zookeeper-official"]).tag(tag)
    modern_stack.config["zookeeper"]["image"] = tag
    modern_stack.write()
    try:
        assert modern_stack.cli("up").returncode == 0
        before = {role: c.id for role, c in modern_stack.containers().items()}
        dockerfile = f"FROM {IMAGES['zookeeper-official']}\nLABEL io.mesostack.test.rebuilt=1\n"
        docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
        up = modern_stack.cli("up", "--pull", "never")
        assert up.returncode == 0, up.stderr
        after = {role: c.id for role, c in modern_stack.containers().items()}
        assert all(after[role] != before[role] for role in ROLES), up.stderr
        assert "recreating: what it depends on was recreated" in up.stderr
    finally:
        modern_stack.remove_all()
        docker_client.images.remove(tag, force=True)


def test_pull_never_refuses_a_missing_image(modern_stack: Stack) -> None:
    modern_stack.config["zookeeper"]["image"] = f"{REGISTRY}/mesostack-test/zookeeper:absent-x"
    modern_stack.write()
    up = modern_stack.cli("up", "--pull", "never")
    assert up.returncode == 1
    assert "--pull never forbids pulling it" in up.stderr
    assert modern_stack.containers() == {}


def test_logs_follow(modern_stack: Stack) -> None:
    assert modern_stack.cli("up").returncode == 0
    process = modern_stack.popen("logs", "-f", "--tail", "1")
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith(f"{modern_stack.name}-"), first
        requests.post("http://127.0.0.1:8080/v2/apps", timeout=10, json={
            "id": "follow-me", "cmd": "sleep 600", "cpus": 0.1, "mem": 10, "instances": 1})
        seen = wait_until(lambda: next((line for line in iter(process.stdout.readline, "")
                                        if "follow-me" in line), None),
                          timeout=30, what="a log line about the new app")
        assert seen.startswith(f"{modern_stack.name}-")
    finally:
        process.kill()
        process.wait(timeout=10)
