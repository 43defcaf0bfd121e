"""Which task ends count as failures, as Marathon has it (TaskFailure.scala at v0.11.1 and
v1.10.26: never TASK_FINISHED or a plain TASK_KILLED), and `deploy` stopping as early for an app
whose tasks keep finishing (read from the Mesos master's completed tasks) as for one whose tasks
keep failing (read from Marathon's lastTaskFailure).

The Marathon stand-in runs in-process over an in-memory ZooKeeper; `deploy`'s following runs
against the in-memory Marathon of test_marathon_client and a master's completed tasks as data."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from standin_loader import load_standin
from test_marathon_client import FakeMarathon, connect, now, request_for
from test_standins_shapes import leading

from fakemesos import FRAMEWORK_ID, MASTER, FakeHttp, a_framework, master_state, modern_master
from fakes import FakeClock
from mesostack import marathon as marathon_module
from mesostack import mesos
from mesostack.marathon import (
    DeploymentFailed,
    Followed,
    Hooks,
    Marathon,
    Submitted,
    app_of_task,
    follow,
)
from mesostack.mesos import CompletedTask

GENERATIONS = ("legacy", "modern")
UUID = "b6ff5fa5-7714-11e7-a55c-5ecf1c4671f6"

# --- the Marathon stand-in: which ends it records, which it backs off after ----------------------


@pytest.fixture(params=GENERATIONS)
def standin(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("MARATHON_MASTER", "127.0.0.1:5050")
    return load_standin(monkeypatch, "marathon", request.param)


def test_the_failure_states_are_those_of_task_failure_scala(standin: ModuleType) -> None:
    """v0.11.1 TaskFailure.scala l.98-104; v1.10.26 l.127-133."""
    legacy = standin.LEGACY
    expected = {"TASK_FAILED", "TASK_LOST", "TASK_ERROR"} | (set() if legacy else {
        "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN"})
    assert expected == standin.FAILURE_STATES
    assert not {"TASK_FINISHED", "TASK_KILLED"} & standin.FAILURE_STATES


def test_back_off_follows_each_generations_rate_limiter(standin: ModuleType) -> None:
    """v0.11.1 NotifyRateLimiterStepImpl: every end but TASK_KILLED; v1.10.26: the conditions
    Dropped, Error, Failed, Gone, Finished (a TASK_LOST by its reason)."""
    ends = ("TASK_FINISHED", "TASK_FAILED", "TASK_ERROR", "TASK_KILLED", "TASK_LOST")
    backs = [e for e in ends if standin.backs_off(e, "", "")]
    if standin.LEGACY:
        assert backs == ["TASK_FINISHED", "TASK_FAILED", "TASK_ERROR", "TASK_LOST"]
    else:
        assert backs == ["TASK_FINISHED", "TASK_FAILED", "TASK_ERROR", "TASK_LOST"]  # Gone
        assert not standin.backs_off("TASK_LOST", "REASON_SLAVE_REMOVED", "")  # Unreachable
        assert not standin.backs_off("TASK_LOST", "REASON_EXECUTOR_TERMINATED",
                                     "Reconciliation: Task is unknown to the agent")  # Unknown
        assert standin.backs_off("TASK_GONE_BY_OPERATOR", "", "")
        assert standin.backs_off("TASK_DROPPED", "", "")


def marathon_of(standin: ModuleType) -> Any:
    return leading(standin)


def ask(standin: ModuleType, m: Any, method: str, path: str, body: Any = None) -> Any:
    request = standin.Request(method, path, {}, json.dumps(body).encode() if body else b"", {})
    return m.handle(request).body


def end_task(m: Any, task_id: str, state: str, message: str = "") -> None:
    app = m.apps["/once"]
    labels = {"appId": "/once", "version": app["version"], "host": "127.0.0.1", "ports": []}
    for each in ("TASK_RUNNING", state):
        m.reconcile([{"id": task_id, "state": each, "slave_id": "S0", "message": message,
                      "marathon": labels}])


@pytest.mark.parametrize(("state", "failure", "backoff"), [
    ("TASK_FINISHED", False, True),
    ("TASK_KILLED", False, False),  # killed by someone else than Marathon: neither
    ("TASK_FAILED", True, True),
])
def test_the_stand_in_records_a_failure_only_for_the_failure_states(
        standin: ModuleType, state: str, failure: bool, backoff: bool) -> None:
    m = marathon_of(standin)
    ask(standin, m, "POST", "/v2/apps", {"id": "once", "cmd": "true", "backoffSeconds": 1})
    end_task(m, "once.1", state, "Command exited with status 0")
    shown = ask(standin, m, "GET", "/v2/apps/once")["app"]
    assert ("lastTaskFailure" in shown) == failure
    assert ("/once" in m.backoff) == backoff
    assert "once.1" not in m.tasks  # ended either way: it will be relaunched


def test_a_modern_task_gone_is_a_failure_and_a_legacy_one_has_no_such_state(
        standin: ModuleType) -> None:
    m = marathon_of(standin)
    ask(standin, m, "POST", "/v2/apps", {"id": "once", "cmd": "true"})
    end_task(m, "once.2", "TASK_GONE")
    shown = ask(standin, m, "GET", "/v2/apps/once")["app"]
    assert ("lastTaskFailure" in shown) == (not standin.LEGACY)


def master_reports(m: Any, task_id: str, *states: str, app_id: str = "/once") -> None:
    """One tick: the master lists the task with every status it had since its launch."""
    labels = {"appId": app_id, "version": m.apps[app_id]["version"], "host": "127.0.0.1",
              "ports": []}
    m.reconcile([{"id": task_id, "state": states[-1], "slave_id": "S0", "message": "",
                  "statuses": [{"state": s, "timestamp": time.time()} for s in states],
                  "marathon": labels}])


def events_of(m: Any) -> Any:
    inbox: Any = __import__("queue").Queue()
    m.subscribers.append(inbox)

    def kinds() -> list[tuple[str, str]]:
        seen = []
        while not inbox.empty():
            event = inbox.get()
            seen.append((event["eventType"], event.get("taskStatus", "")))
        return seen
    return kinds


def test_a_start_deployment_succeeds_at_its_tasks_first_running_even_if_it_exited(
        standin: ModuleType) -> None:
    """v0.11.1 StartingBehavior.scala l.63-69, l.87-94; v1.10.26 ReadinessBehavior.scala
    l.123-137, TaskStartActor.scala l.80-91: a task without health checks counts once it
    reported TASK_RUNNING; a task that ran and exited between two looks was still RUNNING
    first, and Marathon hears each status update."""
    m = marathon_of(standin)
    ask(standin, m, "POST", "/v2/apps", {"id": "once", "cmd": "true"})
    kinds = events_of(m)
    master_reports(m, "once.1", "TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED")
    assert kinds() == [("status_update_event", "TASK_STARTING"),
                       ("status_update_event", "TASK_RUNNING"),
                       ("deployment_success", ""),
                       ("status_update_event", "TASK_FINISHED")]
    assert ask(standin, m, "GET", "/v2/deployments") == []
    assert "once.1" not in m.tasks


def test_a_new_task_that_finished_leaves_the_count_only_from_1_x(standin: ModuleType) -> None:
    """v0.11.1 StartingBehavior.scala l.103-107: FAILED, ERROR, KILLED, LOST take a started
    task back out, FINISHED does not; v1.10.26 TaskStartActor.scala l.46-50: any terminal
    condition does."""
    m = marathon_of(standin)
    ask(standin, m, "POST", "/v2/apps", {"id": "once", "cmd": "true", "instances": 2})
    master_reports(m, "once.1", "TASK_RUNNING", "TASK_FINISHED")
    master_reports(m, "once.2", "TASK_RUNNING")
    left = ask(standin, m, "GET", "/v2/deployments")
    assert (left == []) == standin.LEGACY
    master_reports(m, "once.3", "TASK_RUNNING")
    assert ask(standin, m, "GET", "/v2/deployments") == []


def test_a_new_task_that_failed_leaves_the_count_on_both(standin: ModuleType) -> None:
    m = marathon_of(standin)
    ask(standin, m, "POST", "/v2/apps", {"id": "once", "cmd": "false", "instances": 2})
    master_reports(m, "once.1", "TASK_RUNNING", "TASK_FAILED")
    master_reports(m, "once.2", "TASK_RUNNING")
    assert len(ask(standin, m, "GET", "/v2/deployments")) == 1


# --- Marathon's task ids, the master's completed tasks --------------------------------------------


@pytest.mark.parametrize(("task_id", "app_id"), [
    (f"web.{UUID}", "/web"),  # 0.11: <safe path>.<uuid>
    (f"shop_web.{UUID}", "/shop/web"),
    (f"a.b.{UUID}", "/a.b"),  # ids may hold dots
    (f"shop_web.instance-{UUID}._app.1", "/shop/web"),  # 1.x, with an incarnation
    (f"shop_web.marathon-{UUID}._app", "/shop/web"),
    (f"shop_web.instance-{UUID}.rails.42", "/shop/web"),  # a pod's container
    (f"web.{UUID}.3", "/web"),  # a resident task
    ("nodots", None),
])
def test_the_app_of_a_task_is_read_from_its_id(task_id: str, app_id: str | None) -> None:
    """v1.10.26 Task.scala l.311-317 (Task.Id.parse), v0.11.1 TaskIDUtil.scala l.12-25."""
    assert app_of_task(task_id) == app_id


def test_completed_tasks_come_from_the_leading_masters_frameworks() -> None:
    framework = {**a_framework(), "completed_tasks": [
        {"id": f"web.{UUID}", "state": "TASK_FINISHED", "statuses": [
            {"state": "TASK_RUNNING", "timestamp": 1700000000.5},
            {"state": "TASK_FINISHED", "timestamp": 1700000001.25}]},
        {"id": "web.old", "state": "TASK_KILLED", "statuses": []}]}
    http = FakeHttp(modern_master(master_state(frameworks=[framework])))
    assert mesos.completed_tasks(MASTER, http=http) == [
        CompletedTask(FRAMEWORK_ID, f"web.{UUID}", "TASK_FINISHED", 1700000001.25),
        CompletedTask(FRAMEWORK_ID, "web.old", "TASK_KILLED", None)]
    assert mesos.completed_tasks(MASTER, http=FakeHttp()) is None


# --- deploy's early stop --------------------------------------------------------------------------

ONCE = {"id": "/once", "cmd": "true", "cpus": 0.1, "mem": 16, "instances": 1}


def finished(task: str, *, ago: float = 0.0, state: str = "TASK_FINISHED",
             framework: str = FRAMEWORK_ID) -> CompletedTask:
    return CompletedTask(framework, task, state, time.time() - ago)


class Master:
    """The master's completed tasks as `follow` asks for them: one more on each look."""

    def __init__(self, *batches: list[CompletedTask]) -> None:
        self.batches = list(batches)
        self.seen: list[CompletedTask] = []
        self.looks = 0

    def completed(self) -> list[CompletedTask]:
        self.looks += 1
        if self.batches:
            self.seen += self.batches.pop(0)
        return list(self.seen)


