"""`up`'s stages on the shared fake engine and a clock the test drives: which containers are
created, in which order, and how a failing stage or a dependency that stops ends the run."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fakes import FakeClock, FakeEngine, engine_facts
from mesostack import hostinfo
from mesostack.config import AgentTasks, StackConfig
from mesostack.events import Event, Phase
from mesostack.orchestrator import NotReady, PreflightFailed, Readiness, UpSettings, up
from mesostack.plan import ContainerSpec, Plan, Role, build
from mesostack.probes import LeaderState, NotYet, Probe, Ready
from mesostack.runtime import Engines


@pytest.fixture(autouse=True)
def _no_host_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The preflight's look at this machine's addresses and ports is not what these tests are
    about (and a port may be any client's for a moment): every address is ours, every port free."""
    monkeypatch.setattr(hostinfo, "is_local_address", lambda _ip: True)
    monkeypatch.setattr(hostinfo, "port_in_use", lambda _ip, _port: False)


STACK = StackConfig.model_validate({
    "name": "stages", "host_ip": "127.0.0.1",
    "zookeeper": {"port": 42181}, "master": {"port": 45050},
    "slave": {"port": 45051, "privileged": False}, "marathon": {"port": 48080}})
PLAN = build(STACK, "127.0.0.1")


class Scripted:
    """A probe that is ready once `ready()` says so; `on_check` may change the engine."""

    awaited = "the scripted answer"

    def __init__(self, ready: Callable[[], bool], on_check: Callable[[], None]) -> None:
        self.ready, self.on_check, self.checks = ready, on_check, 0

    def check(self) -> Ready:
        self.checks += 1
        self.on_check()
        if not self.ready():
            raise NotYet(f"scripted check {self.checks}")
        return Ready("scripted")


class ScriptedReadiness(Readiness):
    """Every role ready at once unless the test says otherwise; no whole-stage checks."""

    def __init__(self) -> None:
        self.never: set[Role] = set()
        self.hooks: dict[Role, Callable[[], None]] = {}
        self.asked: list[str] = []

    def one(self, spec: ContainerSpec, master: str, leader: LeaderState | None) -> Probe:
        self.asked.append(spec.name)
        return Scripted(lambda: spec.role not in self.never,
                        self.hooks.get(spec.role, lambda: None))

    def whole(self, plan: Plan, role: Role) -> tuple[str, Probe] | None:
        return None

    def shared_leader(self, master: str, *, ttl: float) -> LeaderState | None:
        return None


def engine_with_images() -> FakeEngine:
    return FakeEngine(images={s.image: f"sha256:{s.role.value}" for s in PLAN.specs})


def run(engine: FakeEngine, readiness: ScriptedReadiness, *, timeout: float = 30
        ) -> tuple[list[Event], FakeClock]:
    events: list[Event] = []
    clock = FakeClock()
    up(PLAN, engines=Engines({None: engine}), report=events.append,
       settings=UpSettings(timeout=timeout, clock=clock, readiness=readiness))
    return events, clock


def test_stages_start_in_order_and_a_rerun_changes_nothing() -> None:
    engine = engine_with_images()
    readiness = ScriptedReadiness()
    events, _ = run(engine, readiness)
    created = engine.called("create_and_start")
    assert created[:2] == ["stages-zookeeper", "stages-master"]
    assert sorted(created[2:]) == ["stages-marathon", "stages-slave"]  # one stage, side by side
    assert [e.component for e in events if e.phase is Phase.READY][:2] == [
        "stages-zookeeper", "stages-master"]
    before = list(engine.held)
    again, _ = run(engine, ScriptedReadiness())
    assert engine.held == before
    assert engine.called("create_and_start").count("stages-master") == 1
    unchanged = {e.component for e in again if e.phase is Phase.UNCHANGED}
    assert unchanged == {s.name for s in PLAN.specs}


def test_a_failing_stage_leaves_the_later_stages_unstarted() -> None:
    engine = engine_with_images()
    readiness = ScriptedReadiness()
    readiness.never.add(Role.MASTER)
    events: list[Event] = []
    clock = FakeClock()
    with pytest.raises(NotReady) as failed:
        up(PLAN, engines=Engines({None: engine}), report=events.append,
           settings=UpSettings(timeout=30, clock=clock, readiness=readiness))
    assert str(failed.value).startswith("stages-master (master) not ready after 30.0 s: "
                                        "still waiting for scripted check")
    assert engine.called("create_and_start") == ["stages-zookeeper", "stages-master"]
    skipped = {e.component for e in events if e.phase is Phase.SKIPPED}
    assert skipped == {"stages-slave", "stages-marathon"}
    assert "stages-slave" not in readiness.asked
    assert clock.now() - 1000 == pytest.approx(30, abs=0.05)  # the fake clock's, not real time


