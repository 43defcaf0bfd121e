"""Who runs a task: Marathon registers with --mesos_user (default: the user it runs as, nobody
in the 1.11 image) and gives a task its app's `user`; the agent runs the task as the task's
user, else the framework's (tests/standins/agent_rules.py names the sources). No Docker."""

from __future__ import annotations

import os
import pwd
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from standin_loader import load_standin

from testbed import wait_until

ME = pwd.getpwuid(os.getuid()).pw_name
AS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")


def marathon(monkeypatch: pytest.MonkeyPatch, generation: str, **env: str) -> tuple[Any, list[
        tuple[str, str, Any]]]:
    monkeypatch.setenv("MARATHON_MASTER", "127.0.0.1:5050")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    module = load_standin(monkeypatch, "marathon", generation)
    calls: list[tuple[str, str, Any]] = []

    def call(method: str, url: str, body: Any = None, **_: Any) -> tuple[int, Any]:
        calls.append((method, url, body))
        return 200, {"id": "fw-0000"}

    monkeypatch.setattr(module, "call", call)
    made = module.Marathon()
    made.framework_id = "fw-0000"  # known already: nothing to store in ZooKeeper
    return made, calls


@pytest.mark.parametrize("generation", ["legacy", "modern"])
def test_marathon_registers_as_the_user_it_runs_as(generation: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MARATHON_MESOS_USER", raising=False)
    m, calls = marathon(monkeypatch, generation)
    m.register()
    registered = calls[-1][2]
    assert registered["user"] == ME
    assert registered["capabilities"] == ([] if generation == "legacy" else ["PARTITION_AWARE"])


def test_marathon_mesos_user_overrides_it(monkeypatch: pytest.MonkeyPatch) -> None:
    m, calls = marathon(monkeypatch, "modern", MARATHON_MESOS_USER="marathon")
    m.register()
    assert calls[-1][2]["user"] == "marathon"


def test_a_task_carries_its_apps_user_only(monkeypatch: pytest.MonkeyPatch) -> None:
    m, calls = marathon(monkeypatch, "modern")
    offer = {"slave_id": "S0", "hostname": "127.0.0.1", "ports": "[31000-32000]",
             "resources": {"cpus": 2.0, "mem": 1024.0, "disk": 100.0}}
    for app_id, user in (("/as-nobody", "nobody"), ("/as-framework", None)):
        app = m.normalise({"cmd": "id -un", "user": user}, app_id, "2024-01-01T00:00:00.000Z")
        assert m.launch("http://master", app, offer)
    tasks = [body["task"] for method, url, body in calls if url.endswith("/standin/launch")]
    assert tasks[0]["user"] == "nobody" and "user" not in tasks[1]


def agent(monkeypatch: pytest.MonkeyPatch, generation: str, work: Path) -> tuple[ModuleType,
                                                                                 Any]:
    for key, value in {"MESOS_WORK_DIR": str(work), "MESOS_DOCKER_KILL_ORPHANS": "false"
                       }.items():
        monkeypatch.setenv(key, value)
    module = load_standin(monkeypatch, "agent", generation)
    made = module.Agent()
    made.id = "agent-S0"
    return module, made


def command_task(task_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": task_id, "name": task_id, "framework_id": "fw-0000", "slave_id": "agent-S0",
            "resources": {"cpus": 0.1, "mem": 16.0, "disk": 0.0},
            "command": "id -un; touch written-by-the-task", **extra}


def ended_state(made: Any, task_id: str) -> str:
    return str(wait_until(lambda: made.tasks[task_id]["state"]
                          if made.tasks[task_id]["state"] not in ("TASK_STAGING",
                                                                  "TASK_RUNNING") else None,
                          timeout=10, what=f"{task_id} ended"))


@AS_ROOT
@pytest.mark.parametrize("generation", ["legacy", "modern"])
def test_a_root_agent_runs_the_task_as_the_frameworks_user(
        generation: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _, made = agent(monkeypatch, generation, tmp_path)
    made.launch({"task": command_task("t.1"), "framework": {"user": "nobody"}})
    assert ended_state(made, "t.1") == "TASK_FINISHED"
    sandbox = Path(made.tasks["t.1"]["directory"])
    assert (sandbox / "stdout").read_text() == "nobody\n"
    assert sandbox.stat().st_uid == pwd.getpwnam("nobody").pw_uid
    assert (sandbox / "written-by-the-task").stat().st_uid == pwd.getpwnam("nobody").pw_uid
    # 1.7.1 makes the sandbox 0750 (paths.cpp createSandboxDirectory); 0.23.0 does not
    assert (sandbox.stat().st_mode & 0o777 == 0o750) == (generation == "modern")
    assert made.state()["frameworks"][0]["user"] == "nobody"


@AS_ROOT
def test_the_tasks_own_user_comes_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path
                                        ) -> None:
    _, made = agent(monkeypatch, "modern", tmp_path)
    made.launch({"task": command_task("t.2", user="nobody"), "framework": {"user": "root"}})
    assert ended_state(made, "t.2") == "TASK_FINISHED"
    assert (Path(made.tasks["t.2"]["directory"]) / "stdout").read_text() == "nobody\n"


@pytest.mark.parametrize(("generation", "aware", "state"), [
    ("modern", True, "TASK_DROPPED"), ("modern", False, "TASK_LOST")])
def test_a_1x_agent_drops_a_task_whose_user_it_cannot_give_the_sandbox(
        generation: str, aware: bool, state: str, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    _, made = agent(monkeypatch, generation, tmp_path)
    capabilities = ["PARTITION_AWARE"] if aware else []
    made.launch({"task": command_task("t.3"), "framework": {"user": "no-such-user",
                                                             "capabilities": capabilities}})
    task = made.tasks["t.3"]
    assert (task["state"], task["reason"]) == (state, "REASON_EXECUTOR_TERMINATED")
    assert task["message"] == (f"Failed to create executor directory '{task['directory']}': "
                               "Failed to chown directory to 'no-such-user': No such user "
                               "'no-such-user'")
    assert made.processes == {}


def test_a_legacy_agent_warns_then_its_launcher_cannot_become_the_user(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _, made = agent(monkeypatch, "legacy", tmp_path)
    made.launch({"task": command_task("t.4"), "framework": {"user": "no-such-user"}})
    task = made.tasks["t.4"]
    assert (task["state"], task["reason"], task["message"]) == (
        "TASK_FAILED", "REASON_COMMAND_EXECUTOR_FAILED", "Executor terminated")
    assert (Path(task["directory"]) / "stderr").read_text() == (
        "Failed to change user to 'no-such-user': Failed to getgid: unknown user\n")


def test_switch_user_off_runs_the_task_as_the_agent(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    monkeypatch.setenv("MESOS_SWITCH_USER", "false")
    _, made = agent(monkeypatch, "modern", tmp_path)
    made.launch({"task": command_task("t.5"), "framework": {"user": "no-such-user"}})
    assert ended_state(made, "t.5") == "TASK_FINISHED"
    assert (Path(made.tasks["t.5"]["directory"]) / "stdout").read_text() == f"{ME}\n"
    assert sys.modules["agent_rules"].task_user({}, "x", {"MESOS_SWITCH_USER": "false"}) is None
