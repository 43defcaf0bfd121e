"""The Python API: a stack, loaded from a file, a mapping or a preset, and what the `mesostack`
commands do with it: up, down, status, deploy, apps, scale, remove, rollback, task_logs, logs,
bundle, and a context manager that brings the stack up and always takes it down.

The command line is a thin layer on this module: one code path. So that a program or a test
can use it as it is, it never prints (progress, notes and warnings go to `Callbacks`, by default
the "mesostack" logger), imports docker, requests, kazoo and pydantic only in the methods that
need them, and raises the typed errors of `mesostack.errors` (their `str()` is the one line the
command prints, their `exit_code` the command's).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar, Unpack

from mesostack.errors import InputError, MesostackError
from mesostack.events import Event, PullPolicy, Reporter
from mesostack.presets import Preset
from mesostack.roles import Role, order_of, role_named
from mesostack.waiting import SETTLE

if TYPE_CHECKING:
    import logging
    from types import TracebackType

    from mesostack.apps import DeployRequest, Loaded
    from mesostack.checks import Check
    from mesostack.config import LoadedConfig, StackConfig
    from mesostack.marathon import EventWatch, Marathon, Submitted, Trusted
    from mesostack.mesos import Sandbox
    from mesostack.orchestrator import DownResult, HostAway, StackStatus, UpResult
    from mesostack.plan import Plan
    from mesostack.runtime import ContainerInfo, Engines

__all__ = [
    "AppRow", "AppSource", "AppVersions", "Bundled", "Callbacks", "Changed", "Deployed",
    "Stack", "StackOptions", "StackSource", "load",
]

LOGGER = "mesostack"
LOOK_TIMEOUT = 5.0  # seconds: an engine asked only where the stack runs, not to act on it
MAPPING_SOURCE = "the stack mapping"  # how messages name a stack given as a mapping

# An app, a list of apps or a group: a file (JSON or YAML), or the data itself.
AppSource = str | os.PathLike[str] | Mapping[str, Any] | Sequence[Mapping[str, Any]]
# A stack: a file, a mapping in stack.yaml's schema, a preset, or None (the built-in default).
StackSource = str | os.PathLike[str] | Mapping[str, Any] | Preset | None


# --- where progress goes -------------------------------------------------------------------


@functools.cache
def _logger() -> logging.Logger:
    """The "mesostack" logger, with a handler that drops what no handler of the program's
    takes (so that, unconfigured, it prints nothing); logging loads only when first used."""
    import logging

    found = logging.getLogger(LOGGER)
    found.addHandler(logging.NullHandler())
    return found


def _log_event(event: Event) -> None:
    said = f": {event.message}" if event.message else ""
    _logger().debug("%s %s%s", event.component, event.phase.value, said)


@dataclass(frozen=True)
class Callbacks:
    """Where the API's progress goes; each one left None goes to the "mesostack" logger.

    `on_event`: each container's or app's progress (`mesostack.events.Event`); `on_info`: a
    step done, in one line (`web.json: created /web (deployment ...)`); `on_warning`: what the
    command line prints as a warning (the stack file's, an app file's dropped fields, ...).
    `progress`, when given, is opened around each phase that reports events, with its title
    (`mesostack up: NAME`), and gives the reporter for it (the command line's live display);
    it wins over `on_event`. Events and warnings may come from worker threads (a stage's
    containers side by side, Marathon's event stream)."""

    on_event: Reporter | None = None
    on_info: Callable[[str], None] | None = None
    on_warning: Callable[[str], None] | None = None
    progress: Callable[[str], AbstractContextManager[Reporter]] | None = None

    def info(self, text: str) -> None:
        (self.on_info or _logger().info)(text)

    def warn(self, text: str) -> None:
        (self.on_warning or _logger().warning)(text)

    def phase(self, title: str) -> AbstractContextManager[Reporter]:
        if self.progress is not None:
            return self.progress(title)
        return contextlib.nullcontext(self.on_event or _log_event)


class StackOptions(TypedDict, total=False):
    """What every way of loading a stack takes besides the stack itself (see `Stack`)."""

    host_ip: str | None
    marathon_url: str | None
    credentials: str | None
    callbacks: Callbacks | None
    engines: Engines | None


# --- what the methods return ---------------------------------------------------------------


@dataclass(frozen=True)
class Deployed:
    """What `deploy` did: the apps and deployments, and each request with Marathon's answer."""

    app_ids: tuple[str, ...]
    deployment_ids: tuple[str, ...]
    requests: tuple[DeployRequest, ...]  # what was sent (with dry_run: would be sent)
    submitted: tuple[Submitted, ...] = ()  # per request: created or not, ids, Marathon's answer
    url: str = ""  # the Marathon's, without credentials
    followed: bool = False  # returned once every app ran (wait)
    seconds: float = 0.0  # from the first request until the apps ran
    lag: float | None = None  # seconds from Marathon's deployment_success until then


@dataclass(frozen=True)
class Changed:
    """What `scale`, `remove` or `rollback` did to an app."""

    app_id: str  # absolute
    deployment_id: str  # "" when Marathon started none
    followed: bool = False  # returned once done (wait)
    seconds: float = 0.0  # how long following took
    version: str = ""  # rollback: the version the app went back to
    lag: float | None = None  # seconds from Marathon's deployment_success until the return


@dataclass(frozen=True)
class AppRow:
    """One app as `apps` lists it."""

    id: str
    instances: int
    running: int
    staged: int
    healthy: int
    deployments: tuple[str | None, ...]


@dataclass(frozen=True)
class AppVersions:
    """The versions Marathon keeps of an app, newest first, and the one it runs."""

    app_id: str
    versions: tuple[str, ...]
    current: str


@dataclass(frozen=True)
class Bundled:
    """The diagnostic bundle written: where, its manifest, and the one line that sums it up."""

    path: Path
    manifest: dict[str, Any]
    summary: str


@dataclass(frozen=True)
class _Limits:
    """How long to follow a deployment, and to watch Marathon's "done" (the settle window)."""

    timeout: float
    settle: float


# --- loading ---------------------------------------------------------------------------------


def load(stack: StackSource = None, **options: Unpack[StackOptions]) -> Stack:
    """A stack from a file path, a mapping (stack.yaml's schema), a `Preset`, or (None) the
    built-in default; `options` as `Stack` takes them. Validated at once: a bad stack raises
    InputError with the command line's one-line message."""
    if isinstance(stack, Preset):
        return Stack.from_preset(stack, **options)
    if isinstance(stack, Mapping):
        return Stack.from_mapping(stack, **options)
    if stack is None:
        from mesostack.config import LoadedConfig, StackConfig

        return Stack(LoadedConfig(StackConfig(), None), **options)._check()
    return Stack.from_file(stack, **options)


E = TypeVar("E", bound=Enum)


def _member(kind: type[E], value: E | str, what: str) -> E:
    """`value` as one of `kind`'s members; else one line naming the choices (`what` says
    what was asked for, e.g. "no preset 'x'")."""
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(str(m.value) for m in kind)
        raise InputError(f"{what}: choose one of {choices}") from None


class Stack:
    """One stack and what can be done with it, as the `mesostack` commands do.

    `source` is the stack loaded (a `LoadedConfig`), or what loads it when first needed (the
    command line's `-f`). `host_ip` is over the stack's own (as --host-ip: an IPv4 address or
    `auto`); `marathon_url` and `credentials` name another Marathon and its `user:password`
    (as --marathon and --credentials; by default the stack's own Marathon, with its
    credentials); `callbacks` receive progress and warnings; `engines` are used instead of
    connecting to the stack's Docker engines (e.g. a test's fakes).

    `with stack:` brings it up and always takes it down (`running` takes options)."""

    def __init__(self, source: LoadedConfig | Callable[[], LoadedConfig], *,
                 host_ip: str | None = None, marathon_url: str | None = None,
                 credentials: str | None = None, callbacks: Callbacks | None = None,
                 engines: Engines | None = None) -> None:
        self._source = source
        self._host_ip = host_ip
        self.callbacks = callbacks or Callbacks()
        self._marathon = marathon_url
        self._credentials = credentials
        self._engines = engines
        self._loaded: LoadedConfig | None = None
        self._planned: tuple[Plan, str] | None = None
        self._running: list[ContainerInfo] | None = None  # the stack's containers, looked at once
        self._master: str | None = None  # the Mesos master a deploy found, once
        self._held: list[AbstractContextManager[Stack]] = []

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **options: Unpack[StackOptions]) -> Stack:
        """The stack file at `path`, validated as `mesostack -f PATH` does."""
        from mesostack.config import read

        return cls(read(Path(path)), **options)._check()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = MAPPING_SOURCE,
                     **options: Unpack[StackOptions]) -> Stack:
        """A stack given as data in stack.yaml's schema, validated as a file is; messages name
        `source` where a file's name its file and line."""
        from mesostack.config import LoadedConfig, validate

        return cls(LoadedConfig(validate(data, source=source), None, origin=source),
                   **options)._check()

    @classmethod
    def from_preset(cls, name: str | Preset = Preset.DEFAULT,
                    **options: Unpack[StackOptions]) -> Stack:
        """The stack file `mesostack init --preset NAME` writes, with `host_ip: auto`."""
        from mesostack.config import LoadedConfig, parse
        from mesostack.presets import render

        preset = _member(Preset, name, f"no preset {name!r}")
        origin = f"preset {preset.value}"
        text = render(preset, host_ip="auto")
        return cls(LoadedConfig(parse(text, source=origin), None, text, origin=origin),
                   **options)._check()

    def _check(self) -> Stack:
        """This stack, loaded now (its warnings said): for those that load it at once."""
        _ = self.loaded
        return self

    # --- the stack and its plan --------------------------------------------------------------

    @property
    def loaded(self) -> LoadedConfig:
        """The stack as loaded, once; its warnings (e.g. an even number of masters) are said
        then."""
        if self._loaded is None:
            self._loaded = self._source() if callable(self._source) else self._source
            for warning in self._loaded.config.warnings():
                self.callbacks.warn(warning)
        return self._loaded

    @property
    def config(self) -> StackConfig:
        return self.loaded.config

    @property
    def name(self) -> str:
        return self.config.name

    def plan(self, *, strict: bool = False) -> Plan:
        """The containers to run, in stages. A setting its images can't honour fails a
        `strict` plan (one that will be acted on: up, doctor, config) and is only warned of
        otherwise, so that a stack can always be looked at and taken down."""
        if self._planned is None:
            self._planned = self._build()
            if not self.loaded.from_labels:  # no file to fix: what runs is looked at, not changed
                self._judge(self._planned[0], strict=strict)
        elif strict:
            self._judge(self._planned[0], strict=True)
        return self._planned[0]

    @property
    def where(self) -> str:
        """One line saying where the stack and its host_ip (or hosts) came from."""
        self.plan()
        assert self._planned is not None
        return self._planned[1]

    def _build(self) -> tuple[Plan, str]:
        """The plan, its containers' labels saying where the stack came from (the stack
        file's absolute path), and the line saying so."""
        from mesostack.plan import Origin, build

        loaded = self.loaded
        config = loaded.config
        source = "its running containers' labels" if loaded.from_labels else loaded.what()
        host_ip, how = self._address(config)
        where = f"stack {config.name} from {source}; host_ip {host_ip} ({how})"
        if config.hosts:
            where = f"stack {config.name} from {source}; hosts " + ", ".join(
                f"{h.name} {h.ip}" + (f" ({h.docker})" if h.docker else "") for h in config.hosts)
        origin = Origin(file=os.path.abspath(loaded.source) if loaded.source else "")
        return build(config, host_ip, docker_host=os.environ.get("DOCKER_HOST"),
                     origin=origin), where

    def _address(self, config: StackConfig) -> tuple[str, str]:
        """The stack's address (`auto` resolved), and where it came from."""
        from mesostack import hostinfo

        chosen = config.host_ip
        how = "from its labels" if self.loaded.from_labels else "from the stack file"
        if self._host_ip is not None:
            chosen, how = _given_host_ip(self._host_ip, config), "from --host-ip"
        if chosen == "auto":
            return hostinfo.default_route_ip(), "auto: the default route's interface"
        return chosen, how

    def _judge(self, plan: Plan, *, strict: bool) -> None:
        from mesostack.families import refusals

        for refusal in refusals(plan):
            message = f"{self.loaded.where(refusal.path)}: {'.'.join(refusal.path)}: {refusal.why}"
            if strict:
                raise InputError(message)
            self.callbacks.warn(message)

    def engines(self, *, also_default: bool = False, timeout: float = 60,
                partial: bool = False) -> Engines:
        """The engines of the stack's hosts (the usual one for a stack without `hosts:`),
        connected now; with `also_default`, the environment's own engine too; with `partial`,
        those that answer (the others in `.unreachable`). A stack made with `engines` always
        gets those."""
        plan = self.plan()
        if self._engines is not None:
            return self._engines
        from mesostack.runtime import Engines

        endpoints = plan.docker_endpoints
        return Engines.connect([None, *endpoints] if also_default else endpoints,
                               timeout=timeout, partial=partial)

    def _away(self, docker: Engines) -> list[HostAway]:
        """The hosts whose engines did not answer, each with what the plan puts there."""
        from mesostack.orchestrator import HostAway

        plan = self.plan()
        away = []
        for endpoint, failure in docker.unreachable.items():
            specs = tuple(s for s in plan.specs if s.docker == endpoint)
            host = next((s.host for s in specs if s.host), None) or str(endpoint)
            why = failure.message.split(str(endpoint), 1)[-1].lstrip(": ") or failure.message
            away.append(HostAway(host, str(endpoint), why, specs))
        return away

    def endpoints(self, role: Role) -> list[str]:
        """Where the running stack's components of `role` listen, from their containers'
        `io.mesostack.endpoint` labels (what `up` bound them to, whatever the file or host_ip
        says now); the plan's when none runs or no engine answers."""
        from mesostack.plan import LABEL_ENDPOINT, LABEL_INDEX

        plan = self.plan()
        if self._running is None:  # one look, however many endpoints are asked for
            try:
                self._running = self.engines(timeout=LOOK_TIMEOUT).containers(
                    stack=plan.stack, inspect=False)
            except MesostackError:
                self._running = []
        found = sorted((c for c in self._running if c.role == role.value and c.running),
                       key=lambda c: int(c.labels.get(LABEL_INDEX, "0") or 0))
        return ([e for c in found if (e := c.labels.get(LABEL_ENDPOINT, ""))]
                or [spec.endpoint for spec in plan.of(role)])

    # --- up, down, status ------------------------------------------------------------------

    def dry_run(self, *, show_secrets: bool = False) -> str:
        """The `docker run` lines `up` amounts to, in start order; touches nothing."""
        from mesostack.plan import dry_run

        return dry_run(self.plan(strict=True), show_secrets=show_secrets)

    def up(self, *, pull: PullPolicy | str = PullPolicy.MISSING,
           timeout: float = 300.0) -> UpResult:
        """Create and start the stack, each stage once the previous one is ready; an unchanged,
        ready stack is left alone. `pull`: missing, always or never; `timeout`: for the whole
        of it, pulls included. Says `where` first (with what each agent's tasks are)."""
        from mesostack import orchestrator

        plan = self.plan(strict=True)
        where = self.where
        said: list[Plan] = []

        def first_line(resolved: Plan) -> None:  # the agents' `tasks: auto` chosen, then again
            if said:  # when a --privileged trial after the pulls changed it
                self.callbacks.info(tasks_said(resolved).removeprefix("; "))
            else:
                self.callbacks.info(where + tasks_said(resolved))
            said.append(resolved)

        settings = orchestrator.UpSettings(pull=_member(PullPolicy, pull, f"pull {pull!r}"),
                                           timeout=timeout,
                                           on_resolved=first_line)
        try:
            docker = self.engines()
            with self.callbacks.phase(f"mesostack up: {plan.stack}") as report:
                return orchestrator.up(plan, engines=docker, report=report, settings=settings)
        except BaseException:
            if not said:  # failed before that: still say which stack it was
                self.callbacks.info(where)
            raise

    def down(self, *, purge: bool = False, grace: int = 5) -> DownResult:
        """Remove the stack's containers (found by their labels) and its agents' task
        containers. `purge`: delete the data_dirs too; `grace`: seconds a container with a
        data_dir, or a task container, gets after SIGTERM (the others are killed at once)."""
        from mesostack import orchestrator

        config = self.config
        data_dirs = [d for d in (config.component(r).data_dir for r in config.ROLES) if d]
        docker = self.engines(partial=True)
        with self.callbacks.phase(f"mesostack down: {config.name}") as report:
            done = orchestrator.down(config.name, engines=docker, purge=purge,
                                     data_dirs=data_dirs, grace=grace, report=report)
        for agent in done.unreachable_agents:
            self.callbacks.warn(f"agent {agent} was not running or did not answer; its task "
                                "containers (named mesos-*) may remain")
        _still_there(self._away(docker))
        return done

    def status(self) -> StackStatus:
        """Each component's container, readiness and role (`.ready`: all of them ready)."""
        from mesostack import orchestrator

        name = self.name
        docker = self.engines(partial=True)
        return orchestrator.status(name, engines=docker, away=self._away(docker))

    def doctor(self) -> list[Check]:
        """The preflight checks of this host and its engines for the stack, each failure with
        its fix (`.blocking`: one that stops `up`)."""
        from mesostack import checks

        plan = self.plan(strict=True)
        return checks.doctor(plan, self.engines())

    @contextlib.contextmanager
    def running(self, *, pull: PullPolicy | str = PullPolicy.MISSING, timeout: float = 300.0,
                purge: bool = False, grace: int = 5) -> Iterator[Stack]:
        """Up on entering, down on leaving, whatever happens: a failed `up`, an exception or
        a KeyboardInterrupt in the block too. A failure of that `down` is said as a warning
        rather than raised over the first one."""
        try:
            self.up(pull=pull, timeout=timeout)
            yield self
        except BaseException:
            self._down_after_failure(purge=purge, grace=grace)
            raise
        self.down(purge=purge, grace=grace)

    def _down_after_failure(self, *, purge: bool, grace: int) -> None:
        try:
            self.down(purge=purge, grace=grace)
        except MesostackError as exc:
            self.callbacks.warn(f"stack {self.name}: down after the failure failed too: {exc}")

    def __enter__(self) -> Stack:
        held = self.running()
        entered = held.__enter__()
        self._held.append(held)
        return entered

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> bool | None:
        return self._held.pop().__exit__(kind, exc, traceback)

    # --- logs and the bundle ----------------------------------------------------------------

    def logs(self, component: str | None = None, *, follow: bool = False,
             tail: int | str = "all") -> Iterator[str]:
        """The container log of `component` (zookeeper, master, slave or agent, marathon;
        `master-2` for one instance), or of all, each line prefixed with its container's name
        when there are several; every secret the stack's containers were given masked.
        Without `follow`, one piece per container; with it, one line at a time, without end.
        What is wrong (the name, no such container) is raised at the call."""
        from mesostack import masking

        lines = _tail(tail)
        wanted = _wanted(component)
        stack = self.name
        docker = self.engines(partial=True)
        for host in self._away(docker):
            self.callbacks.warn(f"host {host.host} ({host.endpoint}) does not answer: "
                                f"{host.why}; the logs of its {len(host.specs)} containers are "
                                "not here")
        containers = sorted(_chosen(docker.containers(stack=stack), wanted, stack),
                            key=lambda c: (order_of(c.role), c.name))
        if not containers:
            what = f"a {component} container" if component else "containers"
            raise MesostackError(f"stack {stack} has no {what}", hint="run `mesostack up` first")
        # Components print their own flags (Marathon its credentials): mask every secret value
        # the stack's containers were given, wherever a log line shows it.
        secrets = set().union(*(masking.secret_values(c.env)
                                for c in docker.containers(stack=stack)))
        return _container_logs(docker, containers, secrets, follow=follow, tail=lines)

    def bundle(self, output: str | os.PathLike[str] | None = None, *,
               timeout: float = 120.0) -> Bundled:
        """Collect the stack's logs, state and config into one .tar.gz, secrets masked;
        `output`: the file, or a directory for it (default: the usual name, here). Best
        effort: what can't be collected is named in the bundle's README.txt."""
        from datetime import UTC, datetime

        from mesostack import bundle as bundle_

        loaded = self.loaded
        plan = self.plan()
        now = datetime.now(UTC)
        path = bundle_.output_path(None if output is None else os.fspath(output), plan.stack, now)
        target = bundle_.open_new(path)
        try:
            with target:
                made = bundle_.make(target, loaded=loaded, plan=plan, now=now, timeout=timeout,
                                    name=bundle_.top_name(path, plan.stack, now))
        except OSError as exc:  # e.g. the disk filled up
            path.unlink(missing_ok=True)
            raise MesostackError(f"can't write {path}: {exc.strerror or exc}",
                                 hint="free some space or give another --output") from None
        except BaseException:
            path.unlink(missing_ok=True)  # no half-written bundle left behind
            raise
        return Bundled(path, made.manifest, bundle_.summary(made.manifest, path))

    # --- Marathon ------------------------------------------------------------------------------

    @property
    def marathon_url(self) -> str:
        """The Marathon the app methods talk to: `marathon_url`, else the running stack's
        (its label), else the plan's."""
        return self._marathon_url()

    def _marathon_url(self, *, running: bool = True) -> str:
        """`running` False: the plan's, asking no engine (for a dry run)."""
        if self._marathon:
            return self._marathon
        if running:
            return f"http://{self.endpoints(Role.MARATHON)[0]}"
        return f"http://{self.plan().spec(Role.MARATHON).endpoint}"

    def marathon_client(self) -> Marathon:
        """Marathon's client: at `marathon_url`, or the stack's own. The stack's own
        MARATHON_HTTP_CREDENTIALS go to the stack's Marathon only (never to another URL), and
        any credentials follow a redirect only to a trusted place."""
        from mesostack.credentials import Credentials, for_marathon
        from mesostack.marathon import Marathon

        own = None if self._marathon else [self.config.marathon.env]
        chosen = for_marathon(self._credentials, own=own)
        creds = Credentials.parse(chosen) if chosen else None
        url = self._marathon_url()
        return Marathon(url, credentials=creds, trusted=self._trusted())

    def _trusted(self) -> Trusted:
        """Where a redirect of Marathon's (a standby's event stream, sent to its leader) may
        take the credentials: any port of the `marathon_url` host, else the stack's own
        Marathons."""
        from mesostack.marathon import Trusted

        if self._marathon:
            return Trusted.host_of(self._marathon)
        return Trusted(endpoints=frozenset(self.endpoints(Role.MARATHON)))

    def _master_endpoint(self, marathon: Marathon) -> str:
        """The Mesos master Marathon uses (its /v2/info says, from 1.x), else the stack's."""
        from urllib.parse import urlsplit

        from mesostack.marathon import MarathonError

        try:
            info = marathon.info().get("marathon_config", {})
            ui = str(info.get("mesos_leader_ui_url") or "")
        except MarathonError:
            ui = ""
        parts = urlsplit(ui)
        if parts.hostname and parts.port:
            return f"{parts.hostname}:{parts.port}"
        return self.endpoints(Role.MASTER)[0]

    def deploy(self, *apps: AppSource, wait: bool = True, timeout: float = 300.0,
               settle: float = SETTLE, force: bool = False, dry_run: bool = False) -> Deployed:
        """Create or update the apps and groups (files, JSON or YAML, or the data itself) and,
        with `wait`, return once every app runs (and is healthy), after watching the new tasks
        `settle` seconds (one that ends fails it), as `mesostack deploy` does. `force`
        overrides a deployment that holds an app; `dry_run` only validates (no network)."""
        from mesostack import apps as apps_
        from mesostack.credentials import public_url

        requests = self._requests(apps)
        if dry_run:
            return Deployed((), (), requests, url=public_url(self._marathon_url(running=False)))
        api = self.marathon_client()
        if apps_.docker_apps(requests):
            self._docker_apps(api, requests, own=not self._marathon)
        started = time.monotonic()
        with self._watching(api, wait=wait) as watch:
            submitted = tuple(self._submit(api, request, force=force) for request in requests)
            app_ids = tuple(dict.fromkeys(a for s in submitted for a in s.app_ids))
            deployment_ids = tuple(d for s in submitted for d in s.deployment_ids)
            if not wait:
                return Deployed(app_ids, deployment_ids, requests, submitted, api.url)
            announced = self._follow(api, _together(submitted), limits=_Limits(timeout, settle),
                                     watch=watch, title=f"mesostack deploy: {len(app_ids)} app(s)")
        returned = time.monotonic()
        return Deployed(app_ids, deployment_ids, requests, submitted, api.url, True,
                        returned - started, returned - announced if announced else None)

    def _watching(self, api: Marathon, *, wait: bool
                  ) -> AbstractContextManager[EventWatch | None]:
        """Marathon's event stream, started before submitting so that a fast deployment is
        not missed; none when not following."""
        from mesostack.marathon import EventWatch

        if not wait:
            return contextlib.nullcontext()
        return EventWatch(api, say=self.callbacks.warn)

    def _requests(self, apps: Sequence[AppSource]) -> tuple[DeployRequest, ...]:
        """Every app loaded and checked, then their warnings said (as `deploy` does)."""
        if not apps:
            raise InputError("deploy: no app given; give a file or an app's definition")
        loaded = [_load_app(app) for app in apps]
        for result in loaded:
            for warning in result.warnings:
                self.callbacks.warn(warning)
        return tuple(r for result in loaded for r in result.requests)

    def _submit(self, api: Marathon, request: DeployRequest, *, force: bool) -> Submitted:
        done = api.submit(request, force=force)
        verb = "created" if done.created else "updated"
        ids = ", ".join(done.deployment_ids) or "none"
        self.callbacks.info(f"{request.source}: {verb} {', '.join(done.app_ids)} "
                            f"(deployment {ids})")
        return done

    def _docker_apps(self, api: Marathon, requests: Sequence[DeployRequest], *,
                     own: bool) -> None:
        """A DOCKER app is refused at once where no agent runs the Docker containerizer; on
        the stack's `own` Marathon, whose agents' engines are known, a warning when they can't
        run it."""
        from mesostack import apps, mesos

        self._master = self._master_endpoint(api)  # following asks it too
        apps.refuse_docker_apps(requests, mesos.agent_containerizers(self._master))
        if own:
            self._warn_docker_apps(apps.docker_apps(requests)[0])

    def _warn_docker_apps(self, app: tuple[str, str]) -> None:
        """One line when the stack's agents can't run a DOCKER app's image on their engine
        (image inspect gives their Docker containerizer no ContainerConfig); nothing when an
        engine can't be asked: deploying does not need one."""
        from mesostack import checks

        plan = self.plan()
        endpoints = list(dict.fromkeys(s.docker for s in plan.of(Role.SLAVE)))
        try:
            docker = self.engines(timeout=10)
            found = [row for endpoint in endpoints for row in checks.container_config(
                docker[endpoint].facts(), checks.only(plan, endpoint),
                checks.engine_env(docker[endpoint]))]
        except MesostackError:
            return
        if found:
            source, app_id = app
            self.callbacks.warn(f"{source}: app {app_id} has a DOCKER container: "
                                f"{found[0].found}")

    def _follow(self, api: Marathon, submitted: Submitted, *, limits: _Limits, title: str,
                watch: EventWatch | None = None) -> float | None:
        """Follow `submitted`, its progress reported; when Marathon announced success. The
        Mesos master is the one `_master_endpoint` finds (once, by a deploy)."""
        from mesostack import mesos
        from mesostack.events import Phase
        from mesostack.marathon import AppProgress, Hooks, follow

        master = self._master or self._master_endpoint(api)
        started = time.monotonic()
        with self.callbacks.phase(title) as report:

            def progress(states: list[AppProgress]) -> None:
                for state in states:
                    phase = Phase.READY if state.done else Phase.WAITING
                    report(Event(state.app_id, phase, str(state).split(": ", 1)[1],
                                 time.monotonic() - started))

            hooks = Hooks(progress=progress, offers=lambda: mesos.agents_free(master),
                          completed=lambda: mesos.completed_tasks(master),
                          settle=limits.settle)
            followed = follow(api, submitted, timeout=limits.timeout, hooks=hooks, watch=watch)
        return followed.success_event_at

    def apps(self) -> list[AppRow]:
        """Marathon's apps: instances, tasks running, staged and healthy, deployments."""
        return [AppRow(
            id=app.get("id", "?"),
            instances=int(app.get("instances", 0)),
            running=int(app.get("tasksRunning", 0)),
            staged=int(app.get("tasksStaged", 0)),
            healthy=int(app.get("tasksHealthy", 0)),
            deployments=tuple(d.get("id") for d in app.get("deployments") or []),
        ) for app in self.marathon_client().apps()]

    def scale(self, app_id: str, instances: int, *, wait: bool = True, timeout: float = 300.0,
              settle: float = SETTLE, force: bool = False) -> Changed:
        """Run `instances` tasks of the app; with `wait`, return once they run (as deploy)."""
        from mesostack.marathon import Submitted

        if instances < 0:
            raise InputError(f"scale {app_id}: {instances} instances; give 0 or more")
        api = self.marathon_client()
        started = time.time()
        deployment = api.scale(app_id, instances, force=force)
        self.callbacks.info(f"scaling {app_id} to {instances} (deployment {deployment or 'none'})")
        app = "/" + app_id.strip("/")
        if not wait:
            return Changed(app, deployment)
        began = time.monotonic()
        self._follow(api, Submitted((deployment,) if deployment else (), (app,), False, started),
                     limits=_Limits(timeout, settle), title=f"mesostack scale: {app}")
        return Changed(app, deployment, True, time.monotonic() - began)

    def remove(self, app_id: str, *, wait: bool = True, timeout: float = 300.0,
               force: bool = False) -> Changed:
        """Remove the app; with `wait`, return once its tasks are gone and Marathon no longer
        knows it."""
        from mesostack.marathon import wait_removed

        api = self.marathon_client()
        deployment = api.remove(app_id, force=force)
        self.callbacks.info(f"removing {app_id} (deployment {deployment or 'none'})")
        app = "/" + app_id.strip("/")
        if not wait:
            return Changed(app, deployment)
        started = time.monotonic()
        wait_removed(api, app_id, deployment, timeout=timeout)
        return Changed(app, deployment, True, time.monotonic() - started)

    def versions(self, app_id: str) -> AppVersions:
        """The versions Marathon keeps of the app (newest first) and the one it runs."""
        return self._versions(self.marathon_client(), "/" + app_id.strip("/"))

    def _versions(self, api: Marathon, app: str) -> AppVersions:
        from mesostack.marathon import MarathonError

        shown = api.app(app)
        versions = api.app_versions(app) if shown is not None else None
        if shown is None or versions is None:
            raise MarathonError(f"Marathon at {api.url} has no app {app}",
                                hint="see `mesostack apps`")
        return AppVersions(app, tuple(versions), str(shown.get("version", "")))

    def rollback(self, app_id: str, version: str | None = None, *, wait: bool = True,
                 timeout: float = 300.0, settle: float = SETTLE, force: bool = False) -> Changed:
        """Put the app back as it was in `version` (by default the one before the current)
        and, with `wait`, follow the deployment as deploy does."""
        from mesostack.marathon import Submitted, rollback_target

        app = "/" + app_id.strip("/")
        api = self.marathon_client()
        kept = self._versions(api, app)
        target = rollback_target(app, kept.versions, kept.current, version)
        started = time.monotonic()
        with self._watching(api, wait=wait) as watch:
            submitted_at = time.time()
            deployment = api.rollback(app, target, force=force)
            self.callbacks.info(f"rolling back {app} to version {target} (deployment "
                                f"{deployment or 'none'})")
            if not wait:
                return Changed(app, deployment, version=target)
            announced = self._follow(
                api, Submitted((deployment,) if deployment else (), (app,), False, submitted_at),
                limits=_Limits(timeout, settle), watch=watch, title=f"mesostack rollback: {app}")
        returned = time.monotonic()
        return Changed(app, deployment, True, returned - started, target,
                       returned - announced if announced else None)

    def task_logs(self, app_id: str, *, stream: str = "stdout",
                  follow: bool = False) -> Iterator[str]:
        """The output of the app's tasks (`stream`: stdout or stderr), read from their
        sandboxes on the agents: pieces of whole lines, prefixed with the task's id when there
        are several tasks. With `follow`, new output as it comes, without end (stop iterating
        to stop). The tasks are found, or the error raised, at the call."""
        from mesostack.task_output import read_output

        if stream not in ("stdout", "stderr"):
            raise InputError(f"task_logs: stream {stream!r}: choose stdout or stderr")
        api = self.marathon_client()
        tasks = api.tasks(app_id)
        if not tasks:
            raise MesostackError(f"app {app_id} has no tasks yet", hint="see `mesostack apps`")
        master = self._master_endpoint(api)
        sandboxes = [(str(task.get("id")), _sandbox(master, task)) for task in tasks]
        return read_output(sandboxes, stream, follow=follow)


