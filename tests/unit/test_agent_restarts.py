"""What mesostack makes of an agent that restarts: a 1.x agent recovering (503 on /state) is a
stage of its start, shown as "recovering"; an agent whose work dir holds an agent of other
settings exits, and `up` names that and its fix; with --docker_mesos_image each Docker task
also has an executor container, which `down` takes along. The agents' answers and log lines
are written from apache/mesos (0.23.0, 1.7.1; file and lines named in mesostack's sources),
and checked against the stand-in's where it runs. No Docker."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from standin_loader import ended, master_and_agent, start
from test_standins_recovery import SLAVE_INFO
from test_up_stages import ScriptedReadiness

from fakemesos import AGENT, AGENT_ID, MASTER, FakeHttp, FakeResponse, agent_state, answer
from fakes import FakeClock, FakeEngine, container
from mesostack import agent_log, components, hostinfo, mesos, orchestrator, probes
from mesostack.config import StackConfig
from mesostack.orchestrator import NotReady, UpSettings, up
from mesostack.plan import LABEL_ENDPOINT, Role, build
from mesostack.runtime import Engines

RECOVERING = FakeResponse(503, "Agent has not finished recovery",
                          {"Content-Type": "text/plain; charset=utf-8"})
LATEST = "/srv/mesostack/agent/meta/slaves/latest"

# --- a recovering agent ---------------------------------------------------------------


def test_a_recovering_agent_is_awaited_as_recovering() -> None:
    http = FakeHttp({f"http://{AGENT}/state": RECOVERING})
    with pytest.raises(probes.NotYet) as raised:
        probes.AgentProbe(AGENT, MASTER, http=http).check()
    assert str(raised.value) == (f"the agent on {AGENT} to finish recovering "
                                 "(/state: 503 Agent has not finished recovery)")
    assert http.calls == [f"http://{AGENT}/state"]  # not mistaken for a legacy agent


def test_status_shows_a_recovering_agent_as_not_ready_yet(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.setattr(probes, "Http", lambda: FakeHttp({f"http://{AGENT}/state": RECOVERING}))
    slave = container("s-slave", {LABEL_ENDPOINT: AGENT}, stack="s", role="slave")
    look = orchestrator.status("s", engines=Engines({None: FakeEngine(held=[slave])}))
    (agent,) = look.components
    assert not agent.ready
    assert agent.detail == (f"waiting for the agent on {AGENT} to finish recovering (/state: "
                            "503 Agent has not finished recovery)")


def test_what_down_and_task_logs_ask_an_agent_recovering_is_not_yet() -> None:
    http = FakeHttp({f"http://{AGENT}/state": RECOVERING})
    with pytest.raises(probes.NotYet, match="to finish recovering"):
        probes.agent_task_containers(AGENT, http=http)


def test_another_503_stays_what_the_agent_said() -> None:
    http = FakeHttp({f"http://{AGENT}/state": FakeResponse(503, "Service Unavailable")})
    with pytest.raises(mesos.Unanswered) as raised:
        mesos.agent_state(http, AGENT)
    assert raised.value.message == f"the agent on {AGENT} to answer /state (Service Unavailable)"


def test_a_recovered_agent_is_read_as_before() -> None:
    http = FakeHttp({f"http://{AGENT}/state": answer(agent_state())})
    assert mesos.agent_state_at(http, AGENT) == ("/state", agent_state())


# --- an agent restarted with other settings on its work dir ----------------------------

INFO_1X = SLAVE_INFO.replace("{mem}", "2048").replace(
    "{agent_id}", "a8b3e3a1-3f0e-4c55-9b61-2c3f0d1e2a44-S0")  # {cpus} and {port} to fill in
DASHES = "-" * 60
# 1.7.1: src/slave/compatibility.cpp l.43-51 joined into src/slave/slave.cpp l.7311-7330
# (stout's EXIT: glog's ERROR line "EXIT with status 1: ...", 3rdparty/stout exit.hpp).
EXIT_1X = f"""\
E1125 10:00:01.000000    12 slave.cpp:7311] EXIT with status 1: Failed to perform recovery: \
Incompatible agent info detected. \n
{DASHES}
Old agent info:
{{old}}

{DASHES}
New agent info:
{{new}}

{DASHES}
If recovery failed due to a change in configuration and you want to
keep the current agent id, you might want to change the
`--reconfiguration_policy` flag to a more permissive value.

To restart this agent with a new agent id instead, do as follows:
rm -f {LATEST}
This ensures that the agent does not recover old live executors.

If you use the Docker containerizer and think that the Docker
daemon state is broken, you can try to clear it. But be careful:
these commands will erase all containers and images from this host,
not just those started by Mesos!
docker kill $(docker ps -q)
docker rm $(docker ps -a -q)
docker rmi $(docker images -q)

