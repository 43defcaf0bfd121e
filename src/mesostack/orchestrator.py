"""up / down / status / ls: drives the runtime and the probes, reports events, never prints.

What `up` does to each container is decided by `convergence`; what each role is, by
`components`; this module carries it out and waits."""

from __future__ import annotations

import functools
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

from mesostack.components import KINDS, Counts, Look, kind_of, labelled
from mesostack.config import is_system_dir
from mesostack.errors import InputError, MesostackError, and_bundle
from mesostack.events import Event, Phase, PullPolicy, Reporter, ignore
from mesostack.plan import (
    LABEL_DATA_DIR,
    LABEL_ENDPOINT,
    LABEL_HOST,
    LABEL_INDEX,
    ContainerSpec,
    Plan,
    tasks_of,
)
from mesostack.roles import Role, order_of
from mesostack.runtime import ContainerInfo, EngineAPI, EngineFacts, Engines, PullProgress
from mesostack.waiting import SYSTEM, Clock, Poll, TimedOut, run_all, settle, wait

if TYPE_CHECKING:
    from mesostack import convergence
    from mesostack.checks import Check
    from mesostack.probes import LeaderState, Probe, Ready

LOG_LINES = 20
LOG_SCAN = 500  # lines of a stopped container's log searched for a cause its role knows
CRASH_LOOP = 3  # restarts during one `up` that mean "it keeps crashing"
# Readiness polling: each probe every POLL_INTERVAL seconds, slower in a big stage so that
# twenty agents starting at once are not slowed down by being asked; their container's state
# is looked at every ALIVE_INTERVAL seconds (an exit or a crash loop fails `up` early).
POLL_INTERVAL = 0.025
STAGE_INTERVAL = 0.1  # a stage's whole-stage checks (each opens a ZooKeeper session)
STAGE_POLLS_PER_SECOND = 200
ALIVE_INTERVAL = 0.5


class NotReady(MesostackError):
    pass


class PreflightFailed(MesostackError):
    pass


class Cancelled(MesostackError):
    """A worker thread's way out when the user interrupted `up`."""


# --- up ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpResult:
    plan: Plan
    changed: tuple[str, ...]
    seconds: float

    @property
    def urls(self) -> dict[str, str]:
        return {kind.ui_name: f"http://{self.plan.spec(role).endpoint}"
                for role, kind in KINDS.items() if kind.ui_name}


class Readiness:
    """Which probe tells that a container, or a stage as a whole, is ready: the component
    table's (tests give their own)."""

    def one(self, spec: ContainerSpec, master: str, leader: LeaderState | None) -> Probe:
        return kind_of(spec.role).probe(spec, master, leader)

    def whole(self, plan: Plan, role: Role) -> tuple[str, Probe] | None:
        what, probe_of = kind_of(role).stage_probe
        probe = probe_of(plan)
        return (what, probe) if probe is not None else None

    def shared_leader(self, master: str, *, ttl: float) -> LeaderState | None:
        from mesostack import probes

        return probes.LeaderState(master, ttl=ttl)


@dataclass(frozen=True)
class UpSettings:
    pull: PullPolicy = PullPolicy.MISSING
    timeout: float = 300.0  # for the whole run, pulls included
    clock: Clock = SYSTEM
    readiness: Readiness = field(default_factory=Readiness)
    # told the plan once each agent's `tasks: auto` is chosen, before anything is created
    on_resolved: Callable[[Plan], None] = lambda _plan: None


def up(
    plan: Plan,
    *,
    engines: Engines,
    settings: UpSettings | None = None,
    report: Reporter = ignore,
) -> UpResult:
    """Create what is missing or changed, in dependency order, each stage once the previous
    one is ready. Safe to rerun: an unchanged, ready stack is left alone."""
    settings = settings or UpSettings()
    run = _Run(plan, engines, settings, report)
    run.prepare()
    return UpResult(run.plan, tuple(run.stages()), settings.clock.now() - run.start)