def test_a_dependency_stopping_while_a_stage_waits_ends_it_naming_the_dependency() -> None:
    engine = engine_with_images()
    engine.log_texts["stages-zookeeper"] = "java.net.BindException: Address already in use\n"
    readiness = ScriptedReadiness()
    readiness.never.add(Role.MASTER)
    readiness.hooks[Role.MASTER] = lambda: engine.update("stages-zookeeper", status="exited",
                                                         exit_code=1)
    with pytest.raises(NotReady) as failed:
        run(engine, readiness, timeout=300)
    assert str(failed.value).startswith(
        "stages-zookeeper (zookeeper) stopped while stages-master was starting: its container "
        "exited with code 1")
    assert "BindException" in failed.value.detail  # the dependency's last log lines
    assert engine.called("create_and_start") == ["stages-zookeeper", "stages-master"]


def test_a_container_that_keeps_restarting_fails_its_stage_early() -> None:
    engine = engine_with_images()
    readiness = ScriptedReadiness()
    readiness.never.add(Role.ZOOKEEPER)
    restarts = iter(range(1, 100))
    readiness.hooks[Role.ZOOKEEPER] = lambda: engine.update("stages-zookeeper",
                                                            restart_count=next(restarts))
    with pytest.raises(NotReady, match=r"keeps crashing \(\d+ restarts\)"):
        run(engine, readiness, timeout=300)
    assert engine.called("create_and_start") == ["stages-zookeeper"]


def test_a_changed_component_is_recreated_with_what_depends_on_it_only() -> None:
    engine = engine_with_images()
    run(engine, ScriptedReadiness())
    ids = {c.name: c.id for c in engine.held}
    changed = STACK.model_copy(update={"master": STACK.master.model_copy(
        update={"env": {"MESOS_LOGGING_LEVEL": "INFO"}})})
    events: list[Event] = []
    up(build(changed, "127.0.0.1"), engines=Engines({None: engine}), report=events.append,
       settings=UpSettings(clock=FakeClock(), readiness=ScriptedReadiness()))
    now = {c.name: c.id for c in engine.held}
    assert now["stages-zookeeper"] == ids["stages-zookeeper"]
    assert all(now[n] != ids[n] for n in ("stages-master", "stages-slave", "stages-marathon"))


def test_an_interrupted_earlier_run_is_finished() -> None:
    """A run stopped after ZooKeeper was created (never started) and before the rest."""
    engine = engine_with_images()
    zk = PLAN.spec(Role.ZOOKEEPER)
    engine.create_and_start(zk)
    engine.update(zk.name, status="created")
    events, _ = run(engine, ScriptedReadiness())
    assert engine.called("start") == [zk.name]
    assert engine.called("create_and_start").count(zk.name) == 1
    assert any(e.component == zk.name and e.message == "starting the created container"
               for e in events)


def test_an_agent_the_hosts_cgroups_cant_run_is_refused_before_anything_is_created() -> None:
    """An agent asked for Docker tasks on a cgroup-v2-only host."""
    plan = build(STACK.model_copy(update={"slave": STACK.slave.model_copy(update={
        "tasks": AgentTasks.DOCKER})}), "127.0.0.1")
    engine = engine_with_images()
    engine.info = engine_facts(cgroup_version="2")
    engine.image_envs[plan.spec(Role.SLAVE).image] = {"MESOS_CONTAINERIZERS": "docker,mesos"}
    with pytest.raises(PreflightFailed) as refused:
        up(plan, engines=Engines({None: engine}),
           settings=UpSettings(clock=FakeClock(), readiness=ScriptedReadiness()))
    assert str(refused.value).startswith("stages-slave: MESOS_CONTAINERIZERS=docker,mesos: "
                                         "the Docker containerizer needs a cgroup v1")
    assert engine.called("create_and_start") == []


def planned(name: str, zookeeper_image: str | None = None) -> Plan:
    """The built-in default on this module's ports (the agent's tasks `auto`), named `name`."""
    zookeeper: dict[str, object] = {"port": 42181}
    if zookeeper_image:
        zookeeper["image"] = zookeeper_image
    return build(StackConfig.model_validate({
        "name": name, "host_ip": "127.0.0.1", "zookeeper": zookeeper, "master": {"port": 45050},
        "slave": {"port": 45051}, "marathon": {"port": 48080}}), "127.0.0.1")


AUTO = planned("auto")


def up_auto(engine: FakeEngine) -> tuple[Plan, list[Plan]]:
    told: list[Plan] = []
    for spec in AUTO.specs:
        engine.images.setdefault(spec.image, f"sha256:{spec.role.value}")
    done = up(AUTO, engines=Engines({None: engine}), settings=UpSettings(
        clock=FakeClock(), readiness=ScriptedReadiness(), on_resolved=told.append))
    return done.plan, told


