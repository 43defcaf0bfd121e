"""PURE: image families, each described once: which images belong to it, how they take their
settings (the variables their entrypoints read, and those they ignore), what their own image
config sets (ENV, USER), and what they cannot do (a refusal names the field, the image and why).

A family is recognised by the image's name; a component's `family:` key in the stack file
overrides that (a mirrored or home-built image says what it is); an image whose name says
nothing may still be recognised by its own config (`recognise`) once the engine has it. An image
of no known family is treated by its role's conventions, and `doctor` says so. A new family is an
addition to FAMILIES; nothing else branches on it.

What a family needs from a host is data too: the CPU architectures its images are published
for, which of its tags have a schema-1 manifest, the Docker API its bundled client speaks, and
whether its agent's Docker containerizer reads image inspect's ContainerConfig.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from mesostack import imageref
from mesostack.config import AgentTasks, Placement, StackConfig
from mesostack.roles import Role

if TYPE_CHECKING:
    from mesostack.plan import ContainerSpec, Plan
    from mesostack.runtime import ImageConfig

ZK_DATA = "/tmp/zookeeper"  # mesoscloud/zookeeper's dataDir
MASTER_WORK = "/var/lib/mesos"
AGENT_WORK = "/tmp/mesos"  # Mesos 0.23's default; 1.x agents and masters require a work dir
ZK_FOUR_LETTER_WORDS = "srvr,ruok,stat,mntr,conf,isro"
DOCKER_SOCKET = "/var/run/docker.sock"  # where an engine's socket usually is, and where the
# agent looks for it
CONVENTIONS = "conventions"  # the name of each role's fallback: an image of no known family


@dataclass(frozen=True)
class Where:
    """One instance's place in the stack: what its environment is built from."""

    config: StackConfig
    ip: str
    place: Placement
    zk_ips: tuple[str, ...]
    engine_socket: str = DOCKER_SOCKET  # on its host: the socket of the engine it is created on
    tasks: AgentTasks = AgentTasks.DOCKER  # an agent's, resolved (never AUTO here)

    def zk_url(self, path: str) -> str:
        port = self.config.zookeeper.port
        return "zk://" + ",".join(f"{h}:{port}" for h in self.zk_ips) + path


@dataclass(frozen=True)
class Refusal:
    """A setting an image can't honour: the stack file's field, and why (the image named)."""

    path: tuple[str, ...]  # e.g. ("zookeeper", "port")
    why: str


Refuse = Callable[["Plan", Sequence["ContainerSpec"]], list[Refusal]]


def _nothing_refused(_plan: Plan, _specs: Sequence[ContainerSpec]) -> list[Refusal]:
    return []


def _never(_: object) -> bool:
    return False


@dataclass(frozen=True)
class Family:
    """How the images of one family take their settings, and what they can't do."""

    name: str
    matches: Callable[[str], bool]  # by the image reference
    env: Callable[[Where], dict[str, str]]
    port_variable: str | None  # set when the port is not the default; None: `env` has it
    refuse: Refuse = _nothing_refused  # on the plan's containers of this family
    image_env: Mapping[str, str] = field(default_factory=dict)  # what the image's ENV sets
    docker_api: tuple[int, int] | None = None  # the API its bundled Docker client speaks
    summary: str = ""  # for `doctor`: what mesostack knows of it
    architectures: tuple[str, ...] = ()  # what its images are published for (Go's names, as
    # image inspect says them); (): not judged
    schema1: Callable[[str], bool] = _never  # whether an image (by its tag) is schema 1
    reads_container_config: bool = False  # its agent's Docker containerizer reads an image's
    # entrypoint from image inspect's ContainerConfig (stock Mesos' `Docker::Image::create`)
    config_matches: Callable[[ImageConfig], bool] = _never  # its images' own config, told apart

    @property
    def known(self) -> bool:
        return self.name != CONVENTIONS


def version_of(image: str) -> tuple[int, ...] | None:
    """The release a tag names: `3.4.13`, `v1.11.24`, `0.23.0-ubuntu-14.04`; None for `latest`,
    a digest or a tag that names none."""
    found = re.match(r"v?(\d+)\.(\d+)(?:\.(\d+))?", imageref.parse(image).tag or "")
    return tuple(int(part) for part in found.groups() if part is not None) if found else None


