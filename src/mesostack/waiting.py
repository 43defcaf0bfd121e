"""One wait and one parallel runner, over a clock that tests can drive.

Everything that polls (readiness, deployments, removals, agents' task lists, task logs) goes
through `wait`; everything done side by side (a stage's containers, pulls, removals, a bundle's
parts, several logs followed at once) goes through `run_all`, `settle` or `merge`.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar, cast

T = TypeVar("T")
R = TypeVar("R")


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on a monotonic scale."""

    def sleep(self, seconds: float, *, wake: threading.Event | None = None) -> None:
        """Pause `seconds`, or less when `wake` is set meanwhile."""


class SystemClock:
    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float, *, wake: threading.Event | None = None) -> None:
        if wake is None:
            time.sleep(seconds)
        else:
            wake.wait(seconds)


SYSTEM = SystemClock()


class Pending(Exception):
    """Raised by an attempt that is not done yet; the message says what is awaited, `again`
    (seconds) when the next look should come sooner than the poll's interval."""

    def __init__(self, awaited: str = "", *, again: float | None = None) -> None:
        super().__init__(awaited)
        self.again = again


class TimedOut(Exception):
    """The deadline passed; `waiting_for` is what was awaited last, `waited` how long."""

    def __init__(self, waiting_for: str, waited: float) -> None:
        super().__init__(waiting_for)
        self.waiting_for = waiting_for
        self.waited = waited


# Seconds a deployment's follower keeps watching an app without health checks after Marathon
# called its deployment done: Marathon counts a new task as deployed at its first TASK_RUNNING
# (v0.11.1 upgrade/StartingBehavior.scala l.63-69, v1.10.26
# core/deployment/impl/ReadinessBehavior.scala l.123-137), so a command that exits at once is
# "deployed" before it ends. Here, not in the Marathon client, so the CLI shows it cheaply.
SETTLE = 1.0


def _nothing(*_: object) -> None:
    return None


@dataclass(frozen=True)
class Poll:
    """How to poll: how often, which exceptions mean "not yet" (their text says what is
    awaited), what is awaited before anything said so, and an event that cuts a pause short
    (an event stream saying that something happened)."""

    interval: float = 0.1
    retry: tuple[type[BaseException], ...] = (Pending,)
    awaited: str = ""
    wake: threading.Event | None = None


def wait(
    attempt: Callable[[], T],
    *,
    deadline: float | None,
    poll: Poll = Poll(),
    on_wait: Callable[[str], None] = _nothing,
    alive: Callable[[], None] = _nothing,
    clock: Clock = SYSTEM,
) -> T:
    """Call `attempt` until it returns; an exception of `poll.retry` means "not yet" (its text
    is handed to `on_wait` when it changes). `alive` may raise to give up early (a container
    that exited). `deadline` is on `clock`'s scale; None waits for ever. Raises TimedOut with
    what was awaited last."""
    start = clock.now()
    last: str | None = None
    while True:
        if poll.wake is not None:
            poll.wake.clear()
        interval = poll.interval
        try:
            return attempt()
        except poll.retry as exc:
            if str(exc) != last:
                last = str(exc)
                on_wait(last)
            again = getattr(exc, "again", None)
            interval = interval if again is None else max(0.0, min(interval, again))
        alive()
        if deadline is not None and clock.now() >= deadline:
            raise TimedOut(last or poll.awaited, clock.now() - start)
        pause = interval if deadline is None else min(interval, max(0.0, deadline - clock.now()))
        clock.sleep(pause, wake=poll.wake)


# --- side by side ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settled(Generic[R]):
    """One item's outcome: its result, or what it raised, and how long it took."""

    value: R | None = None
    error: BaseException | None = None
    seconds: float = 0.0
    done: bool = True  # False: not finished by the deadline

    @property
    def ok(self) -> bool:
        return self.done and self.error is None


