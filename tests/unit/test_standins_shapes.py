"""The stand-ins' answers against the real payloads' field names and types, and their state
changing for real (tasks appear, die, are relaunched). No Docker: the master and agent run as
local processes on loopback; Marathon runs in-process over an in-memory ZooKeeper fake."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests
from standin_loader import load_standin

from testbed import fixture, wait_until

STANDINS = Path(__file__).resolve().parents[1] / "standins"
NUMBER = (int, float)


def same_shape(actual: Any, sample: Any, where: str = "") -> list[str]:
    """Where `actual` disagrees in JSON type with the real `sample`, key by shared key."""
    if sample is None or actual is None:
        return []
    if isinstance(sample, bool) or isinstance(actual, bool):
        return [] if type(sample) is type(actual) else [f"{where}: {actual!r} vs {sample!r}"]
    if isinstance(sample, NUMBER) and isinstance(actual, NUMBER):
        return []
    if isinstance(sample, dict) and isinstance(actual, dict):
        return [p for k in sample.keys() & actual.keys()
                for p in same_shape(actual[k], sample[k], f"{where}.{k}")]
    if isinstance(sample, list) and isinstance(actual, list):
        return [p for a in actual[:3] for p in same_shape(a, sample[0], f"{where}[]")][:5] if (
            sample) else []
    return [] if type(sample) is type(actual) else [f"{where}: {type(actual).__name__} vs "
                                                    f"{type(sample).__name__}"]


def lenient_json(text: str) -> Any:
    """The docs' agent state sample lacks a comma and has a trailing one; read it anyway."""
    text = re.sub(r'"\s*\n(\s*")', r'",\n\1', text)
    return json.loads(re.sub(r",(\s*[}\]])", r"\1", text))


# --- master and agent as processes --------------------------------------------------------