# --- helpers -------------------------------------------------------------------------------


def tasks_said(plan: Plan) -> str:
    """What each agent's tasks are, and why when `auto` chose them: `; agent mesostack-slave:
    command tasks (auto: ...)`."""
    from mesostack.plan import tasks_of

    parts = [f"{spec.name}: {tasks_of(dict(spec.labels))}" for spec in plan.of(Role.SLAVE)]
    return "; agent " + ", ".join(parts) if parts else ""


def _given_host_ip(value: str, config: StackConfig) -> str:
    """--host-ip (or $MESOSTACK_HOST_IP, or `host_ip=`), checked as the file's `host_ip` is."""
    import ipaddress

    if config.hosts:
        raise InputError(f"--host-ip {value}: the stack lists `hosts:`, whose own ips are used",
                         hint="drop --host-ip (and $MESOSTACK_HOST_IP), or change hosts[].ip")
    if value != "auto":
        try:
            ipaddress.IPv4Address(value)
        except ValueError:
            raise InputError(f"--host-ip {value!r}: not an IPv4 address or `auto`",
                             hint="e.g. --host-ip 192.168.1.10, or $MESOSTACK_HOST_IP") from None
    return value


def _load_app(app: AppSource) -> Loaded:
    """A file by its path, or the data itself, named by its id in messages."""
    from mesostack import apps

    if isinstance(app, str | os.PathLike):
        return apps.load_file(Path(app))
    return apps.parse_data(app, source=_source_of(app))