class _Run:
    """One `up`: its plan, engines, deadline and what it has done so far."""

    def __init__(self, plan: Plan, engines: Engines, settings: UpSettings,
                 report: Reporter) -> None:
        self.plan, self.engines, self.settings, self.report = plan, engines, settings, report
        self.asked = plan  # as the file says: an agent's `tasks: auto` not chosen yet
        self.clock = settings.clock
        self.start = self.clock.now()
        self.deadline = self.start + settings.timeout
        self.cancel = threading.Event()  # set on Ctrl-C so worker threads stop at their next step
        self.existing: dict[str, ContainerInfo] = {}
        self.image_ids: dict[tuple[str | None, str], str] = {}
        self.replaced: set[str] = set()
        self.master = plan.endpoints(Role.MASTER)
        self._facts: dict[str | None, EngineFacts] = {}
        from mesostack.checks import PrivilegedTrials

        self.trials = PrivilegedTrials(engines, self.existing)

    def prepare(self) -> None:
        """Preflight, images, the privileged trial, and removing what the plan dropped."""
        from mesostack import checks as checks_

        plan, engines = self.plan, self.engines
        self.existing.update({c.name: c for c in engines.containers(stack=plan.stack)})
        _refuse_foreign_names(plan, engines, self.existing)
        self.resolve_tasks()  # where an agent's image is there already, --privileged tried
        self.settings.on_resolved(self.plan)
        _preflight([*checks_.host_ips(plan), *checks_.ports(plan, self.existing),
                    *self.cgroups(checks_.family_env),
                    *checks_.on_hosts(plan, engines, self.facts),
                    *checks_.shared_engines(plan, engines)])
        self.image_ids = _ensure_images(self)
        # the hosts reached through their own engines, on their own networks, now that each
        # has an image to run a helper container of (before any stack container is created)
        _preflight(checks_.on_their_hosts(
            self.plan, checks_.their_nets(self.plan, engines, self.existing), self.existing))
        self.asked = checks_.recognised(self.asked, lambda spec: self.engines[
            spec.docker].image_config(spec.image))
        _refuse(checks_.refused(self.asked))
        before = [spec.labels for spec in self.plan.of(Role.SLAVE)]
        self.resolve_tasks()  # every image is there now
        if [spec.labels for spec in self.plan.of(Role.SLAVE)] != before:
            self.settings.on_resolved(self.plan)
        plan = self.plan
        _preflight(self.cgroups(None))  # again, with the images' own ENV
        for endpoint in plan.docker_endpoints:
            _preflight(checks_.privileged(plan, engines[endpoint], self.existing,
                                          needs_test=True, endpoint=endpoint,
                                          tried=self.trials.ran.get(endpoint)))
        from mesostack import convergence  # up's alone: down and status don't load it

        for gone in convergence.stale(plan, self.existing.values()):
            self.report(Event(gone.name, Phase.REMOVING, "no longer in the stack"))
            engines.engine_of(gone).remove(gone.id)
            self.report(Event(gone.name, Phase.REMOVED))

    def resolve_tasks(self) -> None:
        """Each auto agent's tasks, chosen from its engine's facts and, where its image is on
        the engine, a --privileged trial (the plan is rebuilt)."""
        from mesostack import agent_tasks

        self.plan = agent_tasks.resolve(self.asked, self.facts, self.trials)
        self.master = self.plan.endpoints(Role.MASTER)

    def cgroups(self, image_env: Callable[[ContainerSpec], Mapping[str, str]] | None
                ) -> list[Check]:
        """The agents against each host's cgroup version and engine API; `image_env` None: the
        images' own, as the engine has them."""
        from mesostack import checks as checks_

        return [check for e in self.plan.docker_endpoints
                for check in checks_.agents(self.facts(e), checks_.only(self.plan, e),
                                            image_env or checks_.engine_env(self.engines[e]))]

    def facts(self, endpoint: str | None) -> EngineFacts:
        """An engine's facts, asked once per run."""
        if endpoint not in self._facts:
            self._facts[endpoint] = self.engines[endpoint].facts()
        return self._facts[endpoint]

    def stages(self) -> list[str]:
        """Each stage in turn; the names of the containers that changed."""
        from mesostack import checks as checks_

        changed: list[str] = []
        stages = self.plan.stages()
        for index, stage in enumerate(stages):
            if index and any(kind_of(s.role).runs_tasks for s in stage):
                # again, just before the agents: another stack's `up` may have started its own
                _preflight(checks_.shared_engines(self.plan, self.engines))
            try:
                changed += self.stage(stage)
            except Exception:
                for later in (spec for rest in stages[index + 1:] for spec in rest):
                    self.report(Event(later.name, Phase.SKIPPED,
                                      "not started: an earlier stage failed"))
                raise
        return changed

    def stage(self, stage: list[ContainerSpec]) -> list[str]:
        """Converge a stage's containers side by side, then check the stage as a whole."""
        interval = max(POLL_INTERVAL, len(stage) / STAGE_POLLS_PER_SECOND)
        leader = self.settings.readiness.shared_leader(self.master, ttl=interval)
        outcomes = settle(lambda spec: self.converge(spec, leader=leader, interval=interval),
                          stage, workers=len(stage), cancel=self.cancel, clock=self.clock)
        errors = []
        for spec, outcome in zip(stage, outcomes, strict=True):
            if outcome.error is not None:
                self.report(Event(spec.name, Phase.FAILED))
                errors.append(outcome.error)
        if errors:
            raise errors[0]
        self.stage_ready(stage)
        return [spec.name for spec, outcome in zip(stage, outcomes, strict=True) if outcome.value]

    def stage_ready(self, stage: list[ContainerSpec]) -> None:
        """What one stage must show as a whole: one ZooKeeper leader, every master registered
        in ZooKeeper with exactly one leading, one leader among Marathons."""
        for role in dict.fromkeys(s.role for s in stage):
            check = self.settings.readiness.whole(self.plan, role)
            if check is None:
                continue
            what, probe = check
            start = self.clock.now()

            def on_wait(text: str, what: str = what) -> None:
                self.report(Event(what, Phase.WAITING, text))

            try:
                ready = _wait_ready(probe, self, interval=STAGE_INTERVAL, on_wait=on_wait)
            except TimedOut as exc:
                raise NotReady(f"{what} not ready after {self.clock.now() - start:.1f} s: still "
                               f"waiting for {exc.waiting_for}",
                               hint=and_bundle("raise --timeout, or see `mesostack status`")
                               ) from None
            self.report(Event(what, Phase.READY, ready.detail, self.clock.now() - start))

    def converge(self, spec: ContainerSpec, *, leader: LeaderState | None,
                 interval: float) -> bool:
        """Bring one container to its spec and wait until it is ready; True when it changed."""
        from mesostack import convergence

        start = self.clock.now()
        engine = self.engines[spec.docker]
        decision = convergence.decide(spec, self.existing.get(spec.name),
                                      self.image_ids[(spec.docker, spec.image)],
                                      replaced=self.replaced)
        started = self.carry_out(spec, decision, engine)
        watch = _Watch(self, spec, started.restart_count if started else 0, start)
        try:
            ready = _wait_ready(self.settings.readiness.one(spec, self.master, leader), self,
                                on_wait=watch.on_wait, alive=watch.alive, interval=interval)
        except TimedOut as exc:
            raise watch.not_ready(f"still waiting for {exc.waiting_for}{watch.context}",
                                  timed_out=True) from None
        phase = Phase.READY if decision.changes else Phase.UNCHANGED
        self.report(Event(spec.name, phase, ready.detail, self.clock.now() - start))
        return decision.changes

    def carry_out(self, spec: ContainerSpec, decision: convergence.Decision,
                  engine: EngineAPI) -> ContainerInfo | None:
        """Do what was decided; the container as it then is."""
        from mesostack.convergence import Action

        current = self.existing.get(spec.name)
        if decision.action is Action.KEEP:
            return current
        self.report(Event(spec.name, Phase.STARTING, decision.why))
        if decision.action is Action.START:
            engine.start(spec.name, spec=spec)
            return engine.get(spec.name)
        if current is not None:
            orphans = _tasks_left_by(spec, current, engine) if decision.replaces else []
            engine.remove(current.id)
            run_all(lambda task: engine.remove(task.id), orphans)
            if orphans:
                self.report(Event(spec.name, Phase.STARTING, f"removed {len(orphans)} task "
                                  "container(s) of the agent it replaces"))
            if decision.replaces:
                self.replaced.add(spec.name)
        return engine.create_and_start(spec)


