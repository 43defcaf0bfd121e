"""PURE: a stack config becomes container specs in start order, and their `docker run` text.

The specs reproduce the tutorial's four `docker run` lines (host networking, restart always, the
same variables, mounts and privileges); only the names differ, since a `mesos-` prefix would make
Mesos agents remove our own containers as orphans.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from mesostack import __version__
from mesostack.components import KINDS
from mesostack.config import (
    MASK,
    AgentTasks,
    Component,
    Placement,
    StackConfig,
    Volume,
    is_secret,
    parse_volume,
)
from mesostack.families import DOCKER_SOCKET, Where, family_for, is_official_zookeeper
from mesostack.roles import Role

LABEL_PREFIX = "io.mesostack."
LABEL_STACK = LABEL_PREFIX + "stack"
LABEL_ROLE = LABEL_PREFIX + "role"
LABEL_HASH = LABEL_PREFIX + "config-hash"
LABEL_ENDPOINT = LABEL_PREFIX + "endpoint"
LABEL_DATA_DIR = LABEL_PREFIX + "data-dir"
LABEL_VERSION = LABEL_PREFIX + "version"
LABEL_HOST = LABEL_PREFIX + "host"
LABEL_INDEX = LABEL_PREFIX + "index"
LABEL_TASKS = LABEL_PREFIX + "tasks"  # an agent's: docker or command
LABEL_TASKS_WHY = LABEL_PREFIX + "tasks-auto"  # why `tasks: auto` became that, on its host
# Where the stack came from, for a command run elsewhere to find it (`discovery`); outside the
# config hash, so that these labels never make `up` recreate a container:
LABEL_FILE = LABEL_PREFIX + "file"  # the stack file's absolute path, as `up` read it
LABEL_ENGINES = LABEL_PREFIX + "engines"  # `host=endpoint,...`: hosts with an engine of their own

__all__ = ["Role", "is_official_zookeeper"]  # re-exported: the plan's words


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    role: Role
    image: str
    host_ip: str
    port: int
    env: tuple[tuple[str, str], ...]
    mounts: tuple[Volume, ...] = ()
    privileged: bool = False
    restart: str = "always"
    depends_on: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = field(default=())
    host: str = ""  # the host's name from `hosts:`; "" for a stack on host_ip
    docker: str | None = None  # that host's Docker endpoint; None: the usual one
    index: int = 0  # 1-based among several of its role; 0 when it is the only one
    family: str = ""  # its image's family (`families`); not part of its config hash
    tasks: str = ""  # an agent's `tasks`, resolved: docker or command
    tasks_why: str = ""  # why, when `tasks: auto` chose it from its host's facts

    @property
    def tasks_unresolved(self) -> bool:
        """An agent with `tasks: auto` whose host's facts were not asked (dry-run, config)."""
        return self.role is Role.SLAVE and dict(self.labels).get(LABEL_TASKS) == "auto"

    @property
    def endpoint(self) -> str:
        return f"{self.host_ip}:{self.port}"

    @property
    def config_hash(self) -> str:
        return dict(self.labels)[LABEL_HASH]

    @property
    def data_dir(self) -> str | None:
        return dict(self.labels).get(LABEL_DATA_DIR)


@dataclass(frozen=True)
class Origin:
    """What a plan built to be acted on records in its labels of where it came from
    (LABEL_FILE, LABEL_ENGINES). A plan built without one carries the labels earlier releases
    wrote (what tests/unit/test_plan_pins.py pins)."""

    file: str = ""  # the stack file's absolute path; "" when there is none (built-in default)