def _source_of(data: object) -> str:
    """How messages name an app or group given as data: `app web`, `group /shop`, `apps`."""
    if not isinstance(data, Mapping):
        return "apps"
    kind = "group" if "apps" in data or "groups" in data else "app"
    return f"{kind} {data['id']}" if data.get("id") else kind


def _together(submitted: Sequence[Submitted]) -> Submitted:
    """Several submissions, followed as one."""
    from mesostack.marathon import Submitted

    return Submitted(
        tuple(d for s in submitted for d in s.deployment_ids),
        tuple(dict.fromkeys(a for s in submitted for a in s.app_ids)),
        all(s.created for s in submitted),
        min(s.started for s in submitted),
    )


def _sandbox(master: str, task: Mapping[str, Any]) -> Sandbox:
    from mesostack import mesos

    try:
        return mesos.task_sandbox(master, str(task.get("slaveId", "")), str(task.get("id", "")))
    except mesos.Unanswered as exc:
        raise MesostackError(f"task {task.get('id')}: can't find its sandbox: waiting for "
                             f"{exc.message}", hint="is the agent up? see `mesostack status`"
                             ) from None


def _still_there(away: Sequence[HostAway]) -> None:
    """`down` could not reach every host: what is on those is still there (exit 1)."""
    if away:
        hosts = ", ".join(f"{h.host} ({h.endpoint}: {h.why})" for h in away)
        raise MesostackError(f"down removed what the reachable hosts had; host(s) {hosts} did "
                             "not answer, so their containers may remain",
                             hint="run `mesostack down` again once they are back")


