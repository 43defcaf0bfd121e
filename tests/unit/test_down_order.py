"""`down` on a fake engine (no Docker): what is frozen, asked, removed, and how gracefully."""

from __future__ import annotations

import pytest

from fakes import FakeEngine, container
from mesostack import orchestrator, probes
from mesostack.plan import LABEL_DATA_DIR, LABEL_ENDPOINT
from mesostack.runtime import Engines

LISTED = ("containers", "s", {"role": None, "inspect": False})  # the listing alone: one call


def test_marathon_is_frozen_before_the_agents_are_asked_then_all_go_at_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    ours = [container("s-zookeeper", {LABEL_DATA_DIR: "/srv/zk"}, stack="s", role="zookeeper"),
            container("s-master", stack="s", role="master"),
            container("s-slave", {LABEL_ENDPOINT: "127.0.0.1:5051"}, stack="s", role="slave"),
            container("s-marathon", stack="s", role="marathon")]
    task = container("mesos-A1.c1")
    foreign = container("mesos-c9")
    engine = FakeEngine(held=[*ours, task, foreign])

    def asked(endpoint: str, **_: object) -> tuple[str, list[str]]:
        assert endpoint == "127.0.0.1:5051"
        assert engine.calls == [LISTED, ("pause", "id-s-marathon", {})]
        engine.calls.append(("ask", endpoint, {}))
        return "A1", ["c1"]

    monkeypatch.setattr(probes, "agent_task_containers", asked)
    done = orchestrator.down("s", engines=Engines({None: engine}), grace=7)

    assert engine.calls[:4] == [LISTED, ("pause", "id-s-marathon", {}),
                                ("ask", "127.0.0.1:5051", {}),
                                ("named", "mesos-A1.c1,mesos-A1.c1.executor,mesos-c1,"
                                          "mesos-c1.executor", {})]
    removed = {name: options["grace"] for kind, name, options in engine.calls[4:]
               if kind == "remove"}
    # State that outlives its container (a data_dir) and the user's tasks get SIGTERM and the
    # grace; the rest is killed at once. A mesos-* container no agent reported is left alone.
    assert removed == {"id-s-zookeeper": 7, "id-s-master": None, "id-s-slave": None,
                       "id-s-marathon": None, "id-mesos-A1.c1": 7}
    assert done.removed == ("s-marathon", "s-zookeeper", "s-master", "s-slave")
    assert done.task_containers == ("mesos-A1.c1",)
    assert done.unreachable_agents == ()


def test_an_agent_that_does_not_answer_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    agent = container("s-slave", {LABEL_ENDPOINT: "127.0.0.1:5051"}, stack="s", role="slave",
                      status="exited")
    engine = FakeEngine(held=[agent])

    def refused(endpoint: str, **_: object) -> tuple[str, list[str]]:
        raise probes.NotYet("the agent to answer")

    monkeypatch.setattr(probes, "agent_task_containers", refused)
    done = orchestrator.down("s", engines=Engines({None: engine}))
    assert done.unreachable_agents == ("s-slave",)
    assert [c for c in engine.calls if c[0] == "remove"] == [("remove", "id-s-slave",
                                                              {"grace": None})]
