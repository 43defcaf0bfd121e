"""The agent stand-in restarts as the real agent does (tests/standins/agent_rules.py
`recovery`, agent.py `Agent.recover`): it recovers at each start while its HTTP answers (a 1.x
agent's /state: 503 "Agent has not finished recovery"), keeps the id it checkpointed in its work
dir, exits with the real text when its settings no longer match that agent's, waits for the
executors that were running; and with --docker_mesos_image runs each Docker task's executor in
a container of its own. Expected texts are apache/mesos' at 0.23.0 and 1.7.1 (files and lines
named in agent_rules.py), written here by hand. No Docker: the engine is a fake on a socket."""

from __future__ import annotations

import json
import os
import pwd
import socketserver
import sys
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests
from standin_loader import ended, free_port, json_at, load_standin, start

from testbed import wait_until

DASHES = "-" * 60
INFO: dict[str, Any] = {
    "hostname": "10.0.0.5", "port": 5051, "checkpoint": True, "attributes": {},
    "resources": {"cpus": 2.0, "mem": 1024.0, "ports": "[31000-32000]"}}
AGENT_ID = "a8b3e3a1-3f0e-4c55-9b61-2c3f0d1e2a44-S0"
# protobuf's DebugString of a SlaveInfo with its id, as 1.7.1 writes it (0.23.0 adds
# `role: "*"` to each resource), to fill in with str.format; INFO_TEXT is INFO's
SLAVE_INFO = """\
hostname: "10.0.0.5"
resources {{
  name: "cpus"
  type: SCALAR
  scalar {{
    value: {cpus}
  }}
}}
resources {{
  name: "mem"
  type: SCALAR
  scalar {{
    value: {mem}
  }}
}}
resources {{
  name: "ports"
  type: RANGES
  ranges {{
    range {{
      begin: 31000
      end: 32000
    }}
  }}
}}
id {{
  value: "{agent_id}"
}}
checkpoint: true
port: {port}
"""
INFO_TEXT = SLAVE_INFO.format(cpus=2, mem=1024, port=5051, agent_id=AGENT_ID)
LEGACY_TEXT = INFO_TEXT.replace("  }\n}", '  }\n  role: "*"\n}')


@pytest.fixture
def rules(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    import importlib

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "standins"))
    return importlib.import_module("agent_rules")


def checkpoint(rules: ModuleType, **info: Any) -> Any:
    return rules.Checkpoint(AGENT_ID, {**INFO, **info, "id": AGENT_ID})


def recovery(rules: ModuleType, *, legacy: bool, env: dict[str, str] | None = None,
             rebooted: bool = False, **changed: Any) -> Any:
    return rules.recovery(checkpoint(rules), {**INFO, **changed}, legacy=legacy, env=env or {},
                          rebooted=rebooted)


# --- the SlaveInfo checks --------------------------------------------------------------------


def test_the_info_is_written_as_protobufs_debug_string(rules: ModuleType) -> None:
    assert rules.info_text({**INFO, "id": AGENT_ID}, legacy=False) == INFO_TEXT
    assert rules.info_text({**INFO, "id": AGENT_ID}, legacy=True) == LEGACY_TEXT


def test_a_0_23_agent_with_other_resources_fails_with_its_text(rules: ModuleType) -> None:
    """0.23.0 slave.cpp l.3908-3915: joined with "\\n", the info's text ending in its own."""
    more = {"cpus": 4.0, "mem": 1024.0, "ports": "[31000-32000]"}
    decision = recovery(rules, legacy=True, resources=more)
    new_text = LEGACY_TEXT.replace("value: 2\n", "value: 4\n")
    assert decision.failure == (
        f"Incompatible slave info detected.\n{DASHES}\nOld slave info:\n{LEGACY_TEXT}\n{DASHES}"
        f"\nNew slave info:\n{new_text}\n{DASHES}")
    assert (decision.agent_id, decision.slave_state) == ("", False)


def test_a_1x_agent_with_another_hostname_fails_with_its_text(rules: ModuleType) -> None:
    """1.7.1 compatibility.cpp l.43-51: "detected. " and dashes after an extra newline."""
    decision = recovery(rules, legacy=False, hostname="10.0.0.6")
    new_text = INFO_TEXT.replace('"10.0.0.5"', '"10.0.0.6"')
    assert decision.failure == (
        f"Incompatible agent info detected. \n\n{DASHES}\nOld agent info:\n{INFO_TEXT}\n\n"
        f"{DASHES}\nNew agent info:\n{new_text}\n\n{DASHES}")


def test_the_same_settings_keep_the_agents_id(rules: ModuleType) -> None:
    for legacy in (True, False):
        decision = recovery(rules, legacy=legacy)
        assert (decision.agent_id, decision.slave_state, decision.failure) == (AGENT_ID, True, "")


