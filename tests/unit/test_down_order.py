"""`down` on a fake engine (no Docker): what is frozen, asked, removed, and how gracefully."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

import pytest

from mesostack import orchestrator, probes
from mesostack.plan import LABEL_DATA_DIR, LABEL_ENDPOINT, LABEL_ROLE, LABEL_STACK
from mesostack.runtime import ContainerInfo


def container(name: str, role: str, **labels: str) -> ContainerInfo:
    return ContainerInfo(id=f"id-{name}", name=name, status="running", image="x",
                         image_id="sha256:x", restart_count=0, started_at="", exit_code=0,
                         labels={LABEL_STACK: "s", LABEL_ROLE: role, **labels})


@dataclass
class FakeEngine:
    """One engine: our four containers, and task containers by name."""

    ours: list[ContainerInfo]
    others: list[ContainerInfo] = field(default_factory=list)
    calls: list[tuple[str, str, int | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def pause(self, name_or_id: str) -> None:
        with self.lock:
            self.calls.append(("pause", name_or_id, None))

    def remove(self, name_or_id: str, *, grace: int | None = 5) -> bool:
        with self.lock:
            self.calls.append(("remove", name_or_id, grace))
        return True

    def named(self, names: Iterable[str]) -> list[ContainerInfo]:
        with self.lock:
            self.calls.append(("list", ",".join(sorted(names)), None))
        return [c for c in self.others if c.name in set(names)]


@dataclass
class FakeEngines:
    engine: FakeEngine

    def containers(self, *, stack: str | None = None, inspect: bool = True
                   ) -> list[ContainerInfo]:
        assert stack == "s" and not inspect  # the listing alone: one call
        return list(self.engine.ours)

    def engine_of(self, _: ContainerInfo) -> FakeEngine:
        return self.engine


def test_marathon_is_frozen_before_the_agents_are_asked_then_all_go_at_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    ours = [container("s-zookeeper", "zookeeper", **{LABEL_DATA_DIR: "/srv/zk"}),
            container("s-master", "master"),
            container("s-slave", "slave", **{LABEL_ENDPOINT: "127.0.0.1:5051"}),
            container("s-marathon", "marathon")]
    task = container("mesos-A1.c1", "")
    foreign = container("mesos-c9", "")
    engine = FakeEngine(ours, [task, foreign])

    def asked(endpoint: str, **_: object) -> tuple[str, list[str]]:
        assert endpoint == "127.0.0.1:5051"
        assert engine.calls == [("pause", "id-s-marathon", None)]
        engine.calls.append(("ask", endpoint, None))
        return "A1", ["c1"]

    monkeypatch.setattr(probes, "agent_task_containers", asked)
    done = orchestrator.down("s", engines=FakeEngines(engine), grace=7)  # type: ignore[arg-type]

    assert engine.calls[:3] == [("pause", "id-s-marathon", None), ("ask", "127.0.0.1:5051", None),
                                ("list", "mesos-A1.c1,mesos-c1", None)]
    removed = {name: grace for kind, name, grace in engine.calls[3:] if kind == "remove"}
    # State that outlives its container (a data_dir) and the user's tasks get SIGTERM and the
    # grace; the rest is killed at once. A mesos-* container no agent reported is left alone.
    assert removed == {"id-s-zookeeper": 7, "id-s-master": None, "id-s-slave": None,
                       "id-s-marathon": None, "id-mesos-A1.c1": 7}
    assert done.removed == ("s-marathon", "s-zookeeper", "s-master", "s-slave")
    assert done.task_containers == ("mesos-A1.c1",)
    assert done.unreachable_agents == ()


def test_an_agent_that_does_not_answer_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    agent = container("s-slave", "slave", **{LABEL_ENDPOINT: "127.0.0.1:5051"})
    engine = FakeEngine([ContainerInfo(**{**agent.__dict__, "status": "exited"})])

    def refused(endpoint: str, **_: object) -> tuple[str, list[str]]:
        raise probes.NotYet("the agent to answer")

    monkeypatch.setattr(probes, "agent_task_containers", refused)
    done = orchestrator.down("s", engines=FakeEngines(engine))  # type: ignore[arg-type]
    assert done.unreachable_agents == ("s-slave",)
    assert [c for c in engine.calls if c[0] == "remove"] == [("remove", "id-s-slave", None)]