def flapping(fake: FakeMarathon) -> Callable[[FakeMarathon], None]:
    """Each poll, the app's one task is up, or gone again."""
    state = {"running": 0}

    def tick(m: FakeMarathon) -> None:
        state["running"] = 1 - state["running"]
        m.set("/once", tasksRunning=state["running"])
    return tick


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_follow_stops_early_when_tasks_keep_finishing(clock: FakeClock) -> None:
    fake = FakeMarathon()
    marathon = connect(fake)
    submitted = marathon.submit(request_for(ONCE))
    fake.ticks = [flapping(fake)] * 100
    master = Master([finished(f"once.{uuid.uuid4()}", ago=3600)],  # before this deploy
                    [finished(f"once.{uuid.uuid4()}")],
                    [finished(f"other.{uuid.uuid4()}"),  # another app's
                     finished(f"once.{uuid.uuid4()}", state="TASK_KILLED")],  # not an exit 0
                    [finished(f"once.{uuid.uuid4()}")],
                    [finished(f"once.{uuid.uuid4()}")])
    began = clock.now()

    with pytest.raises(DeploymentFailed) as caught:
        follow(marathon, submitted, timeout=300, clock=clock,
               hooks=Hooks(completed=master.completed))

    took = clock.now() - began
    assert took < 10, "it waited for the timeout"
    assert master.looks == 5  # once a second at most, however often it polls Marathon
    assert took >= 4 * marathon_module.COMPLETED_INTERVAL
    message = caught.value.message
    assert message.startswith("app /once: its tasks keep exiting 0 and being restarted "
                              "(3 finished in ")
    assert message.endswith(" s): a Marathon app must keep running; give it a command that "
                            "does not end")
    assert "\n" not in message
    assert caught.value.hint == ("see `mesostack task-logs once`; run `mesostack bundle` to "
                                 "collect logs and state")
    assert len(fake.requests_to("GET", "/v2/info")) == 1  # Marathon's framework id, once