def _wait_ready(probe: Probe, run: _Run, *, on_wait: Callable[[str], None],
                alive: Callable[[], None] = lambda: None,
                interval: float = POLL_INTERVAL) -> Ready:
    from mesostack import probes

    return probes.wait(probe, deadline=run.deadline, interval=interval, on_wait=on_wait,
                       alive=alive, clock=run.clock)


class _Watch:
    """While one container is awaited: its progress, and whether it (or what it depends on)
    is still alive; looked at every ALIVE_INTERVAL seconds."""

    def __init__(self, run: _Run, spec: ContainerSpec, restarts_before: int,
                 start: float) -> None:
        self.run, self.spec, self.start = run, spec, start
        self.restarts_before = restarts_before
        self.engine = run.engines[spec.docker]
        self.looked = run.clock.now()
        context = kind_of(spec.role).failure_context
        self.context = context(run.plan) if context else ""

    def on_wait(self, what: str) -> None:
        self.run.report(Event(self.spec.name, Phase.WAITING, what,
                              self.run.clock.now() - self.start))

    def alive(self) -> None:
        if self.run.cancel.is_set():
            raise Cancelled(f"{self.spec.name}: interrupted")
        if self.run.clock.now() - self.looked < ALIVE_INTERVAL:
            return
        self.looked = self.run.clock.now()
        info = self.engine.get(self.spec.name)
        if info is None:
            raise self.not_ready("its container disappeared")
        if info.status in ("exited", "dead"):
            raise self.not_ready(f"its container exited with code {info.exit_code}"
                                 f"{self.context}")
        restarts = info.restart_count - self.restarts_before
        if restarts >= CRASH_LOOP:
            raise self.not_ready(f"its container keeps crashing ({restarts} restarts)"
                                 f"{self.context}")
        self.feeds_alive()

    def feeds_alive(self) -> None:
        """What it depends on stopping ends the wait, naming that."""
        for name in self.spec.depends_on:
            dep = self.run.plan.by_name(name)
            dep_engine = self.run.engines[dep.docker]
            fed_by = dep_engine.get(dep.name)
            if fed_by is not None and fed_by.status not in ("exited", "dead"):
                continue
            how = ("its container was removed" if fed_by is None
                   else f"its container exited with code {fed_by.exit_code}")
            raise _failed(dep, dep_engine, f"{dep.name} ({dep.role.value}) stopped while "
                          f"{self.spec.name} was starting: {how}",
                          hint=f"see `mesostack logs {dep.role.value}`; `mesostack up` "
                          "starts it again")

    def not_ready(self, why: str, *, timed_out: bool = False) -> NotReady:
        waited = self.run.clock.now() - self.start
        hint = and_bundle("raise --timeout, or see `mesostack doctor`" if timed_out else (
            f"see `mesostack logs {self.spec.role.value}`"))
        return _failed(self.spec, self.engine, f"{self.spec.name} ({self.spec.role.value}) not "
                       f"ready after {waited:.1f} s: {why}", hint=hint, stopped=not timed_out)