def test_the_additive_policy_takes_more_and_refuses_less(rules: ModuleType) -> None:
    """1.7.1 src/slave/compatibility.cpp `additive` (l.54-195)."""
    additive = {"MESOS_RECONFIGURATION_POLICY": "additive"}
    grown = {**INFO["resources"], "cpus": 4.0, "gpus": 1.0}
    assert recovery(rules, legacy=False, env=additive, resources=grown).agent_id == AGENT_ID
    policy = "Configuration change not permitted under"
    refusals: dict[str, tuple[dict[str, Any], str]] = {
        "hostname": ({"hostname": "10.0.0.6"},
                     f"{policy} `additive` policy: Hostname changed from 10.0.0.5 to 10.0.0.6"),
        "port": ({"port": 5052}, f"{policy} `additive` policy: Port changed from 5051 to 5052"),
        "fewer cpus": ({"resources": {**INFO["resources"], "cpus": 1.0}},
                       f"{policy} 'additive' policy: Value of scalar resource 'cpus' decreased "
                       "from 2 to 1"),
        "no mem": ({"resources": {"cpus": 2.0, "ports": "[31000-32000]"}},
                   f"{policy} 'additive' policy. Resource not found: mem:1024"),
        "fewer ports": ({"resources": {**INFO["resources"],
                                       "ports": "[31000-31500]"}},
                        f"{policy} 'additive' policy: Previous value of range resource 'ports' "
                        "([31000-32000]) not included in current [31000-31500]"),
    }
    for what, (changed, failure) in refusals.items():
        assert recovery(rules, legacy=False, env=additive, **changed).failure == failure, what
    # `equal`, the default, refuses even an addition
    assert recovery(rules, legacy=False, resources=grown).failure.startswith(
        "Incompatible agent info detected. ")


def test_after_a_reboot(rules: ModuleType) -> None:
    """0.23.0 recovers no agent after a reboot (state.cpp l.58-69); 1.7.1 recovers it, and an
    incompatible one comes back as a new agent (slave.cpp l.7133-7160)."""
    legacy = recovery(rules, legacy=True, rebooted=True, hostname="10.0.0.6")
    assert (legacy.info_line, legacy.agent_id, legacy.failure) == ("Slave host rebooted", "", "")
    modern = recovery(rules, legacy=False, rebooted=True, hostname="10.0.0.6")
    assert modern.warning.startswith("Falling back to recover as a new agent due to error: "
                                     "Incompatible agent info detected. ")
    assert (modern.forget, modern.agent_id, modern.failure) == (True, "", "")
    assert recovery(rules, legacy=False, rebooted=True).agent_id == AGENT_ID


def test_a_checkpoint_without_info_compares_nothing(rules: ModuleType) -> None:
    """The agent died before it registered: latest exists, slave.info not (state.cpp)."""
    for legacy in (True, False):
        decision = rules.recovery(rules.Checkpoint("S0", None), INFO, legacy=legacy, env={},
                                  rebooted=False)
        assert (decision.agent_id, decision.slave_state, decision.failure) == ("", True, "")
    assert rules.recovery(None, INFO, legacy=False, env={}, rebooted=False) == rules.Recovery()


def test_0_23s_recover_cleanup_compares_nothing(rules: ModuleType) -> None:
    """0.23.0 checks only with --recover=reconnect (slave.cpp l.3906-3907)."""
    decision = recovery(rules, legacy=True, env={"MESOS_RECOVER": "cleanup"}, port=5052)
    assert decision.failure == ""


# --- the stand-in as a process ----------------------------------------------------------------


