"""What `down` removes, on a fake engine (no Docker): the stack's labelled containers and the
task containers its own running agents report; never another stack's or an unlabelled one."""

from __future__ import annotations

import pytest

from fakes import FakeEngine, container
from mesostack import orchestrator, probes
from mesostack.errors import MesostackError
from mesostack.runtime import ContainerInfo, Engines

ENDPOINT = "io.mesostack.endpoint"
DATA_DIR = "io.mesostack.data-dir"


def member(stack: str, role: str, endpoint: str, status: str = "running",
           **labels: str) -> ContainerInfo:
    return container(f"{stack}-{role}", {ENDPOINT: endpoint, **labels}, stack=stack, role=role,
                     status=status)


def neighbourhood(*, a_agent: str = "running") -> list[ContainerInfo]:
    """Stack a on 127.0.0.1 and stack b on 127.0.0.2, each with a legacy- and a modern-named
    task container, and two containers of nobody's (one named like a task)."""
    return [
        *(member("a", role, f"127.0.0.1:{port}") for role, port in (
            ("zookeeper", 2181), ("master", 5050), ("marathon", 8080))),
        member("a", "slave", "127.0.0.1:5051", status=a_agent),
        *(member("b", role, f"127.0.0.2:{port}") for role, port in (
            ("zookeeper", 2181), ("master", 5050), ("slave", 5051), ("marathon", 8080))),
        container("mesos-A1.ca"), container("mesos-ca2"),
        container("mesos-B1.cb"), container("mesos-cb2"),
        container("mesos-foreign"), container("unrelated"),
    ]


REPORTS = {"127.0.0.1:5051": ("A1", ["ca", "ca2"]), "127.0.0.2:5051": ("B1", ["cb", "cb2"])}


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The agents' answers to /state, by endpoint; records which endpoints were asked."""
    calls: list[str] = []

    def report(endpoint: str, **_: object) -> tuple[str, list[str]]:
        calls.append(endpoint)
        if endpoint not in REPORTS:
            raise probes.NotYet("no answer")
        return REPORTS[endpoint]

    monkeypatch.setattr(probes, "agent_task_containers", report)
    return calls


def test_down_removes_its_labelled_containers_and_its_agents_tasks_only(
        asked: list[str]) -> None:
    engine = FakeEngine(held=neighbourhood())
    done = orchestrator.down("a", engines=Engines({None: engine}))
    removed = engine.called("remove")
    assert sorted(removed) == sorted(
        f"id-{n}" for n in ("a-zookeeper", "a-master", "a-slave", "a-marathon",
                            "mesos-A1.ca", "mesos-ca2"))
    assert removed[0] == "id-a-marathon"  # first, so that nothing launches meanwhile
    assert asked == ["127.0.0.1:5051"]
    assert sorted(done.task_containers) == ["mesos-A1.ca", "mesos-ca2"]
    assert done.unreachable_agents == ()


def test_a_stopped_agent_is_not_asked(asked: list[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # Its address may belong to another stack's agent by now, which would list its own tasks.
    monkeypatch.setitem(REPORTS, "127.0.0.1:5051", REPORTS["127.0.0.2:5051"])
    engine = FakeEngine(held=neighbourhood(a_agent="exited"))
    done = orchestrator.down("a", engines=Engines({None: engine}))
    assert asked == []
    assert sorted(engine.called("remove")) == sorted(
        f"id-{n}" for n in ("a-zookeeper", "a-master", "a-slave", "a-marathon"))
    assert done.unreachable_agents == ("a-slave",)


def test_a_stack_of_that_name_only(asked: list[str]) -> None:
    engine = FakeEngine(held=neighbourhood())
    done = orchestrator.down("c", engines=Engines({None: engine}))
    assert engine.called("remove") == [] and done.removed == () and asked == []


def test_a_purge_that_would_delete_another_stacks_data_dir_removes_nothing(
        asked: list[str]) -> None:
    shared = "/srv/mesostack-unit/shared"
    containers = [member("a", "zookeeper", "127.0.0.1:2181", **{DATA_DIR: shared}),
                  member("b", "zookeeper", "127.0.0.2:2181", **{DATA_DIR: shared + "/zk"})]
    engine = FakeEngine(held=containers)
    with pytest.raises(MesostackError, match="stack b's container b-zookeeper"):
        orchestrator.down("a", engines=Engines({None: engine}), purge=True)
    assert engine.called("remove") == []
    done = orchestrator.down("a", engines=Engines({None: engine}))
    assert engine.called("remove") == ["id-a-zookeeper"] and done.purged == ()
