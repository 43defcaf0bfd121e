"""The stand-ins on the real engine and real ZooKeeper, both generations, plain docker-py.

Each test names the contract points (shared/design/contract.md) it covers.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
from kazoo.client import KazooClient

from conftest import Standins, TestBed
from testbed import TEST_LABEL, fixture, wait_until

pytestmark = pytest.mark.docker

BASIC_0 = {  # the tutorial's app, verbatim
    "id": "basic-0",
    "cmd": "while [ true ] ; do echo 'Hello Marathon' ; sleep 5 ; done",
    "cpus": 0.1,
    "mem": 10.0,
    "instances": 1,
}


def sandbox_stdout(stack: Standins, agent_url: str = "http://127.0.0.1:5051") -> str:
    """The first running executor's stdout, read through the agent's files endpoint."""
    state = requests.get(agent_url + stack.agent_state_path, timeout=5).json()
    directory = state["frameworks"][0]["executors"][0]["directory"]
    answer = requests.get(agent_url + stack.files_path,
                          params={"path": f"{directory}/stdout", "offset": 0, "length": 65536},
                          timeout=5).json()
    assert set(answer) == {"data", "offset"}
    return str(answer["data"])


def test_basic_app_runs_and_reaches_task_running(standins: Standins) -> None:
    """Marathon: POST 201 with deployments, 409 on re-POST; master: TASK_RUNNING in framework
    `marathon`; agent: sandbox stdout through /files/read."""
    stack = standins.up()

    created = stack.post_app(BASIC_0)
    assert created.status_code == 201
    assert created.json()["deployments"][0]["id"]

    app = wait_until(lambda: stack.running("/basic-0"), timeout=30, what="basic-0 running")
    assert app["tasksRunning"] == 1
    framework = stack.marathon_framework()
    assert framework is not None
    assert [t["state"] for t in framework["tasks"]] == ["TASK_RUNNING"]
    assert framework["tasks"][0]["id"] == app["tasks"][0]["id"]
    assert "Hello Marathon" in wait_until(lambda: sandbox_stdout(stack), timeout=10,
                                          what="Hello Marathon in the sandbox")

    again = stack.post_app(BASIC_0)
    assert again.status_code == 409
    assert again.json() == {"message": "An app with id [/basic-0] already exists."}


INVALID_CASES = {  # fixture file -> (legacy status, modern status)
    "id-not-string.json": (400, 422),
    "malformed-truncated.json.txt": (400, 400),
    "no-cmd-args-or-container.json": (422, 422),
    "id-invalid-chars.json": (422, 422),
    "id-uppercase.json": (422, 422),
    "minimumHealthCapacity-gt-1.json": (422, 422),
    "cmd-and-args-both.json": (422, 422),
}
NEEDS_COMMAND = ("AppDefinition must either contain one of 'cmd' or 'args', and/or a "
                 "'container'.")


def expected_body(name: str, legacy: bool) -> dict[str, Any] | None:
    """The exact bodies fixtures/marathon/invalid/README.md quotes (None where it quotes none)."""
    if name == "id-not-string.json":
        return {"message": "Invalid JSON",
                "details": [{"path": "/id", "errors": ["error.expected.jsstring"]}]}
    if name in ("no-cmd-args-or-container.json", "cmd-and-args-both.json"):
        return ({"message": "Bean is not valid",
                 "errors": [{"attribute": "", "error": NEEDS_COMMAND}]} if legacy else
                {"message": "Object is not valid",
                 "details": [{"path": "/", "errors": [NEEDS_COMMAND]}]})
    if name == "minimumHealthCapacity-gt-1.json" and not legacy:
        return {"message": "Object is not valid", "details": [
            {"path": "/upgradeStrategy/minimumHealthCapacity", "errors": ["is greater than 1"]}]}
    return None


def test_invalid_apps_get_each_generations_answer(standins: Standins) -> None:
    """Marathon: 400/422 with the generation's body for every fixtures/marathon/invalid case,
    and 400 for an empty body."""
    stack = standins.up()
    for name, statuses in INVALID_CASES.items():
        raw = fixture(f"marathon/invalid/{name}").read_bytes()
        answer = requests.post(f"{stack.marathon_url}/v2/apps", data=raw, timeout=5,
                               headers={"Content-Type": "application/json"})
        assert answer.status_code == statuses[0 if stack.legacy else 1], name
        body = answer.json()
        want = expected_body(name, stack.legacy)
        if want is not None:
            assert body == want, name
        elif name.startswith("id-") and not stack.legacy:
            assert body["details"][0]["path"] == "/id"
            assert body["details"][0]["errors"][0].startswith(
                "must fully match regular expression '^(([a-z0-9]|")
        elif name.startswith("id-"):
            assert body["errors"][0]["attribute"] == "id"
            assert body["errors"][0]["error"].startswith("path contains invalid characters")
        elif name.startswith("malformed") and not stack.legacy:
            assert body["message"] == "Invalid JSON"
            assert isinstance(body["details"], str)
            assert body["details"].startswith("Unexpected end-of-input")
    empty = requests.post(f"{stack.marathon_url}/v2/apps", data=b"", timeout=5,
                          headers={"Content-Type": "application/json"})
    assert empty.status_code == 400
    assert requests.get(f"{stack.marathon_url}/v2/apps", timeout=5).json() == {"apps": []}


def test_group_deploys_its_apps_as_one_deployment(standins: Standins) -> None:
    """Marathon: POST /v2/groups -> {version, deploymentId}; apps resolved inside the group;
    409 when the group exists."""
    stack = standins.up()
    group = {"id": "/shop", "apps": [
        {"id": "web", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 2},
        {"id": "/shop/db", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16}]}

    answer = requests.post(f"{stack.marathon_url}/v2/groups", json=group, timeout=5)
    assert answer.status_code == 201
    assert set(answer.json()) == {"version", "deploymentId"}
    deployments = requests.get(f"{stack.marathon_url}/v2/deployments", timeout=5).json()
    assert [d["id"] for d in deployments] == [answer.json()["deploymentId"]]
    assert sorted(deployments[0]["affectedApps"]) == ["/shop/db", "/shop/web"]

    wait_until(lambda: stack.running("/shop/web", 2) and stack.running("/shop/db"), timeout=30,
               what="both apps of the group running")
    assert requests.get(f"{stack.marathon_url}/v2/deployments", timeout=5).json() == []
    shown = requests.get(f"{stack.marathon_url}/v2/groups/shop", timeout=5).json()
    assert sorted(a["id"] for a in shown["apps"]) == ["/shop/db", "/shop/web"]
    again = requests.post(f"{stack.marathon_url}/v2/groups", json=group, timeout=5)
    assert again.status_code == 409


def test_app_bigger_than_any_agent_waits_in_the_queue(standins: Standins) -> None:
    """Marathon: an app that fits no agent stays queued, its deployment unfinished; PUT while
    it is locked is 409 naming the deployment."""
    stack = standins.up()
    created = stack.post_app({"id": "huge", "cmd": "sleep 1000", "cpus": 0.1, "mem": 4096})
    deployment_id = created.json()["deployments"][0]["id"]

    def queued() -> dict[str, Any] | None:
        entries = requests.get(f"{stack.marathon_url}/v2/queue", timeout=5).json()["queue"]
        return next((e for e in entries if e["app"]["id"] == "/huge"), None)

    wait_until(queued, timeout=10, what="/huge in the queue")
    # An app that fits, posted after /huge, is placed in a scheduling round that offered the
    # agent to /huge first: once it runs, /huge has been declined at least once.
    stack.post_app({"id": "fits", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16})
    wait_until(lambda: stack.running("/fits"), timeout=30, what="/fits running after /huge")
    entry = queued()
    assert entry is not None and entry["count"] == 1
    app = stack.app("/huge")
    assert (app["tasksRunning"], app["deployments"]) == (0, [{"id": deployment_id}])
    if not stack.legacy:
        reasons = {r["reason"]: r["declined"]
                   for r in queued()["processedOffersSummary"]["rejectSummaryLastOffers"]}
        assert reasons["InsufficientMemory"] > 0
    locked = requests.put(f"{stack.marathon_url}/v2/apps/huge", json={"mem": 64}, timeout=5)
    assert locked.status_code == 409
    assert locked.json()["deployments"] == [{"id": deployment_id}]
    assert locked.json()["message"].startswith("App is locked by one or more deployments.")


def test_failing_task_is_relaunched_with_backoff(standins: Standins) -> None:
    """Marathon: a task that exits is relaunched, each time later (backoffFactor), and
    lastTaskFailure carries its state and message."""
    stack = standins.up()
    events: list[dict[str, Any]] = []
    stack.post_app({"id": "crashy", "cmd": "exit 3", "cpus": 0.1, "mem": 16,
                    "backoffSeconds": 0.5, "backoffFactor": 2})

    def failed_tasks() -> list[str] | None:
        framework = stack.marathon_framework() or {"completed_tasks": []}
        ids = [t["id"] for t in framework["completed_tasks"] if t["state"] == "TASK_FAILED"]
        return ids if len(ids) >= 3 else None

    ids = wait_until(failed_tasks, timeout=30, what="three failed launches")
    assert len(set(ids)) == len(ids)
    failure = stack.app("/crashy")["lastTaskFailure"]
    assert failure["state"] == "TASK_FAILED"
    assert failure["message"] == "Command exited with status 3"
    assert failure["appId"] == "/crashy"
    events.append(failure)


def test_three_masters_elect_one_leader_and_fail_over(standins: Standins) -> None:
    """Master: one of three (quorum 2) leads; modern followers 307 to it, legacy followers
    answer their own state naming the leader; killing the leader elects another."""
    stack = standins
    stack.zookeeper()
    ips = ("127.0.0.1", "127.0.0.2", "127.0.0.3")
    masters = {ip: stack.master(ip, MESOS_QUORUM="2") for ip in ips}

    def leader() -> str | None:
        for ip in ips:
            try:
                answer = requests.get(f"http://{ip}:5050{stack.state_path}", timeout=2,
                                      allow_redirects=False)
            except requests.RequestException:
                continue
            if answer.status_code == 200 and "elected_time" in answer.json():
                return ip
        return None

    first = wait_until(leader, timeout=30, what="a leading master")

    def follows(ip: str) -> bool:
        try:
            answer = requests.get(f"http://{ip}:5050{stack.state_path}", timeout=2,
                                  allow_redirects=False)
        except requests.RequestException:
            return False
        if stack.legacy:
            body = answer.json()
            return (answer.status_code == 200 and body.get("leader") == f"master@{first}:5050"
                    and body["slaves"] == [] and "elected_time" not in body)
        return (answer.status_code == 307
                and answer.headers["Location"] == f"//{first}:5050/master/state")

    for ip in ips:
        if ip != first:
            wait_until(lambda ip=ip: follows(ip), timeout=20, what=f"{ip} following {first}")
    redirect = requests.get(f"http://{ips[0]}:5050/master/redirect", timeout=2,
                            allow_redirects=False)
    assert (redirect.status_code, redirect.headers["Location"]) == (307, f"//{first}:5050")

    masters[first].kill()
    started = time.monotonic()
    second = wait_until(lambda: (ip := leader()) != first and ip, timeout=30,
                        what="a new leading master")
    assert second in ips and second != first
    assert time.monotonic() - started < 15


def test_lone_master_without_quorum_aborts_after_the_fetch_timeout(standins: Standins) -> None:
    """Master: elected alone with quorum 2, it aborts with the real registrar message."""
    stack = standins
    stack.zookeeper()
    master = stack.master(MESOS_QUORUM="2", MESOS_REGISTRY_FETCH_TIMEOUT="2secs")
    started = time.monotonic()
    master.wait(timeout=30)
    master.reload()
    assert master.attrs["State"]["ExitCode"] == 1
    assert 2 <= time.monotonic() - started < 15
    logs = master.logs().decode()
    assert ("Recovery failed: Failed to recover registrar: Failed to perform fetch within "
            "2secs") in logs


def test_master_with_zookeeper_needs_a_quorum(standins: Standins) -> None:
    stack = standins
    master = stack.bed.run("mesos-master", name="master", env=stack.env(
        MESOS_IP="127.0.0.1", MESOS_ZK="zk://127.0.0.1:2181/mesos"))
    assert master.wait(timeout=30)["StatusCode"] == 1
    assert ("Need to specify --quorum for replicated log based registry when using ZooKeeper"
            in master.logs().decode())


def test_masters_znodes_read_with_kazoo(standins: Standins) -> None:
    """ZooKeeper layout: `info_` (protobuf MasterInfo) for legacy, `json.info_` for modern,
    EPHEMERAL|SEQUENCE with ten digits; the leader's pid in the smallest."""
    stack = standins
    stack.zookeeper()
    stack.master()
    zk = KazooClient(hosts="127.0.0.1:2181")
    zk.start(timeout=10)
    try:
        children = wait_until(lambda: zk.exists("/mesos") and zk.get_children("/mesos"),
                              timeout=20, what="a master znode")
        label = "info_" if stack.legacy else "json.info_"
        assert len(children) == 1 and children[0].startswith(label)
        assert len(children[0]) == len(label) + 10 and children[0][-10:].isdigit()
        data, stat = zk.get(f"/mesos/{children[0]}")
        assert stat.ephemeralOwner != 0
        if stack.legacy:
            assert b"master@127.0.0.1:5050" in data
            with pytest.raises(ValueError):
                json.loads(data)
        else:
            info = json.loads(data)
            assert info["pid"] == "master@127.0.0.1:5050"
            assert info["ip"] == 16777343
            assert info["address"] == {"hostname": "127.0.0.1", "ip": "127.0.0.1", "port": 5050}
    finally:
        zk.stop()
        zk.close()