@pytest.mark.parametrize("generation", ["legacy", "modern"])
def test_a_restarted_agent_keeps_its_id_and_one_with_other_resources_exits(
        generation: str, tmp_path: Path) -> None:
    master_port, agent_port = free_port(), free_port()
    master = start("master.py", generation, MESOS_IP="127.0.0.1", MESOS_PORT=str(master_port))
    env = {"MESOS_IP": "127.0.0.1", "MESOS_PORT": str(agent_port), "MESOS_LAUNCHER": "posix",
           "MESOS_MASTER": f"127.0.0.1:{master_port}", "MESOS_WORK_DIR": str(tmp_path),
           "MESOS_RESOURCES": "cpus:2;mem:1024"}
    state = f"http://127.0.0.1:{agent_port}/state" + (".json" if generation == "legacy" else "")
    try:
        ids = []
        for _ in range(2):
            agent = start("agent.py", generation, **env)
            try:
                ids.append(wait_until(lambda: json_at(state).get("id"), timeout=15,
                                      what="the agent registered"))
            finally:
                agent.kill()
                agent.communicate()
        assert ids[0] == ids[1]  # the id checkpointed in the work dir (slave.cpp)
        info = json.loads((tmp_path / "meta" / "slaves" / "latest" / "slave.info").read_text())
        assert info["id"] == ids[0] and info["resources"]["mem"] == 1024
        code, stderr = ended(start("agent.py", generation,
                                   **{**env, "MESOS_RESOURCES": "cpus:2;mem:2048"}))
    finally:
        master.kill()
        master.communicate()
    assert code == 1, stderr
    latest = f"{tmp_path}/meta/slaves/latest"
    if generation == "legacy":  # 0.23.0's EXIT prints the bare text (exit.hpp)
        assert (f"\nFailed to perform recovery: Incompatible slave info detected.\n{DASHES}\n"
                "Old slave info:\nhostname: \"127.0.0.1\"\n") in stderr
        assert stderr.endswith(f"To remedy this do as follows:\nStep 1: rm -f {latest}\n"
                               "        This ensures slave doesn't recover old live executors."
                               "\nStep 2: Restart the slave.\n")
    else:
        assert ("] EXIT with status 1: Failed to perform recovery: Incompatible agent info "
                f"detected. \n\n{DASHES}\nOld agent info:\nhostname: \"127.0.0.1\"\n") in stderr
        assert f"\nrm -f {latest}\n" in stderr and stderr.endswith("Finally, restart the agent.\n")
    assert "    value: 1024\n" in stderr and "    value: 2048\n" in stderr


def test_a_recovering_1x_agent_answers_503_but_is_healthy(tmp_path: Path) -> None:
    port = free_port()
    agent = start("agent.py", "modern", MESOS_IP="127.0.0.1", MESOS_PORT=str(port),
                  MESOS_MASTER="127.0.0.1:1", MESOS_WORK_DIR=str(tmp_path),
                  MESOS_LAUNCHER="posix", STANDIN_RECOVERY_DELAY="60")
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: healthy(base), timeout=15, what="the agent's /health")
        for path in ("/state", "/slave(1)/state"):
            answer = requests.get(base + path, timeout=2)
            assert (answer.status_code, answer.text) == (503, "Agent has not finished recovery")
            assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"
    finally:
        agent.kill()
        agent.communicate()


def healthy(base: str) -> bool:
    try:
        return requests.get(f"{base}/health", timeout=1).ok
    except requests.RequestException:
        return False


# --- the stand-in in this process ----------------------------------------------------------


def agent_here(monkeypatch: pytest.MonkeyPatch, generation: str, work: Path, **env: str
               ) -> tuple[ModuleType, Any]:
    for key, value in {"MESOS_WORK_DIR": str(work), "MESOS_DOCKER_KILL_ORPHANS": "false",
                       "MESOS_IP": "10.0.0.5", "MESOS_RESOURCES": "cpus:2;mem:1024", **env
                       }.items():
        monkeypatch.setenv(key, value)
    module = load_standin(monkeypatch, "agent", generation)
    return module, module.Agent()


def get(module: ModuleType, agent: Any, path: str) -> Any:
    common = sys.modules["common"]
    return agent.handle(common.Request("GET", path, {}, b"", {}))


@pytest.mark.parametrize("generation", ["legacy", "modern"])
def test_while_it_recovers(generation: str, monkeypatch: pytest.MonkeyPatch,
                           tmp_path: Path) -> None:
    """1.x answers 503 (http.cpp l.1270-1276); 0.23 its state, with the recovered id."""
    module, first = agent_here(monkeypatch, generation, tmp_path)
    first.checkpoint(AGENT_ID)
    module, agent = agent_here(monkeypatch, generation, tmp_path)
    seen: list[Any] = []
    path = "/state.json" if generation == "legacy" else "/state"
    monkeypatch.setattr(agent, "wait_for_executors", lambda: seen.append(get(module, agent, path)))
    agent.recover()
    (during,) = seen
    if generation == "legacy":
        assert (during.status, during.body["id"]) == (200, AGENT_ID)
    else:
        assert (during.status, during.body) == (503, b"Agent has not finished recovery")
    after = get(module, agent, path)
    assert (after.status, after.body["id"]) == (200, AGENT_ID)
    assert (tmp_path / "meta" / "boot_id").is_file()  # checkpointed once recovered


