"""The agent stand-in decides as the real agent does (tests/standins/agent_rules.py): which
tasks its containerizers take, whether it starts on a host's cgroups, and what its Docker
client's API version does against an engine that refuses it. Expected texts are the ones read
in apache/mesos at 0.23.0 and 1.7.1 (each named in agent_rules.py), not the stand-in's output.
No Docker: the engine is a fake on a unix socket; master and agent run as local processes."""

from __future__ import annotations

import os
import pwd
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests
from standin_loader import (
    TOO_OLD,
    FakeEngine,
    ended,
    free_port,
    json_at,
    load_standin,
    master_and_agent,
    start,
)
from test_standins_shapes import FakeZk

from testbed import wait_until

GENERATIONS = ("legacy", "modern")
DOCKER_CPU = ("Failed to create a containerizer: Could not create DockerContainerizer: Failed "
              "to create docker: Failed to find a mounted cgroups hierarchy for the 'cpu' "
              "subsystem; you probably need to mount cgroups manually")
LINUX_LAUNCHER = ("Failed to create a containerizer: Could not create MesosContainerizer: Failed "
                  "to create launcher: Failed to create Linux launcher: ")

# /proc/mounts and /proc/cgroups as an agent's container sees them (Docker's runc layout).
V1_MOUNTS = """\
overlay / overlay rw,relatime 0 0
tmpfs /sys/fs/cgroup tmpfs {mode},nosuid,nodev,noexec,relatime,mode=755 0 0
cgroup /sys/fs/cgroup/systemd cgroup {mode},nosuid,nodev,noexec,relatime,xattr,name=systemd 0 0
cgroup /sys/fs/cgroup/cpu,cpuacct cgroup {mode},nosuid,nodev,noexec,relatime,cpu,cpuacct 0 0
cgroup /sys/fs/cgroup/freezer cgroup {mode},nosuid,nodev,noexec,relatime,freezer 0 0
cgroup /sys/fs/cgroup/memory cgroup {mode},nosuid,nodev,noexec,relatime,memory 0 0
"""
V2_MOUNTS = """\
overlay / overlay rw,relatime 0 0
cgroup /sys/fs/cgroup cgroup2 {mode},nosuid,nodev,noexec,relatime,nsdelegate 0 0
"""
V1_CGROUPS = """\
#subsys_name	hierarchy	num_cgroups	enabled
cpuset	3	2	1
cpu	1	2	1
cpuacct	1	2	1
memory	4	90	1
freezer	6	2	1
pids	8	2	1
"""
V2_CGROUPS = """\
#subsys_name	hierarchy	num_cgroups	enabled
cpuset	0	2	1
cpu	0	2	1
cpuacct	0	2	1
memory	0	90	1
freezer	0	2	1
pids	0	2	1
"""


@pytest.fixture
def rules(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    import importlib

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "standins"))
    return importlib.import_module("agent_rules")


def host(rules: ModuleType, version: int, *, privileged: bool = False, euid: int = 0,
         stated: str | None = None) -> Any:
    mode = "rw" if privileged else "ro"
    mounts = (V1_MOUNTS if version == 1 else V2_MOUNTS).format(mode=mode)
    return rules.cgroup_host(mounts, V1_CGROUPS if version == 1 else V2_CGROUPS, stated=stated,
                             euid=euid)


# --- 2. start: the containerizers against the host's cgroups -------------------------------


def test_the_docker_containerizer_needs_a_v1_cpu_hierarchy(rules: ModuleType) -> None:
    env = {"MESOS_CONTAINERIZERS": "docker,mesos"}  # the tutorial agent's image ENV
    for legacy in (True, False):
        for privileged in (False, True):
            assert rules.start_failure(env, host(rules, 2, privileged=privileged),
                                       legacy=legacy) == DOCKER_CPU
    # v1, even read-only as an unprivileged container has it: it only looks for it (and the
    # tutorial's 0.23 agent, posix isolation, has the posix launcher)
    assert rules.start_failure(env, host(rules, 1), legacy=True) is None
    # 1.7.1 sorts the names, so docker comes first whatever the order
    assert rules.start_failure({"MESOS_CONTAINERIZERS": "mesos,docker", "MESOS_LAUNCHER":
                                "linux"}, host(rules, 2), legacy=False) == DOCKER_CPU


