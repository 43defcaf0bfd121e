"""PURE: the commented stack files `mesostack init` writes, one per preset.

`default` is the built-in default written out (the config model's defaults: images that pull
and run on current hosts; the repository's stack.yaml); `tutorial` is the tutorial's 2015 stack
(examples/tutorial.yaml). Each text says beside its images what they need.
"""

from __future__ import annotations

from enum import StrEnum


class Preset(StrEnum):
    DEFAULT = "default"  # the built-in default: images that pull and run on today's hosts
    TUTORIAL = "tutorial"  # the tutorial's 2015 stack, setting for setting
    MODERN = "modern"  # an earlier name of the default


TUTORIAL_IMAGES = {
    "zookeeper": "mesoscloud/zookeeper:3.4.6-ubuntu-14.04",
    "master": "mesoscloud/mesos-master:0.23.0-ubuntu-14.04",
    "slave": "mesoscloud/mesos-slave:0.23.0-ubuntu-14.04",
    "marathon": "mesosphere/marathon:v0.11.1",
}

_HEADER = """\
# mesostack stack file{preset_said}.
# ZooKeeper, one Mesos master, one agent ("slave") and Marathon, each a Docker container with
# host networking and `--restart always`, started in that order, each once the one before is
# ready. `mesostack up --dry-run` prints the `docker run` lines this file gives;
# `mesostack config` every key with its default; `mesostack doctor` checks this host.
{intro}
name: mesostack            # names and labels the containers: mesostack-zookeeper, ...
{host_ip}
"""

_DEFAULT_INTRO = """\
#
# With no stack file, `mesostack up` uses exactly this (`mesostack init` writes it). Its images
# pull on current Docker engines; the agent's `tasks: auto` gives it what its host can run
# (`up`'s first line says which, and why). The tutorial's own stack, with its 2015 images, is
# `mesostack init --preset tutorial` (examples/tutorial.yaml).
"""

_TUTORIAL_INTRO = """\
#
# The tutorial's stack, setting for setting: `up --dry-run` prints its four `docker run` lines.
# Its images were published in 2015 in the old schema-1 image format, which Docker 26 and
# later refuse to pull, and its agent's Docker client (API 1.20) is refused by Docker 25 and
# later; `up` and `doctor` say so. On such a host use the default (`mesostack init`).
"""

_DEFAULT_BODY = """
zookeeper:                 # clients use <host_ip>:2181
  # The official image: mesostack gives it ZOO_MY_ID and ZOO_SERVERS, turns its AdminServer
  # off (ZOO_ADMINSERVER_ENABLED=false: it would take :8080, Marathon's port) and allows the
  # four-letter words `srvr` (readiness) and `ruok` (ZOO_4LW_COMMANDS_WHITELIST).
  image: zookeeper:3.9.3
  port: 2181
  # data_dir: /srv/mesostack/zookeeper   # keep ZooKeeper's data (and so Marathon's apps)
  #                                      # across `down`; `down --purge` deletes it

master:                    # UI on http://<host_ip>:5050
  image: mesosphere/mesos-master:1.7.1   # Marathon 1.7+ needs Mesos 1.5+
  port: 5050
  quorum: 1                # MESOS_QUORUM: one master now, high availability later

slave:                     # the Mesos agent (`agent:` is the same section)
  image: mesosphere/mesos-slave:1.7.1
  port: 5051
  tasks: auto              # docker: Docker and command apps (the Docker containerizer,
  #                        #   privileged, the host's cgroups and engine socket mounted);
  #                        # command: command apps only (no cgroups: runs on any host);
  #                        # auto: docker where the host has cgroup v1 and its engine allows
  #                        #   --privileged and accepts the agent's Docker client, else command
  # privileged: true       # default: as `tasks` needs (docker: true, command: false)
  # resources: cpus:2;mem:2048   # MESOS_RESOURCES: what it offers; default: the machine's

marathon:                  # UI and REST API on http://<host_ip>:8080
  image: mesosphere/marathon:v1.11.24    # runs as `nobody`: mesostack sets
  port: 8080               # MARATHON_MESOS_USER=root (its tasks' user) unless env sets it
  # env:
  #   MARATHON_HTTP_CREDENTIALS: admin:change-me   # basic auth; mesostack uses them for its
  #                                                # own checks and never prints them
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
  tasks: docker            # Docker and command apps: the Docker containerizer (its image's
  #                        # ENV: docker,mesos) needs a cgroup v1 host
  privileged: true         # it controls cgroups; it mounts /sys/fs/cgroup and the Docker
  #                        # socket. Engines that refuse --privileged: set false
  # resources: cpus:2;mem:2048   # MESOS_RESOURCES: what it offers; default: the machine's

marathon:                  # UI and REST API on http://<host_ip>:8080
  image: {marathon:<45} # schema 1: Docker 26+ refuse it
  port: 8080
  # env:
  #   MARATHON_HTTP_CREDENTIALS: admin:change-me   # basic auth; mesostack uses them for its
  #                                                # own checks and never prints them
"""

def _host_ip_line(host_ip: str | None) -> str:
    if host_ip is None or host_ip == "auto":
        why = "no default route was found" if host_ip is None else "as asked"
        return (f"host_ip: auto              # {why}: each run uses the address of the\n"
                "#                          # default route's interface (127.0.0.1 without one)")
    return (f"host_ip: {host_ip:<18}# this host's address, bound and advertised by every\n"
            "#                          # component; `auto`: found again at each run")


def render(preset: Preset, *, host_ip: str | None) -> str:
    """The stack file for `preset`; `host_ip` None (none found) or `auto` writes `auto`."""
    if preset is Preset.TUTORIAL:
        said, intro, body = (" (`mesostack init --preset tutorial`)", _TUTORIAL_INTRO,
                             _TUTORIAL_BODY.format(**TUTORIAL_IMAGES))
    else:
        said, intro, body = " (`mesostack init`)", _DEFAULT_INTRO, _DEFAULT_BODY
    header = _HEADER.format(preset_said=said, intro=intro.rstrip("\n"),
                            host_ip=_host_ip_line(host_ip))
    return header + body