def _refuse_foreign_names(
    plan: Plan, engines: Engines, existing: dict[str, ContainerInfo]
) -> None:
    from mesostack import convergence

    for endpoint, names in convergence.missing_by_engine(plan, existing).items():
        conflict = convergence.name_conflict(plan, engines[endpoint].named(names))
        if conflict is not None:
            raise PreflightFailed(conflict.message, hint=conflict.hint)


def _ensure_images(run: _Run) -> dict[tuple[str | None, str], str]:
    """Every image's id on each engine that needs it, pulling (in parallel) what the policy
    asks for."""
    plan, engines, pull = run.plan, run.engines, run.settings.pull
    refs = list(dict.fromkeys((s.docker, s.image) for s in plan.specs))
    ids = {key: engines[key[0]].image_id(key[1]) for key in refs}
    wanted = [key for key in refs if pull is PullPolicy.ALWAYS or ids[key] is None]
    if pull is PullPolicy.NEVER and wanted:
        raise PreflightFailed(
            f"image {wanted[0][1]} is not on the engine and --pull never forbids pulling it",
            hint="pull it (`docker pull IMAGE`) or use --pull missing",
        )
    pulled = run_all(lambda key: _pull(run, key), wanted, cancel=run.cancel)
    ids.update(zip(wanted, pulled, strict=True))
    return {key: i for key, i in ids.items() if i is not None}


