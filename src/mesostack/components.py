"""Each component role described once: what it depends on and mounts, how its readiness is
probed, what `status` looks at and `bundle` collects, and how it is named. How each image takes
its settings is its family's (`families`).

plan, orchestrator, status, bundle and logs read this table; none of them branches on a role.
A new role is an addition here (and its families there). Readiness and state functions import the
probes (and so `requests`) only when called, so that planning stays free of network libraries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from mesostack.config import AgentTasks, Volume
from mesostack.credentials import SERVER_VAR as STACK_VAR  # Marathon's own credentials
from mesostack.roles import Role

if TYPE_CHECKING:
    from mesostack.agent_log import Cause
    from mesostack.plan import ContainerSpec, Plan
    from mesostack.probes import LeaderState, Probe

from mesostack.families import DOCKER_SOCKET, MASTER_WORK, ZK_DATA, Where

CGROUPS = "/sys/fs/cgroup"


# --- ZooKeeper ---------------------------------------------------------------------------------


def _zookeeper_mounts(where: Where) -> list[Volume]:
    zk = where.config.zookeeper
    return [Volume(zk.data_dir, ZK_DATA)] if zk.data_dir else []


def _zookeeper_probe(spec: ContainerSpec, _master: str, _leader: LeaderState | None) -> Probe:
    from mesostack import probes

    return probes.ZooKeeperProbe(spec.host_ip, spec.port)


def _ensemble_probe(plan: Plan) -> Probe | None:
    from mesostack import probes

    servers = plan.of(Role.ZOOKEEPER)
    if len(servers) < 2:
        return None
    return probes.EnsembleProbe([(s.host_ip, s.port) for s in servers])


def _zookeeper_look(endpoint: str, _master: str, _env: Mapping[str, str]) -> Look:
    from mesostack import probes

    host, _, port = endpoint.rpartition(":")
    probes.ZooKeeperProbe(host, int(port)).check()
    mode = probes.zookeeper_mode(host, int(port)) or "?"
    return Look(f"mode {mode}", mode)


def _ensemble_note(endpoints: Sequence[str]) -> str:
    from mesostack import probes

    if len(endpoints) < 2:
        return ""
    servers = [(host, int(port)) for host, _, port in (e.rpartition(":") for e in endpoints)]
    health, modes = probes.ensemble_health(servers)
    serving = sum(1 for m in modes.values() if m != "not serving")
    return f"zookeeper ensemble {health}: {serving} of {len(servers)} serving"


# --- Mesos master ------------------------------------------------------------------------------


def _master_mounts(where: Where) -> list[Volume]:
    directory = where.config.master.data_dir
    return [Volume(directory, MASTER_WORK)] if directory else []


def _master_probe(spec: ContainerSpec, _master: str, _leader: LeaderState | None) -> Probe:
    from mesostack import probes

    return probes.MasterProbe(spec.endpoint)


def _masters_probe(plan: Plan) -> Probe | None:
    from mesostack import probes

    masters = plan.of(Role.MASTER)
    if len(masters) < 2:
        return None
    return probes.MastersInZooKeeperProbe(plan.endpoints(Role.ZOOKEEPER), "/mesos",
                                          expected=len(masters), quorum=plan.quorum)


def _master_look(endpoint: str, _master: str, _env: Mapping[str, str]) -> Look:
    from mesostack import mesos, probes

    http = probes.Http()
    ready = probes.MasterProbe(endpoint, http).check()
    return Look(ready.detail, mesos.master_role(http, endpoint))


def _master_counts(master: str, _endpoint: str, _env: Mapping[str, str]) -> Counts:
    """The agents and active frameworks the leading master knows."""
    from mesostack import probes

    try:
        state = probes.leading_state(probes.Http(), master)
    except probes.NotYet:
        state = {}
    return Counts(
        agents=sum(1 for a in state.get("slaves", []) if a.get("active", True)),
        frameworks=tuple(f.get("name", "?") for f in state.get("frameworks", [])
                         if f.get("active")),
    )


def _quorum_context(plan: Plan) -> str:
    masters = len(plan.of(Role.MASTER))
    return f"; the masters need a quorum of {plan.quorum} of {masters} up" if masters > 1 else ""


# --- Mesos agent -------------------------------------------------------------------------------


def _agent_mounts(where: Where) -> list[Volume]:
    """For Docker tasks, the host's cgroups and the socket of the engine it runs on as the
    agent's own /var/run/docker.sock (its Docker tasks go to that engine, as siblings); command
    tasks need neither."""
    mounts = ([Volume(CGROUPS, CGROUPS), Volume(where.engine_socket, DOCKER_SOCKET)]
              if where.tasks is AgentTasks.DOCKER else [])
    directory = where.config.slave.data_dir
    if directory:
        # Same path inside and out: the agent hands sandbox paths to the host's engine.
        mounts.append(Volume(directory, directory))
    return mounts


def _agent_probe(spec: ContainerSpec, master: str, leader: LeaderState | None) -> Probe:
    from mesostack import probes

    return probes.AgentProbe(spec.endpoint, master, leader=leader)


def _agent_look(endpoint: str, master: str, _env: Mapping[str, str]) -> Look:
    from mesostack import probes

    return Look(probes.AgentProbe(endpoint, master, probes.Http()).check().detail)


def _agent_exit(log: str, spec: ContainerSpec) -> Cause | None:
    """An agent that exits as its work dir holds an agent of other settings (`agent_log`);
    with a data_dir its checkpoint is there, at the same path inside and out."""
    from mesostack import agent_log

    latest = f"{spec.data_dir.rstrip('/')}/meta/slaves/latest" if spec.data_dir else None
    return agent_log.changed_agent(log, latest=latest, container=spec.name)


# --- Marathon ----------------------------------------------------------------------------------


def _no_mounts(_: Where) -> list[Volume]:
    return []


def _marathon_probe(spec: ContainerSpec, master: str, leader: LeaderState | None) -> Probe:
    from mesostack import probes

    http = probes.Http.with_credentials(dict(spec.env).get(STACK_VAR))
    return probes.MarathonProbe(spec.endpoint, master, http, leader=leader)


def _marathons_probe(plan: Plan) -> Probe | None:
    from mesostack import probes

    marathons = plan.of(Role.MARATHON)
    if len(marathons) < 2:
        return None
    http = probes.Http.with_credentials(dict(marathons[0].env).get(STACK_VAR))
    return probes.MarathonLeaderProbe([s.endpoint for s in marathons], http)


def _marathon_look(endpoint: str, master: str, env: Mapping[str, str]) -> Look:
    from mesostack import probes

    http = probes.Http.with_credentials(env.get(STACK_VAR))
    ready = probes.MarathonProbe(endpoint, master, http).check()
    leader = probes.marathon_leader(endpoint, http=http)
    return Look(ready.detail, "leader" if leader == endpoint else "follower")


def _marathon_counts(_master: str, endpoint: str, env: Mapping[str, str]) -> Counts:
    from mesostack import probes
    from mesostack.marathon import app_count

    http = probes.Http.with_credentials(env.get(STACK_VAR))
    return Counts(apps=app_count(endpoint, session=http.session))


# --- the table ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Look:
    """What `status` shows of one ready component."""

    detail: str
    leadership: str = ""  # leader, follower, standalone; "" where it means nothing


@dataclass(frozen=True)
class Counts:
    """What one component tells `status` about the whole stack (None: it doesn't say)."""

    agents: int | None = None
    frameworks: tuple[str, ...] | None = None
    apps: int | None = None


class Documents(StrEnum):
    """Which protocol a role's state is read with, for diagnostic bundles (in their order)."""

    MESOS = "mesos"  # a state document over HTTP
    MARATHON = "marathon"  # Marathon's REST API
    ZOOKEEPER = "zookeeper"  # four-letter words and the znode tree


@dataclass(frozen=True)
class Kind:
    """Everything mesostack knows about one role."""

    role: Role
    depends_on: tuple[Role, ...]
    mounts: Callable[[Where], list[Volume]]
    probe: Callable[[ContainerSpec, str, LeaderState | None], Probe]  # one container's readiness
    stage_probe: tuple[str, Callable[[Plan], Probe | None]]  # several of it, as a whole
    look: Callable[[str, str, Mapping[str, str]], Look]  # status: (endpoint, master, env)
    documents: Documents
    document_name: str = ""  # what its state document is called (mesos.STATE_PATHS, bundles)
    counts: Callable[[str, str, Mapping[str, str]], Counts] | None = None  # (master, endpoint, env)
    note: Callable[[Sequence[str]], str] | None = None  # on all its endpoints, for status
    failure_context: Callable[[Plan], str] | None = None  # added to a not-ready message
    exit_cause: Callable[[str, ContainerSpec], Cause | None] | None = None  # from its log
    ui_name: str = ""  # what its web UI is called; `up` and `status` show its URL
    runs_tasks: bool = False  # Docker task containers run beside it (found through it)
    launches_tasks: bool = False  # frozen first on `down`, so nothing launches meanwhile


KINDS: dict[Role, Kind] = {
    Role.ZOOKEEPER: Kind(
        role=Role.ZOOKEEPER,
        depends_on=(),
        mounts=_zookeeper_mounts,
        probe=_zookeeper_probe,
        stage_probe=("zookeeper", _ensemble_probe),
        look=_zookeeper_look,
        documents=Documents.ZOOKEEPER,
        note=_ensemble_note,
    ),
    Role.MASTER: Kind(
        role=Role.MASTER,
        depends_on=(Role.ZOOKEEPER,),
        mounts=_master_mounts,
        probe=_master_probe,
        stage_probe=("masters", _masters_probe),
        look=_master_look,
        documents=Documents.MESOS,
        document_name="master",
        counts=_master_counts,
        failure_context=_quorum_context,
        ui_name="Mesos",
    ),
    Role.SLAVE: Kind(
        role=Role.SLAVE,
        depends_on=(Role.MASTER,),
        mounts=_agent_mounts,
        probe=_agent_probe,
        stage_probe=("agents", lambda _: None),
        look=_agent_look,
        documents=Documents.MESOS,
        document_name="agent",
        exit_cause=_agent_exit,
        runs_tasks=True,
    ),
    Role.MARATHON: Kind(
        role=Role.MARATHON,
        depends_on=(Role.MASTER,),
        mounts=_no_mounts,
        probe=_marathon_probe,
        stage_probe=("marathons", _marathons_probe),
        look=_marathon_look,
        documents=Documents.MARATHON,
        counts=_marathon_counts,
        ui_name="Marathon",
        launches_tasks=True,
    ),
}


def kind_of(role: Role | str) -> Kind:
    """The description of `role` (a Role or its label value)."""
    return KINDS[Role(role)]


def labelled(label: str) -> Kind | None:
    """The description for a container's role label; None for a label this version doesn't know."""
    try:
        return KINDS[Role(label)]
    except ValueError:
        return None
