"""What `up` decides to do to each container, from plain data: no engine, no network."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fakes import container
from mesostack.config import StackConfig
from mesostack.convergence import (
    Action,
    decide,
    missing_by_engine,
    name_conflict,
    stale,
)
from mesostack.plan import LABEL_HASH, LABEL_STACK, ContainerSpec, Role, build
from mesostack.runtime import ContainerInfo

IMAGE_ID = "sha256:aaa"
PLAN = build(StackConfig(), "10.0.0.5")


def current(spec: ContainerSpec, *, status: str = "running", image_id: str = IMAGE_ID,
            **labels: str) -> ContainerInfo:
    """The container an earlier `up` made for `spec`, as the engine reports it."""
    return container(spec.name, {**dict(spec.labels), **labels}, status=status,
                     image=spec.image, image_id=image_id)


def test_a_missing_container_is_created() -> None:
    spec = PLAN.spec(Role.ZOOKEEPER)
    decision = decide(spec, None, IMAGE_ID)
    assert (decision.action, decision.why, decision.replaces) == (Action.CREATE, "creating",
                                                                  False)
    assert decision.changes


@pytest.mark.parametrize("status", ["running", "restarting"])
def test_an_unchanged_live_container_is_kept(status: str) -> None:
    """A crash-looping (restarting) container with the same settings is kept too: the wait
    that follows counts its restarts and fails `up` naming it."""
    spec = PLAN.spec(Role.MASTER)
    decision = decide(spec, current(spec, status=status), IMAGE_ID)
    assert decision.action is Action.KEEP and not decision.changes


def test_a_changed_config_recreates_it_and_marks_it_replaced() -> None:
    spec = PLAN.spec(Role.MARATHON)
    decision = decide(spec, current(spec, **{LABEL_HASH: "0000000000000000"}), IMAGE_ID)
    assert decision.action is Action.RECREATE and decision.replaces
    assert decision.why == "recreating: its configuration or image changed"


def test_a_new_image_behind_the_same_tag_recreates_it() -> None:
    spec = PLAN.spec(Role.SLAVE)
    decision = decide(spec, current(spec, image_id="sha256:old"), IMAGE_ID)
    assert decision.action is Action.RECREATE and decision.replaces


def test_a_recreated_dependency_recreates_what_depends_on_it() -> None:
    master, agent = PLAN.spec(Role.MASTER), PLAN.spec(Role.SLAVE)
    decision = decide(agent, current(agent), IMAGE_ID, replaced={master.name})
    assert decision.action is Action.RECREATE and decision.replaces
    assert decision.why == "recreating: what it depends on was recreated"
    unrelated = decide(PLAN.spec(Role.ZOOKEEPER), current(PLAN.spec(Role.ZOOKEEPER)), IMAGE_ID,
                       replaced={master.name})
    assert unrelated.action is Action.KEEP


@pytest.mark.parametrize("status", ["created", "exited"])
def test_a_half_finished_earlier_run_is_started_not_recreated(status: str) -> None:
    spec = PLAN.spec(Role.MASTER)
    decision = decide(spec, current(spec, status=status), IMAGE_ID)
    assert (decision.action, decision.why) == (Action.START, f"starting the {status} container")
    assert decision.changes and not decision.replaces


@pytest.mark.parametrize("status", ["paused", "dead", "removing"])
def test_a_container_a_start_cant_revive_is_recreated_without_cascading(status: str) -> None:
    spec = PLAN.spec(Role.MASTER)
    decision = decide(spec, current(spec, status=status), IMAGE_ID)
    assert (decision.action, decision.why) == (Action.RECREATE,
                                               f"recreating the {status} container")
    assert not decision.replaces  # its settings are the same: dependents stay


def test_a_container_the_plan_dropped_is_stale() -> None:
    hosts = [{"name": n, "ip": f"10.0.0.{i}"} for i, n in enumerate("abc", start=1)]
    three = build(StackConfig.model_validate({"hosts": hosts, "master": {"count": 3}}), "")
    one = build(StackConfig.model_validate({"hosts": hosts}), "")
    leftovers = stale(one, [current(s) for s in three.specs])
    assert sorted(c.name for c in leftovers) == [
        "mesostack-master-1", "mesostack-master-2", "mesostack-master-3"]
    assert stale(one, [current(s) for s in one.specs]) == []


def test_a_name_held_by_another_stack_or_by_no_stack_is_a_conflict() -> None:
    spec = PLAN.spec(Role.ZOOKEEPER)
    theirs = replace(current(spec), labels={LABEL_STACK: "other"})
    nobody = replace(current(spec), labels={})
    ours = current(spec)
    assert name_conflict(PLAN, [ours]) is None
    other = name_conflict(PLAN, [ours, theirs])
    assert other is not None
    assert other.message == "container mesostack-zookeeper exists and belongs to stack 'other'"
    assert "docker rm -f mesostack-zookeeper" in other.hint
    none = name_conflict(PLAN, [nobody])
    assert none is not None and none.message.endswith("belongs to no mesostack stack")


def test_missing_containers_are_grouped_by_the_engine_they_go_to() -> None:
    ha = build(StackConfig.model_validate({
        "hosts": [{"name": "a", "ip": "10.0.0.1"},
                  {"name": "b", "ip": "10.0.0.2", "docker": "ssh://root@10.0.0.2"}],
        "zookeeper": {"count": 1}, "slave": {"on": ["a", "b"]}}), "")
    have = {s.name: current(s) for s in ha.specs if s.role is not Role.SLAVE}
    assert missing_by_engine(ha, have) == {None: ["mesostack-slave-1"],
                                           "ssh://root@10.0.0.2": ["mesostack-slave-2"]}
    assert missing_by_engine(ha, {s.name: current(s) for s in ha.specs}) == {}