@dataclass(frozen=True)
class Plan:
    stack: str
    host_ip: str
    specs: tuple[ContainerSpec, ...]  # in start order
    quorum: int = 1
    config: StackConfig | None = field(default=None, compare=False, repr=False)
    docker_host: str | None = None
    origin: Origin | None = field(default=None, compare=False)

    def resolved(self, tasks: TasksChoice) -> Plan:
        """The same stack with each agent's `tasks: auto` chosen per engine endpoint."""
        if self.config is None:
            raise ValueError("a part of a plan (`checks.only`) can't be built again")
        return build(self.config, self.host_ip, docker_host=self.docker_host, tasks=tasks,
                     origin=self.origin)

    def with_families(self, found: Mapping[Role, str]) -> Plan:
        """The same stack with the families its images' own configs told (`families.recognise`),
        as if the file's `family:` keys said them."""
        if not found:
            return self
        if self.config is None:
            raise ValueError("a part of a plan (`checks.only`) can't be built again")
        config = self.config.model_copy(update={role.value: self.config.component(
            role).model_copy(update={"family": name}) for role, name in found.items()})
        return build(config, self.host_ip, docker_host=self.docker_host, origin=self.origin)

    def spec(self, role: Role) -> ContainerSpec:
        """The first (often the only) container of `role`."""
        return next(s for s in self.specs if s.role is role)

    def by_name(self, name: str) -> ContainerSpec:
        return next(s for s in self.specs if s.name == name)

    def of(self, role: Role) -> list[ContainerSpec]:
        return [s for s in self.specs if s.role is role]

    def endpoints(self, role: Role) -> str:
        """Every `ip:port` of `role`, comma-separated (what probes try in turn)."""
        return ",".join(s.endpoint for s in self.of(role))

    @property
    def docker_endpoints(self) -> list[str | None]:
        """The distinct Docker endpoints the stack uses (None: the usual one)."""
        return list(dict.fromkeys(s.docker for s in self.specs))

    def stages(self) -> list[list[ContainerSpec]]:
        """Specs grouped so each stage needs only earlier ones: zk, master, agent ∥ Marathon."""
        done: set[str] = set()
        stages: list[list[ContainerSpec]] = []
        left = list(self.specs)
        while left:
            stage = [s for s in left if set(s.depends_on) <= done]
            if not stage:
                raise ValueError("circular dependency between " + ", ".join(s.name for s in left))
            stages.append(stage)
            done |= {s.name for s in stage}
            left = [s for s in left if s.name not in done]
        return stages


def container_name(stack: str, role: Role, place: Placement | None = None) -> str:
    """`<stack>-<role>`, and `-<n>` when the stack runs several of that role."""
    suffix = f"-{place.index}" if place is not None and place.of > 1 else ""
    return f"{stack}-{role.value}{suffix}"


TasksChoice = Mapping[str | None, tuple[AgentTasks, str]]  # by engine endpoint: what, why


def build(config: StackConfig, host_ip: str, *, docker_host: str | None = None,
          tasks: TasksChoice | None = None, origin: Origin | None = None) -> Plan:
    """The containers of `config`, in start order. `host_ip` (already resolved from `auto`)
    is the address of a stack without `hosts:`; with hosts, each instance binds its host's.
    `docker_host` is the usual engine's endpoint ($DOCKER_HOST), whose socket the agents on it
    mount. `tasks` is what an agent's `tasks: auto` became on each engine (from its facts);
    without it, an auto agent is planned as the tutorial's (`docker`) and marked unresolved.
    `origin` adds the labels that say where the stack came from (never to the config hash)."""
    zk_ips = tuple(_ip_of(p, host_ip) for p in config.placements(Role.ZOOKEEPER))
    names = {role: [container_name(config.name, role, p) for p in config.placements(role)]
             for role in Role}
    specs: list[ContainerSpec] = []
    hashes: dict[str, str] = {}
    for role in Role:
        deps = tuple(name for dep in KINDS[role].depends_on for name in names[dep])
        for place, name in zip(config.placements(role), names[role], strict=True):
            chosen, why = _tasks_of(config, place, tasks)
            where = Where(config, _ip_of(place, host_ip), place, zk_ips,
                          engine_socket=_socket_of(place, docker_host), tasks=chosen)
            spec = _spec(config, role, where, name=name, depends_on=deps)
            if role is Role.SLAVE:
                spec = replace(spec, tasks=chosen.value, tasks_why=why)
            hashes[name] = spec_hash(spec, [hashes[d] for d in deps])
            labels = _labels(config, spec, hashes[name]) + _origin_labels(config, origin)
            specs.append(replace(spec, labels=labels))
    return Plan(stack=config.name, host_ip=host_ip, specs=tuple(specs), quorum=config.quorum,
                config=config, docker_host=docker_host, origin=origin)


