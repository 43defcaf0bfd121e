"""Test doubles shared by the unit tests: a clock the test drives."""

from __future__ import annotations

import threading


class FakeClock:
    """A clock that moves only when slept on (or `advance`d): waits take no real time, and the
    time they report is exactly what they slept. A set `wake` event ends a sleep at once."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float, *, wake: threading.Event | None = None) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            if wake is not None and wake.is_set():
                return
            self._now += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