Finally, restart the agent.
"""
START_1X = """\
I1125 10:00:00.000000     1 main.cpp:349] Build: 2019-01-08 00:10:00 by root
I1125 10:00:00.000000     1 main.cpp:350] Version: 1.7.1
"""
# 0.23.0: src/slave/slave.cpp l.3908-3915 and l.4017-4023; its EXIT prints the bare text.
INFO_023 = INFO_1X.replace("  }}\n}}", "  }}\n  role: \"*\"\n}}")
EXIT_023 = f"""\
Failed to perform recovery: Incompatible slave info detected.
{DASHES}
Old slave info:
{{old}}
{DASHES}
New slave info:
{{new}}
{DASHES}
To remedy this do as follows:
Step 1: rm -f {LATEST}
        This ensures slave doesn't recover old live executors.
Step 2: Restart the slave.
"""


def exit_1x(*, old: dict[str, object], new: dict[str, object]) -> str:
    return START_1X + EXIT_1X.format(old=INFO_1X.format(**old), new=INFO_1X.format(**new))


def test_a_1x_agent_with_more_cpus_names_the_change_and_both_fixes() -> None:
    log = exit_1x(old={"cpus": 2, "port": 5051}, new={"cpus": 4, "port": 5051})
    cause = agent_log.changed_agent(log, latest=LATEST, container="s-slave")
    assert cause is not None
    assert cause.message == (
        f"Mesos refuses to recover the agent checkpointed in {LATEST}, as its resources changed "
        "(cpus from 2 to 4) since it last ran (\"Incompatible agent info detected.\")")
    assert cause.hint.startswith(f"put back slave.resources as before, or remove its "
                                 f"checkpointed identity (`rm -f {LATEST}`, as root)")
    # only added, and a 1.5+ agent (its text names the flag): the policy that keeps the id
    assert "MESOS_RECONFIGURATION_POLICY: additive" in cause.hint


def test_a_legacy_agent_on_another_port_names_the_port() -> None:
    info = {"cpus": 2, "port": 5051}
    log = EXIT_023.format(old=INFO_023.format(**info),
                          new=INFO_023.format(**{**info, "port": 5052}))
    cause = agent_log.changed_agent(log, latest=LATEST, container="s-slave")
    assert cause is not None
    assert cause.message == (
        f"Mesos refuses to recover the agent checkpointed in {LATEST}, as its port changed from "
        "5051 to 5052 since it last ran (\"Incompatible slave info detected.\")")
    assert "RECONFIGURATION_POLICY" not in cause.hint  # 0.23 has no such flag


def test_fewer_cpus_cannot_be_taken_by_the_additive_policy() -> None:
    log = exit_1x(old={"cpus": 4, "port": 5051}, new={"cpus": 2, "port": 5051})
    cause = agent_log.changed_agent(log, latest=LATEST, container="s-slave")
    assert cause is not None and "cpus from 4 to 2" in cause.message
    assert "RECONFIGURATION_POLICY" not in cause.hint


def test_the_additive_policys_refusal_is_named_too() -> None:
    """1.7.1 src/slave/compatibility.cpp l.58-63, through slave.cpp l.7162 and l.7311."""
    log = START_1X + (
        "E1125 10:00:01.000000    12 slave.cpp:7311] EXIT with status 1: Failed to perform "
        "recovery: Configuration change not permitted under `additive` policy: Hostname "
        "changed from 10.0.0.5 to 10.0.0.6\nIf recovery failed due to a change in "
        "configuration and you want to\n")
    cause = agent_log.changed_agent(log, latest=LATEST, container="s-slave")
    assert cause is not None
    assert cause.message == (
        f"Mesos refuses to recover the agent checkpointed in {LATEST}, as hostname changed "
        "from 10.0.0.5 to 10.0.0.6 since it last ran (\"Configuration change not permitted "
        "under `additive` policy\")")
    assert cause.hint.startswith("put back the host's address as before, or remove")


def test_an_earlier_runs_refusal_is_not_the_cause() -> None:
    log = exit_1x(old={"cpus": 2, "port": 5051}, new={"cpus": 4, "port": 5051}) + START_1X + (
        "E1125 10:05:00.000000    12 main.cpp:483] EXIT with status 1: Failed to create a "
        "containerizer: ...\n")
    assert agent_log.changed_agent(log, latest=LATEST, container="s-slave") is None
    assert agent_log.changed_agent(START_1X, latest=LATEST, container="s-slave") is None


def test_without_a_data_dir_the_fix_is_a_new_container() -> None:
    log = exit_1x(old={"cpus": 2, "port": 5051}, new={"cpus": 4, "port": 5051})
    cause = agent_log.changed_agent(log, latest=None, container="s-slave")
    assert cause is not None and "checkpointed in s-slave's work dir" in cause.message
    assert "`docker rm -f s-slave`" in cause.hint


@pytest.fixture
def _every_address_ours(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hostinfo, "is_local_address", lambda _ip: True)
    monkeypatch.setattr(hostinfo, "port_in_use", lambda _ip, _port: False)


@pytest.mark.usefixtures("_every_address_ours")
def test_up_names_the_changed_agent_and_its_fix_instead_of_its_crashes() -> None:
    plan = build(StackConfig.model_validate({
        "name": "re", "host_ip": "127.0.0.1", "zookeeper": {"port": 42181},
        "master": {"port": 45050}, "marathon": {"port": 48080},
        "slave": {"port": 45051, "privileged": False, "tasks": "command",
                  "data_dir": "/srv/mesostack/agent", "resources": "cpus:4;mem:2048"}}),
        "127.0.0.1")
    engine = FakeEngine(images={s.image: f"sha256:{s.role.value}" for s in plan.specs})
    readiness = ScriptedReadiness()
    readiness.never.add(Role.SLAVE)
    restarts = iter(range(1, 100))
    crash = exit_1x(old={"cpus": 2, "port": 5051}, new={"cpus": 4, "port": 5051})

    def crashing() -> None:
        engine.log_texts["re-slave"] = crash * 3  # each restart exits the same way
        engine.update("re-slave", status="restarting", restart_count=next(restarts))

    readiness.hooks[Role.SLAVE] = crashing
    with pytest.raises(NotReady) as failed:
        up(plan, engines=Engines({None: engine}),
           settings=UpSettings(timeout=300, clock=FakeClock(), readiness=readiness))
    message = re.sub(r"\d+(\.\d+)?", "N", failed.value.message.split(": Mesos")[0])
    assert message == "re-slave (slave) not ready after N s: its container keeps crashing (N " \
                      "restarts)"
    assert failed.value.message.endswith(
        f": Mesos refuses to recover the agent checkpointed in {LATEST}, as its resources "
        "changed (cpus from 2 to 4) since it last ran (\"Incompatible agent info detected.\")")
    assert failed.value.hint is not None and f"`rm -f {LATEST}`" in failed.value.hint
    assert failed.value.detail.endswith("Finally, restart the agent.")  # still its last lines


@pytest.mark.parametrize("generation", ["legacy", "modern"])
def test_the_standins_refusal_is_recognised(generation: str, tmp_path: Path) -> None:
    """The stand-in agent restarted with more memory on the work dir it registered from."""
    with master_and_agent(generation, tmp_path, MESOS_LAUNCHER="posix") as bed:
        pass
    code, stderr = ended(start("agent.py", generation, MESOS_IP="127.0.0.1",
                               MESOS_PORT=bed.agent.rsplit(":", 1)[1],
                               MESOS_MASTER=bed.master, MESOS_WORK_DIR=str(tmp_path),
                               MESOS_RESOURCES="cpus:2;mem:2048", MESOS_LAUNCHER="posix"))
    assert code == 1, stderr
    latest = f"{tmp_path}/meta/slaves/latest"
    cause = agent_log.changed_agent(stderr, latest=latest, container="s-slave")
    assert cause is not None, stderr
    assert "its resources changed (mem from 1024 to 2048)" in cause.message
    assert f"checkpointed in {latest}," in cause.message


def test_the_agents_kind_reads_its_checkpoint_under_the_data_dir() -> None:
    kind = components.kind_of(Role.SLAVE)
    assert kind.exit_cause is not None
    plan = build(StackConfig.model_validate({
        "name": "re", "host_ip": "127.0.0.1",
        "slave": {"data_dir": "/srv/mesostack/agent/"}}), "127.0.0.1")
    log = exit_1x(old={"cpus": 2, "port": 5051}, new={"cpus": 4, "port": 5051})
    cause = kind.exit_cause(log, plan.spec(Role.SLAVE))
    assert cause is not None and f"checkpointed in {LATEST}," in cause.message
    assert components.kind_of(Role.MASTER).exit_cause is None


# --- executor containers with --docker_mesos_image --------------------------------------


def test_docker_names_include_the_executors_container() -> None:
    assert mesos.docker_names("A1", "c1") == ("mesos-A1.c1", "mesos-c1", "mesos-A1.c1.executor",
                                              "mesos-c1.executor")


def test_down_removes_each_docker_tasks_executor_container(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    agent = container("s-slave", {LABEL_ENDPOINT: AGENT}, stack="s", role="slave")
    tasks = [container(name) for name in ("mesos-c1", "mesos-c1.executor",
                                          f"mesos-{AGENT_ID}.c2", f"mesos-{AGENT_ID}.c2.executor")]
    foreign = container("mesos-c9.executor")
    engine = FakeEngine(held=[agent, *tasks, foreign])
    monkeypatch.setattr(probes, "agent_task_containers",
                        lambda endpoint, **_: (AGENT_ID, ["c1", "c2"]))
    done = orchestrator.down("s", engines=Engines({None: engine}))
    assert set(done.task_containers) == {t.name for t in tasks}
    assert [c.name for c in engine.held] == ["mesos-c9.executor"]


def test_the_standins_executor_container_is_one_down_looks_for() -> None:
    """The names the stand-in gives (tests/standins/agent_rules.py) against `docker_names`."""
    import importlib
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "standins"))
    try:
        rules = importlib.import_module("agent_rules")
    finally:
        sys.path.pop(0)
    for legacy in (True, False):
        task = rules.task_container("A1", "c1", legacy=legacy)
        executor, _ = rules.executor_container(task, "img", sandbox="/s", socket="/d.sock",
                                               legacy=legacy)
        assert {task, executor} <= set(mesos.docker_names("A1", "c1"))