def _tasks_of(config: StackConfig, place: Placement, tasks: TasksChoice | None
              ) -> tuple[AgentTasks, str]:
    """An agent's tasks: as the file says, else what auto became on its engine ("" as the why
    when that wasn't asked: then the tutorial's, `docker`)."""
    configured = config.slave.tasks
    if configured is not AgentTasks.AUTO:
        return configured, ""
    if tasks is not None and place.docker in tasks:
        return tasks[place.docker]
    return AgentTasks.DOCKER, ""


def _ip_of(place: Placement, host_ip: str) -> str:
    return place.ip if place.host else host_ip


def _socket_of(place: Placement, docker_host: str | None) -> str:
    """The socket, on its own host, of the engine a container is created on: what its host
    entry says; else a unix endpoint's path, else the usual path."""
    endpoint = place.docker or docker_host or ""
    if place.docker_socket:
        return place.docker_socket
    if endpoint.startswith("unix://"):
        return endpoint.removeprefix("unix://")
    return DOCKER_SOCKET


def _spec(config: StackConfig, role: Role, where: Where, *, name: str,
          depends_on: tuple[str, ...]) -> ContainerSpec:
    kind = KINDS[role]
    component = config.component(role)
    return ContainerSpec(
        name=name,
        role=role,
        image=component.image,
        host_ip=where.ip,
        port=component.port,
        env=tuple({**_env(config, role, where), **component.env}.items()),
        mounts=tuple(_merge_mounts(kind.mounts(where), component)),
        privileged=_privileged(component, where),
        restart=component.restart.value,
        depends_on=depends_on,
        host=where.place.host,
        docker=where.place.docker,
        index=where.place.index if where.place.of > 1 else 0,
        family=family_for(role, component.image, component.family).name,
    )


def _privileged(component: Component, where: Where) -> bool:
    """As the file says; an agent by default as its tasks need (Docker tasks: privileged)."""
    if component.privileged is not None:
        return component.privileged
    return where.tasks is AgentTasks.DOCKER


def _env(config: StackConfig, role: Role, where: Where) -> dict[str, str]:
    """What the image's family takes, and its port variable when the port isn't the default."""
    component = config.component(role)
    family = family_for(role, component.image, component.family)
    env = family.env(where)
    default_port = type(component).model_fields["port"].default
    if family.port_variable and component.port != default_port:
        env[family.port_variable] = str(component.port)
    return env


def _labels(config: StackConfig, spec: ContainerSpec, digest: str) -> tuple[tuple[str, str], ...]:
    labels = {LABEL_STACK: config.name, LABEL_ROLE: spec.role.value, LABEL_HASH: digest,
              LABEL_ENDPOINT: spec.endpoint}
    if spec.host:
        labels[LABEL_HOST] = spec.host
    if spec.index:
        labels[LABEL_INDEX] = str(spec.index)
    if spec.role is Role.SLAVE:
        auto = config.slave.tasks is AgentTasks.AUTO
        labels[LABEL_TASKS] = "auto" if auto and not spec.tasks_why else spec.tasks
        if spec.tasks_why:
            labels[LABEL_TASKS_WHY] = spec.tasks_why
    data_dir = config.component(spec.role).data_dir
    if data_dir:
        labels[LABEL_DATA_DIR] = data_dir
    labels[LABEL_VERSION] = __version__
    return tuple(labels.items())


def _origin_labels(config: StackConfig, origin: Origin | None) -> tuple[tuple[str, str], ...]:
    """The stack file and the hosts' own engines (what `discovery` needs that the other labels
    don't say), after the labels earlier releases wrote."""
    if origin is None:
        return ()
    labels = {LABEL_FILE: origin.file} if origin.file else {}
    engines = ",".join(f"{host.name}={host.docker}" for host in config.hosts if host.docker)
    if engines:
        labels[LABEL_ENGINES] = engines
    return tuple(labels.items())