@pytest.mark.parametrize(("facts", "refusal", "tasks", "why"), [
    ({}, None, "docker", "cgroup v1, and Docker 20.10.24 runs privileged containers"),
    ({}, "unable to apply caps", "command", "Docker 20.10.24 refuses --privileged containers"),
    ({"cgroup_version": "2"}, None, "command",
     "the host has cgroup v2 only (Docker tasks need cgroup v1)"),
])
def test_auto_gives_the_agent_what_its_host_can_run(
        facts: dict[str, str], refusal: str | None, tasks: str, why: str) -> None:
    engine = FakeEngine(refusal=refusal)
    engine.info = engine_facts(server_version="20.10.24", **facts)  # type: ignore[arg-type]
    plan, told = up_auto(engine)
    agent = plan.spec(Role.SLAVE)
    assert told == [plan] and (agent.tasks, agent.tasks_why) == (tasks, why)
    labels = dict(agent.labels)
    assert labels["io.mesostack.tasks"] == tasks and labels["io.mesostack.tasks-auto"] == why
    env = dict(agent.env)
    if tasks == "command":
        assert env["MESOS_CONTAINERIZERS"] == "mesos" and env["MESOS_LAUNCHER"] == "posix"
        assert not agent.privileged and agent.mounts == ()
    else:
        assert env["MESOS_CONTAINERIZERS"] == "docker,mesos" and agent.privileged
    created = engine.called("create_and_start")
    assert "auto-slave" in created
    assert engine.called("try_privileged") == ([] if facts else ["mesosphere/mesos-slave:1.7.1"])


def test_auto_tries_privileged_once_and_not_again_for_a_running_agent() -> None:
    engine = FakeEngine()
    up_auto(engine)
    assert len(engine.called("try_privileged")) >= 1
    before = len(engine.called("try_privileged"))
    plan, _ = up_auto(engine)  # again: its container was made from that very spec
    assert plan.spec(Role.SLAVE).tasks == "docker"
    assert engine.called("create_and_start").count("auto-slave") == 1
    assert len(engine.called("try_privileged")) == before  # a running agent shows it


def test_an_image_known_by_its_own_config_gets_that_familys_settings() -> None:
    """A mirrored official ZooKeeper under a name of its own: once the engine has it, its
    ENTRYPOINT and ENV tell the family, and `up` gives it ZOO_MY_ID/ZOO_SERVERS, not MYID."""
    from mesostack.runtime import ImageConfig

    mirrored = "mirror.example/zk:3.9"
    plan = planned("mirror", mirrored)
    assert "MYID" in dict(plan.spec(Role.ZOOKEEPER).env)  # the name says nothing: conventions
    engine = FakeEngine(images={s.image: "sha256:1" for s in plan.specs}, image_configs={
        mirrored: ImageConfig(env={"ZOO_CONF_DIR": "/conf",
                                   "PATH": "/apache-zookeeper-3.9.3-bin/bin:/usr/bin"},
                              entrypoint=("/docker-entrypoint.sh",), cmd=("zkServer.sh",))})
    done = up(plan, engines=Engines({None: engine}),
              settings=UpSettings(clock=FakeClock(), readiness=ScriptedReadiness()))
    zk = done.plan.spec(Role.ZOOKEEPER)
    assert zk.family == "official" and dict(zk.env)["ZOO_MY_ID"] == "1"
    assert "MYID" not in dict(zk.env)


def test_the_first_line_comes_before_the_pulls_and_a_later_trial_is_said_again() -> None:
    """No image yet: `auto` is said from the facts alone (--privileged untried), then, once
    the agent's image is pulled and the trial refused, said again as command tasks."""
    engine = FakeEngine(refusal="unable to apply caps")
    told: list[tuple[str, int]] = []

    def said(plan: Plan) -> None:
        told.append((plan.spec(Role.SLAVE).tasks_why, len(engine.called("pull"))))

    done = up(AUTO, engines=Engines({None: engine}), settings=UpSettings(
        clock=FakeClock(), readiness=ScriptedReadiness(), on_resolved=said))
    assert told[0] == ("cgroup v1; --privileged not tried yet (`up` tries it: refused, the "
                       "agent gets command tasks)", 0)  # before any pull
    assert told[1][0].endswith("refuses --privileged containers") and told[1][1] == 4
    assert done.plan.spec(Role.SLAVE).tasks == "command"
    assert engine.called("try_privileged") == ["mesosphere/mesos-slave:1.7.1"]  # once


def test_a_family_told_by_the_images_config_is_held_to_what_it_cant_honour() -> None:
    """A mirrored mesoscloud/zookeeper on another port: its config tells the family, whose
    fixed 2181 refuses it (exit 2) before anything is created."""
    from mesostack.errors import InputError
    from mesostack.runtime import ImageConfig

    mirrored = "mirror.example/zk:3.4.6"
    plan = planned("mirror", mirrored)
    engine = FakeEngine(images={s.image: "sha256:1" for s in plan.specs}, image_configs={
        mirrored: ImageConfig(entrypoint=("/entrypoint.sh",),
                              cmd=("zkServer.sh", "start-foreground"))})
    with pytest.raises(InputError) as refused:
        up(plan, engines=Engines({None: engine}),
           settings=UpSettings(clock=FakeClock(), readiness=ScriptedReadiness()))
    assert str(refused.value).startswith("zookeeper.port: 42181: mirror.example/zk:3.4.6 "
                                         "always listens on 2181")
    assert engine.called("create_and_start") == []