def _shown(version: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in version)


def _named(*paths: str, at_least: tuple[int, ...] | None = None,
           below: tuple[int, ...] | None = None) -> Callable[[str], bool]:
    """Images whose path (registry left out, `library/` too) is one of `paths`, with a tag's
    version in [at_least, below) when those are given (an unversioned tag counts as newest)."""

    def matches(image: str) -> bool:
        path = imageref.parse(image).path.removeprefix("library/")
        if path not in paths:
            return False
        version = version_of(image)
        if version is None:
            return below is None
        return (at_least is None or version >= at_least) and (below is None or version < below)

    return matches


def _any_image(_: str) -> bool:
    return True


def _schema1_below(bound: tuple[int, ...], *, later: tuple[str, ...] = ()) -> Callable[[str], bool]:
    """Tags of releases before `bound`, except the `later` tags (pushed after Docker 1.10, the
    first to push schema 2): schema 1. Unversioned tags and digests: not known to be."""

    def schema1(image: str) -> bool:
        version = version_of(image)
        return version is not None and version < bound and imageref.parse(image).tag not in later

    return schema1


AMD64 = ("amd64",)  # a schema-1 manifest names one architecture; these images were built with
# `docker build` on one machine and install Mesos from repos.mesosphere.io, whose packages are
# amd64 only (read from the build files, not from the registry's manifests)


def _is_command(*words: str) -> Callable[[ImageConfig], bool]:
    """Images whose CMD is `words`, started through mesoscloud's /entrypoint.sh (2015's
    `ENTRYPOINT ["/entrypoint.sh"]`, 2016's behind dumb-init)."""
    return lambda config: "/entrypoint.sh" in config.entrypoint and config.cmd == words


def _runs(program: str) -> Callable[[ImageConfig], bool]:
    """Images whose ENTRYPOINT is `program` alone (mesosphere's Mesos images)."""
    return lambda config: config.entrypoint == (program,)


# --- ZooKeeper ---------------------------------------------------------------------------------


def _myid_servers(where: Where) -> dict[str, str]:
    """mesoscloud/zookeeper's MYID and SERVERS (what the tutorial gives it)."""
    env = {"MYID": str(where.place.index), "SERVERS": ",".join(where.zk_ips),
           # the official image (3.5+) would take :8080, Marathon's, for its AdminServer
           "ZOO_ADMINSERVER_ENABLED": "false"}
    if where.config.zookeeper.data_dir:
        env["ZOO_DATA_DIR"] = ZK_DATA
    return env


def _official_35(where: Where) -> dict[str, str]:
    """ZOO_SERVERS lists every server as `server.N=IP:2888:3888;IP:PORT`: each binds its client
    port to its own address, as every component binds its host's (so several servers, or
    stacks, can share a machine on 127.0.0.x; measured with ZooKeeper 3.9.3, standalone too)."""
    port = where.config.zookeeper.port
    servers = " ".join(f"server.{n}={ip}:2888:3888;{ip}:{port}"
                       for n, ip in enumerate(where.zk_ips, start=1))
    env = {
        "ZOO_MY_ID": str(where.place.index),
        "ZOO_SERVERS": servers,
        # readiness asks `srvr`; `ruok` for people's own checks (3.5+ allow only `srvr`)
        "ZOO_4LW_COMMANDS_WHITELIST": ZK_FOUR_LETTER_WORDS,
        # 3.5+ would take :8080, Marathon's, for its AdminServer
        "ZOO_ADMINSERVER_ENABLED": "false",
    }
    if where.config.zookeeper.data_dir:  # snapshots and transaction log, both mounted
        env["ZOO_DATA_DIR"] = env["ZOO_DATA_LOG_DIR"] = ZK_DATA
    return env


def _official_34(where: Where) -> dict[str, str]:
    """3.4's QuorumPeerConfig splits a server line at ':' into host and two ports (a `;CLIENT`
    part would be read as the election port); its client port is ZOO_PORT, on every address."""
    servers = " ".join(f"server.{n}={ip}:2888:3888" for n, ip in enumerate(where.zk_ips, start=1))
    env = {"ZOO_MY_ID": str(where.place.index), "ZOO_SERVERS": servers}
    if where.config.zookeeper.data_dir:
        env["ZOO_DATA_DIR"] = env["ZOO_DATA_LOG_DIR"] = ZK_DATA
    return env


