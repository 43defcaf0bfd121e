"""What mesostack makes of an agent that restarts: a 1.x agent recovering (503 on /state) is a
stage of its start, shown as "recovering"; an agent whose work dir holds an agent of other
settings exits, and `up` names that and its fix; with --docker_mesos_image each Docker task
also has an executor container, which `down` takes along. The agents' answers and log lines
are written from apache/mesos (0.23.0, 1.7.1; file and lines named in mesostack's sources),
and checked against the stand-in's where it runs. No Docker."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakemesos import AGENT, AGENT_ID, MASTER, FakeHttp, FakeResponse, agent_state, answer
from fakes import FakeEngine, container
from mesostack import mesos, orchestrator, probes
from mesostack.plan import LABEL_ENDPOINT
from mesostack.runtime import Engines

RECOVERING = FakeResponse(503, "Agent has not finished recovery",
                          {"Content-Type": "text/plain; charset=utf-8"})

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

