"""The one wait and the one parallel runner, on a clock the test drives."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from fakes import FakeClock
from mesostack.waiting import Pending, Poll, TimedOut, merge, run_all, settle, wait


def test_wait_returns_the_first_answer_and_reports_each_new_reason() -> None:
    clock = FakeClock()
    answers: Iterator[Pending | str] = iter([Pending("a"), Pending("a"), Pending("b"), "done"])
    seen: list[str] = []

    def attempt() -> str:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert wait(attempt, deadline=clock.now() + 10, poll=Poll(0.5), on_wait=seen.append,
                clock=clock) == "done"
    assert seen == ["a", "b"]
    assert clock.sleeps == [0.5, 0.5, 0.5]


def test_a_timeout_says_what_was_awaited_last_and_how_long_it_waited() -> None:
    clock = FakeClock()
    start = clock.now()

    def never() -> None:
        raise Pending(f"the answer at {clock.now() - start:g}")

    with pytest.raises(TimedOut) as caught:
        wait(never, deadline=start + 3, poll=Poll(1), clock=clock)
    assert caught.value.waited == clock.now() - start == 3
    assert caught.value.waiting_for == "the answer at 3"


def test_the_last_pause_ends_at_the_deadline() -> None:
    clock = FakeClock()

    def never() -> None:
        raise Pending("x")

    with pytest.raises(TimedOut):
        wait(never, deadline=clock.now() + 2.5, poll=Poll(1), clock=clock)
    assert clock.sleeps == [1, 1, 0.5]


def test_without_a_deadline_it_waits_for_ever() -> None:
    clock = FakeClock()
    left = [1000]

    def slowly() -> int:
        left[0] -= 1
        if left[0]:
            raise Pending("more")
        return 7

    assert wait(slowly, deadline=None, poll=Poll(60), clock=clock) == 7
    assert len(clock.sleeps) == 999


def test_other_exceptions_and_alive_end_the_wait_at_once() -> None:
    clock = FakeClock()

    def broken() -> None:
        raise ValueError("no")

    with pytest.raises(ValueError):
        wait(broken, deadline=None, clock=clock)

    def gone() -> None:
        raise RuntimeError("its container exited")

    def never() -> None:
        raise Pending("x")

    with pytest.raises(RuntimeError):
        wait(never, deadline=None, alive=gone, clock=clock)
    assert clock.sleeps == []


def test_a_set_wake_event_cuts_the_pause_short() -> None:
    clock = FakeClock()
    wake = threading.Event()
    calls = [0]

    def attempt() -> str:
        calls[0] += 1
        if calls[0] < 3:
            wake.set()  # something happened meanwhile: look again at once
            raise Pending("x")
        return "ok"

    start = clock.now()
    assert wait(attempt, deadline=None, poll=Poll(5, wake=wake), clock=clock) == "ok"
    assert clock.now() == start  # no pause was slept out


def test_run_all_keeps_the_order_and_raises_the_first_failure_after_all_ended() -> None:
    ended: list[int] = []

    def work(n: int) -> int:
        ended.append(n)
        if n in (2, 4):
            raise ValueError(f"bad {n}")
        return n * 10

    assert run_all(lambda n: n * 10, [3, 1, 2]) == [30, 10, 20]
    with pytest.raises(ValueError, match="bad 2"):
        run_all(work, [1, 2, 3, 4, 5])
    assert sorted(ended) == [1, 2, 3, 4, 5]


def test_settle_records_failures_and_what_the_deadline_cut_off() -> None:
    release = threading.Event()

    def work(n: int) -> int:
        if n == 0:
            release.wait(5)  # stuck until the test ends
        if n == 1:
            raise OSError("refused")
        return n

    clock = FakeClock()
    outcomes = settle(work, [0, 1, 2], deadline=clock.now(), clock=clock)
    release.set()
    assert not outcomes[0].done and outcomes[0].error is None  # cut off, not failed
    real = settle(work, [1, 2])
    assert isinstance(real[0].error, OSError) and not real[0].ok
    assert real[1].value == 2 and real[1].ok


def test_merge_yields_from_every_source_and_raises_a_sources_failure() -> None:
    got = sorted(merge([lambda: iter([1, 2]), lambda: iter([3])]))
    assert got == [1, 2, 3]

    def broken() -> list[int]:
        raise OSError("stream cut")

    with pytest.raises(OSError, match="stream cut"):
        list(merge([lambda: iter([1]), broken]))


def test_a_pending_may_ask_for_the_next_look_sooner_than_the_interval() -> None:
    clock = FakeClock()
    answers: Iterator[Pending | str] = iter([Pending("a window", again=0.3), Pending("no hurry"),
                                             "done"])

    def attempt() -> str:
        answer = next(answers)
        if isinstance(answer, Pending):
            raise answer
        return answer

    assert wait(attempt, deadline=None, poll=Poll(interval=1.0), clock=clock) == "done"
    assert clock.sleeps == [0.3, 1.0]