def is_official_zookeeper(image: str) -> bool:
    """Docker's official `zookeeper` image (any tag or digest, from Docker Hub or a mirror
    keeping its `library/` path), whose entrypoint reads ZOO_MY_ID and ZOO_SERVERS rather than
    mesoscloud's MYID and SERVERS."""
    return _named("zookeeper")(image)


def _fixed_client_port(port: int) -> Refuse:
    """Images whose client port is fixed (or set for every address): that port only, and one
    server per engine (two on one machine would both bind 0.0.0.0:PORT)."""

    def refuse(plan: Plan, specs: Sequence[ContainerSpec]) -> list[Refusal]:
        found: list[Refusal] = []
        image = specs[0].image
        if port and any(s.port != port for s in specs):
            found.append(Refusal(("zookeeper", "port"), f"{specs[0].port}: {image} always "
                                 f"listens on {port} (its entrypoint writes clientPort={port} "
                                 f"for every address); use {port}"))
        engines = [s.docker for s in specs]
        shared = next((e for e in engines if engines.count(e) > 1), "unset")
        if shared != "unset":
            found.append(Refusal(("zookeeper", "count"), f"{image} binds its client port on "
                                 "every address, so two of its servers can't share an engine "
                                 f"({shared or 'this machine'}'s); put each on a host with an "
                                 "engine of its own, or use the official image `zookeeper:3.9`"))
        return found

    return refuse


def _official_34_refusals(plan: Plan, specs: Sequence[ContainerSpec]) -> list[Refusal]:
    """3.4's client port binds every address: one server per engine. Up to 3.4.13 it is
    ZOO_PORT; the 3.4.14 image writes clientPort=2181 whatever ZOO_PORT says."""
    version = version_of(specs[0].image) or (3, 4)
    return _fixed_client_port(2181 if version >= (3, 4, 14) else 0)(plan, specs)


def _official_zookeeper(*, at_least: tuple[int, ...] = (), below: tuple[int, ...] = (9,)
                        ) -> Callable[[ImageConfig], bool]:
    """docker-library's zookeeper (31z4/zookeeper-docker, every version's Dockerfile):
    `ENTRYPOINT ["/docker-entrypoint.sh"]`, `ENV ZOO_CONF_DIR=/conf ...`, and the release in
    its PATH (`/zookeeper-3.4.14/bin`, `/apache-zookeeper-3.9.4-bin/bin`)."""

    def matches(config: ImageConfig) -> bool:
        if config.entrypoint != ("/docker-entrypoint.sh",) or "ZOO_CONF_DIR" not in config.env:
            return False
        found = re.search(r"zookeeper-(\d+)\.(\d+)", config.env.get("PATH", ""))
        version = tuple(int(part) for part in found.groups()) if found else (3, 5)
        return at_least <= version < below

    return matches


ZOOKEEPER = (
    # docker-library/official-images library/zookeeper (2024-10-28, 3.9.3): Architectures:
    # amd64, arm64v8, s390x, ppc64le (3.5-3.8 tags were built for amd64 and arm64v8 only)
    Family("official", _named("zookeeper", at_least=(3, 5)), _official_35, None,
           summary="the official image, 3.5+: ZOO_MY_ID, ZOO_SERVERS with each server's client "
                   "address, the four-letter-word whitelist, the AdminServer turned off",
           architectures=("amd64", "arm64", "s390x", "ppc64le"),
           config_matches=_official_zookeeper(at_least=(3, 5))),
    # 3.4 was published for six architectures up to 3.4.13, for amd64 alone from May 2019
    # (3.4.14): not judged by the family; an image on the engine by its own
    Family("official-3.4", _named("zookeeper", below=(3, 5)), _official_34, "ZOO_PORT",
           refuse=_official_34_refusals,
           summary="the official image, 3.4: ZOO_MY_ID, ZOO_SERVERS without client addresses, "
                   "the client port (ZOO_PORT up to 3.4.13, 2181 from 3.4.14) on every address",
           config_matches=_official_zookeeper(below=(3, 5))),
    # mesoscloud/zookeeper: 3.4.6's build files last changed in 2015 and went on 2016-04-26,
    # before any rebuild by a Docker that pushes schema 2; 3.4.7 and 3.4.8 were created then
    Family("mesoscloud", _named("mesoscloud/zookeeper"), _myid_servers, None,
           refuse=_fixed_client_port(2181),
           summary="mesoscloud/zookeeper: MYID and SERVERS; its client port is 2181 on every "
                   "address",
           architectures=AMD64, schema1=_schema1_below((3, 4, 7)),
           config_matches=_is_command("zkServer.sh", "start-foreground")),
    Family(CONVENTIONS, _any_image, _myid_servers, "ZOO_PORT",
           summary="not a known image: given MYID and SERVERS, as mesoscloud/zookeeper takes"),
)