def tasks_of(labels: Mapping[str, str]) -> str:
    """What an agent container's labels say of its tasks: `command tasks (auto: why)`."""
    tasks, why = labels.get(LABEL_TASKS, ""), labels.get(LABEL_TASKS_WHY, "")
    if not tasks:
        return ""
    return f"{tasks} tasks" + (f" (auto: {why})" if why else "")


def _merge_mounts(built_in: list[Volume], component: Component) -> list[Volume]:
    """The user's volumes add to the built-in ones; the same container path replaces one."""
    extra = [parse_volume(v) for v in component.volumes]
    targets = {v.target for v in extra}
    return [v for v in built_in if v.target not in targets] + extra


def spec_hash(spec: ContainerSpec, dependency_hashes: Sequence[str]) -> str:
    """Changes when the container or anything it depends on changes (so dependents follow)."""
    body = {
        "image": spec.image,
        "env": list(spec.env),
        "mounts": [str(m) for m in spec.mounts],
        "privileged": spec.privileged,
        "restart": spec.restart,
        "port": spec.port,
        "deps": list(dependency_hashes),
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


def docker_run(spec: ContainerSpec, *, show_secrets: bool = False) -> str:
    """The `docker run` command equivalent to what `up` creates for `spec`."""
    args = ["docker", "run", "-d", "--name", spec.name]
    for key, value in spec.labels:
        args += ["--label", f"{key}={value}"]
    for key, value in spec.env:
        shown = value if show_secrets or not is_secret(key) else MASK
        args += ["-e", f"{key}={shown}"]
    for mount in spec.mounts:
        args += ["-v", str(mount)]
    args += ["--net", "host"]
    if spec.privileged:
        args.append("--privileged")
    args += ["--restart", spec.restart, spec.image]
    return shlex.join(args)


def dry_run(plan: Plan, *, show_secrets: bool = False) -> str:
    """One `docker run` line per container in start order; with `hosts:`, grouped by host
    under a `# host NAME IP (docker ENDPOINT)` comment (start order within each group). An
    agent whose `tasks: auto` is not chosen yet shows the tutorial's outcome, and after it, as
    a `#` comment, the other one with its condition."""
    other = _other_outcome(plan)

    def lines_of(spec: ContainerSpec) -> list[str]:
        line = docker_run(spec, show_secrets=show_secrets)
        if not spec.tasks_unresolved:
            return [line]
        return [line, f"# {tasks_otherwise(unprivileged=not spec.privileged)}: "
                + docker_run(other.by_name(spec.name), show_secrets=show_secrets)]

    if not any(spec.host for spec in plan.specs):
        return "".join(line + "\n" for spec in plan.specs for line in lines_of(spec))
    lines: list[str] = []
    for host in dict.fromkeys(spec.host for spec in plan.specs):
        specs = [spec for spec in plan.specs if spec.host == host]
        where = f" (docker {specs[0].docker})" if specs[0].docker else ""
        lines.append(f"# host {host} {specs[0].host_ip}{where}")
        lines += [line for spec in specs for line in lines_of(spec)]
    return "".join(line + "\n" for line in lines)


def tasks_otherwise(*, unprivileged: bool) -> str:
    """The condition of `tasks: auto`'s Docker outcome, for --dry-run's comment line (the
    file's `privileged: false` takes --privileged out of it)."""
    privileged = "" if unprivileged else "allows --privileged and "
    return (f"tasks: auto gives the line above on a host with cgroup v1 whose engine "
            f"{privileged}accepts the agent's Docker client; elsewhere")
OTHERWISE_WHY = "no cgroup v1, --privileged or engine for its Docker client"


def _other_outcome(plan: Plan) -> Plan:
    """`plan` with every auto agent given command tasks (what a current host often gets)."""
    endpoints = {spec.docker for spec in plan.of(Role.SLAVE) if spec.tasks_unresolved}
    if not endpoints:
        return plan
    return plan.resolved({e: (AgentTasks.COMMAND, OTHERWISE_WHY) for e in endpoints})