def _pull(run: _Run, key: tuple[str | None, str]) -> str:
    endpoint, ref = key
    users = [s.name for s in run.plan.specs if (s.docker, s.image) == key]
    last = [float("-inf")]

    def progress(p: PullProgress) -> None:
        if run.cancel.is_set():
            raise Cancelled(f"pulling {ref}: interrupted")
        now = run.clock.now()
        if now > run.deadline:
            raise NotReady(f"image {ref}: still pulling when --timeout ran out",
                           hint="raise --timeout, or pull it first (`docker pull`)")
        if now - last[0] >= 0.2:
            last[0] = now
            for name in users:
                run.report(Event(name, Phase.PULLING, f"{ref}{_transferred(p)}"))

    for name in users:
        run.report(Event(name, Phase.PULLING, ref))
    image_id = run.engines[endpoint].pull(ref, progress)
    for name in users:
        run.report(Event(name, Phase.PULLED, ref))
    return image_id


def _transferred(p: PullProgress) -> str:
    """` 120/310 MB (39 %)` (compressed MB); the share only for the registry's total, since a
    share of the layers seen so far says little. It reads 100 % only once all is there."""
    if not p.total:
        return ""
    size = f" {p.current / 1e6:.0f}/{p.total / 1e6:.0f} MB"
    if not p.exact:
        return size
    share = 100 if p.current >= p.total else min(round(100 * p.current / p.total), 99)
    return f"{size} ({share} %)"


def _preflight(checks: Iterable[Check]) -> None:
    for check in checks:
        if check.blocking:
            raise PreflightFailed(check.found, hint=check.fix or None)


def _refuse(checks: Iterable[Check]) -> None:
    """A setting the images can't honour, found once their own configs told their families:
    input to fix (exit 2), as when the file's names say it."""
    for check in checks:
        raise InputError(check.found, hint=check.fix or None)


def _tasks_left_by(spec: ContainerSpec, current: ContainerInfo, engine: EngineAPI
                   ) -> list[ContainerInfo]:
    """The Docker task containers of an agent about to be replaced that nothing else would
    remove: with docker_kill_orphans off the new agent leaves them running, and no agent reports
    them any more, so `down` would not find them (Marathon relaunches the tasks on the new one)."""
    from mesostack.checks import kills_orphans

    if not kind_of(spec.role).runs_tasks or not current.running or kills_orphans(dict(spec.env)):
        return []
    tasks, _ = task_containers(Engines({current.engine: engine}), [current], patience=2.0)
    return tasks


