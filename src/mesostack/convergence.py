"""PURE: what `up` does to each container, decided from what the engine has and what the plan
wants, with the reason it reports. The orchestrator carries the decisions out."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from mesostack.plan import LABEL_HASH, LABEL_STACK, ContainerSpec, Plan

if TYPE_CHECKING:
    from mesostack.runtime import ContainerInfo

ALIVE = ("running", "restarting")  # left alone when up to date (a crash loop shows in the wait)
STARTABLE = ("created", "exited")  # an earlier run's container that only needs a start


class Action(StrEnum):
    KEEP = "keep"
    START = "start"  # up to date, not running: start it
    RECREATE = "recreate"  # remove it, then create it anew
    CREATE = "create"  # missing


@dataclass(frozen=True)
class Decision:
    name: str
    action: Action
    why: str  # what `up` reports while doing it
    replaces: bool = False  # a recreation because it changed: what depends on it follows

    @property
    def changes(self) -> bool:
        return self.action is not Action.KEEP


def up_to_date(current: ContainerInfo, spec: ContainerSpec, image_id: str) -> bool:
    """Same settings (the config hash covers dependencies) and the same image behind the tag."""
    return current.labels.get(LABEL_HASH) == spec.config_hash and current.image_id == image_id


def decide(
    spec: ContainerSpec, current: ContainerInfo | None, image_id: str, *,
    replaced: Collection[str] = (),
) -> Decision:
    """What to do to `spec`'s container. `replaced` names the containers this run recreated
    because they changed: a container depending on one is recreated too (the config hash
    covers settings; this covers a new image behind the same tag)."""
    if current is None:
        return Decision(spec.name, Action.CREATE, "creating")
    fed_anew = any(dep in replaced for dep in spec.depends_on)
    if fed_anew or not up_to_date(current, spec, image_id):
        why = "what it depends on was recreated" if fed_anew else (
            "its configuration or image changed")
        return Decision(spec.name, Action.RECREATE, f"recreating: {why}", replaces=True)
    if current.status in ALIVE:
        return Decision(spec.name, Action.KEEP, f"its container is {current.status}")
    if current.status in STARTABLE:
        return Decision(spec.name, Action.START, f"starting the {current.status} container")
    # paused, dead, removing: a start would fail the same way on every rerun
    return Decision(spec.name, Action.RECREATE, f"recreating the {current.status} container")


def stale(plan: Plan, existing: Iterable[ContainerInfo]) -> list[ContainerInfo]:
    """The stack's containers that its plan no longer has (a component's count went down)."""
    wanted = {s.name for s in plan.specs}
    return [c for c in existing if c.name not in wanted]


@dataclass(frozen=True)
class Conflict:
    """A container that holds a name the plan needs and is not this stack's."""

    message: str
    hint: str


def name_conflict(plan: Plan, holders: Iterable[ContainerInfo]) -> Conflict | None:
    """The first container in `holders` (those named like a missing container of the plan)
    that belongs to no stack or to another one."""
    for other in holders:
        owner = other.labels.get(LABEL_STACK)
        if owner == plan.stack:
            continue
        whose = f"stack {owner!r}" if owner else "no mesostack stack"
        return Conflict(f"container {other.name} exists and belongs to {whose}",
                        f"remove it (`docker rm -f {other.name}`) or give this stack another "
                        "`name`")
    return None


def missing_by_engine(plan: Plan, existing: Mapping[str, ContainerInfo]
                      ) -> dict[str | None, list[str]]:
    """The plan's containers the stack doesn't have yet, by the engine they go to."""
    missing: dict[str | None, list[str]] = {}
    for spec in plan.specs:
        if spec.name not in existing:
            missing.setdefault(spec.docker, []).append(spec.name)
    return missing