def free_ports(count: int) -> list[int]:
    """Ports nothing listens on now (so runs side by side don't answer for each other)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def start(program: str, generation: str, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(STANDINS / program)],
        env={**os.environ, "STANDIN_GENERATION": generation, **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.fixture(params=["legacy", "modern"])
def mesos(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    generation = request.param
    master_port, agent_port = free_ports(2)
    master = start("master.py", generation, MESOS_IP="127.0.0.1", MESOS_PORT=str(master_port))
    agent = start("agent.py", generation, MESOS_IP="127.0.0.1", MESOS_PORT=str(agent_port),
                  MESOS_MASTER=f"127.0.0.1:{master_port}", MESOS_WORK_DIR=str(tmp_path),
                  MESOS_RESOURCES="cpus:2;mem:1024", MESOS_DOCKER_KILL_ORPHANS="false")
    legacy = generation == "legacy"
    urls = {"generation": generation, "master": f"http://127.0.0.1:{master_port}",
            "agent": f"http://127.0.0.1:{agent_port}",
            "state": "/master/state.json" if legacy else "/master/state",
            "agent_state": "/state.json" if legacy else "/state",
            "files": "/files/read.json" if legacy else "/files/read"}
    try:
        wait_until(lambda: _json(urls["agent"] + urls["agent_state"]).get("id"), timeout=15,
                   what="the agent registered")
        yield urls
    finally:
        for process in (agent, master):
            process.kill()
            process.wait()


def _json(url: str) -> dict[str, Any]:
    try:
        answer: dict[str, Any] = requests.get(url, timeout=2).json()
    except (requests.RequestException, ValueError):
        return {}
    return answer


def test_master_and_agent_state_match_the_real_payloads(mesos: dict[str, str]) -> None:
    master = _json(mesos["master"] + mesos["state"])
    real = json.loads(fixture("mesos/master-state.leader.mesos-1.1.0.huawei-common.json")
                      .read_text())
    assert same_shape(master, real) == []
    for key in ("version", "id", "pid", "hostname", "leader", "elected_time",
                "activated_slaves", "slaves", "frameworks"):
        assert key in master, key
    assert isinstance(master["activated_slaves"], float)
    assert ("leader_info" in master) == (mesos["generation"] == "modern")
    slave = master["slaves"][0]
    assert same_shape(slave, real["slaves"][0]) == []
    assert {"id", "pid", "hostname", "resources", "active"} <= slave.keys()
    assert {"cpus", "mem", "disk", "ports"} <= slave["resources"].keys()

    agent = _json(mesos["agent"] + mesos["agent_state"])
    real_agent = lenient_json(fixture("mesos/agent-state.docs-example-0.28.0.txt").read_text())
    assert same_shape(agent, real_agent) == []
    assert agent["id"] == slave["id"] and agent["master_hostname"] == "127.0.0.1"


def test_tasks_appear_run_write_their_sandbox_and_die(mesos: dict[str, str]) -> None:
    master_url, agent_url = mesos["master"], mesos["agent"]
    framework = requests.post(f"{master_url}/standin/frameworks",
                              json={"name": "marathon"}, timeout=2).json()["id"]
    agent_id = _json(agent_url + mesos["agent_state"])["id"]
    task = {"id": "hello.1", "name": "hello", "framework_id": framework, "slave_id": agent_id,
            "resources": {"cpus": 0.1, "mem": 10.0, "disk": 0.0},
            "command": "echo Hello Marathon; sleep 30"}
    assert requests.post(f"{master_url}/standin/launch", json={"task": task},
                         timeout=5).status_code == 200

    def task_state() -> str | None:
        frameworks = _json(master_url + mesos["state"]).get("frameworks", [])
        tasks = [t for f in frameworks for t in f["tasks"] + f["completed_tasks"]]
        return tasks[0]["state"] if tasks else None

    assert wait_until(lambda: task_state() == "TASK_RUNNING", timeout=10, what="TASK_RUNNING")
    executor = _json(agent_url + mesos["agent_state"])["frameworks"][0]["executors"][0]
    assert {"id", "container", "directory", "tasks"} <= executor.keys()

    def read() -> Any:
        return requests.get(agent_url + mesos["files"], timeout=2, params={
            "path": executor["directory"] + "/stdout", "offset": 0, "length": 1000}).json()

    assert wait_until(lambda: "Hello Marathon" in read()["data"], timeout=5, what="stdout")
    assert requests.get(agent_url + mesos["files"], timeout=2, params={
        "path": executor["directory"] + "/stdout", "offset": -1}).json() == {
            "data": "", "offset": len("Hello Marathon\n")}
    assert requests.get(agent_url + mesos["files"], timeout=2,
                        params={"path": "/etc/passwd"}).status_code == 404
    free = _json(f"{master_url}/standin/offers")["offers"][0]["resources"]
    assert free["mem"] == pytest.approx(1024 - 10)

    requests.post(f"{master_url}/standin/kill", json={"task_id": "hello.1"}, timeout=5)
    assert wait_until(lambda: task_state() == "TASK_KILLED", timeout=10, what="TASK_KILLED")
    assert _json(f"{master_url}/standin/offers")["offers"][0]["resources"]["mem"] == 1024


def test_too_big_a_launch_is_refused(mesos: dict[str, str]) -> None:
    framework = requests.post(f"{mesos['master']}/standin/frameworks",
                              json={"name": "marathon"}, timeout=2).json()["id"]
    agent_id = _json(mesos["agent"] + mesos["agent_state"])["id"]
    task = {"id": "huge.1", "name": "huge", "framework_id": framework, "slave_id": agent_id,
            "resources": {"cpus": 0.1, "mem": 4096.0, "disk": 0.0}, "command": "true"}
    answer = requests.post(f"{mesos['master']}/standin/launch", json={"task": task}, timeout=5)
    assert answer.status_code == 409
    assert answer.json() == {"message": "insufficient mem"}


# --- Marathon in-process ------------------------------------------------------------------


class FakeZk:
    """Just the kazoo calls Marathon's state store makes, in memory."""

    def __init__(self) -> None:
        self.nodes: dict[str, bytes] = {}

    def ensure_path(self, path: str) -> None:
        self.nodes.setdefault(path, b"")

    def exists(self, path: str) -> bool:
        return path in self.nodes

    def create(self, path: str, value: bytes, makepath: bool = False) -> str:
        self.nodes[path] = value
        return path

    def set(self, path: str, value: bytes) -> None:
        self.nodes[path] = value

    def delete(self, path: str) -> None:
        del self.nodes[path]

    def get(self, path: str) -> tuple[bytes, None]:
        return self.nodes[path], None

    def get_children(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        return [p[len(prefix):] for p in self.nodes if p.startswith(prefix)
                and "/" not in p[len(prefix):]]


def leading(module: ModuleType) -> Any:
    """The stand-in's Marathon, elected and registered (framework `fw-0000`), its state in a
    FakeZk."""
    m = module.Marathon()
    m.zk = FakeZk()
    m.elected = m.registered = True
    m.leader = m.me
    m.framework_id = "fw-0000"
    return m


def elected(monkeypatch: pytest.MonkeyPatch, generation: str) -> Any:
    """`leading` of the `generation`'s stand-in, told its generation (`m.generation`)."""
    monkeypatch.setenv("MARATHON_MASTER", "127.0.0.1:5050")
    m = leading(load_standin(monkeypatch, "marathon", generation))
    m.generation = generation
    return m


def load_marathon() -> ModuleType:
    sys.path.insert(0, str(STANDINS))
    try:
        spec = importlib.util.spec_from_file_location("standin_marathon", STANDINS / "marathon.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(STANDINS))


@pytest.fixture
def marathon(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("STANDIN_GENERATION", "modern")
    monkeypatch.setenv("MARATHON_MASTER", "127.0.0.1:5050")
    return leading(load_marathon())


def call(m: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    common = sys.modules["common"]
    request = common.Request(method, path.split("?")[0], dict(
        p.split("=") for p in path.partition("?")[2].split("&") if p), json.dumps(body).encode()
        if body is not None else b"", {})
    response = m.handle(request)
    return response.status, response.body


def report(m: Any, state: str, task_id: str, message: str = "") -> None:
    task = m.tasks.get(task_id) or {"appId": "/basic-0", "version": m.apps["/basic-0"]["version"]}
    m.reconcile([{"id": task_id, "state": state, "slave_id": "agent-S0", "message": message,
                  "marathon": {"appId": task["appId"], "version": task["version"],
                               "host": "127.0.0.1", "ports": [31000]}}])


def test_marathon_answers_match_the_real_payloads(marathon: Any) -> None:
    status, created = call(marathon, "POST", "/v2/apps", {
        "id": "basic-0", "cmd": "while [ true ] ; do echo 'Hello Marathon' ; sleep 5 ; done",
        "cpus": 0.1, "mem": 10.0, "instances": 1})
    assert status == 201 and created["deployments"][0]["id"]
    real_app = json.loads(fixture("marathon/responses/v1.10-app_list.json").read_text())["apps"][0]
    assert same_shape(created, real_app) == []
    assert real_app.keys() - created.keys() == set()

    _, deployments = call(marathon, "GET", "/v2/deployments")
    real_deployments = json.loads(fixture("marathon/responses/v1.10-deployments.json")
                                  .read_text())
    assert same_shape(deployments, real_deployments) == []
    assert real_deployments[0].keys() <= deployments[0].keys()

    report(marathon, "TASK_RUNNING", "basic-0.instance-1._app.1")
    _, listed = call(marathon, "GET", "/v2/tasks")
    real_task = json.loads(fixture("marathon/responses/v1.10-tasks.json").read_text())["tasks"][0]
    assert same_shape(listed["tasks"][0], real_task) == []
    assert {"id", "appId", "host", "ports", "slaveId", "stagedAt", "startedAt", "version",
            "state"} <= listed["tasks"][0].keys()

    _, info = call(marathon, "GET", "/v2/info")
    real_info = json.loads(fixture("marathon/responses/v1.10-info.json").read_text())
    assert same_shape(info, real_info) == []
    assert {"name", "version", "elected", "leader", "frameworkId"} <= info.keys()

    marathon.apps["/basic-0"]["mem"] = 100000.0
    marathon.place("http://master", marathon.apps["/basic-0"], [
        {"slave_id": "agent-S0", "hostname": "127.0.0.1", "ports": "[31000-32000]",
         "resources": {"cpus": 2.0, "mem": 1024.0, "disk": 100.0}}])
    marathon.apps["/basic-0"]["instances"] = 2
    _, queued = call(marathon, "GET", "/v2/queue")
    real_queue = json.loads(fixture("marathon/responses/v1.10-queue.json").read_text())
    assert same_shape(queued, real_queue) == []
    reasons = {r["reason"]: r["declined"] for r in
               queued["queue"][0]["processedOffersSummary"]["rejectSummaryLastOffers"]}
    assert reasons["InsufficientMemory"] == 1 and reasons["InsufficientCpus"] == 0


def test_marathon_state_changes_with_its_tasks(marathon: Any) -> None:
    call(marathon, "POST", "/v2/apps", {"id": "basic-0", "cmd": "sleep 5", "instances": 1,
                                        "backoffSeconds": 1, "backoffFactor": 2})
    events = marathon.subscribers
    inbox: Any = __import__("queue").Queue()
    events.append(inbox)

    report(marathon, "TASK_STAGING", "basic-0.1")
    report(marathon, "TASK_RUNNING", "basic-0.1")
    assert marathon.settled("/basic-0")
    _, shown = call(marathon, "GET", "/v2/apps/basic-0")
    assert (shown["app"]["tasksRunning"], shown["app"]["tasksStaged"]) == (1, 0)
    marathon.finish_deployments()
    assert call(marathon, "GET", "/v2/deployments")[1] == []

    report(marathon, "TASK_FAILED", "basic-0.1", "Command exited with status 1")
    _, shown = call(marathon, "GET", "/v2/apps/basic-0")
    assert shown["app"]["tasksRunning"] == 0
    failure = shown["app"]["lastTaskFailure"]
    assert (failure["state"], failure["message"]) == ("TASK_FAILED",
                                                      "Command exited with status 1")
    first_delay = marathon.backoff["/basic-0"][1]
    report(marathon, "TASK_RUNNING", "basic-0.2")
    report(marathon, "TASK_FAILED", "basic-0.2", "Command exited with status 1")
    assert marathon.backoff["/basic-0"][1] == 2 * first_delay
    assert marathon.backoff["/basic-0"][0] > time.time()
    report(marathon, "TASK_FAILED", "basic-0.1")  # the master repeats ended tasks: no new failure
    assert marathon.backoff["/basic-0"][1] == 2 * first_delay

    kinds = []
    while not inbox.empty():
        kinds.append(inbox.get()["eventType"])
    assert kinds.count("status_update_event") == 5
    assert "deployment_success" in kinds
    sample = fixture("marathon/responses/v1.10-events.txt").read_text()
    real_event = json.loads(next(line[6:] for line in sample.splitlines()
                                 if line.startswith("data: ") and "taskStatus" in line))
    event = json.loads(marathon.sse({**real_event, "taskStatus": "TASK_RUNNING"})
                       .decode().split("data: ", 1)[1])
    assert event.keys() == real_event.keys()


def test_marathon_keeps_its_apps_in_zookeeper(marathon: Any, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    call(marathon, "POST", "/v2/apps", {"id": "/shop/web", "cmd": "sleep 5"})
    stored = marathon.zk.get_children("/marathon/state/apps")
    assert stored == ["%2Fshop%2Fweb"]
    second = load_marathon().Marathon()
    second.zk = marathon.zk
    assert [a["id"] for a in second.load("apps")] == ["/shop/web"]
    assert call(marathon, "DELETE", "/v2/apps/shop/web")[0] == 409  # its deployment holds it
    assert call(marathon, "DELETE", "/v2/apps/shop/web?force=true")[0] == 200
    assert marathon.zk.get_children("/marathon/state/apps") == []