# --- Mesos -------------------------------------------------------------------------------------


def _master_env(where: Where) -> dict[str, str]:
    return {"MESOS_HOSTNAME": where.ip, "MESOS_IP": where.ip,
            "MESOS_QUORUM": str(where.config.quorum), "MESOS_ZK": where.zk_url("/mesos"),
            "MESOS_WORK_DIR": MASTER_WORK}


# What each `tasks` setting gives the agent, beside what its image's ENV already says. Command
# tasks: Mesos' own containerizer with the posix launcher and isolation needs no cgroups (1.x:
# `--launcher` and `--systemd_enable_support`; 0.23 picks the posix launcher itself when no
# isolator is a cgroups one, and ignores MESOS_* variables that aren't its flags: stout's
# FlagsBase::extract at 0.23.0 keeps only known flags).
TASKS_ENV: dict[AgentTasks, dict[str, str]] = {
    AgentTasks.DOCKER: {"MESOS_CONTAINERIZERS": "docker,mesos"},
    AgentTasks.COMMAND: {"MESOS_CONTAINERIZERS": "mesos", "MESOS_LAUNCHER": "posix",
                         "MESOS_ISOLATION": "posix/cpu,posix/mem",
                         "MESOS_SYSTEMD_ENABLE_SUPPORT": "false"},
}


def _agent_env_of(image_env: Mapping[str, str]) -> Callable[[Where], dict[str, str]]:
    """The agent's variables for an image whose ENV sets `image_env`."""

    def env_of(where: Where) -> dict[str, str]:
        slave = where.config.slave
        env = {"MESOS_HOSTNAME": where.ip, "MESOS_IP": where.ip,
               "MESOS_MASTER": where.zk_url("/mesos"),
               "MESOS_WORK_DIR": slave.data_dir or AGENT_WORK}
        if slave.resources:
            env["MESOS_RESOURCES"] = slave.resources
        env.update({name: value for name, value in TASKS_ENV[where.tasks].items()
                    if image_env.get(name) != value})
        return env

    return env_of


MESOSCLOUD_AGENT_ENV = {"MESOS_CONTAINERIZERS": "docker,mesos"}


# mesoscloud/mesos-master and -slave: 0.22.1's and 0.23.0's build files last changed in Aug
# 2015 and went on 2016-04-26; 0.24.1 and later were rebuilt from May 2016 (git log of
# mesoscloud/mesos-master, mesoscloud/mesos-slave): schema 1 below 0.24.
MESOSCLOUD_SCHEMA1 = _schema1_below((0, 24))