def _failed(spec: ContainerSpec, engine: EngineAPI, message: str, *, hint: str,
            stopped: bool = True) -> NotReady:
    """`message`, with the last log lines of `spec`'s container attached; where it stopped
    and its role knows why from its log, that cause and its fix."""
    from mesostack import masking

    logs = masking.mask_text(engine.logs(spec.name, tail=LOG_SCAN),
                             masking.secret_values(spec.env)).rstrip()
    exit_cause = kind_of(spec.role).exit_cause
    cause = exit_cause(logs, spec) if stopped and exit_cause is not None else None
    if cause is not None:
        message, hint = f"{message}: {cause.message}", cause.hint
    last = "\n".join(logs.splitlines()[-LOG_LINES:])
    detail = f"last {LOG_LINES} log lines of {spec.name}:\n{last}" if last else ""
    return NotReady(message, hint=hint, detail=detail)


# --- down --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DownResult:
    removed: tuple[str, ...]
    task_containers: tuple[str, ...]
    purged: tuple[str, ...] = ()
    unreachable_agents: tuple[str, ...] = ()
    seconds: float = 0.0


def down(
    stack: str,
    *,
    engines: Engines,
    purge: bool = False,
    data_dirs: Iterable[str] = (),
    grace: int = 5,
    report: Reporter = ignore,
) -> DownResult:
    """Remove the stack's containers (found by label) and the task containers its agents
    report; with `purge`, the data_dirs too: those its containers' labels name and `data_dirs`
    (the stack file's), so a purge that failed can be retried once the containers are gone.

    Containers whose state outlives them (a data_dir) and task containers (the user's apps)
    get SIGTERM and `grace` seconds; the others keep nothing once removed, so they are killed
    at once, as `docker rm -f` does."""
    start = time.monotonic()
    containers = engines.containers(stack=stack, inspect=False)
    doomed = _purge_check(stack, engines, containers, data_dirs) if purge else []
    # What launches tasks (Marathon) first, so that nothing launches one while the agents list
    # theirs: paused (frozen at once, where a kill takes the engine a tenth of a second) and
    # removed with the rest. Then everything at once: with Marathon frozen nothing relaunches
    # tasks, and a container being removed is not restarted even if its process exits on its
    # own (a master losing ZooKeeper), so no order among them is needed.
    launchers = [c for c in containers if _kind_flag(c, "launches_tasks")]
    for c in launchers:
        report(Event(c.name, Phase.REMOVING))
    run_all(lambda c: engines.engine_of(c).pause(c.id), launchers)
    tasks, unreachable = task_containers(engines, containers)
    rest = [c for c in containers if c not in launchers]
    for c in rest + tasks:
        report(Event(c.name, Phase.REMOVING))
    task_names = {t.name for t in tasks}

    def remove(c: ContainerInfo) -> None:
        keeps_state = c.name in task_names or bool(c.labels.get(LABEL_DATA_DIR))
        engines.engine_of(c).remove(c.id, grace=grace if keeps_state else None)
        report(Event(c.name, Phase.REMOVED, elapsed=time.monotonic() - start))

    run_all(remove, launchers + rest + tasks)
    purged = [directory for directory in doomed if _purge(directory)]
    return DownResult(tuple(c.name for c in launchers + rest), tuple(sorted(task_names)),
                      tuple(purged), tuple(unreachable), time.monotonic() - start)


def _purge_check(stack: str, engines: Engines, containers: Sequence[ContainerInfo],
                 data_dirs: Iterable[str]) -> list[str]:
    """The data_dirs a purge deletes; checked before anything is removed, so that a refused
    purge leaves the stack as it was."""
    from mesostack import checks as checks_

    labelled = {c.labels[LABEL_DATA_DIR] for c in containers if c.labels.get(LABEL_DATA_DIR)}
    doomed = sorted(labelled | set(data_dirs))
    _preflight(checks_.shared_data_dirs(stack, doomed, engines.containers(inspect=False)))
    return doomed


def _kind_flag(container: ContainerInfo, flag: str) -> bool:
    kind = labelled(container.role)
    return bool(kind is not None and getattr(kind, flag))


AGENT_PATIENCE = 5.0  # seconds a running agent gets to answer /state during `down`
AGENT_POLL_INTERVAL = 0.2


