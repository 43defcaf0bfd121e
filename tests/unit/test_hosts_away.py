"""A host whose engine does not answer: `status`, `logs` and `down` go on with the others and
name it in one line; an engine that never answers is told as such within the first-answer
wait, however its transport hangs. No Docker."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from fakes import FakeEngine, container
from mesostack import orchestrator, probes, runtime
from mesostack.api import Stack
from mesostack.components import Counts
from mesostack.errors import MesostackError
from mesostack.orchestrator import ComponentStatus
from mesostack.plan import LABEL_HOST
from mesostack.runtime import Engine, Engines, EngineUnreachable

A, B = "tcp://10.0.0.1:2376", "ssh://root@10.0.0.2"
TWO_HOSTS: dict[str, Any] = {
    "name": "two",
    "hosts": [{"name": "a", "ip": "10.0.0.1", "docker": A},
              {"name": "b", "ip": "10.0.0.2", "docker": B}],
    "zookeeper": {"on": ["a"]},
    "master": {"on": ["a"]},
    "slave": {"on": ["a", "b"]},
    "marathon": {"on": ["a"]},
}
SILENT = EngineUnreachable(f"the Docker engine at {B} did not answer within 5 s")


def on_a(status: str = "exited") -> FakeEngine:
    plan = Stack.from_mapping(TWO_HOSTS).plan()
    return FakeEngine(held=[container(s.name, {LABEL_HOST: s.host or ""}, stack="two",
                                      role=s.role.value, status=status)
                            for s in plan.specs if s.docker == A], endpoint=A, key=A)


def two_hosts(engine: FakeEngine) -> Stack:
    return Stack.from_mapping(TWO_HOSTS, engines=Engines({A: engine}, {B: SILENT}))


def test_status_shows_the_silent_hosts_components_as_unknown_and_says_so() -> None:
    look = two_hosts(on_a()).status()

    assert [(c.name, c.host, c.state, c.ready) for c in look.components] == [
        ("two-zookeeper", "a", "exited", False), ("two-master", "a", "exited", False),
        ("two-slave-1", "a", "exited", False), ("two-slave-2", "b", "unknown", False),
        ("two-marathon", "a", "exited", False)]
    assert look.components[3].detail == "host b does not answer"
    assert look.notes[-1] == (f"host b ({B}) does not answer: did not answer within 5 s; its 1 "
                              "containers are unknown, the stack is not serving")
    assert not look.ready


def test_a_stack_with_a_leading_master_and_a_ready_marathon_is_degraded_but_serving(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def ready(c: Any, _master: str) -> tuple[ComponentStatus, Counts]:
        leadership = "leader" if c.role in ("master", "marathon") else ""
        return (ComponentStatus(c.name, c.role, "", c.status, True, "", leadership),
                Counts())

    monkeypatch.setattr(orchestrator, "_look", ready)
    look = two_hosts(on_a("running")).status()

    assert look.notes[-1].endswith("the stack is degraded but serving")
    assert not look.ready  # whole again only when every component is


def test_down_removes_what_the_reachable_hosts_have_and_names_the_silent_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probes, "agent_task_containers", lambda endpoint, **_: ("A1", []))
    engine = on_a("running")

    with pytest.raises(MesostackError) as failed:
        two_hosts(engine).down()

    assert engine.held == []
    assert failed.value.message == (
        f"down removed what the reachable hosts had; host(s) b ({B}: did not answer within 5 s)"
        " did not answer, so their containers may remain")
    assert failed.value.hint == "run `mesostack down` again once they are back"


def test_logs_cover_the_reachable_hosts_and_warn_of_the_silent_one() -> None:
    engine = on_a()
    engine.log_texts = {"two-master": "master log\n"}
    warned: list[str] = []
    stack = Stack.from_mapping(TWO_HOSTS, engines=Engines({A: engine}, {B: SILENT}),
                               callbacks=_warnings(warned))

    assert "master log" in "".join(stack.logs("master"))
    assert warned == [f"host b ({B}) does not answer: did not answer within 5 s; the logs of "
                      "its 1 containers are not here"]


def _warnings(into: list[str]) -> Any:
    from mesostack.api import Callbacks

    return Callbacks(on_warning=into.append)


# --- connecting -------------------------------------------------------------------------------


def test_partial_engines_keep_those_that_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    answering = FakeEngine(endpoint=A)

    def connect(endpoint: str | None, *, timeout: float = 60) -> Any:
        if endpoint == B:
            raise EngineUnreachable(f"cannot reach the Docker engine at {B}: refused")
        return answering

    monkeypatch.setattr(Engine, "connect", staticmethod(connect))
    monkeypatch.setattr(runtime, "_load_docker", lambda **_: None)

    engines = Engines.connect([A, B], partial=True)
    assert engines[A] is answering
    assert list(engines.unreachable) == [B]
    with pytest.raises(EngineUnreachable, match="refused"):
        Engines.connect([A, B])
    with pytest.raises(EngineUnreachable, match="refused"):
        Engines.connect([B], partial=True)  # none answers: as before


def test_an_engine_that_never_answers_is_told_within_the_first_answer_wait(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An ssh:// engine's pipe has no timeout: its connection would wait for ever."""
    release = threading.Event()

    def connect(endpoint: str | None, *, timeout: float = 60) -> Any:
        if endpoint == B:
            release.wait()
        return FakeEngine(endpoint=str(endpoint))

    monkeypatch.setattr(Engine, "connect", staticmethod(connect))
    monkeypatch.setattr(runtime, "_load_docker", lambda **_: None)
    try:
        reached = Engines.reach([A, B], within=0.2)
    finally:
        release.set()

    assert isinstance(reached[A], FakeEngine)
    silent = reached[B]
    assert isinstance(silent, EngineUnreachable)
    assert silent.message == f"the Docker engine at {B} did not answer within 0.2 s"