MASTER = (
    Family("mesoscloud", _named("mesoscloud/mesos-master"), _master_env, "MESOS_PORT",
           summary="mesoscloud/mesos-master (Mesos 0.23): the MESOS_* variables",
           architectures=AMD64, schema1=MESOSCLOUD_SCHEMA1,
           config_matches=_is_command("/usr/sbin/mesos-master")),
    # mesosphere-backup/docker-containers mesos/dockerfile-templates/mesos-master:
    # `ENTRYPOINT ["mesos-master"]`, `CMD ["--registry=in_memory"]`
    Family("mesosphere", _named("mesosphere/mesos-master"), _master_env, "MESOS_PORT",
           summary="mesosphere/mesos-master (Mesos 1.x): the MESOS_* variables",
           architectures=AMD64, config_matches=_runs("mesos-master")),
    Family(CONVENTIONS, _any_image, _master_env, "MESOS_PORT",
           summary="not a known image: given the MESOS_* variables"),
)
AGENT = (
    Family("mesoscloud", _named("mesoscloud/mesos-slave"), _agent_env_of(MESOSCLOUD_AGENT_ENV),
           "MESOS_PORT", image_env=MESOSCLOUD_AGENT_ENV,
           # its Dockerfile installs the Docker of its day (2015, Docker 1.8: API 1.20), which
           # the Docker containerizer runs (`docker ps -a` on every recovery, in 0.23)
           docker_api=(1, 20),
           summary="mesoscloud/mesos-slave (Mesos 0.23): the MESOS_* variables; its image sets "
                   "the docker,mesos containerizers; its Docker client speaks API 1.20",
           architectures=AMD64, schema1=MESOSCLOUD_SCHEMA1, reads_container_config=True,
           config_matches=lambda config: _is_command("/usr/sbin/mesos-slave")(config)
           and config.env.get("MESOS_CONTAINERIZERS") == "docker,mesos"),
    # mesosphere-backup/docker-containers mesos/dockerfile-templates/mesos (its base) installs
    # `docker-engine` from apt.dockerproject.org, unpinned: that repository's last release,
    # 17.05, speaks API 1.29 (read from the template, not from the built image);
    # dockerfile-templates/mesos-slave: `ENTRYPOINT ["mesos-slave"]`
    Family("mesosphere", _named("mesosphere/mesos-slave"), _agent_env_of({}), "MESOS_PORT",
           docker_api=(1, 29),
           summary="mesosphere/mesos-slave (Mesos 1.x): the MESOS_* variables; its Docker "
                   "client (docker-engine 17.05) speaks API 1.29",
           architectures=AMD64, reads_container_config=True, config_matches=_runs("mesos-slave")),
    Family(CONVENTIONS, _any_image, _agent_env_of({}), "MESOS_PORT",
           summary="not a known image: given the MESOS_* variables"),
)


# --- Marathon ----------------------------------------------------------------------------------

MESOS_USER = "MARATHON_MESOS_USER"
MARATHON_NEEDS_MESOS = ((1, 7), (1, 5))  # Marathon 1.7 and later need Mesos 1.5 or later


def _marathon_env(where: Where) -> dict[str, str]:
    return {"MARATHON_HOSTNAME": where.ip, "MARATHON_HTTPS_ADDRESS": where.ip,
            "MARATHON_HTTP_ADDRESS": where.ip, "MARATHON_MASTER": where.zk_url("/mesos"),
            "MARATHON_ZK": where.zk_url("/marathon")}


def _marathon_as_nobody(where: Where) -> dict[str, str]:
    """The image runs Marathon as `nobody`, and its tasks would run as that user too: they run
    as root, as the tutorial's do, unless the stack file names a user."""
    env = _marathon_env(where)
    if MESOS_USER not in where.config.marathon.env:
        env[MESOS_USER] = "root"
    return env


def _needs_mesos_15(plan: Plan, specs: Sequence[ContainerSpec]) -> list[Refusal]:
    """Marathon 1.7+ registers with a framework API that Mesos before 1.5 doesn't have."""
    marathon_from, mesos_from = MARATHON_NEEDS_MESOS
    version, masters = version_of(specs[0].image), plan.of(Role.MASTER)
    mesos = version_of(masters[0].image) if masters else None
    if not (version and version >= marathon_from and mesos and mesos < mesos_from):
        return []
    return [Refusal(("marathon", "image"), f"{specs[0].image} is Marathon {_shown(version)}, "
                    f"which needs Mesos {_shown(mesos_from)} or later; master.image "
                    f"{masters[0].image} is Mesos {_shown(mesos)}")]


def _marathon_entrypoint(config: ImageConfig) -> str:
    return config.entrypoint[0] if config.entrypoint else ""


def _marathon_as_nobody_image(config: ImageConfig) -> bool:
    """1.7+: `USER nobody` with bin/marathon (v1.7.216 build.sbt's `daemonUser in Docker :=
    "nobody"`; releases/1.11 tools/packager/docker/Dockerfile's `USER nobody`,
    `ENTRYPOINT ["/marathon/bin/marathon"]`)."""
    return config.user == "nobody" and _marathon_entrypoint(config).endswith("bin/marathon")