def test_docker_app_runs_as_a_sibling_container(standins: Standins, bed: TestBed) -> None:
    """Agent: a DOCKER task is a sibling container on the host's engine named
    mesos-<agentId>.<containerId> (legacy) or mesos-<containerId> (modern); its output lands
    in the sandbox."""
    stack = standins.up()
    image = bed.image("task")
    stack.post_app({
        "id": "dockerized", "cmd": "echo Hello from Docker; sleep 1000", "cpus": 0.1,
        "mem": 16, "container": {"type": "DOCKER", "docker": {
            "image": image, "network": "HOST",
            "parameters": [{"key": "label", "value": f"{TEST_LABEL}={bed.run_id}"}]}}})
    wait_until(lambda: stack.running("/dockerized"), timeout=30, what="the Docker app running")

    state = requests.get("http://127.0.0.1:5051" + stack.agent_state_path, timeout=5).json()
    container_id = state["frameworks"][0]["executors"][0]["container"]
    name = f"mesos-{state['id']}.{container_id}" if stack.legacy else f"mesos-{container_id}"
    sibling = bed.client.containers.get(name)
    assert sibling.status == "running"
    assert sibling.attrs["HostConfig"]["NetworkMode"] == "host"
    assert "Hello from Docker" in wait_until(lambda: sandbox_stdout(stack), timeout=10,
                                             what="the container's output in the sandbox")