def task_containers(
    engines: Engines, containers: Iterable[ContainerInfo], *, patience: float = AGENT_PATIENCE,
    clock: Clock = SYSTEM,
) -> tuple[list[ContainerInfo], list[str]]:
    """The task containers the stack's own agents report (and the agents not asked, or not
    answering within `patience` seconds). The running agents are asked at once; each engine then
    lists the reported names in one call. Only a running agent is asked: a stopped one no longer
    holds its address, which another stack's agent may have taken since, and that one would
    list its own tasks."""
    from mesostack import mesos, probes

    agents = [c for c in containers if _kind_flag(c, "runs_tasks")]

    def ask(agent: ContainerInfo) -> tuple[str, list[str]] | None:
        endpoint = agent.labels.get(LABEL_ENDPOINT, "")
        try:
            return wait(lambda: probes.agent_task_containers(endpoint),
                        deadline=clock.now() + patience,
                        poll=Poll(AGENT_POLL_INTERVAL, retry=(probes.NotYet,)), clock=clock)
        except TimedOut:
            return None

    running = [a for a in agents if a.running]
    answers = dict(zip((a.id for a in running), run_all(ask, running), strict=True))
    unreachable = [a.name for a in agents if answers.get(a.id) is None]
    wanted: dict[str | None, tuple[EngineAPI, set[str]]] = {}
    for agent in agents:
        answer = answers.get(agent.id)
        if answer is None:
            continue
        agent_id, ids = answer
        # Docker tasks (and with --docker_mesos_image their executors) run as siblings on the
        # agent's engine, named after their container id.
        _, names = wanted.setdefault(agent.engine, (engines.engine_of(agent), set()))
        for container_id in ids:
            names.update(mesos.docker_names(agent_id, container_id))
    found: dict[str, ContainerInfo] = {}
    for engine, names in wanted.values():
        for info in engine.named(names):
            found.setdefault(info.id, info)
    return list(found.values()), unreachable


def _purge(directory: str) -> bool:
    """Delete one data_dir; False when there was nothing to delete."""
    path = Path(directory)
    if is_system_dir(directory):
        raise MesostackError(f"data_dir {directory}: refusing to delete a system directory")
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise MesostackError(f"data_dir {directory}: can't delete it: {exc.strerror}",
                             hint="run `mesostack down --purge` as a user who may") from None
    return True


# --- status and ls -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    role: str
    endpoint: str
    state: str  # the container's
    ready: bool
    detail: str = ""
    leadership: str = ""  # leader, follower, standalone
    url: str = ""
    host: str = ""
    tasks: str = ""  # an agent's: `docker tasks` or `command tasks`, and why if `auto` chose


@dataclass(frozen=True)
class StackStatus:
    stack: str
    components: tuple[ComponentStatus, ...]
    agents: int = 0
    frameworks: tuple[str, ...] = ()
    apps: int | None = None
    notes: tuple[str, ...] = ()  # e.g. "zookeeper ensemble degraded: 2 of 3 serving"

    @property
    def ready(self) -> bool:
        return bool(self.components) and all(c.ready for c in self.components)


@dataclass(frozen=True)
class HostAway:
    """A host whose engine did not answer: why, and the stack's containers planned there."""

    host: str
    endpoint: str
    why: str
    specs: tuple[ContainerSpec, ...]

    def line(self, *, serving: bool) -> str:
        state = "degraded but serving" if serving else "not serving"
        return (f"host {self.host} ({self.endpoint}) does not answer: {self.why}; its "
                f"{len(self.specs)} containers are unknown, the stack is {state}")


