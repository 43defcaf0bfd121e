"""up / down / status / ls: drives the runtime and the probes, reports events, never prints."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from mesostack import masking, probes
from mesostack.config import is_system_dir
from mesostack.errors import MesostackError, and_bundle
from mesostack.events import Event, Phase, PullPolicy, Reporter, ignore
from mesostack.plan import (
    LABEL_DATA_DIR,
    LABEL_ENDPOINT,
    LABEL_HASH,
    LABEL_HOST,
    LABEL_INDEX,
    LABEL_STACK,
    ContainerSpec,
    Plan,
    Role,
)
from mesostack.runtime import ContainerInfo, Engine, Engines, PullProgress

if TYPE_CHECKING:
    from mesostack.checks import Check

T = TypeVar("T")

LOG_LINES = 20
CRASH_LOOP = 3  # restarts during one `up` that mean "it keeps crashing"
# Readiness polling: each probe every POLL_INTERVAL seconds, slower in a big stage so that
# twenty agents starting at once are not slowed down by being asked; their container's state
# is looked at every ALIVE_INTERVAL seconds (an exit or a crash loop fails `up` early).
POLL_INTERVAL = 0.025
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
        return {
            "Mesos": f"http://{self.plan.spec(Role.MASTER).endpoint}",
            "Marathon": f"http://{self.plan.spec(Role.MARATHON).endpoint}",
        }


def up(
    plan: Plan,
    *,
    engines: Engines,
    pull: PullPolicy = PullPolicy.MISSING,
    timeout: float = 300.0,
    report: Reporter = ignore,
) -> UpResult:
    """Create what is missing or changed, in dependency order, each stage once the previous
    one is ready. Safe to rerun: an unchanged, ready stack is left alone."""
    from mesostack import checks as checks_

    start = time.monotonic()
    deadline = start + timeout
    existing = {c.name: c for c in engines.containers(stack=plan.stack)}
    _refuse_foreign_names(plan, engines, existing)
    _preflight([*checks_.host_ips(plan), *checks_.ports(plan, existing),
                *(checks_.cgroups(engines[e].facts(), checks_.only(plan, e))
                  for e in plan.docker_endpoints),
                *checks_.shared_engines(plan, engines)])
    cancel = threading.Event()  # set on Ctrl-C so worker threads stop at their next step
    image_ids = _ensure_images(plan, engines=engines, pull=pull, report=report, cancel=cancel,
                               deadline=deadline)
    for endpoint in plan.docker_endpoints:
        _preflight(checks_.privileged(plan, engines[endpoint], existing, needs_test=True,
                                      endpoint=endpoint))
    for name, stale in existing.items():
        if name not in {s.name for s in plan.specs}:
            report(Event(name, Phase.REMOVING, "no longer in the stack"))
            engines.engine_of(stale).remove(stale.id)
            report(Event(name, Phase.REMOVED))

    changed: list[str] = []
    replaced: set[str] = set()
    stages = plan.stages()
    master = plan.endpoints(Role.MASTER)
    by_name = {s.name: s for s in plan.specs}
    for index, stage in enumerate(stages):
        if index and any(s.role is Role.SLAVE for s in stage):
            # again, just before the agents: another stack's `up` may have started its own since
            _preflight(checks_.shared_engines(plan, engines))
        errors: list[Exception] = []
        interval = max(POLL_INTERVAL, len(stage) / STAGE_POLLS_PER_SECOND)
        leader = probes.LeaderState(master, ttl=interval)
        with ThreadPoolExecutor(max_workers=len(stage)) as pool:
            futures = {
                pool.submit(_converge, spec, existing.get(spec.name),
                            image_ids[(spec.docker, spec.image)],
                            master=master, engine=engines[spec.docker],
                            deadline=deadline, report=report, cancel=cancel,
                            replaced=replaced, context=_quorum_context(plan, spec),
                            interval=interval, leader=leader,
                            feeds=[(by_name[dep], engines[by_name[dep].docker])
                                   for dep in spec.depends_on]): spec
                for spec in stage
            }
            try:
                for future, spec in futures.items():
                    try:
                        if future.result():
                            changed.append(spec.name)
                    except Exception as exc:  # raised once every sibling has finished
                        report(Event(spec.name, Phase.FAILED))
                        errors.append(exc)
            except BaseException:  # Ctrl-C: let the workers stop before leaving the pool
                cancel.set()
                raise
        if not errors:
            try:
                _stage_ready(plan, stage, deadline=deadline, report=report)
            except NotReady as exc:
                errors.append(exc)
        if errors:
            for later in (spec for rest in stages[index + 1 :] for spec in rest):
                report(Event(later.name, Phase.SKIPPED, "not started: an earlier stage failed"))
            raise errors[0]
    return UpResult(plan, tuple(changed), time.monotonic() - start)


def _quorum_context(plan: Plan, spec: ContainerSpec) -> str:
    masters = len(plan.of(Role.MASTER))
    if spec.role is not Role.MASTER or masters == 1:
        return ""
    return f"; the masters need a quorum of {plan.quorum} of {masters} up"


def _stage_ready(
    plan: Plan, stage: list[ContainerSpec], *, deadline: float, report: Reporter
) -> None:
    """What one stage must show as a whole: one ZooKeeper leader, every master registered in
    ZooKeeper with exactly one leading, one leader among Marathons."""
    roles = {s.role for s in stage}
    checks: list[tuple[str, probes.Probe]] = []
    if Role.ZOOKEEPER in roles and len(plan.of(Role.ZOOKEEPER)) > 1:
        checks.append(("zookeeper", probes.EnsembleProbe(
            [(s.host_ip, s.port) for s in plan.of(Role.ZOOKEEPER)])))
    if Role.MASTER in roles and len(plan.of(Role.MASTER)) > 1:
        zk = plan.of(Role.ZOOKEEPER)
        checks.append(("masters", probes.MastersInZooKeeperProbe(
            ",".join(s.endpoint for s in zk), "/mesos", expected=len(plan.of(Role.MASTER)),
            quorum=plan.quorum)))
    if Role.MARATHON in roles and len(plan.of(Role.MARATHON)) > 1:
        marathons = plan.of(Role.MARATHON)
        credentials = dict(marathons[0].env).get(CREDENTIALS_VAR)
        checks.append(("marathons", probes.MarathonLeaderProbe(
            [s.endpoint for s in marathons], probes.Http.with_credentials(credentials))))
    for what, probe in checks:
        start = time.monotonic()

        def on_wait(text: str, what: str = what) -> None:
            report(Event(what, Phase.WAITING, text))

        try:
            ready = probes.wait(probe, deadline=deadline, on_wait=on_wait)
        except probes.TimedOut as exc:
            raise NotReady(f"{what} not ready after {time.monotonic() - start:.1f} s: still "
                           f"waiting for {exc.waiting_for}",
                           hint=and_bundle("raise --timeout, or see `mesostack status`")) from None
        report(Event(what, Phase.READY, ready.detail, time.monotonic() - start))



def _refuse_foreign_names(
    plan: Plan, engines: Engines, existing: dict[str, ContainerInfo]
) -> None:
    missing: dict[str | None, list[str]] = {}
    for spec in plan.specs:
        if spec.name not in existing:
            missing.setdefault(spec.docker, []).append(spec.name)
    for endpoint, names in missing.items():
        for other in engines[endpoint].named(names):
            owner = other.labels.get(LABEL_STACK)
            whose = f"stack {owner!r}" if owner else "no mesostack stack"
            raise PreflightFailed(
                f"container {other.name} exists and belongs to {whose}",
                hint=f"remove it (`docker rm -f {other.name}`) or give this stack another `name`",
            )


def _ensure_images(
    plan: Plan,
    *,
    engines: Engines,
    pull: PullPolicy,
    report: Reporter,
    cancel: threading.Event,
    deadline: float,
) -> dict[tuple[str | None, str], str]:
    """Every image's id on each engine that needs it, pulling (in parallel) what the policy
    asks for."""
    refs = list(dict.fromkeys((s.docker, s.image) for s in plan.specs))
    users = {key: [s.name for s in plan.specs if (s.docker, s.image) == key] for key in refs}
    ids = {key: engines[key[0]].image_id(key[1]) for key in refs}
    wanted = [key for key in refs if pull is PullPolicy.ALWAYS or ids[key] is None]
    if pull is PullPolicy.NEVER and wanted:
        raise PreflightFailed(
            f"image {wanted[0][1]} is not on the engine and --pull never forbids pulling it",
            hint="pull it (`docker pull IMAGE`) or use --pull missing",
        )

    def fetch(key: tuple[str | None, str]) -> str:
        endpoint, ref = key
        last = [0.0]

        def progress(p: PullProgress) -> None:
            if cancel.is_set():
                raise Cancelled(f"pulling {ref}: interrupted")
            now = time.monotonic()
            if now > deadline:
                raise NotReady(f"image {ref}: still pulling when --timeout ran out",
                               hint="raise --timeout, or pull it first (`docker pull`)")
            if now - last[0] >= 0.2:
                last[0] = now
                size = f" {p.current / 1e6:.0f}/{p.total / 1e6:.0f} MB" if p.total else ""
                for name in users[key]:
                    report(Event(name, Phase.PULLING, f"{ref}{size}"))

        for name in users[key]:
            report(Event(name, Phase.PULLING, ref))
        image_id = engines[endpoint].pull(ref, progress)
        for name in users[key]:
            report(Event(name, Phase.PULLED, ref))
        return image_id

    if wanted:
        with ThreadPoolExecutor(max_workers=len(wanted)) as pool:
            try:
                for key, image_id in zip(wanted, pool.map(fetch, wanted), strict=True):
                    ids[key] = image_id
            except BaseException:
                cancel.set()
                raise
    return {key: i for key, i in ids.items() if i is not None}


def _preflight(checks: Iterable[Check]) -> None:
    for check in checks:
        if check.blocking:
            raise PreflightFailed(check.found, hint=check.fix or None)


def _converge(
    spec: ContainerSpec,
    current: ContainerInfo | None,
    image_id: str,
    *,
    master: str,
    engine: Engine,
    deadline: float,
    report: Reporter,
    cancel: threading.Event,
    replaced: set[str],
    context: str = "",
    interval: float = POLL_INTERVAL,
    leader: probes.LeaderState | None = None,
    feeds: Sequence[tuple[ContainerSpec, Engine]] = (),
) -> bool:
    """Bring one container to its spec and wait until it is ready; True when it changed.

    `replaced` names the containers this run recreated; what depends on one is recreated too
    (the config hash covers dependencies, this covers a new image behind the same tag).
    `feeds` are the containers it depends on: one of them stopping ends the wait."""
    start = time.monotonic()
    changed = True
    feeds_changed = any(dep in replaced for dep in spec.depends_on)
    started = current
    if current is not None and not feeds_changed and _up_to_date(current, spec, image_id):
        if current.status in ("running", "restarting"):
            changed = False
        elif current.status in ("created", "exited"):
            report(Event(spec.name, Phase.STARTING, f"starting the {current.status} container"))
            engine.start(spec.name, spec=spec)
            started = engine.get(spec.name)
        else:  # paused, dead, removing: start would fail the same way on every rerun
            report(Event(spec.name, Phase.STARTING, f"recreating the {current.status} container"))
            engine.remove(current.id)
            started = engine.create_and_start(spec)
    else:
        if current is not None:
            why = "what it depends on was recreated" if feeds_changed else (
                "its configuration or image changed")
            report(Event(spec.name, Phase.STARTING, f"recreating: {why}"))
            orphans = _tasks_left_by(spec, current, engine)
            engine.remove(current.id)
            _each(lambda task: engine.remove(task.id), orphans)
            if orphans:
                report(Event(spec.name, Phase.STARTING,
                             f"removed {len(orphans)} task container(s) of the agent it replaces"))
            replaced.add(spec.name)
        else:
            report(Event(spec.name, Phase.STARTING, "creating"))
        started = engine.create_and_start(spec)
    restarts_before = started.restart_count if started else 0
    probe = probe_for(spec, master, leader)
    looked = [time.monotonic()]  # when the container's state was last looked at (just now)

    def on_wait(what: str) -> None:
        report(Event(spec.name, Phase.WAITING, what, time.monotonic() - start))

    def alive() -> None:
        if cancel.is_set():
            raise Cancelled(f"{spec.name}: interrupted")
        if time.monotonic() - looked[0] < ALIVE_INTERVAL:
            return
        looked[0] = time.monotonic()
        info = engine.get(spec.name)
        if info is None:
            raise _not_ready(spec, engine, "its container disappeared", start)
        if info.status in ("exited", "dead"):
            raise _not_ready(spec, engine, f"its container exited with code {info.exit_code}"
                             f"{context}", start)
        if info.restart_count - restarts_before >= CRASH_LOOP:
            raise _not_ready(spec, engine, f"its container keeps crashing "
                             f"({info.restart_count - restarts_before} restarts){context}",
                             start)
        for dep, dep_engine in feeds:
            fed_by = dep_engine.get(dep.name)
            if fed_by is None or fed_by.status in ("exited", "dead"):
                how = ("its container was removed" if fed_by is None
                       else f"its container exited with code {fed_by.exit_code}")
                raise _failed(dep, dep_engine, f"{dep.name} ({dep.role.value}) stopped while "
                              f"{spec.name} was starting: {how}",
                              hint=f"see `mesostack logs {dep.role.value}`; `mesostack up` "
                              "starts it again")

    try:
        ready = probes.wait(probe, deadline=deadline, on_wait=on_wait, alive=alive,
                            interval=interval)
    except probes.TimedOut as exc:
        raise _not_ready(spec, engine, f"still waiting for {exc.waiting_for}{context}", start,
                         timed_out=True) from None
    phase = Phase.READY if changed else Phase.UNCHANGED
    report(Event(spec.name, phase, ready.detail, time.monotonic() - start))
    return changed


def _tasks_left_by(spec: ContainerSpec, current: ContainerInfo, engine: Engine
                   ) -> list[ContainerInfo]:
    """The Docker task containers of an agent about to be replaced that nothing else would
    remove: with docker_kill_orphans off the new agent leaves them running, and no agent reports
    them any more, so `down` would not find them (Marathon relaunches the tasks on the new one)."""
    from mesostack.checks import kills_orphans

    if spec.role is not Role.SLAVE or not current.running or kills_orphans(dict(spec.env)):
        return []
    tasks, _ = task_containers(Engines({current.engine: engine}), [current], patience=2.0)
    return tasks


def _up_to_date(current: ContainerInfo, spec: ContainerSpec, image_id: str) -> bool:
    return current.labels.get(LABEL_HASH) == spec.config_hash and current.image_id == image_id


def probe_for(
    spec: ContainerSpec, master: str, leader: probes.LeaderState | None = None
) -> probes.Probe:
    """The probe for `spec`'s role; agents and Marathons read the leading master's state
    through `leader` when a stage shares it."""
    if spec.role is Role.ZOOKEEPER:
        return probes.ZooKeeperProbe(spec.host_ip, spec.port)
    if spec.role is Role.MASTER:
        return probes.MasterProbe(spec.endpoint)
    if spec.role is Role.SLAVE:
        return probes.AgentProbe(spec.endpoint, master, leader=leader)
    credentials = dict(spec.env).get(CREDENTIALS_VAR)
    return probes.MarathonProbe(spec.endpoint, master, probes.Http.with_credentials(credentials),
                                leader=leader)


CREDENTIALS_VAR = "MARATHON_HTTP_CREDENTIALS"


def _not_ready(
    spec: ContainerSpec, engine: Engine, why: str, start: float, *, timed_out: bool = False
) -> NotReady:
    waited = time.monotonic() - start
    hint = and_bundle("raise --timeout, or see `mesostack doctor`" if timed_out else (
        f"see `mesostack logs {spec.role.value}`"))
    return _failed(spec, engine, f"{spec.name} ({spec.role.value}) not ready after "
                   f"{waited:.1f} s: {why}", hint=hint)


def _failed(spec: ContainerSpec, engine: Engine, message: str, *, hint: str) -> NotReady:
    """`message`, with the last log lines of `spec`'s container attached."""
    logs = masking.mask_text(engine.logs(spec.name, tail=LOG_LINES),
                             masking.secret_values(spec.env)).rstrip()
    detail = f"last {LOG_LINES} log lines of {spec.name}:\n{logs}" if logs else ""
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
    doomed: list[str] = []
    if purge:  # checked before anything is removed: a refused purge leaves the stack as it was
        from mesostack import checks as checks_

        labelled = {c.labels[LABEL_DATA_DIR] for c in containers if c.labels.get(LABEL_DATA_DIR)}
        doomed = sorted(labelled | set(data_dirs))
        _preflight(checks_.shared_data_dirs(stack, doomed, engines.containers(inspect=False)))
    marathons = [c for c in containers if c.role == Role.MARATHON.value]
    # Marathon first, so that nothing launches a task while the agents list theirs: paused
    # (frozen at once, where a kill takes the engine a tenth of a second) and removed with the
    # rest. Then everything at once: with Marathon frozen nothing relaunches tasks, and a
    # container being removed is not restarted even if its process exits on its own (a master
    # losing ZooKeeper), so no order among them is needed.
    for c in marathons:
        report(Event(c.name, Phase.REMOVING))
    _each(lambda c: engines.engine_of(c).pause(c.id), marathons)
    tasks, unreachable = task_containers(engines, containers)
    rest = [c for c in containers if c not in marathons]
    for c in rest + tasks:
        report(Event(c.name, Phase.REMOVING))
    task_names = {t.name for t in tasks}

    def remove(c: ContainerInfo) -> None:
        keeps_state = c.name in task_names or bool(c.labels.get(LABEL_DATA_DIR))
        engines.engine_of(c).remove(c.id, grace=grace if keeps_state else None)
        report(Event(c.name, Phase.REMOVED, elapsed=time.monotonic() - start))

    _each(remove, marathons + rest + tasks)
    purged: list[str] = []
    if purge:
        for directory in doomed:
            if _purge(directory):
                purged.append(directory)
    return DownResult(tuple(c.name for c in marathons + rest), tuple(sorted(task_names)),
                      tuple(purged), tuple(unreachable), time.monotonic() - start)