def test_new_agent_removes_mesos_containers_it_did_not_start(bed: TestBed) -> None:
    """Agent: --docker_kill_orphans removes running `mesos-*` containers at start, unless
    MESOS_DOCKER_KILL_ORPHANS=false."""
    orphan = bed.client.containers.run(bed.image("task"), ["sleep", "1000"], detach=True,
                                       name=f"mesos-orphan-{bed.run_id}", labels=bed.labels,
                                       network_mode="host")
    socket = {"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"}}
    env = {"MESOS_IP": "127.0.0.2", "MESOS_MASTER": "127.0.0.9:5050"}

    bed.run("mesos-slave", name="keeps", env={**env, "MESOS_DOCKER_KILL_ORPHANS": "false"},
            volumes=socket)
    wait_until(lambda: requests.get("http://127.0.0.2:5051/health", timeout=1).ok
               if _answers("127.0.0.2", 5051) else None, timeout=20, what="the first agent")
    orphan.reload()
    assert orphan.status == "running"

    bed.run("mesos-slave", name="kills", env={**env, "MESOS_IP": "127.0.0.3"}, volumes=socket)
    wait_until(lambda: _gone(bed, orphan.id), timeout=20, what="the orphan removed")


def _answers(ip: str, port: int) -> bool:
    try:
        requests.get(f"http://{ip}:{port}/health", timeout=1)
    except requests.RequestException:
        return False
    return True