def settle(
    work: Callable[[T], R],
    items: Sequence[T],
    *,
    workers: int = 16,
    deadline: float | None = None,
    cancel: threading.Event | None = None,
    clock: Clock = SYSTEM,
) -> list[Settled[R]]:
    """`work` on every item, `workers` at a time, each outcome in the items' order; one that
    raises never stops the others. Items not finished by `deadline` come back not done (their
    threads are daemons: a stuck call can't hold up the process's exit). On an interrupt of the
    caller, `cancel` is set for the workers to see, and they are waited for."""
    if not items:
        return []
    if len(items) == 1 and deadline is None:
        return [_one(work, items[0], clock)]
    pool = _Pool(work, items, clock)
    threads = [threading.Thread(target=pool.run, daemon=True)
               for _ in range(min(workers, len(items)))]
    for thread in threads:
        thread.start()
    try:
        finished = pool.until(deadline)
    except BaseException:
        if cancel is not None:
            cancel.set()
        for thread in threads:
            thread.join()
        raise
    return [finished.get(i) or Settled(done=False) for i in range(len(items))]


class _Pool(Generic[T, R]):
    """The items still to do, and the outcomes so far."""

    def __init__(self, work: Callable[[T], R], items: Sequence[T], clock: Clock) -> None:
        self.work, self.items, self.clock = work, items, clock
        self.jobs: queue.SimpleQueue[int] = queue.SimpleQueue()
        for index in range(len(items)):
            self.jobs.put(index)
        self.results: dict[int, Settled[R]] = {}
        self.changed = threading.Condition()

    def run(self) -> None:
        while True:
            try:
                index = self.jobs.get_nowait()
            except queue.Empty:
                return
            outcome = _one(self.work, self.items[index], self.clock)
            with self.changed:
                self.results[index] = outcome
                self.changed.notify_all()

    def until(self, deadline: float | None) -> dict[int, Settled[R]]:
        """The outcomes once every item is done, or those done by `deadline`."""
        with self.changed:
            while len(self.results) < len(self.items):
                left = None if deadline is None else deadline - self.clock.now()
                if left is not None and left <= 0:
                    break
                self.changed.wait(left)
            return dict(self.results)


def _one(work: Callable[[T], R], item: T, clock: Clock) -> Settled[R]:
    start = clock.now()
    try:
        value = work(item)
    except Exception as exc:  # the caller decides what a failure means
        return Settled(error=exc, seconds=clock.now() - start)
    return Settled(value=value, seconds=clock.now() - start)


def run_all(
    work: Callable[[T], R],
    items: Sequence[T],
    *,
    workers: int = 16,
    cancel: threading.Event | None = None,
) -> list[R]:
    """`work` on every item side by side; the results in order, or the first item's failure
    (in the items' order) once every item has ended."""
    outcomes = settle(work, items, workers=workers, cancel=cancel)
    for outcome in outcomes:
        if outcome.error is not None:
            raise outcome.error
    return [cast(R, outcome.value) for outcome in outcomes]


def merge(sources: Sequence[Callable[[], Iterable[T]]]) -> Iterator[T]:
    """The items of several sources as they come (each read in a thread of its own), until
    every source has ended; a source's failure is raised here."""
    merged: queue.SimpleQueue[_Item[T] | BaseException | None] = queue.SimpleQueue()

    def pump(source: Callable[[], Iterable[T]]) -> None:
        try:
            for item in source():
                merged.put(_Item(item))
        except BaseException as exc:  # handed to the reading thread, raised there
            merged.put(exc)
        finally:
            merged.put(None)

    for source in sources:
        threading.Thread(target=pump, args=(source,), daemon=True).start()
    open_sources = len(sources)
    while open_sources:
        got = merged.get()
        if got is None:
            open_sources -= 1
        elif isinstance(got, BaseException):
            raise got
        else:
            yield got.value


@dataclass(frozen=True)
class _Item(Generic[T]):
    value: T
