"""PURE: a stack config becomes container specs in start order, and their `docker run` text.

The specs reproduce the tutorial's four `docker run` lines (host networking, restart always, the
same variables, mounts and privileges); only the names differ, since a `mesos-` prefix would make
Mesos agents remove our own containers as orphans.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from mesostack import __version__
from mesostack.config import (
    MASK,
    Component,
    Placement,
    StackConfig,
    Volume,
    is_secret,
    parse_volume,
)

LABEL_PREFIX = "io.mesostack."
LABEL_STACK = LABEL_PREFIX + "stack"
LABEL_ROLE = LABEL_PREFIX + "role"
LABEL_HASH = LABEL_PREFIX + "config-hash"
LABEL_ENDPOINT = LABEL_PREFIX + "endpoint"
LABEL_DATA_DIR = LABEL_PREFIX + "data-dir"
LABEL_VERSION = LABEL_PREFIX + "version"
LABEL_HOST = LABEL_PREFIX + "host"
LABEL_INDEX = LABEL_PREFIX + "index"

ZK_DATA = "/tmp/zookeeper"  # mesoscloud/zookeeper's dataDir
MASTER_WORK = "/var/lib/mesos"
AGENT_WORK = "/tmp/mesos"  # Mesos 0.23's default; 1.x agents and masters require a work dir
HOST_MOUNTS = ("/sys/fs/cgroup", "/var/run/docker.sock")
ZK_FOUR_LETTER_WORDS = "srvr,ruok,stat,mntr,conf,isro"


class Role(StrEnum):
    ZOOKEEPER = "zookeeper"
    MASTER = "master"
    SLAVE = "slave"
    MARATHON = "marathon"


DEPENDS_ON: Mapping[Role, tuple[Role, ...]] = {
    Role.ZOOKEEPER: (),
    Role.MASTER: (Role.ZOOKEEPER,),
    Role.SLAVE: (Role.MASTER,),
    Role.MARATHON: (Role.MASTER,),
}


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
class Plan:
    stack: str
    host_ip: str
    specs: tuple[ContainerSpec, ...]  # in start order
    quorum: int = 1

    def spec(self, role: Role) -> ContainerSpec:
        """The first (often the only) container of `role`."""
        return next(s for s in self.specs if s.role is role)

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


def zk_url(hosts: Iterable[str], port: int, path: str) -> str:
    return "zk://" + ",".join(f"{h}:{port}" for h in hosts) + path


def build(config: StackConfig, host_ip: str) -> Plan:
    """The containers of `config`, in start order. `host_ip` (already resolved from `auto`)
    is the address of a stack without `hosts:`; with hosts, each instance binds its host's."""

    def ip_of(place: Placement) -> str:
        return place.ip if place.host else host_ip

    zk = config.zookeeper
    zk_ips = [ip_of(p) for p in config.placements("zookeeper")]
    official_zk = is_official_zookeeper(zk.image)
    mesos_zk = zk_url(zk_ips, zk.port, "/mesos")
    port_var = {
        Role.ZOOKEEPER: ("ZOO_PORT", 2181),
        Role.MASTER: ("MESOS_PORT", 5050),
        Role.SLAVE: ("MESOS_PORT", 5051),
        Role.MARATHON: ("MARATHON_HTTP_PORT", 8080),
    }

    def env_of(role: Role, ip: str, place: Placement) -> dict[str, str]:
        env: dict[str, str]
        if role is Role.ZOOKEEPER and official_zk:
            env = _official_zookeeper_env(zk_ips, zk.port, place)
            if zk.data_dir:  # its snapshots and transaction log, both in the mounted directory
                env["ZOO_DATA_DIR"] = env["ZOO_DATA_LOG_DIR"] = ZK_DATA
            return env  # its client port is in ZOO_SERVERS (ZOO_PORT is 3.4's)
        if role is Role.ZOOKEEPER:
            env = {"MYID": str(place.index), "SERVERS": ",".join(zk_ips),
                   # the official image (3.5+) would take :8080, Marathon's, for its AdminServer
                   "ZOO_ADMINSERVER_ENABLED": "false"}
            if zk.data_dir:
                env["ZOO_DATA_DIR"] = ZK_DATA
        elif role is Role.MASTER:
            env = {"MESOS_HOSTNAME": ip, "MESOS_IP": ip, "MESOS_QUORUM": str(config.quorum),
                   "MESOS_ZK": mesos_zk, "MESOS_WORK_DIR": MASTER_WORK}
        elif role is Role.SLAVE:
            env = {"MESOS_HOSTNAME": ip, "MESOS_IP": ip, "MESOS_MASTER": mesos_zk,
                   "MESOS_WORK_DIR": config.slave.data_dir or AGENT_WORK}
            if config.slave.resources:
                env["MESOS_RESOURCES"] = config.slave.resources
        else:
            env = {"MARATHON_HOSTNAME": ip, "MARATHON_HTTPS_ADDRESS": ip,
                   "MARATHON_HTTP_ADDRESS": ip, "MARATHON_MASTER": mesos_zk,
                   "MARATHON_ZK": zk_url(zk_ips, zk.port, "/marathon")}
        var, default = port_var[role]
        if config.component(role.value).port != default:
            env[var] = str(config.component(role.value).port)
        return env

    mounts: dict[Role, list[Volume]] = {role: [] for role in Role}
    mounts[Role.SLAVE] = [Volume(path, path) for path in HOST_MOUNTS]
    if zk.data_dir:
        mounts[Role.ZOOKEEPER].append(Volume(zk.data_dir, ZK_DATA))
    if config.master.data_dir:
        mounts[Role.MASTER].append(Volume(config.master.data_dir, MASTER_WORK))
    if config.slave.data_dir:
        # Same path inside and out: the agent hands sandbox paths to the host's engine.
        mounts[Role.SLAVE].append(Volume(config.slave.data_dir, config.slave.data_dir))

    names = {role: [container_name(config.name, role, p) for p in config.placements(role.value)]
             for role in Role}
    specs: list[ContainerSpec] = []
    hashes: dict[str, str] = {}
    for role in Role:
        component = config.component(role.value)
        deps = tuple(name for dep in DEPENDS_ON[role] for name in names[dep])
        for place, name in zip(config.placements(role.value), names[role], strict=True):
            ip = ip_of(place)
            spec = ContainerSpec(
                name=name,
                role=role,
                image=component.image,
                host_ip=ip,
                port=component.port,
                env=tuple({**env_of(role, ip, place), **component.env}.items()),
                mounts=tuple(_merge_mounts(mounts[role], component)),
                privileged=component.privileged,
                restart=component.restart.value,
                depends_on=deps,
                host=place.host,
                docker=place.docker,
                index=place.index if place.of > 1 else 0,
            )
            digest = spec_hash(spec, [hashes[d] for d in deps])
            hashes[name] = digest
            labels = {
                LABEL_STACK: config.name,
                LABEL_ROLE: role.value,
                LABEL_HASH: digest,
                LABEL_ENDPOINT: spec.endpoint,
            }
            if place.host:
                labels[LABEL_HOST] = place.host
            if spec.index:
                labels[LABEL_INDEX] = str(spec.index)
            if component.data_dir:
                labels[LABEL_DATA_DIR] = component.data_dir
            labels[LABEL_VERSION] = __version__
            specs.append(replace(spec, labels=tuple(labels.items())))
    return Plan(stack=config.name, host_ip=host_ip, specs=tuple(specs), quorum=config.quorum)