def _gone(bed: TestBed, container_id: str) -> bool:
    return not bed.client.containers.list(all=True, filters={"id": container_id},
                                          ignore_removed=True)


def test_restarted_marathon_keeps_its_apps_and_tasks(standins: Standins, bed: TestBed) -> None:
    """Marathon: apps and deployments live in ZooKeeper under <zk>/state; a restarted
    Marathon knows them and reconciles the running task instead of launching another."""
    stack = standins
    stack.zookeeper()
    stack.master()
    stack.agent()
    marathon = stack.marathon()
    wait_until(stack.marathon_framework, timeout=60, what="Marathon registered")
    stack.post_app(BASIC_0)
    before = wait_until(lambda: stack.running("/basic-0"), timeout=30, what="basic-0 running")

    marathon.restart(timeout=2)
    after = wait_until(lambda: _get_ok(stack) and stack.running("/basic-0"), timeout=30,
                       what="basic-0 known and running after the restart")
    assert [t["id"] for t in after["tasks"]] == [t["id"] for t in before["tasks"]]
    zk = KazooClient(hosts="127.0.0.1:2181")
    zk.start(timeout=10)
    try:
        assert zk.get_children("/marathon/state/apps")
        leader_path = "/marathon/leader" if stack.legacy else "/marathon/leader-curator"
        assert zk.get_children(leader_path)
    finally:
        zk.stop()
        zk.close()