def test_a_root_1x_agent_picks_the_linux_launcher_and_cannot_mount_a_v1_freezer(
        rules: ModuleType) -> None:
    freezer = "Failed to mount cgroups hierarchy at '/sys/fs/cgroup/freezer': "
    assert rules.launcher({}, host(rules, 2)) == "linux"
    assert rules.start_failure({}, host(rules, 2), legacy=False) == (
        LINUX_LAUNCHER + freezer + "Failed to create directory '/sys/fs/cgroup/freezer': "
        "Read-only file system")
    assert rules.start_failure({}, host(rules, 2, privileged=True), legacy=False) == (
        LINUX_LAUNCHER + freezer + "Operation not permitted")
    # not root: the posix launcher, which needs no cgroups
    assert rules.launcher({}, host(rules, 2, euid=1000)) == "posix"
    assert rules.start_failure({}, host(rules, 2, euid=1000), legacy=False) is None


def test_finding_5s_settings_start_on_cgroup_v2(rules: ModuleType) -> None:
    env = {"MESOS_CONTAINERIZERS": "mesos", "MESOS_LAUNCHER": "posix",
           "MESOS_ISOLATION": "posix/cpu,posix/mem", "MESOS_SYSTEMD_ENABLE_SUPPORT": "false"}
    for legacy in (True, False):
        assert rules.start_failure(env, host(rules, 2), legacy=legacy) is None


def test_cgroups_isolators_need_v1_controllers(rules: ModuleType) -> None:
    env = {"MESOS_LAUNCHER": "posix", "MESOS_ISOLATION": "cgroups/mem,cgroups/cpu"}
    cpu = ("Failed to mount cgroups hierarchy at '/sys/fs/cgroup/cpu': Failed to create directory"
           " '/sys/fs/cgroup/cpu': Read-only file system")
    assert rules.start_failure(env, host(rules, 2), legacy=False) == (
        "Failed to create a containerizer: Could not create MesosContainerizer: Failed to create "
        f"isolator 'cgroups/cpu': Failed to prepare hierarchy for the subsystem 'cpu': {cpu}")
    # 0.23.0: the isolators in the flag's order (mem first), then the Linux launcher
    memory = cpu.replace("/cpu", "/memory")
    assert rules.start_failure(env, host(rules, 2), legacy=True) == (
        "Failed to create a containerizer: Could not create MesosContainerizer: Could not "
        f"create isolator cgroups/mem: Failed to create memory cgroup: {memory}")


def test_on_v1_unprivileged_the_linux_launcher_cannot_make_its_cgroup(rules: ModuleType
                                                                      ) -> None:
    root = "/sys/fs/cgroup/freezer/mesos"
    assert rules.start_failure({}, host(rules, 1), legacy=False) == (
        LINUX_LAUNCHER + f"Failed to create root cgroup {root}: Failed to create directory "
        f"'{root}': Read-only file system")
    assert rules.start_failure({}, host(rules, 1, privileged=True), legacy=False) is None
    # 0.23.0 picks its launcher by isolation: posix isolation, posix launcher
    assert rules.start_failure({}, host(rules, 1), legacy=True) is None


def test_the_knob_states_only_the_hosts_layout(rules: ModuleType) -> None:
    env = {"MESOS_CONTAINERIZERS": "docker,mesos", "MESOS_LAUNCHER": "posix"}
    on_v1 = host(rules, 1, stated="2")
    assert on_v1.hierarchies == () and not on_v1.attached
    assert rules.start_failure(env, on_v1, legacy=False) == DOCKER_CPU
    on_v2 = host(rules, 2, stated="1")
    assert on_v2.hierarchy("cpu") is not None and not on_v2.writable  # still unprivileged
    assert rules.start_failure(env, on_v2, legacy=False) is None
    with pytest.raises(ValueError, match="STANDIN_HOST_CGROUP must be 1 or 2"):
        host(rules, 1, stated="3")


def test_a_1x_agent_needs_a_work_dir(rules: ModuleType) -> None:
    assert rules.flags_failure({}, legacy=False) == (
        "Flag 'work_dir' is required, but it was not provided\n\n"
        "See `mesos-agent --help` for a list of supported flags.")
    assert rules.flags_failure({}, legacy=True) is None
    assert rules.flags_failure({"MESOS_WORK_DIR": "/tmp/mesos"}, legacy=False) is None


@pytest.mark.parametrize("generation", GENERATIONS)
def test_the_agent_exits_at_start_on_a_v2_host_with_the_docker_containerizer(
        generation: str, tmp_path: Path) -> None:
    process = start("agent.py", generation, MESOS_PORT=str(free_port()),
                    MESOS_MASTER="127.0.0.1:1", MESOS_WORK_DIR=str(tmp_path),
                    MESOS_CONTAINERIZERS="docker,mesos", MESOS_LAUNCHER="posix",
                    STANDIN_HOST_CGROUP="2")
    code, stderr = ended(process)
    assert code == 1, stderr
    last = stderr.strip().splitlines()[-1]
    if generation == "legacy":
        assert last == DOCKER_CPU  # 0.23.0's EXIT: the bare message
    else:
        assert last.startswith("E") and last.endswith(f"] EXIT with status 1: {DOCKER_CPU}")