def _each(work: Callable[[T], object], items: Sequence[T]) -> None:
    """`work` on every item at once (threads); the first failure is raised once all ended."""
    if len(items) == 1:
        work(items[0])
    elif items:
        with ThreadPoolExecutor(max_workers=min(16, len(items))) as pool:
            for _ in pool.map(work, items):
                pass


AGENT_PATIENCE = 5.0  # seconds a running agent gets to answer /state during `down`


def task_containers(
    engines: Engines, containers: Iterable[ContainerInfo], *, patience: float = AGENT_PATIENCE
) -> tuple[list[ContainerInfo], list[str]]:
    """The task containers the stack's own agents report (and the agents not asked, or not
    answering within `patience` seconds). The running agents are asked at once; each engine then
    lists the reported names in one call. Only a running agent is asked: a stopped one no longer
    holds its address, which another stack's agent may have taken since, and that one would
    list its own tasks."""
    agents = [c for c in containers if c.role == Role.SLAVE.value]
    answers: dict[str, tuple[str, list[str]] | None] = {}

    def ask(agent: ContainerInfo) -> None:
        endpoint = agent.labels.get(LABEL_ENDPOINT, "")
        deadline = time.monotonic() + patience
        while True:
            try:
                answers[agent.id] = probes.agent_task_containers(endpoint)
                return
            except probes.NotYet:
                if time.monotonic() >= deadline:
                    answers[agent.id] = None
                    return
                time.sleep(0.2)

    _each(ask, [a for a in agents if a.running])
    unreachable = [a.name for a in agents if answers.get(a.id) is None]
    wanted: dict[str | None, tuple[Engine, set[str]]] = {}
    for agent in agents:
        answer = answers.get(agent.id)
        if answer is None:
            continue
        agent_id, ids = answer
        # Docker tasks run as siblings on the agent's engine, named after their container id.
        _, names = wanted.setdefault(agent.engine, (engines.engine_of(agent), set()))
        for container_id in ids:
            names |= {f"mesos-{agent_id}.{container_id}", f"mesos-{container_id}"}
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