def _marathon_legacy_image(config: ImageConfig) -> bool:
    """Before 1.7: `ENTRYPOINT ["./bin/start"]` as root (v0.11.1 to v1.4 Dockerfile), or
    bin/marathon as `daemon` (v1.5.0 build.sbt's `Cmd("USER", "daemon")`)."""
    program = _marathon_entrypoint(config)
    return program.endswith("bin/start") or (program.endswith("bin/marathon")
                                             and config.user != "nobody")


# mesosphere/marathon tags pushed before Docker 1.10 (2016-02-04, the first Docker to push
# schema 2) are schema 1: by the git tags' dates in mesosphere/marathon, every release up to
# v0.15.0 (2016-02-01), v0.14.1 and v0.13.1 (2016-01-27) among them; not v0.15.1 (2016-02-08)
# and later, nor v0.14.2 (2016-02-12), v0.14.3 (2016-07-18), v0.10.2-RC8 (2016-03-09).
MARATHON_SCHEMA1 = _schema1_below((0, 15, 1), later=("v0.14.2", "v0.14.3", "v0.10.2-RC8"))

MARATHON = (
    Family("mesosphere", _named("mesosphere/marathon", at_least=(1, 7)), _marathon_as_nobody,
           "MARATHON_HTTP_PORT", refuse=_needs_mesos_15,
           summary="mesosphere/marathon 1.7+: runs as nobody (mesostack sets "
                   f"{MESOS_USER}=root unless the stack file sets it); needs Mesos 1.5+",
           architectures=AMD64, config_matches=_marathon_as_nobody_image),
    Family("mesosphere-legacy", _named("mesosphere/marathon", below=(1, 7)), _marathon_env,
           "MARATHON_HTTP_PORT", summary="mesosphere/marathon before 1.7: the MARATHON_* "
                                         "variables",
           architectures=AMD64, schema1=MARATHON_SCHEMA1, config_matches=_marathon_legacy_image),
    Family(CONVENTIONS, _any_image, _marathon_env, "MARATHON_HTTP_PORT",
           summary="not a known image: given the MARATHON_* variables"),
)

FAMILIES: dict[Role, tuple[Family, ...]] = {
    Role.ZOOKEEPER: ZOOKEEPER, Role.MASTER: MASTER, Role.SLAVE: AGENT, Role.MARATHON: MARATHON}


def names(role: Role) -> list[str]:
    return [f.name for f in FAMILIES[role]]


def family_for(role: Role, image: str, chosen: str | None = None) -> Family:
    """The family `chosen` in the stack file, else the first whose images include `image`."""
    if chosen is not None:
        return next(f for f in FAMILIES[role] if f.name == chosen)
    return next(f for f in FAMILIES[role] if f.matches(image))


class Known(StrEnum):
    """How a component's family was known, as `doctor` says it."""

    KEY = "by its `family:` key"
    NAME = "by its image's name"
    CONFIG = "by its image's own config"
    NOT = "not known: treated by the role's conventions"


def recognise(role: Role, config: ImageConfig) -> Family | None:
    """The known family whose images have this config (ENV, ENTRYPOINT, CMD, USER), for an
    image whose name says nothing; None when none does."""
    return next((f for f in FAMILIES[role] if f.known and f.config_matches(config)), None)


def identify(role: Role, image: str, *, chosen: str | None = None,
             config: ImageConfig | None = None) -> tuple[Family, Known]:
    """A component's family and how it was known: its `family:` key, else its image's name,
    else (when the engine has the image) its image's own config, else its role's conventions."""
    if chosen is not None:
        return family_for(role, image, chosen), Known.KEY
    by_name = family_for(role, image)
    if by_name.known:
        return by_name, Known.NAME
    by_config = recognise(role, config) if config is not None else None
    return (by_config, Known.CONFIG) if by_config is not None else (by_name, Known.NOT)


def refusals(plan: Plan) -> list[Refusal]:
    """What the stack's images can't honour, role by role."""
    found: list[Refusal] = []
    for role in Role:
        specs = plan.of(role)
        by_family: dict[str, list[ContainerSpec]] = {}
        for spec in specs:
            by_family.setdefault(spec.family, []).append(spec)
        for name, members in by_family.items():
            found += family_for(role, members[0].image, name).refuse(plan, members)
    return found
