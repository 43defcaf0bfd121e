"""Preflight checks, shared by `up` (which stops at the first blocking failure) and `doctor`
(which shows them all). Each returns a Check saying what it found and how to fix it."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from mesostack import hostinfo
from mesostack.plan import LABEL_HASH, LABEL_ROLE, LABEL_STACK, Plan, Role
from mesostack.runtime import (
    SCHEMA1_FIX,
    ContainerInfo,
    Engine,
    EngineFacts,
    Engines,
    is_schema1_refusal,
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


def cgroups(facts: EngineFacts, plan: Plan) -> Check:
    agent_needs_v1 = any(s.privileged for s in plan.of(Role.SLAVE))
    if facts.cgroup_version == "1":
        return Check("cgroups", Verdict.OK, "cgroup v1 (released Mesos agents need it)")
    verdict = Verdict.FAIL if agent_needs_v1 else Verdict.WARN
    return Check("cgroups", verdict, f"cgroup v{facts.cgroup_version} only",
                 "released Mesos agents need a cgroup v1 `cpu` hierarchy: boot the host with "
                 "systemd.unified_cgroup_hierarchy=0, or run command tasks only with the "
                 "agent of examples/ci/stack.yaml (privileged off, posix launcher)")


def host_ip(plan: Plan) -> Check:
    if hostinfo.is_local_address(plan.host_ip):
        return Check("host_ip", Verdict.OK, f"{plan.host_ip} is an address of this host")
    return Check("host_ip", Verdict.FAIL, f"host_ip {plan.host_ip} is not an address of this host",
                 "set `host_ip` in stack.yaml to one of this host's addresses, or `auto`")


def is_local(endpoint: str | None) -> bool:
    """Whether containers on `endpoint` share this machine's network (host networking)."""
    return endpoint is None or endpoint.startswith("unix://")


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
            continue  # another machine's ports: `up` finds out when the container starts
        mine = existing.get(spec.name)
        if mine is not None and mine.status in ("running", "restarting"):
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


def privileged(
    plan: Plan,
    engine: Engine,
    existing: Mapping[str, ContainerInfo],
    *,
    needs_test: bool,
    endpoint: str | None = None,
) -> list[Check]:
    """Privileged containers allowed on the engine at `endpoint`, tried with the image itself
    (when it is on the engine); once per image."""
    rows = []
    tried: set[str] = set()
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


def images(plan: Plan, engine: Engine) -> list[Check]:
    rows = []
    for ref in dict.fromkeys(s.image for s in plan.specs):
        if engine.image_id(ref) is not None:
            rows.append(Check("image", Verdict.OK, f"{ref} is on the engine"))
            continue
        problem = engine.registry_problem(ref)
        if problem is None:
            rows.append(Check("image", Verdict.OK, f"{ref} can be pulled"))
        elif is_schema1_refusal(problem):
            rows.append(Check("image", Verdict.FAIL, schema1_problem(ref), SCHEMA1_FIX))
        else:
            rows.append(Check("image", Verdict.FAIL, f"{ref}: {problem}",
                              "check the name and tag, and `docker login` for private registries"))
    return rows


def neighbours(plan: Plan, engine: Engine, containers: Iterable[ContainerInfo]) -> list[Check]:
    """Containers an agent would fight with: foreign `mesos-*` ones, other stacks' agents."""
    rows = []
    foreign = [c.name for c in containers if c.name.startswith("mesos-") and c.running]
    if foreign:
        rows.append(Check("mesos-* containers", Verdict.WARN,
                          f"{len(foreign)} running: {', '.join(sorted(foreign)[:3])}"
                          + ("…" if len(foreign) > 3 else ""),
                          "Mesos agents remove running `mesos-*` containers they did not start "
                          "(docker_kill_orphans): they may be other stacks' tasks"))
    agents = [c for c in containers
              if c.labels.get(LABEL_ROLE) == Role.SLAVE.value
              and c.labels.get(LABEL_STACK) != plan.stack and c.running]
    if agents:
        rows.append(Check("other stacks' agents", Verdict.WARN,
                          ", ".join(sorted(c.name for c in agents)),
                          "their agents remove this stack's task containers on restart; set "
                          "`slave.env.MESOS_DOCKER_KILL_ORPHANS: false` in both stacks"))
    if not rows:
        rows.append(Check("neighbours", Verdict.OK, "no foreign mesos-* containers or agents"))
    return rows


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
    """Every check, for every engine the stack uses."""
    ours = {c.name: c for c in engines.containers(stack=plan.stack)}
    rows = [*host_ips(plan), *ports(plan, ours)]
    for endpoint in plan.docker_endpoints:
        engine = engines[endpoint]
        facts = engine.facts()
        part = only(plan, endpoint)
        rows += [
            *engine_facts(facts),
            cgroups(facts, part),
            *privileged(plan, engine, ours, needs_test=False, endpoint=endpoint),
            *images(part, engine),
            *neighbours(plan, engine, engine.all_containers()),
            disk(facts, local=engine.endpoint.startswith("unix://")),
        ]
    return rows


def only(plan: Plan, endpoint: str | None) -> Plan:
    """The part of `plan` that runs on the engine at `endpoint`."""
    return Plan(plan.stack, plan.host_ip, tuple(s for s in plan.specs if s.docker == endpoint),
                plan.quorum)