# --- 1. a DOCKER task on an agent without the Docker containerizer -------------------------


class RefusingDocker:
    """An engine no test may reach: any call fails the test."""

    socket = "/nonexistent"

    def request(self, *args: Any, **kwargs: Any) -> tuple[int, Any]:
        raise AssertionError(f"the agent called its engine: {args}")


def agent_in_process(monkeypatch: pytest.MonkeyPatch, generation: str, work: Path,
                     **env: str) -> tuple[ModuleType, Any]:
    for key, value in {"MESOS_WORK_DIR": str(work), "MESOS_DOCKER_KILL_ORPHANS": "false",
                       **env}.items():
        monkeypatch.setenv(key, value)
    module = load_standin(monkeypatch, "agent", generation)
    agent = module.Agent()
    agent.id = "agent-S0"
    agent.docker = RefusingDocker()
    return module, agent


ME = pwd.getpwuid(os.geteuid()).pw_name  # a framework user the agent can give a sandbox to


def docker_task(task_id: str = "web.1") -> dict[str, Any]:
    return {"id": task_id, "name": "web", "framework_id": "fw-0000", "slave_id": "agent-S0",
            "resources": {"cpus": 0.1, "mem": 16.0, "disk": 0.0}, "command": "echo hi",
            "docker": {"image": "busybox", "network": "HOST"}}


