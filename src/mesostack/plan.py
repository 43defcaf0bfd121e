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
from mesostack.config import MASK, Component, StackConfig, Volume, is_secret, parse_volume

LABEL_PREFIX = "io.mesostack."
LABEL_STACK = LABEL_PREFIX + "stack"
LABEL_ROLE = LABEL_PREFIX + "role"
LABEL_HASH = LABEL_PREFIX + "config-hash"
LABEL_ENDPOINT = LABEL_PREFIX + "endpoint"
LABEL_DATA_DIR = LABEL_PREFIX + "data-dir"
LABEL_VERSION = LABEL_PREFIX + "version"

ZK_DATA = "/tmp/zookeeper"  # mesoscloud/zookeeper's dataDir
MASTER_WORK = "/var/lib/mesos"
AGENT_WORK = "/tmp/mesos"  # Mesos 0.23's default; 1.x agents and masters require a work dir
HOST_MOUNTS = ("/sys/fs/cgroup", "/var/run/docker.sock")


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

    def spec(self, role: Role) -> ContainerSpec:
        return next(s for s in self.specs if s.role is role)

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


def container_name(stack: str, role: Role) -> str:
    return f"{stack}-{role.value}"


def zk_url(hosts: Iterable[str], port: int, path: str) -> str:
    return "zk://" + ",".join(f"{h}:{port}" for h in hosts) + path


def build(config: StackConfig, host_ip: str) -> Plan:
    """The containers of `config` on `host_ip` (already resolved from `auto`), in start order."""
    zk = config.zookeeper
    zk_hosts = [host_ip]
    mesos_zk = zk_url(zk_hosts, zk.port, "/mesos")

    env: dict[Role, dict[str, str]] = {
        Role.ZOOKEEPER: {"MYID": "1", "SERVERS": ",".join(zk_hosts)},
        Role.MASTER: {
            "MESOS_HOSTNAME": host_ip,
            "MESOS_IP": host_ip,
            "MESOS_QUORUM": str(config.master.quorum),
            "MESOS_ZK": mesos_zk,
        },
        Role.SLAVE: {"MESOS_HOSTNAME": host_ip, "MESOS_IP": host_ip, "MESOS_MASTER": mesos_zk},
        Role.MARATHON: {
            "MARATHON_HOSTNAME": host_ip,
            "MARATHON_HTTPS_ADDRESS": host_ip,
            "MARATHON_HTTP_ADDRESS": host_ip,
            "MARATHON_MASTER": mesos_zk,
            "MARATHON_ZK": zk_url(zk_hosts, zk.port, "/marathon"),
        },
    }
    # The official zookeeper image (3.5+) would take :8080, Marathon's port, for its AdminServer.
    env[Role.ZOOKEEPER]["ZOO_ADMINSERVER_ENABLED"] = "false"
    port_var = {
        Role.ZOOKEEPER: ("ZOO_PORT", 2181),
        Role.MASTER: ("MESOS_PORT", 5050),
        Role.SLAVE: ("MESOS_PORT", 5051),
        Role.MARATHON: ("MARATHON_HTTP_PORT", 8080),
    }
    mounts: dict[Role, list[Volume]] = {role: [] for role in Role}
    mounts[Role.SLAVE] = [Volume(path, path) for path in HOST_MOUNTS]
    for role, (var, default) in port_var.items():
        if config.component(role.value).port != default:
            env[role][var] = str(config.component(role.value).port)
    if config.slave.resources:
        env[Role.SLAVE]["MESOS_RESOURCES"] = config.slave.resources
    if zk.data_dir:
        env[Role.ZOOKEEPER]["ZOO_DATA_DIR"] = ZK_DATA
        mounts[Role.ZOOKEEPER].append(Volume(zk.data_dir, ZK_DATA))
    env[Role.MASTER]["MESOS_WORK_DIR"] = MASTER_WORK
    env[Role.SLAVE]["MESOS_WORK_DIR"] = config.slave.data_dir or AGENT_WORK
    if config.master.data_dir:
        mounts[Role.MASTER].append(Volume(config.master.data_dir, MASTER_WORK))
    if config.slave.data_dir:
        # Same path inside and out: the agent hands sandbox paths to the host's engine.
        mounts[Role.SLAVE].append(Volume(config.slave.data_dir, config.slave.data_dir))

    specs: list[ContainerSpec] = []
    hashes: dict[str, str] = {}
    for role in Role:
        component = config.component(role.value)
        name = container_name(config.name, role)
        deps = tuple(container_name(config.name, d) for d in DEPENDS_ON[role])
        spec = ContainerSpec(
            name=name,
            role=role,
            image=component.image,
            host_ip=host_ip,
            port=component.port,
            env=tuple({**env[role], **component.env}.items()),
            mounts=tuple(_merge_mounts(mounts[role], component)),
            privileged=component.privileged,
            restart=component.restart.value,
            depends_on=deps,
        )
        digest = spec_hash(spec, [hashes[d] for d in deps])
        hashes[name] = digest
        labels = {
            LABEL_STACK: config.name,
            LABEL_ROLE: role.value,
            LABEL_HASH: digest,
            LABEL_ENDPOINT: spec.endpoint,
        }
        if component.data_dir:
            labels[LABEL_DATA_DIR] = component.data_dir
        labels[LABEL_VERSION] = __version__
        specs.append(replace(spec, labels=tuple(labels.items())))
    return Plan(stack=config.name, host_ip=host_ip, specs=tuple(specs))


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
    return "".join(docker_run(spec, show_secrets=show_secrets) + "\n" for spec in plan.specs)