def status(stack: str, *, engines: Engines) -> StackStatus:
    """One quick look at each component: container state, readiness, role, counts."""
    from mesostack.marathon import app_count

    containers = sorted(engines.containers(stack=stack),
                        key=lambda c: (_role_order(c.role), c.labels.get(LABEL_INDEX, ""), c.name))
    master = ",".join(c.labels.get(LABEL_ENDPOINT, "") for c in containers
                      if c.role == Role.MASTER.value)
    http = probes.Http()
    results: list[ComponentStatus] = []
    agents = 0
    frameworks: tuple[str, ...] = ()
    apps: int | None = None
    for c in containers:
        endpoint = c.labels.get(LABEL_ENDPOINT, "")
        ready, detail, leadership, url = False, "", "", ""
        if c.running:
            try:
                look_http = (probes.Http.with_credentials(c.env.get(CREDENTIALS_VAR))
                             if c.role == Role.MARATHON.value else http)
                ready, detail, leadership = True, *_look(c.role, endpoint, master, look_http)
            except probes.NotYet as exc:
                detail = f"waiting for {exc}"
        else:
            detail = f"container {c.status}"
        if c.role == Role.MASTER.value:
            url = f"http://{endpoint}"
            if ready:
                try:
                    state = probes.leading_state(http, master)
                except probes.NotYet:
                    state = {}
                agents = sum(1 for a in state.get("slaves", []) if a.get("active", True))
                frameworks = tuple(f.get("name", "?") for f in state.get("frameworks", [])
                                   if f.get("active"))
        if c.role == Role.MARATHON.value:
            url = f"http://{endpoint}"
            if ready:
                apps = app_count(endpoint, session=probes.Http.with_credentials(
                    c.env.get(CREDENTIALS_VAR)).session)
        results.append(ComponentStatus(c.name, c.role, endpoint, c.status, ready, detail,
                                       leadership, url, c.labels.get(LABEL_HOST, "")))
    notes = []
    servers = [tuple(c.labels.get(LABEL_ENDPOINT, "").rsplit(":", 1)) for c in containers
               if c.role == Role.ZOOKEEPER.value]
    if len(servers) > 1:
        health, modes = probes.ensemble_health([(h, int(p)) for h, p in servers])
        serving = sum(1 for m in modes.values() if m != "not serving")
        notes.append(f"zookeeper ensemble {health}: {serving} of {len(servers)} serving")
    return StackStatus(stack, tuple(results), agents, frameworks, apps, tuple(notes))


def _look(role: str, endpoint: str, master: str, http: probes.Http) -> tuple[str, str]:
    host, _, port = endpoint.rpartition(":")
    if role == Role.ZOOKEEPER.value:
        probes.ZooKeeperProbe(host, int(port)).check()
        mode = probes.zookeeper_mode(host, int(port)) or "?"
        return f"mode {mode}", mode
    if role == Role.MASTER.value:
        ready = probes.MasterProbe(endpoint, http).check()
        return ready.detail, probes.master_role(http, endpoint)
    if role == Role.SLAVE.value:
        return probes.AgentProbe(endpoint, master, http).check().detail, ""
    if role == Role.MARATHON.value:
        ready = probes.MarathonProbe(endpoint, master, http).check()
        leader = probes.marathon_leader(endpoint, http=http)
        return ready.detail, "leader" if leader == endpoint else "follower"
    return "", ""


def _role_order(role: str) -> int:
    order = [r.value for r in Role]
    return order.index(role) if role in order else len(order)


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
            tuple(sorted((c.role for c in containers), key=_role_order)),
            sum(1 for c in containers if c.running),
            look.ready,
        ))
    return summaries
