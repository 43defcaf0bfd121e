"""PURE: the commented stack files `mesostack init` writes, one per preset.

`tutorial` is the built-in default written out (its images are the config model's defaults);
`modern` swaps in images that current Docker engines still pull. Each text says beside its
images what they need.
"""

from __future__ import annotations

from enum import StrEnum


class Preset(StrEnum):
    TUTORIAL = "tutorial"
    MODERN = "modern"


MODERN_IMAGES = {
    "zookeeper": "zookeeper:3.9.3",
    "master": "mesosphere/mesos-master:1.7.1",
    "slave": "mesosphere/mesos-slave:1.7.1",
    "marathon": "mesosphere/marathon:v1.11.24",
}

_HEADER = """\
# mesostack stack file, preset `{preset}` (written by `mesostack init --preset {preset}`).
# ZooKeeper, one Mesos master, one agent ("slave") and Marathon, each a Docker container with
# host networking and `--restart always`, started in that order, each once the one before is
# ready. `mesostack up --dry-run` prints the `docker run` lines this file gives;
# `mesostack config` every key with its default; `mesostack doctor` checks this host.
{intro}
name: mesostack            # names and labels the containers: mesostack-zookeeper, ...
{host_ip}
"""

_TUTORIAL_INTRO = """\
#
# These are the tutorial's images, published in 2015 in the old schema-1 image format:
# Docker engines 26 and later refuse to pull them ("... schema 1 support is disabled by
# default" or "... has been removed"), and `up` and `doctor` say so. Where that happens, write
# the `modern` preset instead: `mesostack init --preset modern --force`.
"""

_MODERN_INTRO = """\
#
# Images that still pull on current Docker engines (schema 2). Their limits:
# - Marathon 1.7 and later needs Mesos 1.5 or later: change the Mesos and Marathon images
#   together.
# - Released Mesos agents need a cgroup v1 host (`mesostack doctor` checks it); on a cgroup v2
#   host boot with systemd.unified_cgroup_hierarchy=0, or give the agent privileged: false
#   and MESOS_CONTAINERIZERS=mesos, MESOS_LAUNCHER=posix, MESOS_ISOLATION=posix/cpu,posix/mem,
#   MESOS_SYSTEMD_ENABLE_SUPPORT=false (command tasks only, no Docker apps).
# - Images in the old schema-1 format (any from before 2016, such as the tutorial's
#   mesoscloud/* and marathon v0.11.1) no longer pull on Docker 26 and later.
"""

_TUTORIAL_BODY = """
zookeeper:                 # MYID=1, SERVERS=<host_ip>; clients use <host_ip>:2181
  image: {zookeeper:<41} # schema 1: Docker 26+ refuse it
  port: 2181
  # data_dir: /srv/mesostack/zookeeper   # keep ZooKeeper's data (and so Marathon's apps)
  #                                      # across `down`; `down --purge` deletes it

master:                    # MESOS_ZK=zk://<host_ip>:2181/mesos; UI on http://<host_ip>:5050
  image: {master:<45} # schema 1: Docker 26+ refuse it
  port: 5050
  quorum: 1                # MESOS_QUORUM: one master now, high availability later

slave:                     # the Mesos agent (`agent:` is the same section)
  image: {slave:<45} # schema 1: Docker 26+ refuse it
  port: 5051
  privileged: true         # it controls cgroups (needs a cgroup v1 host); it mounts
  #                        # /sys/fs/cgroup and the Docker socket. Engines that refuse
  #                        # --privileged: set false (that alone doesn't make it run on
  #                        # cgroup v2: `mesostack doctor` names what does)
  # resources: cpus:2;mem:2048   # MESOS_RESOURCES: what it offers; default: the machine's

marathon:                  # UI and REST API on http://<host_ip>:8080
  image: {marathon:<45} # schema 1: Docker 26+ refuse it
  port: 8080
  # env:
  #   MARATHON_HTTP_CREDENTIALS: admin:change-me   # basic auth; mesostack uses them for its
  #                                                # own checks and never prints them
"""

_MODERN_BODY = """
zookeeper:                 # clients use <host_ip>:2181
  # The official image: mesostack gives it ZOO_MY_ID and ZOO_SERVERS, turns its AdminServer
  # off (ZOO_ADMINSERVER_ENABLED=false: it would take :8080, Marathon's port) and allows the
  # four-letter words `srvr` (readiness) and `ruok` (ZOO_4LW_COMMANDS_WHITELIST).
  image: {zookeeper:<32} # schema 2, like the three below
  port: 2181
  # data_dir: /srv/mesostack/zookeeper   # keep ZooKeeper's data (and so Marathon's apps)
  #                                      # across `down`; `down --purge` deletes it

master:                    # UI on http://<host_ip>:5050
  image: {master:<32} # Mesos 1.x; Marathon 1.7+ needs Mesos 1.5+
  port: 5050
  quorum: 1                # MESOS_QUORUM: one master now, high availability later

slave:                     # the Mesos agent (`agent:` is the same section)
  image: {slave:<32} # released agents need a cgroup v1 host
  port: 5051
  privileged: true         # it controls cgroups; it mounts /sys/fs/cgroup and the Docker
  #                        # socket. Engines that refuse --privileged: set false (on cgroup
  #                        # v2 also the settings above; `mesostack doctor` checks them)
  # resources: cpus:2;mem:2048   # MESOS_RESOURCES: what it offers; default: the machine's
  env:
    MESOS_SYSTEMD_ENABLE_SUPPORT: false   # no systemd inside the container
    # For Docker apps the agent needs the docker CLI too (a static binary from the host):
    # MESOS_CONTAINERIZERS: docker,mesos
  # volumes:
  #   - /usr/bin/docker:/usr/local/bin/docker:ro

marathon:                  # UI and REST API on http://<host_ip>:8080
  image: {marathon:<32} # needs Mesos 1.5+
  port: 8080
  env:
    MARATHON_MESOS_USER: root   # its image runs as `nobody`, which would be its tasks' user
    # MARATHON_HTTP_CREDENTIALS: admin:change-me   # basic auth; mesostack uses them for its
    #                                              # own checks and never prints them
"""


def _host_ip_line(host_ip: str | None) -> str:
    if host_ip is None or host_ip == "auto":
        why = "no default route was found" if host_ip is None else "as asked"
        return (f"host_ip: auto              # {why}: each run uses the address of the\n"
                "#                          # default route's interface (127.0.0.1 without one)")
    return (f"host_ip: {host_ip:<18}# this host's address, bound and advertised by every\n"
            "#                          # component; `auto`: found again at each run")


def tutorial_images() -> dict[str, str]:
    """The built-in default's images (the config model's defaults), by role."""
    from mesostack.config import StackConfig

    defaults = StackConfig()
    return {role: defaults.component(role).image for role in StackConfig.ROLES}


def render(preset: Preset, *, host_ip: str | None) -> str:
    """The stack file for `preset`; `host_ip` None (none found) or `auto` writes `auto`."""
    intro, body = ((_TUTORIAL_INTRO, _TUTORIAL_BODY.format(**tutorial_images()))
                   if preset is Preset.TUTORIAL
                   else (_MODERN_INTRO, _MODERN_BODY.format(**MODERN_IMAGES)))
    header = _HEADER.format(preset=preset.value, intro=intro.rstrip("\n"),
                            host_ip=_host_ip_line(host_ip))
    return header + body
