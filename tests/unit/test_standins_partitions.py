"""The stand-ins react to partitions as the real systems do (files and lines named in
tests/standins/master.py, agent.py, marathon.py and common.py): a master gives its ZooKeeper
session up after --zk_session_timeout and a leader then exits; an agent silent for
--agent_ping_timeout x --max_agent_ping_timeouts is removed (0.23: its tasks TASK_LOST, told to
shut down when it comes back) or marked unreachable (1.x: TASK_UNREACHABLE for a partition-aware
framework, back with its tasks when it re-registers); Marathon replaces the lost tasks, after
the app's unreachableStrategy in 1.x, and abdicates (0.11) or exits (1.x) on losing ZooKeeper.
In-process, on fake clocks, the master and Marathon joined by a fake transport; one test per
generation runs the master and agent as processes with the shortest ping the flags allow."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from standin_loader import ended, free_port, json_at, load_standin, start
from test_standins_shapes import FakeZk

from fakes import FakeClock
from testbed import wait_until

MASTER = "http://127.0.0.1:5050"


@pytest.fixture(params=["legacy", "modern"])
def generation(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Exited(Exception):
    """os._exit, caught: the code it was given."""


def no_exit(monkeypatch: pytest.MonkeyPatch, module: ModuleType) -> None:
    def fake(code: int) -> None:
        raise Exited(code)

    monkeypatch.setattr(module.os, "_exit", fake)


# --- the master's ping flags ---------------------------------------------------------------


def test_the_ping_flags_default_to_15secs_times_5(monkeypatch: pytest.MonkeyPatch,
                                                  generation: str) -> None:
    master = load_standin(monkeypatch, "master", generation)
    assert master.ping_settings({}, legacy=generation == "legacy") == (15.0, 5)


def test_each_generation_reads_its_own_names_and_1x_the_old_ones_too(
        monkeypatch: pytest.MonkeyPatch) -> None:
    master = load_standin(monkeypatch, "master", "modern")
    new = {"MESOS_AGENT_PING_TIMEOUT": "2secs", "MESOS_MAX_AGENT_PING_TIMEOUTS": "3"}
    old = {"MESOS_SLAVE_PING_TIMEOUT": "1secs", "MESOS_MAX_SLAVE_PING_TIMEOUTS": "2"}
    assert master.ping_settings(new, legacy=False) == (2.0, 3)
    assert master.ping_settings(old, legacy=False) == (1.0, 2)
    assert master.ping_settings({**old, **new}, legacy=False) == (2.0, 3)
    assert master.ping_settings(old, legacy=True) == (1.0, 2)
    assert master.ping_settings(new, legacy=True) == (15.0, 5)  # 0.23 has no agent_ names


def test_a_ping_timeout_out_of_range_is_refused_with_the_real_words(
        monkeypatch: pytest.MonkeyPatch) -> None:
    master = load_standin(monkeypatch, "master", "modern")
    with pytest.raises(ValueError, match=r"^Expected `--agent_ping_timeout` to be between "
                                         r"1secs and 15mins$"):
        master.ping_settings({"MESOS_AGENT_PING_TIMEOUT": "500ms"}, legacy=False)
    with pytest.raises(ValueError, match=r"^Expected --max_slave_ping_timeouts to be at least 1$"):
        master.ping_settings({"MESOS_MAX_SLAVE_PING_TIMEOUTS": "0"}, legacy=True)


# --- the master in process, its agents and Marathon over a fake transport -----------------


class Bed:
    """A leading master stand-in in process, on a fake clock; agents are names whose launches
    run at once; `call` is the transport Marathon (and the master) use."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, generation: str, **env: str) -> None:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        self.module = load_standin(monkeypatch, "master", generation)
        self.clock = FakeClock()
        self.master = self.module.Master()
        self.master.clock = self.clock.now
        self.master.elected_time = self.clock.now()
        self.master.recovered = True
        self.sent: list[tuple[str, Any]] = []  # what reached an agent
        self.cut: set[str] = set()  # agents no message reaches
        self.agent_ids: dict[str, str] = {}  # hostname -> agent id
        monkeypatch.setattr(self.module, "call", self.call)

    def call(self, method: str, url: str, body: Any = None, **_: Any) -> tuple[int, Any]:
        parts = urlsplit(url)
        if url.startswith(MASTER):
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            raw = json.dumps(body).encode() if body is not None else b""
            request = self.module.Request(method, parts.path, query, raw, {})
            answer = self.master.handle(request)
            return answer.status, answer.body
        host = str(parts.hostname)
        if host in self.cut:
            raise OSError(f"{host} is cut off")
        self.sent.append((url, body))
        if parts.path == "/standin/launch":
            self.master.update({"task_id": body["task"]["id"], "state": "TASK_RUNNING"})
        elif parts.path == "/standin/kill":
            self.master.update({"task_id": body["task_id"], "state": "TASK_KILLED"})
        return 200, {}

    def agent(self, hostname: str, *, again: bool = True) -> Any:
        """The agent on `hostname` registers (again: with the id it was given, as after a
        partition; else as a new agent), reporting the tasks the master has on it."""
        agent_id = self.agent_ids.get(hostname) if again else None
        tasks = [{k: t[k] for k in ("id", "framework_id", "slave_id", "state", "resources")}
                 for t in self.master.tasks.values()
                 if agent_id and t["slave_id"] == agent_id
                 and t["state"] not in self.module.TERMINAL]
        for task in tasks:
            task["state"] = "TASK_RUNNING"  # it ran all along, cut off
        body = {"id": agent_id, "pid": f"slave(1)@{hostname}:5051", "hostname": hostname,
                "url": f"http://{hostname}:5051", "version": self.module.VERSION,
                "resources": {"cpus": 1.0, "mem": 512.0, "disk": 1000.0,
                              "ports": "[31000-32000]"},
                "attributes": {}, "tasks": tasks}
        answer = self.master.register_agent(body).body
        if "id" in answer:
            self.agent_ids[hostname] = answer["id"]
        return answer

    def heartbeat(self, *hostnames: str) -> None:
        for hostname in hostnames:
            self.agent(hostname)

    def framework(self, *, aware: bool, failover: float = 604800.0) -> str:
        body = {"name": "marathon", "capabilities": ["PARTITION_AWARE"] if aware else [],
                "failover_timeout": failover}
        return str(self.master.register_framework(body).body["id"])

    def task(self, task_id: str, framework_id: str, hostname: str) -> None:
        self.master.launch({"task": {"id": task_id, "framework_id": framework_id,
                                     "slave_id": self.agent_ids[hostname],
                                     "resources": {"cpus": 0.1, "mem": 16.0}}})

    def state(self) -> dict[str, Any]:
        found: dict[str, Any] = self.master.state()
        return found