def _tail(tail: int | str) -> int | str:
    """`all`, or a number of lines."""
    text = str(tail)
    if text != "all" and not text.isdigit():
        raise InputError(f"--tail {tail}: expected a number of lines or `all`")
    return int(text) if text.isdigit() else "all"


def _wanted(component: str | None) -> tuple[Role, str] | None:
    """COMPONENT as a role and an instance suffix (`master-2`: master, "-2"); None for all."""
    if component is None:
        return None
    found = re.fullmatch(r"(.*?)(-?\d+)?", component)
    role = role_named(found.group(1)) if found else None
    if found is None or role is None:
        names = ", ".join(name for r in Role for name in (r.value, *r.aliases))
        raise InputError(f"no component {component!r}: choose one of {names}")
    return role, found.group(2) or ""


def _chosen(containers: Iterable[ContainerInfo], wanted: tuple[Role, str] | None,
            stack: str) -> list[ContainerInfo]:
    """All of them, one role's, or one numbered instance's (`master-2`)."""
    if wanted is None:
        return list(containers)
    role, suffix = wanted
    if suffix:
        return [c for c in containers if c.name == f"{stack}-{role.value}{suffix}"]
    return [c for c in containers if c.role == role.value]


def _container_logs(docker: Engines, containers: list[ContainerInfo], secrets: set[str], *,
                    follow: bool, tail: int | str) -> Iterator[str]:
    from mesostack import masking

    prefix = len(containers) > 1
    if not follow:
        for c in containers:
            text = masking.mask_text(docker.engine_of(c).logs(c.name, tail=tail), secrets)
            yield ("".join(f"{c.name} | {line}\n" for line in text.splitlines())
                   if prefix else text)
        return
    for name, line in docker.follow_many(containers, tail=tail):
        line = masking.mask_text(line, secrets)
        yield f"{name} | {line}" if prefix else line