def test_only_marathons_own_framework_counts_when_it_names_it(clock: FakeClock) -> None:
    fake = FakeMarathon()
    marathon = connect(fake)
    submitted = marathon.submit(request_for(ONCE))
    fake.script("GET", "/v2/info", (200, {"name": "marathon", "frameworkId": FRAMEWORK_ID}))
    fake.ticks = [flapping(fake)] * 1000
    theirs = [finished(f"once.{uuid.uuid4()}", framework="another-0001") for _ in range(3)]
    master = Master(theirs)

    with pytest.raises(DeploymentFailed, match="deployment not finished after 20 s"):
        follow(marathon, submitted, timeout=20, clock=clock,
               hooks=Hooks(completed=master.completed))


def test_an_app_that_runs_is_never_looked_up_on_the_master(clock: FakeClock) -> None:
    fake = FakeMarathon()
    marathon = connect(fake)
    submitted = marathon.submit(request_for({**ONCE, "cmd": "sleep 1000"}))
    fake.set("/once", tasksRunning=1)
    fake.ticks = [lambda m: None, lambda m: m.finish()]
    master = Master()
    follow(marathon, submitted, timeout=30, clock=clock, hooks=Hooks(completed=master.completed))
    assert master.looks == 0
    assert fake.requests_to("GET", "/v2/info") == []