def _get_ok(stack: Standins) -> bool:
    try:
        return requests.get(f"{stack.marathon_url}/v2/apps", timeout=2).ok
    except requests.RequestException:
        return False


def test_delay_knobs_hold_each_readiness_step_back(standins: Standins) -> None:
    """Start-up time: STANDIN_STARTUP_DELAY keeps the socket closed; past it, the master is
    healthy without a leader (ELECTION_DELAY), the agent healthy but unregistered and Marathon
    answering /ping without a framework id (REGISTRATION_DELAY)."""
    stack = standins
    stack.zookeeper()
    started = time.monotonic()
    stack.master(STANDIN_STARTUP_DELAY="1", STANDIN_ELECTION_DELAY="2")
    stack.agent(STANDIN_REGISTRATION_DELAY="2")
    stack.marathon(STANDIN_REGISTRATION_DELAY="2")

    assert not _answers("127.0.0.1", 5050)
    wait_until(lambda: _answers("127.0.0.1", 5050), timeout=10, what="the master's socket")
    assert time.monotonic() - started >= 1
    assert requests.get(f"{stack.master_url}/master/health", timeout=2).status_code == 200
    early = requests.get(stack.master_url + stack.state_path, timeout=2, allow_redirects=False)
    assert "elected_time" not in (early.json() if early.status_code == 200 else {})

    agent = wait_until(lambda: _answers("127.0.0.1", 5051) and requests.get(
        "http://127.0.0.1:5051" + stack.agent_state_path, timeout=2).json(), timeout=10,
        what="the agent answering")
    assert agent["id"] == ""
    # 0.11.1 pongs with a line end; a Marathon not elected yet holds /ping 2.75 s
    assert requests.get(f"{stack.marathon_url}/ping", timeout=5).text.strip() == "pong"

    def elected() -> bool:
        answer = requests.get(stack.master_url + stack.state_path, timeout=2)
        return answer.status_code == 200 and "elected_time" in answer.json()

    wait_until(elected, timeout=10, what="a leader")
    assert time.monotonic() - started >= 3
    wait_until(lambda: requests.get("http://127.0.0.1:5051" + stack.agent_state_path,
                                    timeout=2).json()["id"], timeout=10, what="registration")
    info = requests.get(f"{stack.marathon_url}/v2/info", timeout=2).json()
    assert info["elected"] is True
    wait_until(stack.marathon_framework, timeout=10, what="Marathon registered")
    assert "frameworkId" in requests.get(f"{stack.marathon_url}/v2/info", timeout=2).json()