def is_official_zookeeper(image: str) -> bool:
    """Docker's official `zookeeper` image (any tag or digest, from Docker Hub or a mirror
    keeping its `library/` path), whose entrypoint reads ZOO_MY_ID and ZOO_SERVERS rather than
    mesoscloud's MYID and SERVERS."""
    name = image.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        name = rest  # drop the registry host
    return name in ("zookeeper", "library/zookeeper")


def _official_zookeeper_env(ips: Sequence[str], port: int, place: Placement) -> dict[str, str]:
    """ZOO_SERVERS lists every server as `server.N=IP:2888:3888;CLIENT`; an ensemble's servers
    bind their client port to their own address, so several can share a machine on 127.0.0.x."""
    ensemble = len(ips) > 1
    servers = " ".join(f"server.{n}={ip}:2888:3888;{f'{ip}:' if ensemble else ''}{port}"
                       for n, ip in enumerate(ips, start=1))
    return {
        "ZOO_MY_ID": str(place.index),
        "ZOO_SERVERS": servers,
        # readiness asks `srvr`; `ruok` for people's own checks (3.5+ allow only `srvr`)
        "ZOO_4LW_COMMANDS_WHITELIST": ZK_FOUR_LETTER_WORDS,
        # 3.5+ would take :8080, Marathon's, for its AdminServer
        "ZOO_ADMINSERVER_ENABLED": "false",
    }


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
    under a `# host NAME IP (docker ENDPOINT)` comment (start order within each group)."""
    if not any(spec.host for spec in plan.specs):
        return "".join(docker_run(spec, show_secrets=show_secrets) + "\n" for spec in plan.specs)
    lines: list[str] = []
    for host in dict.fromkeys(spec.host for spec in plan.specs):
        specs = [spec for spec in plan.specs if spec.host == host]
        where = f" (docker {specs[0].docker})" if specs[0].docker else ""
        lines.append(f"# host {host} {specs[0].host_ip}{where}")
        lines += [docker_run(spec, show_secrets=show_secrets) for spec in specs]
    return "".join(line + "\n" for line in lines)
