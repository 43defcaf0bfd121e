"""Preflight checks, shared by `up` (which stops at the first blocking failure) and `doctor`
(which shows them all). Each returns a Check saying what it found and how to fix it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath

from mesostack import hostinfo
from mesostack.families import Family, Known, family_for, identify
from mesostack.families import names as family_names
from mesostack.plan import (
    LABEL_DATA_DIR,
    LABEL_HASH,
    LABEL_ROLE,
    LABEL_STACK,
    ContainerSpec,
    Plan,
    Role,
    tasks_of,
)
from mesostack.runtime import (
    SCHEMA1_FIX,
    SCHEMA1_SETTING,
    ContainerInfo,
    EngineAPI,
    EngineFacts,
    Engines,
    ImageConfig,
    api_version,
    is_schema1_refusal,
    schema1_fix,
    schema1_problem,
)

MIN_FREE_BYTES = 500 * 1024**2
LOW_FREE_BYTES = 2 * 1024**3


class Verdict(StrEnum):
    OK = "ok"
    INFO = "info"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Check:
    name: str
    verdict: Verdict
    found: str
    fix: str = ""

    @property
    def blocking(self) -> bool:
        return self.verdict is Verdict.FAIL


def engine_facts(facts: EngineFacts) -> list[Check]:
    rows = [Check("engine", Verdict.OK,
                  f"Docker {facts.server_version} (API {facts.api_version}) at {facts.endpoint}")]
    rootless = any("rootless" in option for option in facts.security_options)
    desktop = "docker desktop" in facts.os.lower()
    if rootless or desktop:
        kind = "a rootless engine" if rootless else "Docker Desktop"
        rows.append(Check("engine kind", Verdict.WARN, kind,
                          "host networking does not reach this host there: use a rootful "
                          "engine on Linux"))
    else:
        rows.append(Check("engine kind", Verdict.OK, f"{facts.os}, rootful"))
    return rows


ImageEnv = Callable[[ContainerSpec], Mapping[str, str]]


def cgroups(facts: EngineFacts, plan: Plan, image_env: ImageEnv) -> list[Check]:
    """Each agent judged by what it will really run with (its image's ENV, then the stack's
    settings) against the host's cgroup version: released agents' Docker containerizer needs a
    v1 `cpu` hierarchy, their Linux launcher (the default for root with freezer listed in
    /proc/cgroups) a v1 freezer, their cgroups/* isolators v1 controllers."""
    if facts.cgroup_version == "1":
        return [Check("cgroups", Verdict.OK, "cgroup v1 (released Mesos agents need it for "
                      "Docker tasks)")]
    found = [problem for spec in plan.of(Role.SLAVE)
             for problem in _agent_on_v2(spec, image_env(spec), facts.cgroup_version)]
    return found or [Check("cgroups", Verdict.OK, f"cgroup v{facts.cgroup_version} only: the "
                           "agents run command tasks (mesos containerizer, posix launcher)")]


def _runs_docker(env: Mapping[str, str]) -> bool:
    """Whether the agent's containerizers (Mesos' default: `mesos`) include Docker's."""
    return "docker" in env.get("MESOS_CONTAINERIZERS", "mesos").split(",")


def _agent_on_v2(spec: ContainerSpec, image_env: Mapping[str, str], version: str) -> list[Check]:
    env = {**image_env, **dict(spec.env)}

    def said(name: str, default: str) -> str:
        value = env.get(name, default)
        origin = (" (its image's ENV)" if name in image_env and name not in dict(spec.env)
                  else " (Mesos' default)" if name not in env else "")
        return f"{name}={value}{origin}"

    host = f"this engine's host has cgroup v{version} only"
    rows = []
    if _runs_docker(env):
        rows.append(Check("cgroups", Verdict.FAIL, f"{spec.name}: "
                          f"{said('MESOS_CONTAINERIZERS', 'mesos')}: the Docker containerizer "
                          f"needs a cgroup v1 `cpu` hierarchy and {host}",
                          f"set {COMMAND_TASKS} (or `slave.env.MESOS_CONTAINERIZERS: mesos`; "
                          "command tasks only), or boot the host with "
                          "systemd.unified_cgroup_hierarchy=0"))
    if env.get("MESOS_LAUNCHER", "") != "posix":
        rows.append(Check("cgroups", Verdict.FAIL, f"{spec.name}: "
                          f"{said('MESOS_LAUNCHER', 'linux')}: the Linux launcher mounts a "
                          f"cgroup v1 freezer and {host}",
                          f"set {COMMAND_TASKS} (or `slave.env.MESOS_LAUNCHER: posix`)"))
    if "cgroups/" in env.get("MESOS_ISOLATION", ""):
        rows.append(Check("cgroups", Verdict.FAIL, f"{spec.name}: "
                          f"{said('MESOS_ISOLATION', '')}: cgroups isolators need cgroup v1 "
                          f"controllers and {host}",
                          f"set {COMMAND_TASKS} (or `slave.env.MESOS_ISOLATION: "
                          "posix/cpu,posix/mem`)"))
    return rows


COMMAND_TASKS = "`slave.tasks: command`"


def agent_clients(facts: EngineFacts, plan: Plan, image_env: ImageEnv) -> list[Check]:
    """An agent whose Docker containerizer runs its image's own Docker client: the engine must
    accept that client's API version (Docker 25+ refuse below 1.24, 29 below 1.44)."""
    floor = api_version(facts.min_api_version)
    rows = []
    for spec in plan.of(Role.SLAVE):
        speaks = family_for(spec.role, spec.image, spec.family or None).docker_api
        if floor is None or speaks is None or speaks >= floor or not _runs_docker(
                {**image_env(spec), **dict(spec.env)}):
            continue
        rows.append(Check("docker client", Verdict.FAIL, f"{spec.name}: {spec.image}'s Docker "
                          f"client speaks API {speaks[0]}.{speaks[1]}; the engine at "
                          f"{facts.endpoint} (Docker {facts.server_version}) accepts "
                          f"{facts.min_api_version} and later, so its Docker containerizer "
                          "fails (and a restarted agent, whose recovery runs `docker ps -a`, "
                          "exits)", f"set {COMMAND_TASKS} (or `slave.env.MESOS_CONTAINERIZERS: "
                          "mesos`; command tasks only), or use an agent image with a current "
                          "Docker client"))
    return rows


def agents(facts: EngineFacts, plan: Plan, image_env: ImageEnv) -> list[Check]:
    """Every agent against its host: its cgroup version, its engine's client API, and what its
    engine's image inspect gives its Docker containerizer."""
    return [*cgroups(facts, plan, image_env), *agent_clients(facts, plan, image_env),
            *container_config(facts, plan, image_env)]


# Image inspect carries ContainerConfig for clients below API 1.45 only (moby v26.1.0
# api/server/router/image/image_routes.go, getImagesByName: `if versions.GreaterThanOrEqualTo(
# version, "1.45") { imageInspect.ContainerConfig = nil }`; docker-v29.0.0 daemon/server/router/
# image/image_routes.go keeps it for `versions.LessThan(version, "1.45")`). The containerd image
# store has none of its own: 26 and 27 send an empty one (zero-valued, no entrypoint), 28.0 and
# later none (v28.0.0 daemon/containerd/image_inspect.go does not set it).
CONTAINER_CONFIG_UNTIL = (1, 45)
CONTAINERD_WITHOUT_IT = (28, 0)
NEWEST_CLIENT = (9, 99)


def container_config(facts: EngineFacts, plan: Plan, image_env: ImageEnv) -> list[Check]:
    """Stock Mesos' Docker containerizer reads an image's entrypoint from image inspect's
    ContainerConfig (apache/mesos 1.7.1 src/docker/docker.cpp, `Docker::Image::create`) and
    fails the task without it: a warning for each such agent whose engine leaves it out."""
    rows = []
    for spec in plan.of(Role.SLAVE):
        family = family_for(spec.role, spec.image, spec.family or None)
        if not family.reads_container_config or not _runs_docker(
                {**image_env(spec), **dict(spec.env)}):
            continue
        gone = _without_container_config(facts, family)
        if gone is None:
            continue
        why, fix = gone
        rows.append(Check("ContainerConfig", Verdict.WARN, f"{spec.name}: {spec.image}'s Docker "
                          "containerizer reads an image's entrypoint from image inspect's "
                          f"ContainerConfig, which Docker {facts.server_version} at "
                          f"{facts.endpoint} {why}: its DOCKER apps fail (\"Unable to find "
                          "'ContainerConfig.Entrypoint'\")", fix))
    return rows


def _without_container_config(facts: EngineFacts, family: Family) -> tuple[str, str] | None:
    """Why the engine's image inspect gives `family`'s client no ContainerConfig, and the fix;
    None when it does (or when it refuses that client outright: `agent_clients` says so)."""
    speaks, floor = family.docker_api or NEWEST_CLIENT, api_version(facts.min_api_version)
    if floor is not None and speaks < floor:
        return None
    commands = "deploy command apps only (`cmd`, no `container.type: DOCKER`)"
    release = _release(facts.server_version)
    if facts.containerd_store and release is not None and release >= CONTAINERD_WITHOUT_IT:
        return ("leaves out with its containerd image store", "turn the store off (daemon.json "
                '`"features": {"containerd-snapshotter": false}`), or ' + commands)
    asked = min(speaks, api_version(facts.api_version) or (0, 0))
    if asked >= CONTAINER_CONFIG_UNTIL:
        return (f"leaves out for API {asked[0]}.{asked[1]} clients",
                "give the agent a Docker client below API 1.45, or " + commands)
    return None


def _release(version: str) -> tuple[int, int] | None:
    """An engine's release, (major, minor): `26.1.0`, `20.10.24+dfsg1`, `29.0.0-rc.1`."""
    major, _, rest = version.partition(".")
    minor = rest.split(".")[0].split("-")[0].split("+")[0]
    return (int(major), int(minor)) if major.isdigit() and minor.isdigit() else None


def family_env(spec: ContainerSpec) -> Mapping[str, str]:
    """What the image's family is known to set in its ENV (for an image not pulled yet)."""
    return family_for(spec.role, spec.image, spec.family or None).image_env


ImageLookup = Callable[[str], ImageConfig | None]


def inspector(engine: EngineAPI) -> ImageLookup:
    """The images' own configs as `engine` has them (None: not there); each image inspected
    once, however many checks ask."""
    seen: dict[str, ImageConfig | None] = {}

    def of(ref: str) -> ImageConfig | None:
        if ref not in seen:
            seen[ref] = engine.image_config(ref)
        return seen[ref]

    return of


def engine_env(engine: EngineAPI, lookup: ImageLookup | None = None) -> ImageEnv:
    """The image's own ENV as `engine` has it, else what its family is known to set."""
    found = lookup or inspector(engine)

    def of(spec: ContainerSpec) -> Mapping[str, str]:
        config = found(spec.image)
        return config.env if config is not None else family_env(spec)

    return of


# --- what the host can run: architecture, manifest schema ------------------------------------

GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "armv6l": "arm",
          "i686": "386", "i386": "386"}  # `docker info`'s (uname's) names, as images say them
SCHEMA1_PULLS_OFF = (26, 0)  # moby v26.1.0 distribution/manifest.go: only with SCHEMA1_SETTING
SCHEMA1_PULLS_GONE = (28, 2)  # moby v28.2.0: removed


def host_images(facts: EngineFacts, plan: Plan, lookup: ImageLookup) -> list[Check]:
    """Each image of `plan` (the part on this engine) against its host: its CPU architecture
    (the image's own where the engine has it, else its family's) and, for one the engine has
    not pulled yet, whether this engine pulls its schema-1 manifest."""
    rows = []
    for spec in _each_image(plan):
        config = lookup(spec.image)
        family = family_for(spec.role, spec.image, spec.family or None)
        rows += _architecture(facts, spec.image, family, config)
        if config is None and family.schema1(spec.image):
            rows += _schema1(facts, spec.image)
    return rows


def _each_image(plan: Plan) -> list[ContainerSpec]:
    """The first container of each image, in the plan's order."""
    first: dict[str, ContainerSpec] = {}
    for spec in plan.specs:
        first.setdefault(spec.image, spec)
    return list(first.values())


def _architecture(facts: EngineFacts, image: str, family: Family,
                  config: ImageConfig | None) -> list[Check]:
    host = GOARCH.get(facts.architecture, facts.architecture)
    own = config is not None and bool(config.architecture)
    built = (config.architecture,) if config is not None and own else family.architectures
    if not host or not built or host in built:
        return []
    how = "built" if own else "published"
    return [Check("architecture", Verdict.FAIL,
                  f"image {image} is {how} for {', '.join(built)} only and the engine at "
                  f"{facts.endpoint} runs on {facts.architecture} ({host})",
                  f"run the stack on an {built[0]} host, or use an image built for {host} "
                  "(with `family:` saying what it is)")]


def _schema1(facts: EngineFacts, image: str) -> list[Check]:
    release = _release(facts.server_version)
    if release is None or release < SCHEMA1_PULLS_OFF:
        return []
    docker = f"Docker {facts.server_version} at {facts.endpoint}"
    if release >= SCHEMA1_PULLS_GONE:
        return [Check("schema 1", Verdict.FAIL, f"image {image} has a schema-1 manifest, which "
                      f"{docker} can't pull (support removed in 28.2)", SCHEMA1_FIX)]
    return [Check("schema 1", Verdict.WARN, f"image {image} has a schema-1 manifest, which "
                  f"{docker} pulls only when its daemon runs with {SCHEMA1_SETTING}=1",
                  f"set it in dockerd's environment, or {SCHEMA1_FIX}")]


def on_hosts(plan: Plan, engines: Engines,
             facts: Callable[[str | None], EngineFacts]) -> list[Check]:
    """`host_images` on every engine of the stack (what `up` refuses before pulling)."""
    return [check for endpoint in plan.docker_endpoints
            for check in host_images(facts(endpoint), only(plan, endpoint),
                                     inspector(engines[endpoint]))]


def recognised(plan: Plan, lookup: Callable[[ContainerSpec], ImageConfig | None]) -> Plan:
    """`plan` with each component whose name and `family:` key say nothing given the family its
    image's own config tells (when the engine has the image)."""
    from mesostack.families import recognise

    found: dict[Role, str] = {}
    for role in Role:
        specs = plan.of(role)
        if not specs or family_for(role, specs[0].image, specs[0].family or None).known:
            continue
        config = lookup(specs[0])
        family = recognise(role, config) if config is not None else None
        if family is not None:
            found[role] = family.name
    return plan.with_families(found)


def families(plan: Plan, lookup: Callable[[ContainerSpec], ImageConfig | None]) -> list[Check]:
    """Each component's family and how it was known (`identify`), with what mesostack knows of
    it; its image's own config asked only when neither a `family:` key nor the name says."""
    rows = []
    for role in Role:
        specs = plan.of(role)
        if not specs:
            continue
        spec = specs[0]
        by_name = family_for(role, spec.image)
        chosen = spec.family if spec.family and spec.family != by_name.name else None
        config = lookup(spec) if chosen is None and not by_name.known else None
        family, how = identify(role, spec.image, chosen=chosen, config=config)
        fix = ""
        if how is Known.CONFIG:
            fix = (f"`up` treats it so once the image is on the engine; `{role.value}.family: "
                   f"{family.name}` says it for `config` and --dry-run too")
        elif how is Known.NOT:
            others = ", ".join(n for n in family_names(role) if n != family.name)
            fix = f"if it is one of {others}, say so with `{role.value}.family:`"
        rows.append(Check("family", Verdict.OK if family.known else Verdict.INFO,
                          f"{role.value}: {spec.image}: {family.name} ({how}): {family.summary}",
                          fix))
    return rows


def host_ip(plan: Plan) -> Check:
    if hostinfo.is_local_address(plan.host_ip):
        return Check("host_ip", Verdict.OK, f"{plan.host_ip} is an address of this host")
    return Check("host_ip", Verdict.FAIL, f"host_ip {plan.host_ip} is not an address of this host",
                 "set `host_ip` in stack.yaml to one of this host's addresses, or `auto`")


def is_local(endpoint: str | None) -> bool:
    """Whether containers on `endpoint` share this machine's network (host networking): the
    usual engine's do; a host's own `docker:` endpoint (even a unix socket, which may be
    forwarded) is checked on that host, through its engine (`on_their_hosts`)."""
    return endpoint is None


def host_ips(plan: Plan) -> list[Check]:
    """Every address the containers on this machine's engine bind is this machine's."""
    rows = []
    seen: set[str] = set()
    for spec in plan.specs:
        if not is_local(spec.docker) or spec.host_ip in seen:
            continue
        seen.add(spec.host_ip)
        if not spec.host:
            rows.append(host_ip(plan))
        elif hostinfo.is_local_address(spec.host_ip):
            rows.append(Check("host ip", Verdict.OK,
                              f"{spec.host_ip} (host {spec.host}) is an address of this host"))
        else:
            rows.append(Check("host ip", Verdict.FAIL,
                              f"{spec.host_ip} (host {spec.host}) is not an address of this host",
                              f"fix hosts' ip for {spec.host}, or give it a `docker:` endpoint "
                              "of the machine that has it"))
    return rows


def ports(plan: Plan, existing: Mapping[str, ContainerInfo]) -> list[Check]:
    rows = []
    for spec in plan.specs:
        if not is_local(spec.docker):
            continue  # another machine's ports: checked there (`on_their_hosts`)
        if _held(existing.get(spec.name)):
            rows.append(Check(f"port {spec.port}", Verdict.OK,
                              f"held by {spec.name}, this stack's"))
        elif hostinfo.port_in_use(spec.host_ip, spec.port):
            holder = hostinfo.port_holder(spec.port)
            by = f" by {holder}" if holder else ""
            rows.append(Check(f"port {spec.port}", Verdict.FAIL,
                              f"port {spec.endpoint} for {spec.name} is already in use{by}",
                              f"stop what holds it, or set `{spec.role.value}.port` in stack.yaml"))
        else:
            rows.append(Check(f"port {spec.port}", Verdict.OK, f"{spec.endpoint} is free"))
    return rows


def _held(mine: ContainerInfo | None) -> bool:
    """Whether this stack's own container holds its address and port (it runs, or restarts)."""
    return mine is not None and mine.status in ("running", "restarting")


def helper_image(plan: Plan, endpoint: str | None, has: Callable[[str], bool]) -> str | None:
    """An image the stack runs on `endpoint` that its engine has (for a helper container)."""
    return next((s.image for s in plan.specs if s.docker == endpoint and has(s.image)), None)


def their_nets(plan: Plan, engines: Engines, existing: Mapping[str, ContainerInfo]
               ) -> dict[str | None, hostinfo.HostNet | None]:
    """The network of each host reached through its own engine, read side by side by a
    short-lived helper container of an image the stack runs there (removed at once). A host
    whose containers all run already is not asked: what they bind is theirs."""
    from mesostack import waiting

    endpoints = [e for e in plan.docker_endpoints if not is_local(e)
                 and not all(_held(existing.get(s.name)) for s in only(plan, e).specs)]

    def read(endpoint: str | None) -> hostinfo.HostNet | None:
        engine = engines[endpoint]
        image = helper_image(plan, endpoint, lambda ref: engine.image_id(ref) is not None)
        if image is None:
            return None
        labels = {LABEL_STACK: plan.stack, LABEL_ROLE: "preflight"}
        return hostinfo.parse_host_net(engine.host_network(image, labels=labels))

    return dict(zip(endpoints, waiting.run_all(read, endpoints), strict=True))


def on_their_hosts(plan: Plan, nets: Mapping[str | None, hostinfo.HostNet | None],
                   existing: Mapping[str, ContainerInfo]) -> list[Check]:
    """The addresses and ports of each host reached through its own engine, as that host's
    network showed them to a helper container (`nets`; None: not read, its image not there)."""
    rows: list[Check] = []
    for endpoint, net in nets.items():
        part = only(plan, endpoint)
        if not part.specs:
            continue
        host = part.specs[0].host or endpoint
        if net is None:
            rows.append(Check("host", Verdict.INFO, f"host {host}: addresses and ports not "
                              "checked yet (none of its images is on its engine)",
                              "`up` checks them once it has pulled"))
            continue
        rows += [_their_ip(spec.host_ip, host, net)
                 for spec in {s.host_ip: s for s in part.specs}.values()]
        rows += [_their_port(spec, host, net, existing.get(spec.name)) for spec in part.specs]
    return rows


def _their_ip(ip: str, host: str | None, net: hostinfo.HostNet) -> Check:
    if net.holds(ip):
        return Check("host ip", Verdict.OK, f"{ip} is an address of host {host}")
    return Check("host ip", Verdict.FAIL, f"{ip} is not an address of host {host} (asked "
                 "through its engine)", f"fix hosts' ip for {host}, or its `docker:` endpoint")


def _their_port(spec: ContainerSpec, host: str | None, net: hostinfo.HostNet,
                mine: ContainerInfo | None) -> Check:
    if _held(mine):
        return Check(f"port {spec.port}", Verdict.OK, f"held by {spec.name}, this stack's")
    if net.in_use(spec.host_ip, spec.port):
        return Check(f"port {spec.port}", Verdict.FAIL,
                     f"port {spec.endpoint} for {spec.name} is already in use on host {host}",
                     f"stop what holds it on {host}, or set `{spec.role.value}.port` in "
                     "stack.yaml")
    return Check(f"port {spec.port}", Verdict.OK, f"{spec.endpoint} is free on host {host}")


def privileged(
    plan: Plan,
    engine: EngineAPI,
    existing: Mapping[str, ContainerInfo],
    *,
    needs_test: bool,
    endpoint: str | None = None,
    tried: set[str] | None = None,
) -> list[Check]:
    """Privileged containers allowed on the engine at `endpoint`, tried with the image itself
    (when it is on the engine); once per image (`tried`: images already shown to run so)."""
    rows = []
    tried = set(tried or ())
    for spec in plan.specs:
        if not spec.privileged or spec.docker != endpoint or spec.image in tried:
            continue
        tried.add(spec.image)
        current = existing.get(spec.name)
        if current is not None and current.labels.get(LABEL_HASH) == spec.config_hash:
            rows.append(Check("privileged", Verdict.OK, f"{spec.name} already runs privileged"))
            continue
        if not needs_test and engine.image_id(spec.image) is None:
            rows.append(Check("privileged", Verdict.INFO,
                              f"not tried: {spec.image} is not on the engine yet",
                              "`mesostack up` tries it after pulling"))
            continue
        refusal = engine.try_privileged(
            spec.image, labels={LABEL_STACK: plan.stack, LABEL_ROLE: "preflight"})
        if refusal is None:
            rows.append(Check("privileged", Verdict.OK, "the engine runs privileged containers"))
        else:
            rows.append(Check("privileged", Verdict.FAIL,
                              f"{spec.name}: the engine refuses privileged containers: {refusal}",
                              f"set `{spec.role.value}.privileged: false` in stack.yaml, or use "
                              "an engine that allows them (released Mesos agents need it)"))
    return rows


def images(plan: Plan, engine: EngineAPI, *, facts: EngineFacts | None = None) -> list[Check]:
    """Each image on the engine, or what its registry answers (nothing is pulled); not asked
    for a schema-1 image that `facts`' engine can't pull at all (`host_images` says so)."""
    rows = []
    release = _release(facts.server_version) if facts else None
    for spec in _each_image(plan):
        ref = spec.image
        if engine.image_id(ref) is not None:
            rows.append(Check("image", Verdict.OK, f"{ref} is on the engine"))
            continue
        if release is not None and release >= SCHEMA1_PULLS_GONE and family_for(
                spec.role, ref, spec.family or None).schema1(ref):
            continue
        problem = engine.registry_problem(ref)
        if problem is None:
            rows.append(Check("image", Verdict.OK, f"{ref} can be pulled"))
        elif is_schema1_refusal(problem):
            rows.append(Check("image", Verdict.FAIL, schema1_problem(ref, problem),
                              schema1_fix(problem)))
        else:
            rows.append(Check("image", Verdict.FAIL, f"{ref}: {problem}",
                              "check the name and tag, and `docker login` for private registries"))
    return rows


KILL_ORPHANS = "MESOS_DOCKER_KILL_ORPHANS"
KILL_ORPHANS_OFF = f'`slave.env.{KILL_ORPHANS}: "false"`'


def kills_orphans(env: Mapping[str, str]) -> bool:
    """Whether a Mesos agent with this environment removes, when it starts, the running
    `mesos-*` containers it did not start (`--docker_kill_orphans`, on unless set false)."""
    return env.get(KILL_ORPHANS, "true").strip().lower() not in ("false", "0")


def neighbours(
    plan: Plan, containers: Iterable[ContainerInfo], *, endpoint: str | None = None,
    where: str = "",
) -> list[Check]:
    """Containers an agent would fight with on the engine at `endpoint`: foreign `mesos-*`
    ones (a warning), other stacks' agents (a failure when either side kills orphans)."""
    containers = list(containers)
    rows = []
    foreign = [c.name for c in containers if c.name.startswith("mesos-") and c.running]
    if foreign:
        rows.append(Check("mesos-* containers", Verdict.WARN,
                          f"{len(foreign)} running: {', '.join(sorted(foreign)[:3])}"
                          + ("…" if len(foreign) > 3 else ""),
                          "Mesos agents remove running `mesos-*` containers they did not start "
                          "(docker_kill_orphans): they may be other stacks' tasks"))
    rows += shared_engine(plan, containers, endpoint=endpoint, where=where)
    if not rows:
        rows.append(Check("neighbours", Verdict.OK, "no foreign mesos-* containers or agents"))
    return rows


def shared_engine(
    plan: Plan, containers: Iterable[ContainerInfo], *, endpoint: str | None = None,
    where: str = "",
) -> list[Check]:
    """Whether this stack's agents may share the engine at `endpoint` (`where` names it) with
    the other stacks' agents among `containers` (that engine's). An agent with
    docker_kill_orphans on removes, when it starts, every running `mesos-*` container it did
    not start: the other stack's task containers, or ours when it is theirs that restarts.
    A failure, one per other stack, when this stack runs agents there and either side has it
    on; the engines two stacks do not share never matter."""
    mine = [s for s in plan.of(Role.SLAVE) if s.docker == endpoint]
    theirs: dict[str, list[ContainerInfo]] = {}
    for c in containers:
        if c.role == Role.SLAVE.value and c.stack and c.stack != plan.stack:
            theirs.setdefault(c.stack, []).append(c)
    on = f" at {where}" if where else ""
    rows = []
    killers = [s.name for s in mine if kills_orphans(dict(s.env))]
    if len(mine) > 1 and killers:
        rows.append(Check("agents on one engine", Verdict.WARN,
                          f"{', '.join(s.name for s in mine)} share the Docker engine{on} with "
                          "docker_kill_orphans on",
                          "an agent that restarts removes the others' task containers: set "
                          f"{KILL_ORPHANS_OFF}"))
    for stack, agents in sorted(theirs.items()):
        names = ", ".join(sorted(c.name for c in agents))
        their_agents = f"agents {names} run" if len(agents) > 1 else f"agent {names} runs"
        if not mine:
            rows.append(Check("other stacks' agents", Verdict.OK,
                              f"{names} (stack {stack}); this stack runs no agent{on}"))
            continue
        theirs_kill = any(kills_orphans(c.env) for c in agents)
        if not killers and not theirs_kill:
            rows.append(Check("other stacks' agents", Verdict.OK,
                              f"{names} (stack {stack}); docker_kill_orphans off on both sides"))
            continue
        side = ("both stacks" if killers and theirs_kill
                else f"stack {plan.stack}" if killers else f"stack {stack}")
        again = f", then `mesostack up` stack {stack} again" if theirs_kill else ""
        rows.append(Check(
            "other stacks' agents", Verdict.FAIL,
            f"stack {stack}'s {their_agents} on the Docker engine{on}, where this stack's "
            f"{', '.join(s.name for s in mine)} would run, and docker_kill_orphans is on in "
            f"{side}: a starting agent removes the other stack's task containers",
            f"set {KILL_ORPHANS_OFF} in both stacks' files{again}, or run this stack's agents "
            "on another engine"))
    return rows


def shared_engines(plan: Plan, engines: Engines) -> list[Check]:
    """`shared_engine` on every engine that runs this stack's agents (what `up` refuses)."""
    return [check for endpoint in dict.fromkeys(s.docker for s in plan.of(Role.SLAVE))
            for check in shared_engine(plan, engines[endpoint].containers(), endpoint=endpoint,
                                       where=engines[endpoint].endpoint)]


def shared_data_dirs(
    stack: str, directories: Iterable[str], containers: Iterable[ContainerInfo]
) -> list[Check]:
    """A failure for each of `directories` (what `down --purge` of `stack` would delete) that
    is, holds or lies inside another stack's data_dir (from its containers' labels)."""
    rows = []
    theirs = [(c, c.labels[LABEL_DATA_DIR]) for c in containers
              if c.stack and c.stack != stack and c.labels.get(LABEL_DATA_DIR)]
    for directory in sorted(set(directories)):
        for c, other in theirs:
            if _overlap(directory, other):
                rows.append(Check("data_dir", Verdict.FAIL,
                                  f"data_dir {directory}: stack {c.stack}'s container {c.name} "
                                  f"keeps its state in {other}; `down --purge` would delete it",
                                  "give each stack data_dirs of its own, or run `mesostack "
                                  "down` without --purge"))
                break
    return rows


def _overlap(one: str, other: str) -> bool:
    a, b = PurePosixPath(os.path.normpath(one)), PurePosixPath(os.path.normpath(other))
    return a == b or a in b.parents or b in a.parents


def disk(facts: EngineFacts, *, local: bool) -> Check:
    if not local or not facts.root_dir:
        return Check("disk", Verdict.INFO, "not checked: the engine is not on this host")
    try:
        free = shutil.disk_usage(facts.root_dir).free
    except OSError:
        return Check("disk", Verdict.INFO, f"not checked: {facts.root_dir} is not readable here")
    text = f"{free / 1024**3:.1f} GB free under {facts.root_dir}"
    if free < MIN_FREE_BYTES:
        return Check("disk", Verdict.FAIL, text, "free some space (`docker system prune`)")
    if free < LOW_FREE_BYTES:
        return Check("disk", Verdict.WARN, text, "images of the stack take about 1-2 GB")
    return Check("disk", Verdict.OK, text)


def doctor(plan: Plan, engines: Engines) -> list[Check]:
    """Every check, for every engine the stack uses; an auto agent judged as what it becomes
    on its host (with --privileged tried where its image is there)."""
    from mesostack import agent_tasks

    ours = {c.name: c for c in engines.containers(stack=plan.stack)}
    facts_of = {e: engines[e].facts() for e in plan.docker_endpoints}
    lookups = {endpoint: inspector(engines[endpoint]) for endpoint in plan.docker_endpoints}
    rows = [*families(plan, lambda spec: lookups[spec.docker](spec.image))]
    plan = recognised(plan, lambda spec: lookups[spec.docker](spec.image))
    trials = PrivilegedTrials(engines, ours)
    plan = agent_tasks.resolve(plan, facts_of.__getitem__, trials)
    rows += [*refused(plan), *_tasks_rows(plan), *host_ips(plan), *ports(plan, ours),
             *on_their_hosts(plan, their_nets(plan, engines, ours), ours)]
    for endpoint in plan.docker_endpoints:
        engine = engines[endpoint]
        facts = facts_of[endpoint]
        part = only(plan, endpoint)
        rows += [
            *engine_facts(facts),
            *host_images(facts, part, lookups[endpoint]),
            *agents(facts, part, engine_env(engine, lookups[endpoint])),
            *privileged(plan, engine, ours, needs_test=False, endpoint=endpoint,
                        tried=trials.ran.get(endpoint)),
            *images(part, engine, facts=facts),
            *neighbours(plan, engine.all_containers(), endpoint=endpoint,
                        where=engine.endpoint),
            disk(facts, local=engine.endpoint.startswith("unix://")),
        ]
    return rows


class PrivilegedTrials:
    """Whether an agent's engine runs it privileged: its container already does (made from
    this very spec), or a trial container of its image starts; None while the image isn't on
    the engine. Each image is tried once; `ran` keeps those that ran, by engine endpoint."""

    def __init__(self, engines: Engines, existing: Mapping[str, ContainerInfo]) -> None:
        self.engines, self.existing = engines, existing
        self.ran: dict[str | None, set[str]] = {}
        self.refused: set[tuple[str | None, str]] = set()

    def __call__(self, spec: ContainerSpec) -> bool | None:
        current = self.existing.get(spec.name)
        if current is not None and current.labels.get(LABEL_HASH) == spec.config_hash:
            return True
        if spec.image in self.ran.get(spec.docker, set()):
            return True
        if (spec.docker, spec.image) in self.refused:
            return False
        engine = self.engines[spec.docker]
        if engine.image_id(spec.image) is None:
            return None
        labels = {LABEL_STACK: dict(spec.labels)[LABEL_STACK], LABEL_ROLE: "preflight"}
        if engine.try_privileged(spec.image, labels=labels) is not None:
            self.refused.add((spec.docker, spec.image))
            return False
        self.ran.setdefault(spec.docker, set()).add(spec.image)
        return True


def refused(plan: Plan) -> list[Check]:
    """What the stack's images can't honour, as the families know them now (a family told by
    an image's own config is judged too)."""
    from mesostack.families import refusals

    return [Check("family", Verdict.FAIL, f"{'.'.join(r.path)}: {r.why}",
                  "change that setting, or the image") for r in refusals(plan)]


def _tasks_rows(plan: Plan) -> list[Check]:
    """What each agent's tasks are, and why when `auto` chose them."""
    return [Check("agent tasks", Verdict.OK if spec.tasks == "docker" else Verdict.INFO,
                  f"{spec.name}: {tasks_of(dict(spec.labels))}",
                  "" if spec.tasks == "docker" else "Docker apps need `tasks: docker` on a "
                  "cgroup v1 host whose engine allows --privileged")
            for spec in plan.of(Role.SLAVE)]


def only(plan: Plan, endpoint: str | None) -> Plan:
    """The part of `plan` that runs on the engine at `endpoint`."""
    return Plan(plan.stack, plan.host_ip, tuple(s for s in plan.specs if s.docker == endpoint),
                plan.quorum)