@pytest.mark.parametrize("generation", ["legacy", "modern"])
def test_recovery_waits_for_the_executors_that_were_running(
        generation: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    module, first = agent_here(monkeypatch, generation, tmp_path)
    first.checkpoint(AGENT_ID)
    runs = tmp_path / "meta" / "slaves" / AGENT_ID / "frameworks" / "F" / "executors"
    (runs / "web.1" / "runs" / "c1").mkdir(parents=True)  # running when the agent stopped
    (runs / "web.2" / "runs" / "c2").mkdir(parents=True)
    (runs / "web.2" / "runs" / "c2" / "executor.sentinel").touch()  # ended before
    live = runs / "web.1" / "runs" / "c1" / "executor.sentinel"
    slept: list[float] = []
    for timeout, expected in ((None, 2.0), ("5secs", 5.0)):
        if timeout:
            monkeypatch.setenv("MESOS_EXECUTOR_REREGISTRATION_TIMEOUT", timeout)
        live.unlink(missing_ok=True)
        module, agent = agent_here(monkeypatch, generation, tmp_path)
        monkeypatch.setattr(module.time, "sleep", slept.append)
        agent.recover()
        assert slept == [expected, 0.0]  # then STANDIN_RECOVERY_DELAY (unset)
        slept.clear()
    assert live.exists()  # it never reconnects: ended
    agent.recover()
    assert slept == [0.0]  # nothing left running


ME = pwd.getpwuid(os.geteuid()).pw_name


class Engine:
    """A Docker engine that runs every container at once to its end (exit 0), on a unix socket:
    records each request's method, path and body."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.requests: list[tuple[str, str, Any]] = []
        engine = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(size)) if size else None
                engine.requests.append((self.command, self.path, body))
                status, answer = 200, b"{}"
                if "/containers/create" in self.path:
                    status = 201
                elif self.path.endswith(("/start", "/stop?t=2")):
                    status, answer = 204, b""
                elif self.path.endswith("/wait"):
                    answer = b'{"StatusCode": 0}'
                elif "/logs" in self.path:
                    answer = b""
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def address_string(self) -> str:
                return "unix"

        self.server = socketserver.ThreadingUnixStreamServer(str(path), Handler)
        self.server.daemon_threads = True

    def created(self) -> list[tuple[str, Any]]:
        return [(p.split("name=", 1)[1], b) for m, p, b in self.requests
                if "/containers/create" in p]


@pytest.fixture
def engine() -> Iterator[Engine]:
    with tempfile.TemporaryDirectory(prefix="ee") as folder:
        fake = Engine(Path(folder) / "docker.sock")
        thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield fake
        finally:
            fake.server.shutdown()
            fake.server.server_close()


def docker_task() -> dict[str, Any]:
    return {"id": "web.1", "name": "web", "framework_id": "F", "slave_id": AGENT_ID,
            "resources": {"cpus": 0.1, "mem": 16.0}, "command": "echo hi",
            "docker": {"image": "busybox", "network": "HOST"}}


@pytest.mark.parametrize("generation", ["legacy", "modern"])
def test_with_docker_mesos_image_each_docker_task_has_an_executor_container(
        generation: str, engine: Engine, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    """Named the task's container plus `.executor` (docker.hpp `executorName`), started first
    from the image the flag names; it ends with the task."""
    module, agent = agent_here(monkeypatch, generation, tmp_path,
                               MESOS_CONTAINERIZERS="docker,mesos",
                               MESOS_DOCKER_MESOS_IMAGE="mesos-image:1")
    agent.id = AGENT_ID
    agent.docker = module.Docker(str(engine.path), None)
    agent.launch({"task": docker_task(), "framework": {"user": ME}})
    task = agent.tasks["web.1"]
    wait_until(lambda: agent.tasks["web.1"]["state"] == "TASK_FINISHED", timeout=15,
               what="the task's end")
    name = (f"mesos-{AGENT_ID}.{task['container']}" if generation == "legacy"
            else f"mesos-{task['container']}")
    (executor, body), (task_name, _) = engine.created()
    assert (executor, task_name) == (f"{name}.executor", name)
    sandbox = task["directory"]
    assert body["Image"] == "mesos-image:1"
    assert body["HostConfig"]["Binds"] == ["/var/run/docker.sock:/var/run/docker.sock:ro",
                                           f"{sandbox}:{sandbox}:rw"]
    assert ("PidMode" in body["HostConfig"]) is (generation == "modern")
    wait_until(lambda: ("POST", f"/containers/{name}.executor/stop?t=2", None)
               in engine.requests, timeout=15, what="the executor stopped")
    assert f"{name}.executor\n" in agent.started_containers.read_text()  # not an orphan
    assert (Path(task["meta"]) / "executor.sentinel").exists()


def test_without_the_flag_there_is_no_executor_container(
        engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    module, agent = agent_here(monkeypatch, "modern", tmp_path,
                               MESOS_CONTAINERIZERS="docker,mesos")
    agent.id = AGENT_ID
    agent.docker = module.Docker(str(engine.path), None)
    agent.launch({"task": docker_task(), "framework": {"user": ME}})
    wait_until(lambda: agent.tasks["web.1"]["state"] == "TASK_FINISHED", timeout=15,
               what="the task's end")
    assert [name for name, _ in engine.created()] == [f"mesos-{agent.tasks['web.1']['container']}"]
