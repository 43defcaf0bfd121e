"""What a real Mesos agent decides from its flags and its host, as pure functions.

The agent stand-in (``agent.py``) asks these at start (does it come up at all, and with which
line does it exit) and per task (which containerizer takes it, which user runs it). Each rule is
written from Apache Mesos' behaviour at the two releases the test bed stands in for: 0.23.0
(the legacy generation: mesoscloud/mesos-slave) and 1.7.1 (the modern one: mesosphere's image);
the file and function each follows is named beside it (github.com/apache/mesos, by tag).
Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

CGROUPS_ROOT = "/sys/fs/cgroup"  # --cgroups_hierarchy's default (src/slave/flags.cpp, both)
MESOS_CGROUP = "mesos"  # --cgroups_root's default (src/slave/flags.cpp, both)
DEFAULT_ISOLATION = "posix/cpu,posix/mem"  # --isolation's default (src/slave/flags.cpp, both)
DEFAULT_SOCKET = "/var/run/docker.sock"  # DEFAULT_DOCKER_HOST_RESOURCE (1.7.1 constants.hpp)
# What a writing step answers where the file system or the kernel refuses it (strerror).
READ_ONLY = "Read-only file system"
NOT_PERMITTED = "Operation not permitted"


# --- the host's cgroups, as the agent finds them ------------------------------------------


@dataclass(frozen=True)
class Hierarchy:
    """A mounted cgroup v1 hierarchy: where, which subsystems, whether it can be written."""

    path: str
    subsystems: frozenset[str]
    writable: bool


@dataclass(frozen=True)
class CgroupHost:
    """The cgroups an agent's container sees: its v1 hierarchies (none on a v2-only host),
    whether /sys/fs/cgroup itself takes new directories (a privileged container's does), the
    subsystems /proc/cgroups lists, which it says are enabled and which it shows attached to
    a v1 hierarchy (a non-zero hierarchy id; none on a v2-only host), and the agent's euid."""

    hierarchies: tuple[Hierarchy, ...]
    writable: bool
    listed: frozenset[str]
    enabled: frozenset[str]
    attached: frozenset[str]
    euid: int

    def hierarchy(self, subsystem: str) -> Hierarchy | None:
        """cgroups::hierarchy(subsystem) (src/linux/cgroups.cpp): the first mounted v1
        hierarchy with that subsystem attached, read from /proc/mounts."""
        return next((h for h in self.hierarchies if subsystem in h.subsystems), None)


def parse_proc_cgroups(text: str) -> dict[str, tuple[int, bool]]:
    """/proc/cgroups: each subsystem's hierarchy id and whether it is enabled."""
    found = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 4 and not line.startswith("#"):
            found[fields[0]] = (int(fields[1]), fields[3] == "1")
    return found


def parse_mounts(text: str, subsystems: frozenset[str]) -> tuple[tuple[Hierarchy, ...], bool]:
    """/proc/mounts: the v1 hierarchies (type `cgroup`, their subsystems among the mount
    options) and whether the mount at /sys/fs/cgroup is read-write."""
    hierarchies = []
    writable = False
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        where, kind, options = fields[1], fields[2], fields[3].split(",")
        if where == CGROUPS_ROOT:
            writable = "rw" in options
        if kind == "cgroup":
            attached = frozenset(o for o in options if o in subsystems)
            hierarchies.append(Hierarchy(where, attached, "rw" in options))
    return tuple(hierarchies), writable


def cgroup_host(mounts: str, proc_cgroups: str, *, stated: str | None, euid: int,
                assume_writable: bool = False) -> CgroupHost:
    """The agent's cgroups from its /proc/mounts and /proc/cgroups; `stated` ("1" or "2",
    the test bed's knob) replaces the host's layout only: "2" leaves no v1 hierarchy and no
    subsystem attached to one (as a cgroup-v2-only host has it), "1" mounts each listed
    subsystem at /sys/fs/cgroup/<name> (cpu with cpuacct, as systemd does) where the container
    has no v1 hierarchy of its own. Whether cgroups can be written stays the container's,
    unless `assume_writable` (the generic test image's one kindness) says they can."""
    if stated not in (None, "1", "2"):
        raise ValueError(f"STANDIN_HOST_CGROUP must be 1 or 2, not {stated!r}")
    listing = parse_proc_cgroups(proc_cgroups)
    listed = frozenset(listing)
    enabled = frozenset(name for name, (_, on) in listing.items() if on)
    attached = frozenset(name for name, (hierarchy, _) in listing.items() if hierarchy)
    hierarchies, writable = parse_mounts(mounts, listed)
    if assume_writable:
        writable = True
        hierarchies = tuple(Hierarchy(h.path, h.subsystems, True) for h in hierarchies)
    if stated == "2":
        hierarchies, attached = (), frozenset()
    elif stated == "1" and not hierarchies:
        hierarchies, attached = _v1_layout(enabled, writable), enabled
    return CgroupHost(hierarchies, writable, listed, enabled, attached, euid)


def _v1_layout(enabled: frozenset[str], writable: bool) -> tuple[Hierarchy, ...]:
    together = {"cpu": "cpu,cpuacct", "cpuacct": "cpu,cpuacct", "net_cls": "net_cls,net_prio",
                "net_prio": "net_cls,net_prio"}
    names = sorted({together.get(s, s) for s in enabled})
    return tuple(Hierarchy(f"{CGROUPS_ROOT}/{n}", frozenset(n.split(",")), writable)
                 for n in names)


# --- cgroups::prepare, the step every cgroup user of the agent takes ------------------------


def prepare(host: CgroupHost, subsystem: str) -> str | None:
    """Why cgroups::prepare(/sys/fs/cgroup, subsystem, "mesos") fails, or None.

    Follows src/linux/cgroups.cpp `prepare` and `internal::mount` (0.23.0 and 1.7.1 alike):
    root only; an attached subsystem needs the root cgroup `mesos` made in its hierarchy
    (refused on a read-only mount, as an unprivileged container's cgroups are); an unattached
    one is mounted at /sys/fs/cgroup/<subsystem> (see `_mount`).
    """
    if host.euid != 0:
        return "Using cgroups requires root permissions"
    mounted = host.hierarchy(subsystem)
    if mounted is None:
        refused = _mount(host, subsystem)
        return None if refused is None else (
            f"Failed to mount cgroups hierarchy at '{CGROUPS_ROOT}/{subsystem}': {refused}")
    if mounted.writable:
        return None
    root = f"{mounted.path}/{MESOS_CGROUP}"
    return f"Failed to create root cgroup {root}: Failed to create directory '{root}': {READ_ONLY}"


def _mount(host: CgroupHost, subsystem: str) -> str | None:
    """internal::mount's refusal: a subsystem /proc/cgroups does not list, or lists disabled,
    or attached elsewhere; then the directory, which needs a writable /sys/fs/cgroup; then the
    mount itself. A v1 host's privileged container shares the host's cgroup namespace and may
    mount; on a cgroup-v2-only host the container has a cgroup namespace of its own, where
    the kernel lets no new v1 hierarchy be mounted (observed: docker/for-mac#6386, "Failed to
    mount cgroups hierarchy at '/sys/fs/cgroup/freezer': Operation not permitted", Mesos 1.12
    on Docker Desktop's cgroup v2)."""
    if subsystem not in host.listed:
        return f"'{subsystem}' not found"
    if subsystem not in host.enabled:
        return f"'{subsystem}' is not enabled by the kernel"
    if subsystem in host.attached:
        return f"'{subsystem}' is already attached to another hierarchy"
    if not host.writable:
        return f"Failed to create directory '{CGROUPS_ROOT}/{subsystem}': {READ_ONLY}"
    return None if host.hierarchies else NOT_PERMITTED


# --- creating the containerizers at start ---------------------------------------------------


def flags_failure(env: Mapping[str, str], *, legacy: bool) -> str | None:
    """1.7.1's agent has no default --work_dir (src/slave/flags.hpp `std::string work_dir`,
    flags.cpp l.263-270, so stout requires it: flags.hpp l.822-827) and main.cpp prints the
    load error and exits 1 (l.259-272); 0.23.0's defaults to /tmp/mesos (flags.cpp l.94)."""
    if legacy or env.get("MESOS_WORK_DIR"):
        return None
    return ("Flag 'work_dir' is required, but it was not provided\n\n"
            "See `mesos-agent --help` for a list of supported flags.")



def containerizers(env: Mapping[str, str]) -> list[str]:
    """--containerizers (default `mesos`, src/slave/flags.cpp at both tags)."""
    return [c for c in env.get("MESOS_CONTAINERIZERS", "mesos").split(",") if c]


def start_failure(env: Mapping[str, str], host: CgroupHost, *, legacy: bool) -> str | None:
    """Why Containerizer::create fails, as main.cpp's exit line says it, or None.

    src/slave/containerizer/containerizer.cpp `Containerizer::create`: 0.23.0 creates each
    containerizer in the flag's order; 1.7.1 puts the names in a std::set first (so `docker`
    before `mesos`, and duplicates refused). The first failure ends the agent:
    src/slave/main.cpp "Failed to create a containerizer: " (EXIT(1) at both tags).
    """
    names = containerizers(env)
    if not legacy and len(set(names)) != len(names):
        return ("Failed to create a containerizer: Duplicate entries found in --containerizer "
                f"flag '{env.get('MESOS_CONTAINERIZERS', '')}'")
    for name in names if legacy else sorted(set(names)):
        if name == "docker":
            error = _docker(host)
        elif name == "mesos":
            error = _mesos_legacy(env, host) if legacy else _mesos(env, host)
        elif legacy and name == "external":
            error = None
        else:
            error = f"Unknown or unsupported containerizer: {name}"
        if error is not None:
            return f"Failed to create a containerizer: {error}"
    return None


def _docker(host: CgroupHost) -> str | None:
    """src/docker/docker.cpp `Docker::create` (0.23.0 l.109-116, 1.7.1 l.141-150): the Docker
    containerizer needs a mounted v1 hierarchy with the `cpu` subsystem, and says so; it
    needs no write access (its validation only asks `docker --version`)."""
    if host.hierarchy("cpu") is not None:
        return None
    return ("Could not create DockerContainerizer: Failed to create docker: Failed to find a "
            "mounted cgroups hierarchy for the 'cpu' subsystem; you probably need to mount "
            "cgroups manually")


def _mesos_legacy(env: Mapping[str, str], host: CgroupHost) -> str | None:
    """0.23.0 src/slave/containerizer/mesos/containerizer.cpp `MesosContainerizer::create`:
    isolators first, in the flag's order (the cgroups ones prepare their subsystems:
    isolators/cgroups/cpushare.cpp and mem.cpp), then the launcher: Linux (which prepares
    `freezer`, linux_launcher.cpp) when the isolation names `cgroups` or a namespace isolator,
    else posix. 0.23 has no --launcher flag."""
    isolation = env.get("MESOS_ISOLATION", DEFAULT_ISOLATION)
    isolation = {"process": DEFAULT_ISOLATION,
                 "cgroups": "cgroups/cpu,cgroups/mem"}.get(isolation, isolation)
    steps = {"cgroups/cpu": (("cpu", "Failed to prepare hierarchy for cpu subsystem: "),
                             ("cpuacct", "Failed to prepare hierarchy for cpuacct subsystem: ")),
             "cgroups/mem": (("memory", "Failed to create memory cgroup: "),)}
    for isolator in filter(None, isolation.split(",")):
        for subsystem, says in steps.get(isolator, ()):
            error = prepare(host, subsystem)
            if error is not None:
                return (f"Could not create MesosContainerizer: Could not create isolator "
                        f"{isolator}: {says}{error}")
    if "cgroups" in isolation or "namespaces/pid" in isolation.split(","):
        error = prepare(host, "freezer")
        if error is not None:
            return ("Could not create MesosContainerizer: Failed to create launcher: Failed to "
                    f"create Linux launcher: {error}")
    return None


# 1.7.1 src/slave/containerizer/mesos/containerizer.cpp: the cgroups isolators in the order
# of its creators table, and the subsystems each loads (isolators/cgroups/cgroups.cpp).
CGROUPS_ISOLATORS = {
    "cgroups/blkio": ("blkio",), "cgroups/cpu": ("cpu", "cpuacct"), "cgroups/cpuset": ("cpuset",),
    "cgroups/devices": ("devices",), "cgroups/hugetlb": ("hugetlb",), "cgroups/mem": ("memory",),
    "cgroups/net_cls": ("net_cls",), "cgroups/net_prio": ("net_prio",),
    "cgroups/perf_event": ("perf_event",), "cgroups/pids": ("pids",),
}


def launcher(env: Mapping[str, str], host: CgroupHost) -> str:
    """1.7.1 --launcher (src/slave/flags.cpp l.143-156): unset, `linux` when
    LinuxLauncher::available() (root, and /proc/cgroups says `freezer` is enabled:
    linux_launcher.cpp l.187-194), else `posix`."""
    default = "linux" if host.euid == 0 and "freezer" in host.enabled else "posix"
    return env.get("MESOS_LAUNCHER") or default


def _mesos(env: Mapping[str, str], host: CgroupHost) -> str | None:
    """1.7.1 `MesosContainerizer::create`: the launcher first (linux_launcher.cpp l.120-129
    prepares `freezer`), then the one cgroups isolator, preparing its subsystems in name
    order (isolators/cgroups/cgroups.cpp `CgroupsIsolatorProcess::create`)."""
    chosen = launcher(env, host)
    if chosen == "linux":
        error = prepare(host, "freezer")
        if error is not None:
            return ("Could not create MesosContainerizer: Failed to create launcher: Failed to "
                    f"create Linux launcher: {error}")
    elif chosen != "posix":
        return ("Could not create MesosContainerizer: Failed to create launcher: Unknown or "
                f"unsupported launcher: {chosen}")
    isolation = set(filter(None, env.get("MESOS_ISOLATION", DEFAULT_ISOLATION).split(",")))
    named = [i for i in CGROUPS_ISOLATORS if i in isolation]
    subsystems = sorted({s for i in named for s in CGROUPS_ISOLATORS[i]})
    if "cgroups/all" in isolation:
        named = ["cgroups/all"]
        subsystems = sorted({s for i in CGROUPS_ISOLATORS.values() for s in i} & host.enabled)
    for subsystem in subsystems:
        error = prepare(host, subsystem)
        if error is not None:
            return (f"Could not create MesosContainerizer: Failed to create isolator "
                    f"'{named[0]}': Failed to prepare hierarchy for the subsystem "
                    f"'{subsystem}': {error}")
    return None


# --- the Docker client the agent drives its engine with -------------------------------------


def docker_socket(env: Mapping[str, str], *, legacy: bool) -> str:
    """Where the agent's Docker client connects. 1.7.1 passes `-H unix://<--docker_socket>`
    (src/docker/docker.hpp DEFAULT_DOCKER_HOST_PREFIX); 0.23.0 runs plain `docker ...`
    (src/docker/docker.cpp), so its CLI follows DOCKER_HOST."""
    if legacy:
        host = env.get("DOCKER_HOST", "")
        return host.removeprefix("unix://") if host.startswith("unix://") else DEFAULT_SOCKET
    return env.get("MESOS_DOCKER_SOCKET") or DEFAULT_SOCKET


def docker_command(env: Mapping[str, str], words: str, *, legacy: bool) -> str:
    """The command line the agent runs for `words` (`ps -a`, `pull IMAGE`): 0.23.0 `docker ps
    -a`; 1.7.1 `docker -H unix:///var/run/docker.sock ps -a` (--docker is the binary)."""
    binary = env.get("MESOS_DOCKER", "docker")
    if legacy:
        return f"{binary} {words}"
    return f"{binary} -H unix://{docker_socket(env, legacy=False)} {words}"


def cli_failure(command: str, stderr: str, *, legacy: bool, status: int = 1) -> str:
    """A failed Docker CLI run as the agent reports it (src/docker/docker.cpp `failure`):
    0.23.0 "Failed to 'CMD': exit status = exited with status N stderr = ERR"; 1.7.1 "Failed to
    run 'CMD': exited with status N; stderr='ERR'" (WSTRINGIFY, src/common/status_utils.hpp)."""
    if legacy:
        return f"Failed to '{command}': exit status = exited with status {status} stderr = {stderr}"
    return f"Failed to run '{command}': exited with status {status}; stderr='{stderr}'"


def daemon_error(body: object) -> str:
    """What the Docker CLI prints for an engine's error answer: "Error response from daemon:
    MESSAGE" and a newline. Engines answer clients below API 1.24 in plain text and newer ones
    in JSON `{"message": ...}` (moby api/server/httputils `MakeErrorHandler`)."""
    message = body.get("message", "") if isinstance(body, dict) else str(body or "")
    return f"Error response from daemon: {str(message).strip()}\n"


def recovery_exit(cause: str, *, legacy: bool, meta_dir: str) -> str:
    """src/slave/slave.cpp `Slave::__recover`: a failed recovery ends the agent (EXIT(1)) with
    this text (0.23.0 l.4014-4024; 1.7.1 l.7308-7331)."""
    latest = f"{meta_dir}/slaves/latest"
    if legacy:
        return (f"Failed to perform recovery: {cause}\nTo remedy this do as follows:\n"
                f"Step 1: rm -f {latest}\n"
                "        This ensures slave doesn't recover old live executors.\n"
                "Step 2: Restart the slave.")
    return (f"Failed to perform recovery: {cause}\n"
            "If recovery failed due to a change in configuration and you want to\n"
            "keep the current agent id, you might want to change the\n"
            "`--reconfiguration_policy` flag to a more permissive value.\n\n"
            "To restart this agent with a new agent id instead, do as follows:\n"
            f"rm -f {latest}\n"
            "This ensures that the agent does not recover old live executors.\n\n"
            "If you use the Docker containerizer and think that the Docker\n"
            "daemon state is broken, you can try to clear it. But be careful:\n"
            "these commands will erase all containers and images from this host,\n"
            "not just those started by Mesos!\n"
            "docker kill $(docker ps -q)\n"
            "docker rm $(docker ps -a -q)\n"
            "docker rmi $(docker images -q)\n\n"
            "Finally, restart the agent.")


def recovers_docker(*, legacy: bool, checkpointed: bool) -> bool:
    """Whether the Docker containerizer's recovery lists the engine's containers (`docker ps
    -a`) at start: 1.7.1 always (src/slave/containerizer/docker.cpp `recover`); 0.23.0 only
    when the agent recovers checkpointed state, i.e. restarts on a work dir whose
    meta/slaves/latest it wrote once registered (0.23.0 docker.cpp l.537-552, state.cpp)."""
    return checkpointed or not legacy


# --- recovery: the agent checkpointed in the work dir against the one the flags make --------

# What /state (and /state.json, /slave(1)/state) answers while the agent recovers: 503 with this
# text/plain body (1.7.1 src/slave/http.cpp `Http::state` l.1270-1276; the same from 0.28.0,
# commit 83b43d91a, to 1.11.0 l.1331-1337). 0.23.0's `Http::state` (l.211) has no such check: it
# answers 200 throughout, with the id recovered from the checkpoint.
RECOVERING = "Agent has not finished recovery"
# How long a recovering agent waits for the executors that were running when it stopped to
# reconnect before it finishes recovery (and only then registers again: MESOS-7539): 1.7.1
# --executor_reregistration_timeout (flags.cpp l.409-421, EXECUTOR_REREGISTRATION_TIMEOUT 2 s,
# constants.hpp l.36); 0.23.0 the constant EXECUTOR_REREGISTER_TIMEOUT, 2 s (constants.cpp l.31).
EXECUTOR_REREGISTRATION_TIMEOUT = "2secs"
DASHES = "-" * 60


@dataclass(frozen=True)
class Checkpoint:
    """What a work dir holds of an earlier run: the agent id meta/slaves/latest points at and
    the SlaveInfo checkpointed beside it (None when slave.info is missing: the agent died before
    it registered; 0.23.0 and 1.7.1 src/slave/state.cpp `SlaveState::recover` then recover no
    info and compare nothing)."""

    agent_id: str
    info: Mapping[str, object] | None


@dataclass(frozen=True)
class Recovery:
    """What `Slave::recover` makes of a checkpoint: the agent id it keeps ("" for a new agent),
    whether it recovers the old agent's state (its containers included), the line it logs, and
    the failure that ends it (then `recovery_exit`)."""

    agent_id: str = ""
    slave_state: bool = False
    info_line: str = ""
    warning: str = ""
    forget: bool = False  # remove meta/slaves/latest, to "checkpoint" the decision
    failure: str = ""


def slave_info(*, hostname: str, port: int, resources: Mapping[str, object],
               agent_id: str = "") -> dict[str, object]:
    """The SlaveInfo an agent makes from its flags (0.23.0 slave.cpp l.377-382: hostname,
    port, resources, attributes, checkpoint true; 1.7.1 alike, with domain): as JSON here."""
    info: dict[str, object] = {"hostname": hostname, "port": port,
                               "resources": dict(resources), "attributes": {},
                               "checkpoint": True}
    if agent_id:
        info["id"] = agent_id
    return info


def recovery(checkpoint: Checkpoint | None, current: Mapping[str, object], *, legacy: bool,
             env: Mapping[str, str], rebooted: bool) -> Recovery:
    """The recovery of the agent checkpointed in the work dir, against `current` (the
    SlaveInfo the flags make, without id).

    0.23.0: a host reboot (boot id changed) recovers no agent at all ("Slave host rebooted",
    state.cpp l.58-69); else, with --recover=reconnect (the default), a SlaveInfo that differs
    from the checkpointed one in anything (hostname, port, resources, attributes: operator==,
    type_utils.cpp l.325-334) fails the recovery: slave.cpp `recover` l.3899-3916, then
    `__recover` exits 1 (l.4014-4024). 1.7.1 compares by --reconfiguration_policy
    (`compatible`, slave.cpp l.6880-6896; `equal` by default, flags.cpp l.530-542); after a
    reboot an incompatible agent comes back as a new one (l.7133-7160), else the recovery fails
    (l.7162). A compatible one keeps its id (0.23.0 l.3905 and 3918, 1.7.1 l.7111)."""
    if checkpoint is None or (legacy and rebooted):
        return Recovery(info_line="Slave host rebooted" if checkpoint and rebooted else "")
    if checkpoint.info is None:
        return Recovery(slave_state=True)
    new = {**current, "id": checkpoint.agent_id}
    if legacy:
        same = env.get("MESOS_RECOVER", "reconnect") != "reconnect" or _equal(
            checkpoint.info, new)
        error = None if same else _incompatible(checkpoint.info, new, legacy=True)
    else:
        error = _compatible(checkpoint.info, new, env.get("MESOS_RECONFIGURATION_POLICY",
                                                          "equal"))
    if error is None:
        return Recovery(agent_id=checkpoint.agent_id, slave_state=True)
    if not legacy and rebooted:
        return Recovery(warning=f"Falling back to recover as a new agent due to error: {error}",
                        forget=True)
    return Recovery(failure=error)


def _equal(old: Mapping[str, object], new: Mapping[str, object]) -> bool:
    keys = ("hostname", "port", "resources", "attributes", "id", "checkpoint")
    return all(old.get(key) == new.get(key) for key in keys)


def _compatible(old: Mapping[str, object], new: Mapping[str, object], policy: str
                ) -> str | None:
    """1.7.1 src/slave/compatibility.cpp (the same file at 1.5.0 and 1.11.0): `equal`
    (l.35-51) and `additive` (l.54-195; the agent has no attributes or domain here)."""
    if policy == "equal":
        return None if _equal(old, new) else _incompatible(old, new, legacy=False)
    for field, says in (("hostname", "Hostname"), ("port", "Port")):
        if old.get(field) != new.get(field):
            return ("Configuration change not permitted under `additive` policy: "
                    f"{says} changed from {old.get(field)} to {new.get(field)}")
    before = _mapping(old.get("resources"))
    after = _mapping(new.get("resources"))
    for name, value in before.items():
        refused = _not_added(name, value, after.get(name))
        if refused is not None:
            return refused
    return None


def _not_added(name: str, before: object, after: object) -> str | None:
    """One resource under the `additive` policy: still there, and not smaller."""
    policy = "Configuration change not permitted under 'additive' policy"
    if after is None or isinstance(before, str) != isinstance(after, str):
        return f"{policy}. Resource not found: {name}:{_value(before)}"
    if isinstance(before, str):
        if not _ranges(before) <= _ranges(str(after)):
            return (f"{policy}: Previous value of range resource '{name}' ({before}) not "
                    f"included in current {after}")
        return None
    if float(str(before)) > float(str(after)):
        return (f"{policy}: Value of scalar resource '{name}' decreased from {_value(before)} "
                f"to {_value(after)}")
    return None


def _mapping(value: object) -> dict[str, object]:
    return dict(value) if isinstance(value, Mapping) else {}


def _ranges(text: str) -> set[int]:
    """`[31000-32000, 33000-33010]` as the numbers it covers."""
    covered: set[int] = set()
    for part in filter(None, (p.strip() for p in text.strip("[]").split(","))):
        begin, _, end = part.partition("-")
        covered.update(range(int(begin), int(end or begin) + 1))
    return covered


def _value(value: object) -> str:
    """A scalar as Mesos and protobuf print it (`2`, `1024`, `0.5`); ranges as they are."""
    if isinstance(value, str):
        return value
    number = float(str(value))
    return str(int(number)) if number.is_integer() else repr(number)


def _incompatible(old: Mapping[str, object], new: Mapping[str, object], *, legacy: bool
                  ) -> str:
    """The failure's text: 0.23.0 slave.cpp l.3908-3915; 1.7.1 compatibility.cpp l.43-51
    (note its trailing space, and the dashes joined after an extra newline)."""
    if legacy:
        return "\n".join(["Incompatible slave info detected.", DASHES,
                          "Old slave info:\n" + info_text(old, legacy=True), DASHES,
                          "New slave info:\n" + info_text(new, legacy=True), DASHES])
    return "\n".join(["Incompatible agent info detected. ", "\n" + DASHES,
                      "Old agent info:\n" + info_text(old, legacy=False), "\n" + DASHES,
                      "New agent info:\n" + info_text(new, legacy=False), "\n" + DASHES])


def info_text(info: Mapping[str, object], *, legacy: bool) -> str:
    """A SlaveInfo as `stringify` writes it: protobuf's DebugString (0.23.0 type_utils.hpp
    l.343-346, 1.7.1 type_utils.cpp l.801-804), its fields in field-number order (hostname 1,
    resources 3, attributes 5, id 6, checkpoint 7, port 8), each line ending in a newline.
    0.23.0's parsed resources carry `role: "*"`; 1.7.1's unreserved ones no role."""
    lines = [f'hostname: "{info.get("hostname", "")}"']
    for name, value in _mapping(info.get("resources")).items():
        lines += ["resources {", f'  name: "{name}"']
        if isinstance(value, str):
            lines += ["  type: RANGES", "  ranges {"]
            for part in filter(None, (p.strip() for p in value.strip("[]").split(","))):
                begin, _, end = part.partition("-")
                lines += ["    range {", f"      begin: {begin}", f"      end: {end or begin}",
                          "    }"]
            lines.append("  }")
        else:
            lines += ["  type: SCALAR", "  scalar {", f"    value: {_value(value)}", "  }"]
        if legacy:
            lines.append('  role: "*"')
        lines.append("}")
    if info.get("id"):
        lines += ["id {", f'  value: "{info["id"]}"', "}"]
    lines += ["checkpoint: true", f"port: {info.get('port', 5051)}"]
    return "\n".join(lines) + "\n"


def live_executors(runs: list[tuple[str, bool]]) -> list[str]:
    """Of an agent's checkpointed executor runs (each with whether its `executor.sentinel`
    is there, written when the executor ended: 1.7.1 slave.cpp l.6446-6454, 0.23.0 l.3477-3486),
    those that were running when the agent stopped: recovery waits for them to reconnect
    (1.7.1 `_recover` l.7292-7302, 0.23.0 l.3998-4008)."""
    return [run for run, ended in runs if not ended]


def api_version(text: str | None) -> str | None:
    """The Docker API version a client pins (`1.20`), checked."""
    if not text:
        return None
    major, dot, minor = text.partition(".")
    if not (major.isdigit() and dot and minor.isdigit()):
        raise ValueError(f"STANDIN_DOCKER_API must be like 1.20, not {text!r}")
    return text


def with_tag(image: str) -> str:
    """`docker pull` gets IMAGE:latest when the name has no tag (src/docker/docker.cpp
    `Docker::pull`, both tags)."""
    return image if ":" in image.rsplit("/", 1)[-1] else f"{image}:latest"


# --- /files/read: a slice of a sandbox file -----------------------------------------------

PAGES_PER_READ = 16  # "Cap the read length at 16 pages" (files.cpp: 0.23.0 l.331-332, 1.7.1
# l.698-699, 1.11.0 l.679-680, as `os::pagesize() * 16` at every 1.x tag)


@dataclass(frozen=True)
class FileRange:
    """What one read answers for a file of some size: `length` bytes read from `start` (none
    when 0), and the `offset` its answer names; or a refusal (`status`, `error`)."""

    start: int = 0
    length: int = 0
    offset: int = 0
    status: int = 200
    error: str = ""


class _Refused(Exception):
    """A read the agent refuses, with its answer."""

    def __init__(self, answer: FileRange) -> None:
        super().__init__(answer.error)
        self.answer = answer


def _number(text: str | None, name: str) -> int | None:
    """A query parameter as numify<off_t> reads it (boost::lexical_cast): None when absent."""
    if text is None:
        return None
    if re.fullmatch(r"[+-]?\d+", text) is None:
        raise _Refused(FileRange(status=400, error=f"Failed to parse {name}: Failed to "
                                                   f"convert '{text}' to number.\n"))
    return int(text)


def file_range(offset_text: str | None, length_text: str | None, size: int, *, path: str,
               legacy: bool, page_size: int) -> FileRange:
    """Which bytes `/files/read(.json)?offset=&length=` serves of the file at `path`, of
    `size` bytes.

    Both count offset and length in bytes of the file. 0.23.0 `FilesProcess::read`
    (src/files/files.cpp l.261-371): offset absent or -1 means the file's size, length absent
    or -1 the rest of the file, capped at 16 pages; an offset at or past the end answers the
    size. 1.7.1 `__read` and `_read` (l.521-732; the same at 1.11.0): offset -1 (or absent)
    answers the size and reads nothing, an offset below -1 or a length below -1 is a 400, an
    offset at or past the end (or length 0) answers that offset with no data."""
    try:
        offset, length = _number(offset_text, "offset"), _number(length_text, "length")
        if not legacy:
            for value, name in ((offset, "offset"), (length, "length")):
                if value is not None and value < -1:
                    raise _Refused(FileRange(status=400,
                                             error=f"Negative {name} provided: {value}.\n"))
    except _Refused as refused:
        return refused.answer
    cap = page_size * PAGES_PER_READ
    if legacy:
        return _legacy_range(-1 if offset is None else offset,
                             -1 if length is None else length, size, cap, path)
    if offset is None or offset == -1:
        return FileRange(offset=size)
    wanted = size - offset if length is None or length == -1 else length
    if offset >= size or wanted == 0:
        return FileRange(offset=offset)
    return FileRange(start=offset, length=min(wanted, cap), offset=offset)


def _legacy_range(offset: int, length: int, size: int, cap: int, path: str) -> FileRange:
    """0.23.0's order of steps; an offset below -1 fails at lseek (EINVAL: l.343-350)."""
    if offset == -1:
        offset = size
    if length == -1:
        length = size - offset
    length = min(length, cap)
    if offset >= size:
        return FileRange(offset=size)
    if offset < 0:
        return FileRange(status=500, error=f"Failed to seek file at '{path}': Invalid argument")
    return FileRange(start=offset, length=max(0, length), offset=offset)


def _escapes(legacy: bool) -> tuple[bytes, ...]:
    """How each byte is written inside a JSON string.

    0.23.0 stout `operator<<(std::ostream&, const JSON::String&)` (3rdparty/libprocess/
    3rdparty/stout/include/stout/json.hpp l.499-534): `"` `\\` `/` and \\b \\f \\n \\r \\t
    escaped; 0x20-0x7E otherwise as they are; every other byte, each byte of a multi-byte
    UTF-8 character included, as its own `\\u00XX` (upper-case hex): the data is ASCII.
    1.7.1-1.11.0 stout jsonify.hpp hands strings to rapidjson 1.1.0's Writer without UTF-8
    validation (`WriteString`, writer.h l.345-415): `"` `\\` and \\b \\t \\n \\f \\r
    escaped, other bytes below 0x20 as `\\u00XX`, every other byte as it is, even the part
    of a character cut by the read. (1.0-1.6 write the bytes as they are too, through
    picojson and stout's own writer.)"""
    short = {0x08: b"\\b", 0x09: b"\\t", 0x0A: b"\\n", 0x0C: b"\\f", 0x0D: b"\\r",
             0x22: b'\\"', 0x5C: b"\\\\"}
    if legacy:
        short[0x2F] = b"\\/"
    table = []
    for byte in range(256):
        plain = 0x20 <= byte < 0x7F if legacy else byte >= 0x20
        table.append(short.get(byte) or (bytes([byte]) if plain else b"\\u%04X" % byte))
    return tuple(table)


_ESCAPES = {True: _escapes(True), False: _escapes(False)}


def files_body(data: bytes, offset: int, *, legacy: bool) -> bytes:
    """The JSON answer `{"data": ..., "offset": ...}`: a JSON::Object is a std::map, so
    its keys come sorted (both generations); `data` written as `_escapes` says."""
    table = _ESCAPES[legacy]
    return b'{"data":"' + b"".join(table[b] for b in data) + b'","offset":%d}' % offset


def ends_inside_character(next_byte: bytes) -> bool:
    """Whether a read that stops before `next_byte` cuts a UTF-8 character: that byte is one
    of a character's continuation bytes (0b10xxxxxx)."""
    return len(next_byte) == 1 and 0x80 <= next_byte[0] <= 0xBF


# --- per task: which containerizer, which user ----------------------------------------------


@dataclass(frozen=True)
class Failure:
    """A task the agent ends itself: its state, reason and message, as its status update."""

    state: str
    reason: str
    message: str


def no_containerizer(task_is_docker: bool, env: Mapping[str, str], *, legacy: bool
                     ) -> Failure | None:
    """A task none of the agent's containerizers takes: a DOCKER ContainerInfo only the
    Docker containerizer launches, a task without one only the Mesos containerizer (both
    answer "not supported" otherwise: mesos/containerizer.cpp `launch`, docker.cpp `launch`).
    slave.cpp `executorLaunched` then only logs; `wait` on the unknown container ends the
    executor, and `sendExecutorTerminatedStatusUpdate` sends, for the command executor:
    0.23.0 (slave.cpp l.4512-4545): TASK_FAILED, REASON_COMMAND_EXECUTOR_FAILED, "Abnormal
    executor termination" (wait failed: "Unknown container"); 1.7.1 (slave.cpp l.8554-8630):
    TASK_FAILED, REASON_EXECUTOR_TERMINATED, "Abnormal executor termination: unknown
    container" (wait answered None: composing.cpp l.583-599)."""
    if ("docker" if task_is_docker else "mesos") in containerizers(env):
        return None
    if legacy:
        return Failure("TASK_FAILED", "REASON_COMMAND_EXECUTOR_FAILED",
                       "Abnormal executor termination")
    return Failure("TASK_FAILED", "REASON_EXECUTOR_TERMINATED",
                   "Abnormal executor termination: unknown container")


def not_launched_log(container: str, executor: str, framework: str, env: Mapping[str, str],
                     *, legacy: bool) -> str:
    """slave.cpp `executorLaunched`'s error line for such a task (0.23.0 l.3268, 1.7.1
    l.6229)."""
    quoted = f"'{framework}'" if legacy else framework
    return (f"Container '{container}' for executor '{executor}' of framework {quoted} failed "
            f"to start: None of the enabled containerizers "
            f"({env.get('MESOS_CONTAINERIZERS', 'mesos')}) could create a container for the "
            f"provided TaskInfo/ExecutorInfo message{'.' if legacy else ''}")


def task_user(task: Mapping[str, object], framework_user: str, env: Mapping[str, str]
              ) -> str | None:
    """Who runs a task: with --switch_user (default true), the task's CommandInfo user, else
    the framework's (src/slave/slave.cpp `Framework::addExecutor` 1.7.1 l.8969-8985,
    0.23.0 l.4695-4708)."""
    if env.get("MESOS_SWITCH_USER", "true").lower() in ("false", "0"):
        return None
    user = task.get("user")
    return str(user) if user else (framework_user or None)


def sandbox_failure(user: str | None, chown_error: str | None, sandbox: str, *,
                    legacy: bool, partition_aware: bool) -> Failure | None:
    """A sandbox that cannot be given to its user. 1.7.1 paths.cpp `createSandboxDirectory`
    fails the executor ("Failed to create executor directory 'D': Failed to chown directory
    to 'U': ERR"), and slave.cpp `run` drops its tasks (l.2559-2582, 2941-2950): TASK_DROPPED
    for a PARTITION_AWARE framework, else TASK_LOST, REASON_EXECUTOR_TERMINATED. 0.23.0
    paths.cpp `createExecutorDirectory` only logs a warning and goes on."""
    if user is None or chown_error is None or legacy:
        return None
    return Failure("TASK_DROPPED" if partition_aware else "TASK_LOST",
                   "REASON_EXECUTOR_TERMINATED",
                   f"Failed to create executor directory '{sandbox}': Failed to chown directory "
                   f"to '{user}': {chown_error}")


def su_failure(user: str, error: str) -> str:
    """0.23.0 src/slave/containerizer/mesos/launch.cpp l.204-212: the launch helper cannot
    become the task's user; it says so on the executor's stderr and exits 1, and the agent
    reports TASK_FAILED "Executor terminated" (containerizer.cpp l.1156-1158)."""
    return f"Failed to change user to '{user}': {error}"


def executor_ended(*, legacy: bool) -> Failure:
    """An executor that ended before it ran its task, as sendExecutorTerminatedStatusUpdate
    reports it from the container's termination, "Executor terminated": 0.23.0 with
    REASON_COMMAND_EXECUTOR_FAILED for the command executor (slave.cpp l.4534-4537), 1.7.1
    with REASON_EXECUTOR_TERMINATED (slave.cpp l.8585-8605)."""
    return Failure("TASK_FAILED", "REASON_COMMAND_EXECUTOR_FAILED" if legacy
                   else "REASON_EXECUTOR_TERMINATED", "Executor terminated")


# --- Docker tasks' containers -------------------------------------------------------------


def task_container(agent_id: str, container_id: str, *, legacy: bool) -> str:
    """A Docker task's container name: `mesos-<agentId>.<containerId>` from 0.23.0 to 1.3
    (0.23.0 src/slave/containerizer/docker.hpp l.258-262), `mesos-<containerId>` from 1.4.0
    (1.7.1 docker.hpp l.326-329, 1.11.0 l.332-335)."""
    return f"mesos-{agent_id}.{container_id}" if legacy else f"mesos-{container_id}"


def executor_container(task_name: str, image: str, *, sandbox: str, socket: str,
                       legacy: bool) -> tuple[str, dict[str, object]]:
    """With --docker_mesos_image the agent runs a Docker task's executor in a container of
    that image, named the task's container plus `.executor` (`executorName`: 0.23.0
    docker.hpp l.354-361, 1.7.1 l.394-401), which then runs the task's container; it mounts
    the Docker socket read-only and the sandbox read-write at the same paths, on the host's
    network, and 1.7.1 adds `--pid=host --cap-add=SYS_ADMIN --cap-add=SYS_PTRACE` (docker.cpp
    0.23.0 l.259-307, 1.7.1 l.327-404). No label marks it. Its name and `docker create` body;
    the stand-in's executor only waits to be stopped (there is no mesos-docker-executor)."""
    host: dict[str, object] = {"NetworkMode": "host",
                               "Binds": [f"{socket}:{socket}:ro", f"{sandbox}:{sandbox}:rw"]}
    if not legacy:
        host.update(PidMode="host", CapAdd=["SYS_ADMIN", "SYS_PTRACE"])
    return f"{task_name}.executor", {
        "Image": image, "Entrypoint": ["/bin/sh", "-c"],
        "Cmd": ["trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done"],
        "Labels": {}, "HostConfig": host}