def status(stack: str, *, engines: Engines, away: Sequence[HostAway] = ()) -> StackStatus:
    """One quick look at each component (side by side): container state, readiness, role,
    counts; the components of hosts `away` as unknown, with a note saying whether the rest
    serves (a leading master and a ready Marathon)."""
    containers = sorted(engines.containers(stack=stack),
                        key=lambda c: (order_of(c.role), c.labels.get(LABEL_INDEX, ""), c.name))
    master = ",".join(c.labels.get(LABEL_ENDPOINT, "") for c in containers
                      if c.role == Role.MASTER.value)
    counts = Counts(agents=0, frameworks=())
    results: list[ComponentStatus] = []
    endpoints = {kind.role.value: [c.labels.get(LABEL_ENDPOINT, "") for c in containers
                                   if c.role == kind.role.value] +
                 [s.endpoint for host in away for s in host.specs if s.role == kind.role]
                 for kind in KINDS.values()}
    noted = [kind for kind in KINDS.values() if kind.note is not None]
    # the looks and the notes (an ensemble's servers) side by side: a host cut off costs its
    # timeouts once
    jobs: list[Callable[[], object]] = [
        *[functools.partial(_look, c, master) for c in containers],
        *[functools.partial(kind.note, endpoints[kind.role.value]) for kind in noted
          if kind.note is not None]]
    looked = run_all(lambda work: work(), jobs)
    for one, said in cast("list[tuple[ComponentStatus, Counts]]", looked[:len(containers)]):
        results.append(one)
        counts = _add(counts, said)
    results += [_unknown(spec, host) for host in away for spec in host.specs]
    results.sort(key=lambda c: (order_of(c.role), _index_of(c.name), c.name))
    notes = [str(note) for note in looked[len(containers):] if note]
    serving = (any(c.ready and c.leadership == "leader" for c in results
                   if c.role == Role.MASTER.value)
               and any(c.ready for c in results if c.role == Role.MARATHON.value))
    notes += [host.line(serving=serving) for host in away]
    return StackStatus(stack, tuple(results), counts.agents or 0, counts.frameworks or (),
                       counts.apps, tuple(notes))


def _unknown(spec: ContainerSpec, host: HostAway) -> ComponentStatus:
    return ComponentStatus(spec.name, spec.role.value, spec.endpoint, "unknown", False,
                           f"host {host.host} does not answer", host=host.host)


def _index_of(name: str) -> int:
    """A component's instance number (`ha-master-2`: 2; one of a kind: 0)."""
    last = name.rsplit("-", 1)[-1]
    return int(last) if last.isdigit() else 0


def _look(c: ContainerInfo, master: str) -> tuple[ComponentStatus, Counts]:
    """One component's status, and what it tells of the stack once ready."""
    from mesostack.probes import NotYet

    endpoint = c.labels.get(LABEL_ENDPOINT, "")
    kind = labelled(c.role)
    look, ready, detail, counts = Look(""), False, f"container {c.status}", Counts()
    if c.running and kind is not None:
        try:
            look, ready = kind.look(endpoint, master, c.env), True
            detail = look.detail
        except NotYet as exc:
            detail = f"waiting for {exc}"
        if ready and kind.counts is not None:
            counts = kind.counts(master, endpoint, c.env)
    url = f"http://{endpoint}" if kind is not None and kind.ui_name else ""
    return (ComponentStatus(c.name, c.role, endpoint, c.status, ready, detail, look.leadership,
                            url, c.labels.get(LABEL_HOST, ""), tasks_of(c.labels)), counts)



def _add(total: Counts, more: Counts) -> Counts:
    """The later component's word wins where it says something (one master leads)."""
    return Counts(agents=more.agents if more.agents is not None else total.agents,
                  frameworks=more.frameworks if more.frameworks is not None
                  else total.frameworks,
                  apps=more.apps if more.apps is not None else total.apps)


@dataclass(frozen=True)
class StackSummary:
    stack: str
    components: tuple[str, ...]
    running: int
    ready: bool


def list_stacks(*, engines: Engines) -> list[StackSummary]:
    by_stack: dict[str, list[ContainerInfo]] = {}
    for c in engines.containers():
        by_stack.setdefault(c.stack, []).append(c)
    summaries = []
    for stack, containers in sorted(by_stack.items()):
        look = status(stack, engines=engines)
        summaries.append(StackSummary(
            stack,
            tuple(sorted((c.role for c in containers), key=order_of)),
            sum(1 for c in containers if c.running),
            look.ready,
        ))
    return summaries
