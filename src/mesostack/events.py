"""What the orchestrator reports while it works (kept light: the console imports it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class Phase(StrEnum):
    PLANNED = "planned"
    PULLING = "pulling"
    PULLED = "pulled"
    STARTING = "starting"
    WAITING = "waiting"
    READY = "ready"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    SKIPPED = "skipped"
    REMOVING = "removing"
    REMOVED = "removed"


class PullPolicy(StrEnum):
    MISSING = "missing"
    ALWAYS = "always"
    NEVER = "never"


@dataclass(frozen=True)
class Event:
    component: str  # container name
    phase: Phase
    message: str = ""
    elapsed: float | None = None


Reporter = Callable[[Event], None]


def ignore(_: Event) -> None:
    pass