def one_task(state: dict[str, Any], key: str) -> dict[str, Any]:
    tasks: list[dict[str, Any]] = [t for fw in state["frameworks"] for t in fw.get(key, [])]
    assert len(tasks) == 1, tasks
    return tasks[0]


def test_an_agent_is_kept_until_it_missed_every_ping(monkeypatch: pytest.MonkeyPatch,
                                                     generation: str) -> None:
    bed = Bed(monkeypatch, generation, MESOS_AGENT_PING_TIMEOUT="2secs",
              MESOS_MAX_AGENT_PING_TIMEOUTS="3", MESOS_SLAVE_PING_TIMEOUT="2secs",
              MESOS_MAX_SLAVE_PING_TIMEOUTS="3")
    bed.agent("h1")
    bed.clock.advance(5.5)
    bed.master.expire_once(bed.clock.now())
    assert [a["hostname"] for a in bed.state()["slaves"]] == ["h1"]
    bed.clock.advance(0.5)
    bed.master.expire_once(bed.clock.now())
    assert bed.state()["slaves"] == []


def test_0_23_removes_a_silent_agent_its_tasks_lost(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    bed = Bed(monkeypatch, "legacy")
    bed.agent("h1")
    bed.task("web.1", bed.framework(aware=False), "h1")
    bed.cut.add("h1")
    bed.clock.advance(75)
    bed.master.expire_once(bed.clock.now())
    state = bed.state()
    assert state["slaves"] == [] and "unreachable_slaves" not in state
    task = one_task(state, "completed_tasks")
    assert task["state"] == "TASK_LOST"
    assert bed.master.tasks["web.1"]["message"] == "Slave h1 removed: health check timed out"
    assert bed.master.tasks["web.1"]["reason"] == "REASON_SLAVE_REMOVED"
    err = capsys.readouterr().err
    assert (f"Shutting down slave {bed.agent_ids['h1']} at slave(1)@h1:5051 (h1) with message "
            "'health check timed out'") in err


def test_0_23_tells_a_removed_agent_that_comes_back_to_shut_down(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    bed = Bed(monkeypatch, "legacy")
    bed.agent("h1")
    agent_id = bed.agent_ids["h1"]
    bed.clock.advance(75)
    bed.master.expire_once(bed.clock.now())
    assert ("http://h1:5051/standin/shutdown", {"message": "health check timed out"}) in bed.sent
    assert bed.agent("h1") == {"shutdown": "Slave attempted to re-register after removal"}
    assert bed.state()["slaves"] == []
    assert (f"Slave {agent_id} at slave(1)@h1:5051 (h1) attempted to re-register after "
            "removal; shutting it down") in capsys.readouterr().err
    bed.agent("h1", again=False)  # restarted, it registers as a new agent
    assert [a["id"] for a in bed.state()["slaves"]] == [bed.agent_ids["h1"]] != [agent_id]


@pytest.mark.parametrize(("aware", "state"), [(True, "TASK_UNREACHABLE"), (False, "TASK_LOST")])
def test_1x_marks_a_silent_agent_unreachable(monkeypatch: pytest.MonkeyPatch, aware: bool,
                                             state: str) -> None:
    bed = Bed(monkeypatch, "modern")
    bed.agent("h1")
    bed.agent("h2")
    bed.task("web.1", bed.framework(aware=aware), "h1")
    bed.clock.advance(75)
    bed.heartbeat("h2")
    bed.master.expire_once(bed.clock.now())
    found = bed.state()
    assert [a["hostname"] for a in found["slaves"]] == ["h2"]
    assert found["unreachable_slaves"] == 1.0
    task = one_task(found, "unreachable_tasks")
    assert task["state"] == state
    assert [fw["tasks"] + fw["completed_tasks"] for fw in found["frameworks"]] == [[]]
    assert bed.master.tasks["web.1"]["message"] == "health check timed out"
    assert bed.master.used(task["framework_id"])["cpus"] == 0.0
    assert bed.sent[-1][0] == "http://h1:5051/standin/launch"  # no shutdown is sent


def test_1x_takes_an_unreachable_agent_back_with_its_tasks(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    bed = Bed(monkeypatch, "modern")
    bed.agent("h1")
    bed.task("web.1", bed.framework(aware=True), "h1")
    bed.clock.advance(75)
    bed.master.expire_once(bed.clock.now())
    bed.agent("h1")
    found = bed.state()
    assert [a["hostname"] for a in found["slaves"]] == ["h1"]
    assert found["unreachable_slaves"] == 0.0
    assert one_task(found, "tasks")["state"] == "TASK_RUNNING"
    task = bed.master.tasks["web.1"]
    assert (task["message"], task["reason"]) == ("Unreachable agent re-reregistered",
                                                 "REASON_SLAVE_REREGISTERED")
    assert [s["state"] for s in task["statuses"]] == ["TASK_RUNNING", "TASK_UNREACHABLE",
                                                      "TASK_RUNNING"]


def test_a_silent_framework_is_disconnected_then_removed_after_its_failover_timeout(
        monkeypatch: pytest.MonkeyPatch, generation: str) -> None:
    bed = Bed(monkeypatch, generation)
    bed.agent("h1")
    framework_id = bed.framework(aware=False, failover=60)
    bed.task("web.1", framework_id, "h1")
    bed.clock.advance(bed.module.FRAMEWORK_SILENCE_S + 1)
    bed.heartbeat("h1")
    bed.master.expire_once(bed.clock.now())
    assert [fw["active"] for fw in bed.state()["frameworks"]] == [False]
    bed.clock.advance(60)
    bed.heartbeat("h1")
    bed.master.expire_once(bed.clock.now())
    found = bed.state()
    assert found["frameworks"] == []
    assert [fw["id"] for fw in found["completed_frameworks"]] == [framework_id]
    assert ("http://h1:5051/standin/kill", {"task_id": "web.1"}) in bed.sent


# --- the master's ZooKeeper session --------------------------------------------------------


class FakeTimer:
    """`common.Timer` on demand: `fire` runs what is due."""

    def __init__(self) -> None:
        self.pending: list[tuple[float, Callable[[], None]]] = []
        self.cancelled = 0

    def __call__(self, delay: float, then: Callable[[], None]) -> Callable[[], None]:
        entry = (delay, then)
        self.pending.append(entry)

        def cancel() -> None:
            self.cancelled += 1
            self.pending.remove(entry)

        return cancel

    def fire(self) -> None:
        for _, then in list(self.pending):
            then()


def session(monkeypatch: pytest.MonkeyPatch, generation: str) -> tuple[Any, FakeTimer,
                                                                        list[str]]:
    master = load_standin(monkeypatch, "master", generation)
    timer, expired = FakeTimer(), []
    group = master.GroupSession(4.0, lambda: expired.append("expired"), timer=timer,
                                legacy=generation == "legacy")
    return group, timer, expired


def test_a_dropped_connection_gives_the_session_up_after_its_timeout(
        monkeypatch: pytest.MonkeyPatch, generation: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    group, timer, expired = session(monkeypatch, generation)
    group.changed("SUSPENDED")
    assert [d for d, _ in timer.pending] == [4.0] and expired == []
    group.changed("SUSPENDED")
    assert len(timer.pending) == 1
    timer.fire()
    assert expired == ["expired"]
    err = capsys.readouterr().err
    what = "reconnect" if generation == "legacy" else "connect"
    assert "group.cpp] Lost connection to ZooKeeper, attempting to reconnect ..." in err
    assert f"group.cpp] Timed out waiting to {what} to ZooKeeper. Forcing ZooKeeper session" in err
    group.changed("LOST")
    assert expired == ["expired"]  # once a session


def test_the_warning_names_the_session_when_known(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    group, timer, _ = session(monkeypatch, "modern")
    group.session_id = lambda: 0x15A3
    group.changed("SUSPENDED")
    timer.fire()
    assert "Forcing ZooKeeper session (sessionId=15a3) expiration" in capsys.readouterr().err


def test_a_connection_back_in_time_keeps_the_session(monkeypatch: pytest.MonkeyPatch) -> None:
    group, timer, expired = session(monkeypatch, "modern")
    group.changed("SUSPENDED")
    group.changed("CONNECTED")
    assert timer.pending == [] and timer.cancelled == 1
    timer.fire()
    assert expired == []


def test_a_session_zookeeper_expired_is_given_up_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    group, timer, expired = session(monkeypatch, "legacy")
    group.changed("SUSPENDED")
    group.changed("LOST")
    assert expired == ["expired"] and timer.pending == []
    group.renewed()
    group.changed("LOST")
    assert expired == ["expired", "expired"]


@pytest.mark.parametrize(("generation", "where", "words"), [
    ("legacy", "", "Lost leadership... committing suicide!"),
    ("modern", "master.cpp:2081", "Lost candidacy as a leader... committing suicide!")])
def test_a_leading_master_that_loses_its_session_exits(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], generation: str,
        where: str, words: str) -> None:
    bed = Bed(monkeypatch, generation)
    no_exit(monkeypatch, bed.module)
    with pytest.raises(Exited, match="1"):
        bed.master.lost_candidacy()
    err = capsys.readouterr().err
    assert (f"{where}] EXIT with status 1: {words}" if where else f"\n{words}\n") in "\n" + err


def test_a_following_master_contends_again(monkeypatch: pytest.MonkeyPatch, generation: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    bed = Bed(monkeypatch, generation)
    bed.master.elected_time = None
    bed.master.leader = {"id": "other", "pid": "master@10.0.0.2:5050"}
    again: list[str] = []
    monkeypatch.setattr(bed.master, "contend_again", lambda: again.append("again"))
    bed.master.lost_candidacy()
    wait_until(lambda: again, timeout=5, what="the follower contending again")
    err = capsys.readouterr().err
    assert "master.cpp] Lost candidacy as a follower... Contend again" in err
    assert ("The newly elected leader is None" if generation == "legacy"
            else "No master was elected.") in err
    assert bed.master.redirect_to_leader("/master/redirect", always=True).status == 503


@pytest.mark.parametrize(("generation", "leader", "exit_text"), [
    ("legacy", "other", "Lost leadership... committing suicide!"),
    ("legacy", None, "Lost leadership... committing suicide!"),
    ("modern", "other", "Conceded leadership to another master... committing suicide!"),
    ("modern", None, "Lost leadership after indecisive election... committing suicide!")])
def test_a_leader_that_sees_another_or_none_exits(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str],
                                                  generation: str, leader: str | None,
                                                  exit_text: str) -> None:
    bed = Bed(monkeypatch, generation)
    no_exit(monkeypatch, bed.module)
    info = None if leader is None else {"id": leader, "pid": "master@10.0.0.2:5050"}
    with pytest.raises(Exited):
        bed.master.detected(info)
    assert exit_text in capsys.readouterr().err
    bed.master.elected_time = None
    assert bed.master.detected(info) is False  # a follower just follows


# --- Marathon replaces the tasks of a lost agent --------------------------------------------


def marathon_on(monkeypatch: pytest.MonkeyPatch, bed: Bed, generation: str, *,
                registered: bool = True) -> Any:
    """A leading Marathon stand-in of `generation` whose master is `bed`'s, on a fake clock
    (`m.clock`), registered as a framework unless told otherwise."""
    monkeypatch.setenv("MARATHON_MASTER", "127.0.0.1:5050")
    module = load_standin(monkeypatch, "marathon", generation)
    clock = FakeClock()
    monkeypatch.setattr(module, "call", bed.call)
    monkeypatch.setattr(module, "time", SimpleNamespace(time=clock.now, sleep=clock.sleep,
                                                        monotonic=clock.now))
    m = module.Marathon()
    m.clock = clock
    m.zk = FakeZk()
    m.elected = m.registered = True
    m.leader = m.me
    if registered:
        m.framework_id = bed.framework(aware=generation == "modern")
    return m


def app(instances: int, **extra: Any) -> dict[str, Any]:
    return {"cmd": "sleep 1000", "instances": instances, "cpus": 0.1, "mem": 16.0,
            "backoffSeconds": 0, "constraints": [["hostname", "UNIQUE"]], **extra}


def hosts(m: Any) -> list[str]:
    """Where Marathon counts the app's tasks, in order."""
    return sorted(t["host"] for t in m.tasks.values() if t["state"] == "TASK_RUNNING")


def tick(m: Any, bed: Bed, *alive: str, seconds: float = 1.0) -> None:
    """`seconds` pass: the agents on `alive` answer the master, which then checks its agents;
    Marathon schedules once."""
    bed.clock.advance(seconds)
    m.clock.advance(seconds)
    bed.heartbeat(*alive)
    m.registered = True
    bed.master.framework_tasks({"framework_id": m.framework_id})
    bed.master.expire_once(bed.clock.now())
    m.schedule()


def three_hosts(monkeypatch: pytest.MonkeyPatch, generation: str, **extra: Any
                ) -> tuple[Bed, Any]:
    bed = Bed(monkeypatch, generation)
    for name in ("h1", "h2", "h3"):
        bed.agent(name)
    m = marathon_on(monkeypatch, bed, generation)
    m.put_app("/web", app(3, **extra), m.new_version())
    tick(m, bed, "h1", "h2", "h3")
    tick(m, bed, "h1", "h2", "h3")
    assert hosts(m) == ["h1", "h2", "h3"]
    return bed, m


def test_unique_hosts_keeps_a_fourth_instance_waiting(monkeypatch: pytest.MonkeyPatch,
                                                      generation: str) -> None:
    bed, m = three_hosts(monkeypatch, generation)
    m.put_app("/web", {**m.apps["/web"], "instances": 4}, m.new_version())
    tick(m, bed, "h1", "h2", "h3")
    assert len(hosts(m)) == 3 and "/web" in m.waiting


def test_0_11_replaces_a_lost_task_once_its_agent_is_back_as_a_new_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    bed, m = three_hosts(monkeypatch, "legacy")
    [lost] = [t["id"] for t in m.tasks.values() if t["host"] == "h3"]
    for _ in range(76):
        tick(m, bed, "h1", "h2")
    assert bed.master.tasks[lost]["state"] == "TASK_LOST"
    assert hosts(m) == ["h1", "h2"]  # hostname:UNIQUE leaves no other place
    assert bed.agent("h3") == {"shutdown": "Slave attempted to re-register after removal"}
    bed.agent("h3", again=False)
    tick(m, bed, "h1", "h2", "h3")
    tick(m, bed, "h1", "h2", "h3")
    assert hosts(m) == ["h1", "h2", "h3"] and lost not in m.tasks


def test_1_10_expunges_an_unreachable_task_and_kills_it_when_it_comes_back(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    bed, m = three_hosts(monkeypatch, "modern")
    assert m.apps["/web"]["unreachableStrategy"] == {"inactiveAfterSeconds": 0,
                                                     "expungeAfterSeconds": 0}
    [lost] = [t["id"] for t in m.tasks.values() if t["host"] == "h3"]
    for _ in range(76):
        tick(m, bed, "h1", "h2")
    assert bed.master.tasks[lost]["state"] == "TASK_UNREACHABLE"
    assert lost not in m.tasks and hosts(m) == ["h1", "h2"]
    tick(m, bed, "h1", "h2", "h3")  # back: its task runs again, Marathon forgot it
    tick(m, bed, "h1", "h2", "h3")
    assert ("http://h3:5051/standin/kill", {"task_id": lost}) in bed.sent
    assert f"Kill unknown {lost}" in capsys.readouterr().err
    assert hosts(m) == ["h1", "h2", "h3"] and lost not in m.tasks


def test_1_10_keeps_an_unreachable_task_for_its_strategy_then_replaces_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    strategy = {"inactiveAfterSeconds": 120, "expungeAfterSeconds": 600}
    bed, m = three_hosts(monkeypatch, "modern", unreachableStrategy=strategy)
    bed.agent("h4")
    [lost] = [t["id"] for t in m.tasks.values() if t["host"] == "h3"]
    for _ in range(76):
        tick(m, bed, "h1", "h2", "h4")
    assert m.tasks[lost]["state"] == "TASK_UNREACHABLE" and hosts(m) == ["h1", "h2"]
    tick(m, bed, "h1", "h2", "h4", seconds=119)
    assert hosts(m) == ["h1", "h2"]  # still counted: no replacement yet
    tick(m, bed, "h1", "h2", "h4")
    tick(m, bed, "h1", "h2", "h4")
    assert hosts(m) == ["h1", "h2", "h4"]  # inactive: replaced where the constraint allows
    tick(m, bed, "h1", "h2", "h3", "h4")  # back before it was expunged: one too many
    tick(m, bed, "h1", "h2", "h3", "h4")
    assert len([url for url, _ in bed.sent if url.endswith("/standin/kill")]) == 1


def test_unreachable_fate_follows_the_strategy(monkeypatch: pytest.MonkeyPatch) -> None:
    module = load_standin(monkeypatch, "marathon", "modern")
    fate = module.unreachable_fate
    assert fate(module.UNREACHABLE_DEFAULT, 100.0, 100.0) == "expunged"
    strategy = {"inactiveAfterSeconds": 60, "expungeAfterSeconds": 120}
    assert [fate(strategy, 0.0, t) for t in (59.0, 60.0, 119.0, 120.0)] == [
        "counted", "inactive", "inactive", "expunged"]
    assert fate("disabled", 0.0, 10**6) == "counted"


# --- Marathon and its ZooKeeper session -----------------------------------------------------


class ElectionZk(FakeZk):
    """FakeZk with sequential election znodes."""

    def __init__(self) -> None:
        super().__init__()
        self.sequence = 0

    def create(self, path: str, value: bytes, makepath: bool = False, ephemeral: bool = False,
               sequence: bool = False) -> str:
        if sequence:
            path, self.sequence = f"{path}{self.sequence:010d}", self.sequence + 1
        return super().create(path, value, makepath)


def candidate(monkeypatch: pytest.MonkeyPatch, generation: str, *, after: str = "") -> Any:
    """A Marathon stand-in candidate on an ElectionZk (after a candidate `after`, host:port,
    when given); `m.led` records the terms it led (lead() itself is not run)."""
    monkeypatch.setenv("MARATHON_MASTER", "127.0.0.1:5050")
    module = load_standin(monkeypatch, "marathon", generation)
    no_exit(monkeypatch, module)
    m = module.Marathon()
    m.zk, m.sleep = ElectionZk(), FakeClock().sleep
    m.leader_path = "/marathon/leader"
    if after:
        m.zk.create(f"{m.leader_path}/member_", after.encode(), sequence=True)
    m.led = []
    monkeypatch.setattr(m, "lead", lambda term=0: m.led.append(term))
    m.offer_leadership()
    m.read_leader()
    return m


def test_1_10_exits_when_its_leader_loses_the_connection(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    m = candidate(monkeypatch, "modern")
    wait_until(lambda: m.led, timeout=5, what="elected")
    with pytest.raises(Exited, match="103"):
        m.zk_changed("SUSPENDED")
    err = capsys.readouterr().err
    assert "Connection SUSPENDED; assuming leader is unknown" in err
    assert "Lost leadership; crashing" in err


def test_a_1_10_standby_forgets_the_leader_until_reconnected(monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    m = candidate(monkeypatch, "modern", after="10.0.0.9:8080")
    assert m.leader == "10.0.0.9:8080" and not m.elected
    m.zk_changed("SUSPENDED")
    assert m.leader is None and not m.led
    m.zk_changed("CONNECTED")
    wait_until(lambda: m.leader, timeout=5, what="the leader read again")
    assert m.leader == "10.0.0.9:8080"


def test_a_1_10_standby_whose_session_expired_stands_again(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    m = candidate(monkeypatch, "modern", after="10.0.0.9:8080")
    first = m.mine
    del m.zk.nodes[f"{m.leader_path}/{first}"]  # gone with the expired session
    m.zk_changed("LOST")
    m.zk_changed("CONNECTED")
    wait_until(lambda: m.mine != first and m.leader, timeout=5, what="a new candidacy")
    assert m.zk.exists(f"{m.leader_path}/{m.mine}") and m.leader == "10.0.0.9:8080"


def test_0_11_abdicates_on_an_expired_session_and_offers_its_leadership_again(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    m = candidate(monkeypatch, "legacy")
    wait_until(lambda: m.led, timeout=5, what="elected")
    m.zk_changed("SUSPENDED")
    assert m.elected  # 0.11 waits for ZooKeeper to expire the session
    first = m.mine
    m.zk.nodes.clear()  # the expired session took its znode along
    m.abdicate()
    err = capsys.readouterr().err
    for line in ("Defeated (Leader Interface)", "Defeat leadership",
                 "Will offer leadership after 500 milliseconds backoff"):
        assert line in err
    wait_until(lambda: len(m.led) == 2, timeout=5, what="elected again")
    assert m.mine != first and m.elected  # the only candidate
    assert not m.leads(m.led[0]) and m.leads(m.led[1])


def test_a_standby_leads_once_the_leaders_znode_is_gone(monkeypatch: pytest.MonkeyPatch,
                                                       generation: str) -> None:
    m = candidate(monkeypatch, generation, after="10.0.0.9:8080")
    assert not m.elected and m.leader == "10.0.0.9:8080"
    [other] = [k for k in m.zk.nodes if not k.endswith(m.mine)]
    del m.zk.nodes[other]  # the cut-off leader's session expired
    m.read_leader()
    wait_until(lambda: m.led, timeout=5, what="the standby elected")
    assert m.elected and m.leader == m.me


def test_a_stopping_marathon_ignores_its_closed_session(monkeypatch: pytest.MonkeyPatch,
                                                        generation: str) -> None:
    m = candidate(monkeypatch, generation)
    wait_until(lambda: m.led, timeout=5, what="elected")
    m.stopping = True
    m.zk_changed("LOST")
    assert m.elected


def test_marathon_registers_its_failover_timeout(monkeypatch: pytest.MonkeyPatch,
                                                 generation: str) -> None:
    bed = Bed(monkeypatch, generation)
    monkeypatch.setenv("MARATHON_FAILOVER_TIMEOUT", "3600")
    m = marathon_on(monkeypatch, bed, generation, registered=False)
    m.register()
    [framework] = bed.state()["frameworks"]
    assert framework["failover_timeout"] == 3600.0
    assert ("PARTITION_AWARE" in bed.master.frameworks[framework["id"]]["capabilities"]) == (
        generation == "modern")


# --- master and agent as processes: the shortest ping the flags allow -------------------------


def test_a_partitioned_agent_comes_back_as_each_generation_has_it(tmp_path: Path,
                                                                  generation: str) -> None:
    """SIGSTOP stands for the partition; 1secs x 1 is the shortest ping the flags take. The
    0.23 agent is told to shut down and exits 0, forgetting its id; the 1.x one re-registers."""
    master_port, agent_port = free_port(), free_port()
    ping = {"MESOS_SLAVE_PING_TIMEOUT" if generation == "legacy" else
            "MESOS_AGENT_PING_TIMEOUT": "1secs",
            "MESOS_MAX_SLAVE_PING_TIMEOUTS" if generation == "legacy" else
            "MESOS_MAX_AGENT_PING_TIMEOUTS": "1"}
    master = start("master.py", generation, MESOS_IP="127.0.0.1", MESOS_PORT=str(master_port),
                   **ping)
    agent = start("agent.py", generation, MESOS_IP="127.0.0.1", MESOS_PORT=str(agent_port),
                  MESOS_MASTER=f"127.0.0.1:{master_port}", MESOS_WORK_DIR=str(tmp_path),
                  MESOS_RESOURCES="cpus:1;mem:256")
    state = f"http://127.0.0.1:{master_port}" + ("/master/state.json" if generation == "legacy"
                                                 else "/master/state")
    try:
        agent_id = wait_until(lambda: [s["id"] for s in json_at(state).get("slaves", [])],
                              timeout=15, what="the agent registered")[0]
        os.kill(agent.pid, signal.SIGSTOP)
        wait_until(lambda: json_at(state).get("slaves") == [], timeout=15,
                   what="the agent removed")
        os.kill(agent.pid, signal.SIGCONT)
        if generation == "legacy":  # (the ShutdownMessage of the removal may come first)
            code, err = ended(agent)
            assert code == 0, err
            assert f"Slave asked to shut down by master@127.0.0.1:{master_port} because" in err
            assert "Slave terminating" in err
            assert not (tmp_path / "meta" / "slaves" / "latest").exists()
        else:
            wait_until(lambda: [s["id"] for s in json_at(state).get("slaves", [])] == [agent_id],
                       timeout=15, what="the agent re-registered")
            assert json_at(state)["unreachable_slaves"] == 0.0
            assert requests.get(state, timeout=2).status_code == 200
    finally:
        for process in (agent, master):
            if process.poll() is None:
                os.kill(process.pid, signal.SIGCONT)
                process.kill()
            process.communicate()
