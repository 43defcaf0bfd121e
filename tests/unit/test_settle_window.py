"""`follow`'s settle window: Marathon calls a deployment done once each new task was RUNNING
once (v0.11.1 upgrade/StartingBehavior.scala l.63-69; v1.10.26
core/deployment/impl/ReadinessBehavior.scala l.123-137), so an app whose command exits at once
is "deployed" before it ends. For SETTLE seconds more, an app without health checks whose task
ends, or that runs fewer tasks than it should, fails the deploy."""

from __future__ import annotations

import threading
import time

import pytest
from test_marathon_client import FakeMarathon, connect, request_for

from fakes import FakeClock
from mesostack import waiting as marathon_module
from mesostack.marathon import (
    END_GRACE,
    FOLLOW_INTERVAL,
    DeploymentFailed,
    EventWatch,
    Hooks,
    Marathon,
    Submitted,
    TaskEnd,
    follow,
)

ONCE = {"id": "/once", "cmd": "true", "cpus": 0.1, "mem": 16, "instances": 1}


@pytest.fixture
def fake() -> FakeMarathon:
    return FakeMarathon()


@pytest.fixture
def marathon(fake: FakeMarathon) -> Marathon:
    return connect(fake)


def announced(fake: FakeMarathon, marathon: Marathon, app: dict[str, object]
              ) -> tuple[EventWatch, Submitted]:
    """An app submitted, its task running and its deployment_success heard (by hand, as the
    stream's thread would)."""
    submitted = marathon.submit(request_for(app))
    (deployment,) = submitted.deployment_ids
    fake.set(str(app["id"]), tasksRunning=app.get("instances", 1))
    fake.finish()
    watch = EventWatch(marathon)
    watch.finished_at[deployment] = time.monotonic()
    return watch, submitted


def test_an_app_that_keeps_running_is_watched_for_the_window_then_deployed(
        fake: FakeMarathon, marathon: Marathon) -> None:
    clock = FakeClock()
    watch, submitted = announced(fake, marathon, ONCE)
    began = clock.now()

    followed = follow(marathon, submitted, timeout=30, watch=watch, clock=clock)

    assert followed.apps[0].done
    assert clock.now() - began == pytest.approx(marathon_module.SETTLE)
    assert len(fake.requests_to("GET", "/v2/apps/once")) >= 2  # looked at during the window


def test_a_task_that_exits_0_after_the_success_fails_the_deploy_naming_why(
        fake: FakeMarathon, marathon: Marathon) -> None:
    clock = FakeClock()
    watch, submitted = announced(fake, marathon, ONCE)
    watch.ended.append(TaskEnd("/once", "once.1", "TASK_FINISHED", "", time.monotonic()))

    with pytest.raises(DeploymentFailed) as raised:
        follow(marathon, submitted, timeout=30, watch=watch, clock=clock)

    assert "app /once: its task exited 0" in str(raised.value)
    assert "after Marathon called the deployment done" in str(raised.value)
    assert "give it a command that does not end" in (raised.value.hint or "")
    assert clock.now() - 1000.0 < marathon_module.SETTLE  # at once, not at the window's end


def test_a_task_that_fails_after_the_success_names_its_state_and_message(
        fake: FakeMarathon, marathon: Marathon) -> None:
    watch, submitted = announced(fake, marathon, ONCE)
    watch.ended.append(TaskEnd("/once", "once.1", "TASK_FAILED", "Command exited with status 127",
                               time.monotonic()))

    with pytest.raises(DeploymentFailed, match=r"app /once: its task failed .* done \(TASK_FAILED: "
                                               r"Command exited with status 127\)"):
        follow(marathon, submitted, timeout=30, watch=watch, clock=FakeClock())


def test_ends_before_the_success_or_of_other_apps_or_kills_do_not_count(
        fake: FakeMarathon, marathon: Marathon) -> None:
    before = time.monotonic() - 5
    watch, submitted = announced(fake, marathon, ONCE)
    watch.ended += [TaskEnd("/once", "once.0", "TASK_FAILED", "", before),
                    TaskEnd("/other", "other.1", "TASK_FINISHED", "", time.monotonic())]

    follow(marathon, submitted, timeout=30, watch=watch, clock=FakeClock())


def test_without_the_event_stream_a_look_that_finds_too_few_tasks_fails(
        fake: FakeMarathon, marathon: Marathon) -> None:
    clock = FakeClock()
    watch, submitted = announced(fake, marathon, {**ONCE, "instances": 2})
    looks = {"n": 0}
    real_sleep = clock.sleep

    def sleep(seconds: float, *, wake: threading.Event | None = None) -> None:
        looks["n"] += 1
        fake.set("/once", tasksRunning=1)  # one of the two ended between two looks
        real_sleep(seconds)
    clock.sleep = sleep  # type: ignore[method-assign]

    with pytest.raises(DeploymentFailed, match=r"app /once: 1/2 of its tasks run"):
        follow(marathon, submitted, timeout=30, watch=watch, clock=clock)


@pytest.mark.parametrize("app", [
    {**ONCE, "healthChecks": [{"protocol": "HTTP", "path": "/"}]},  # healthy is proof enough
    ONCE,
])
def test_no_window_for_health_checked_apps_or_with_settle_0(
        fake: FakeMarathon, marathon: Marathon, app: dict[str, object]) -> None:
    clock = FakeClock()
    watch, submitted = announced(fake, marathon, app)
    settle = marathon_module.SETTLE if app.get("healthChecks") else 0.0
    if app.get("healthChecks"):
        fake.set("/once", tasksHealthy=1)

    follow(marathon, submitted, timeout=30, watch=watch, clock=clock,
           hooks=Hooks(settle=settle))

    assert clock.now() == 1000.0


def test_a_count_that_drops_before_the_stream_tells_the_end_waits_for_its_reason(
        fake: FakeMarathon, marathon: Marathon) -> None:
    # Marathon lowers tasksRunning and publishes the task's status_update_event separately:
    # a look may find 0/1 a moment before the stream says the task exited 0
    clock = FakeClock()
    watch, submitted = announced(fake, marathon, ONCE)
    watch.listening = True
    real_sleep = clock.sleep
    sleeps = {"n": 0}

    def sleep(seconds: float, *, wake: threading.Event | None = None) -> None:
        sleeps["n"] += 1
        if sleeps["n"] == 1:  # the count drops, the stream has not told why yet
            fake.set("/once", tasksRunning=0)
        else:
            watch.ended.append(TaskEnd("/once", "once.1", "TASK_FINISHED", "", time.monotonic()))
        real_sleep(seconds)
    clock.sleep = sleep  # type: ignore[method-assign]

    with pytest.raises(DeploymentFailed, match=r"app /once: its task exited 0"):
        follow(marathon, submitted, timeout=30, watch=watch, clock=clock)


def test_a_count_that_stays_short_with_a_silent_stream_fails_after_the_grace(
        fake: FakeMarathon, marathon: Marathon) -> None:
    clock = FakeClock()
    watch, submitted = announced(fake, marathon, ONCE)
    watch.listening = True
    fake.set("/once", tasksRunning=0)

    with pytest.raises(DeploymentFailed, match=r"app /once: 0/1 of its tasks run"):
        follow(marathon, submitted, timeout=30, watch=watch, clock=clock)
    assert END_GRACE <= clock.now() - 1000.0 <= END_GRACE + 2 * FOLLOW_INTERVAL