def test_tasks_that_keep_failing_still_stop_it_on_lastTaskFailure(clock: FakeClock) -> None:
    fake = FakeMarathon()
    marathon: Marathon = connect(fake)
    submitted = marathon.submit(request_for(ONCE))

    def fail(task: str) -> Callable[[FakeMarathon], None]:
        failure = {"appId": "/once", "message": "Command exited with status 3",
                   "state": "TASK_FAILED", "taskId": task, "timestamp": now()}
        return lambda m: m.set("/once", lastTaskFailure=failure)

    fake.ticks = [fail("once.1"), fail("once.2"), fail("once.3")]
    with pytest.raises(DeploymentFailed, match=r"^app /once: its tasks keep failing \(3 so far"):
        follow(marathon, submitted, timeout=60, clock=clock,
               hooks=Hooks(completed=Master().completed))


def test_submitted_started_bounds_what_counts(clock: FakeClock) -> None:
    """A finish a little before the submission (clocks differ by up to a second) counts."""
    fake = FakeMarathon()
    marathon = connect(fake)
    submitted = marathon.submit(request_for(ONCE))
    early = Submitted(submitted.deployment_ids, submitted.app_ids, True, time.time())
    fake.ticks = [flapping(fake)] * 100
    master = Master([finished(f"once.{uuid.uuid4()}", ago=0.5) for _ in range(3)])
    with pytest.raises(DeploymentFailed, match=r"\(3 finished in 0 s\)"):
        follow(marathon, early, timeout=60, clock=clock, hooks=Hooks(completed=master.completed))


def test_deploy_asks_the_master_it_follows_with_for_completed_tasks(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from mesostack import api as api_module
    from mesostack.api import Stack
    from mesostack.config import LoadedConfig, StackConfig

    stack = Stack(LoadedConfig(StackConfig(), None))
    stack._master = "10.0.0.1:5050"
    given: list[Hooks] = []
    asked: list[str] = []

    def follow_(api: Marathon, submitted: Submitted, *, timeout: float, hooks: Hooks,
                watch: Any) -> Followed:
        given.append(hooks)
        return Followed([], None)

    monkeypatch.setattr(marathon_module, "follow", follow_)
    def completed_tasks(master: str, *, http: Any = None) -> list[CompletedTask]:
        asked.append(master)
        return []

    monkeypatch.setattr(mesos, "completed_tasks", completed_tasks)
    api = connect(FakeMarathon())
    stack._follow(api, Submitted((), ("/once",), True, time.time()),
                  limits=api_module._Limits(1, 2.5), title="mesostack deploy")
    assert given[0].completed() == []
    assert given[0].settle == 2.5
    assert asked == ["10.0.0.1:5050"]