@pytest.mark.parametrize(("generation", "reason", "message"), [
    ("legacy", "REASON_COMMAND_EXECUTOR_FAILED", "Abnormal executor termination"),
    ("modern", "REASON_EXECUTOR_TERMINATED", "Abnormal executor termination: unknown container"),
])
def test_a_docker_task_fails_where_only_the_mesos_containerizer_runs(
        generation: str, reason: str, message: str, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    _, agent = agent_in_process(monkeypatch, generation, tmp_path)  # containerizers: `mesos`
    agent.launch({"task": docker_task(), "framework": {"user": ME}})
    task = agent.tasks["web.1"]
    assert (task["state"], task["reason"], task["message"]) == ("TASK_FAILED", reason, message)
    assert Path(task["directory"]).is_dir()  # the sandbox was made before the launch


def test_a_command_task_fails_where_only_the_docker_containerizer_runs(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _, agent = agent_in_process(monkeypatch, "modern", tmp_path, MESOS_CONTAINERIZERS="docker")
    task = {**docker_task("cmd.1"), "docker": None}
    agent.launch({"task": task, "framework": {"user": ME}})
    assert agent.tasks["cmd.1"]["state"] == "TASK_FAILED"
    assert agent.processes == {}




@pytest.fixture(params=GENERATIONS)
def mesos(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A master and an agent (containerizers: Mesos' default, `mesos`) on loopback."""
    with master_and_agent(request.param, tmp_path, MESOS_LAUNCHER="posix") as bed:
        yield {"generation": bed.generation, "master": bed.master}


def test_marathon_sees_the_agents_failure_as_last_task_failure(
        mesos: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARATHON_MASTER", mesos["master"])
    module = load_standin(monkeypatch, "marathon", mesos["generation"])
    marathon = module.Marathon()
    marathon.zk = FakeZk()
    marathon.elected, marathon.leader = True, marathon.me
    marathon.register()
    common = sys.modules["common"]
    body = (b'{"id": "web", "cmd": "sleep 60", "cpus": 0.1, "mem": 16, "container": {"type": '
            b'"DOCKER", "docker": {"image": "busybox", "network": "HOST"}}}')
    created = marathon.handle(common.Request("POST", "/v2/apps", {}, body, {}))
    assert created.status == 201

    def failure() -> Any:
        marathon.schedule()
        return marathon.failures.get("/web")

    seen = wait_until(failure, timeout=15, what="the task's failure")
    expected = ("Abnormal executor termination" if mesos["generation"] == "legacy"
                else "Abnormal executor termination: unknown container")
    assert (seen["state"], seen["message"]) == ("TASK_FAILED", expected)


# --- 3. the Docker client's API version -----------------------------------------------------


@pytest.fixture
def engine() -> Iterator[FakeEngine]:
    """A fake engine with Docker 25's minimum API (1.24), on a short socket path."""
    with tempfile.TemporaryDirectory(prefix="fe") as folder, FakeEngine(
            Path(folder) / "docker.sock").running() as fake:
        yield fake


def test_a_1x_agent_exits_when_its_engine_refuses_its_client(engine: FakeEngine,
                                                             tmp_path: Path) -> None:
    process = start("agent.py", "modern", MESOS_PORT=str(free_port()),
                    MESOS_MASTER="127.0.0.1:1", MESOS_WORK_DIR=str(tmp_path),
                    MESOS_CONTAINERIZERS="docker,mesos", MESOS_LAUNCHER="posix",
                    STANDIN_HOST_CGROUP="1", MESOS_DOCKER_SOCKET=str(engine.path),
                    STANDIN_DOCKER_API="1.20")
    code, stderr = ended(process)
    assert code == 1, stderr
    cause = (f"Failed to run 'docker -H unix://{engine.path} ps -a': exited with status 1; "
             f"stderr='Error response from daemon: {TOO_OLD.format(version='1.20')}\n'")
    assert f"EXIT with status 1: Failed to perform recovery: {cause}\n" in stderr
    assert f"rm -f {tmp_path}/meta/slaves/latest\n" in stderr
    assert ("GET", "/v1.20/containers/json?all=1") in engine.requests


def test_a_legacy_agent_lists_its_engine_only_when_it_recovers(engine: FakeEngine,
                                                               tmp_path: Path) -> None:
    env = {"MESOS_MASTER": "127.0.0.1:1", "MESOS_WORK_DIR": str(tmp_path),
           "MESOS_CONTAINERIZERS": "docker,mesos", "STANDIN_HOST_CGROUP": "1",
           "DOCKER_HOST": f"unix://{engine.path}", "STANDIN_DOCKER_API": "1.20"}
    port = free_port()
    fresh = start("agent.py", "legacy", MESOS_PORT=str(port), **env)
    try:
        wait_until(lambda: fresh.poll() is not None or healthy(port), timeout=15,
                   what="the agent's /health")
        assert fresh.poll() is None, ended(fresh)[1]
        assert ("GET", "/v1.20/containers/json?all=1") not in engine.requests
    finally:
        fresh.kill()
        fresh.communicate()

    (tmp_path / "meta" / "slaves" / "S0").mkdir(parents=True)
    (tmp_path / "meta" / "slaves" / "latest").symlink_to(tmp_path / "meta" / "slaves" / "S0")
    code, stderr = ended(start("agent.py", "legacy", MESOS_PORT=str(free_port()), **env))
    assert code == 1, stderr
    assert (f"Failed to perform recovery: Failed to 'docker ps -a': exit status = exited with "
            f"status 1 stderr = Error response from daemon: {TOO_OLD.format(version='1.20')}\n"
            f"\nTo remedy this do as follows:\nStep 1: rm -f {tmp_path}/meta/slaves/latest\n"
            in stderr)


def healthy(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/health", timeout=1).ok
    except requests.RequestException:
        return False


def test_docker_tasks_go_through_the_clients_api_version(
        engine: FakeEngine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    module, agent = agent_in_process(monkeypatch, "modern", tmp_path,
                                     MESOS_CONTAINERIZERS="docker,mesos",
                                     MESOS_DOCKER_SOCKET=str(engine.path))
    agent.docker = module.Docker(str(engine.path), "1.20")
    agent.launch({"task": docker_task(), "framework": {"user": ME}})
    task = agent.tasks["web.1"]
    assert task["state"] == "TASK_FAILED"
    assert task["message"] == (
        f"Failed to launch container: Failed to run 'docker -H unix://{engine.path} pull "
        f"busybox:latest': exited with status 1; stderr='Error response from daemon: "
        f"{TOO_OLD.format(version='1.20')}\n'")
    assert [path for _, path in engine.requests] == ["/v1.20/images/busybox/json",
                                                     "/v1.20/images/create?fromImage=busybox"]


def test_an_unpinned_client_speaks_the_engines_own_version(
        engine: FakeEngine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    module, _ = agent_in_process(monkeypatch, "modern", tmp_path)
    docker = module.Docker(str(engine.path), None)
    assert docker.request("GET", "/containers/json?all=1")[0] == 200
    assert engine.requests == [("GET", "/containers/json?all=1")]


# --- command-line flags beat the environment --------------------------------------------------


def test_the_masters_command_line_beats_its_environment(tmp_path: Path) -> None:
    """mesosphere's master image has CMD --registry=in_memory; MESOS_REGISTRY then loses."""
    port = free_port()
    master = start("master.py", "modern", "--registry=in_memory", MESOS_IP="127.0.0.1",
                   MESOS_PORT=str(port), MESOS_REGISTRY="replicated_log")
    try:
        state = wait_until(lambda: json_at(f"http://127.0.0.1:{port}/master/state"), timeout=15,
                           what="the master's state")
        assert state["flags"]["registry"] == "in_memory"
    finally:
        master.kill()
        master.communicate()
