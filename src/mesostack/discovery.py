"""The stack a command uses when no stack file was named and that file's stack doesn't run: the
one stack the engine runs, found by its containers' labels.

Deciding is pure (`stacks`, `choose`, `described`): plain labels in, a stack out. Looking is one
listing per engine, through the runtime's `Engines`, with a short timeout (`find`). The chosen
stack is read from the stack file its containers recorded (LABEL_FILE) while that file exists
and still names it: the commands then act as with `-f FILE`, which is what the note tells the
user to type. Otherwise (the file moved, deleted, renamed the stack, lives on another machine,
or an earlier release started the stack) from the labels alone: what these commands need (the
name, each component's endpoint, host, data_dir and image, the hosts' engines) is in them, and
Marathon's credentials are read from its running container, never from a label.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mesostack.credentials import SERVER_VAR
from mesostack.errors import InputError, MesostackError
from mesostack.plan import (
    LABEL_DATA_DIR,
    LABEL_ENDPOINT,
    LABEL_ENGINES,
    LABEL_FILE,
    LABEL_HOST,
    LABEL_INDEX,
    LABEL_TASKS,
)
from mesostack.roles import Role, order_of

if TYPE_CHECKING:
    from mesostack.config import LoadedConfig, StackConfig
    from mesostack.runtime import ContainerInfo, Engines

# The commands that act on a running stack, and so may use the one found in place of the
# implicit file's (`up`, `config`, `doctor`, `init`, `ls` and `deploy --dry-run` don't).
NEEDS_RUNNING = frozenset({"deploy", "apps", "scale", "remove", "rollback", "task-logs",
                           "status", "logs", "bundle", "down"})
PICK = "-f picks another"


@dataclass(frozen=True)
class Running:
    """A stack the engines hold: its name and its containers, as their labels tell them."""

    name: str
    containers: tuple[ContainerInfo, ...]

    @property
    def running(self) -> bool:
        return any(c.running for c in self.containers)

    @property
    def file(self) -> str:
        """The stack file `up` recorded ("" when none did: the built-in default, or an earlier
        release); the first container's, in start order, when they differ."""
        return next((f for c in _ordered(self.containers) if (f := c.labels.get(LABEL_FILE))), "")

    @property
    def engines(self) -> dict[str, str]:
        """Each host's own Docker endpoint (hosts without one use the usual engine)."""
        text = next((e for c in self.containers if (e := c.labels.get(LABEL_ENGINES))), "")
        pairs = (item.partition("=") for item in text.split(",") if item)
        return {host: endpoint for host, eq, endpoint in pairs if eq and endpoint}

    def shown(self) -> str:
        return f"{self.name} ({self.file or 'no stack file recorded'})"


def _index(container: ContainerInfo) -> int:
    index = container.labels.get(LABEL_INDEX, "")
    return int(index) if index.isdigit() else 0


def _ordered(containers: Iterable[ContainerInfo]) -> list[ContainerInfo]:
    return sorted(containers, key=lambda c: (order_of(c.role), _index(c), c.name))


def stacks(containers: Iterable[ContainerInfo]) -> list[Running]:
    """The stacks these containers belong to (by their stack label), by name."""
    by_name: dict[str, list[ContainerInfo]] = {}
    for c in containers:
        if c.stack:
            by_name.setdefault(c.stack, []).append(c)
    return [Running(name, tuple(found)) for name, found in sorted(by_name.items())]


def files(containers: Iterable[ContainerInfo]) -> dict[str, str]:
    """Each stack's recorded stack file ("" when none was), for `ls`."""
    return {stack.name: stack.file for stack in stacks(containers)}


def choose(implicit: str, found: Sequence[Running], *, what: str) -> Running | None:
    """The stack to use in place of the implicit file's stack `implicit` (`what` names that
    file): None when that stack has containers (running or not) or no other stack runs; the
    one other that runs; an InputError naming them all when several do."""
    if any(stack.name == implicit for stack in found):
        return None
    others = [stack for stack in found if stack.running]
    if len(others) <= 1:
        return others[0] if others else None
    raise InputError(
        f"{what}'s stack {implicit} is not running, and the engine runs {len(others)} stacks: "
        + ", ".join(stack.shown() for stack in others),
        hint="pick one with -f FILE (or $MESOSTACK_FILE)")


def engines_of(config: StackConfig) -> list[str | None]:
    """Where to look: the usual engine and the engines of the implicit file's hosts."""
    endpoints = (p.docker for role in Role for p in config.placements(role))
    return list(dict.fromkeys([None, *endpoints]))


# --- the stack its labels describe -------------------------------------------------------------


def described(stack: Running, *, marathon_env: Mapping[str, str] | None = None
              ) -> dict[str, Any]:
    """A stack file (as a mapping) of what `stack`'s labels say: its name, its address or
    hosts (with their engines), and each component's image, port, placement, data_dir and an
    agent's tasks. `marathon_env` is what the running Marathon was given (its credentials)."""
    known = [c for c in _ordered(stack.containers)
             if c.role in {r.value for r in Role} and ":" in c.labels.get(LABEL_ENDPOINT, "")]
    mapping: dict[str, Any] = {"name": stack.name}
    hosts: dict[str, dict[str, str]] = {}
    for c in known:
        host = c.labels.get(LABEL_HOST, "")
        if host and host not in hosts:
            docker = stack.engines.get(host)
            hosts[host] = {"name": host, "ip": _address(c)[0], **({"docker": docker}
                                                                   if docker else {})}
    if hosts:
        mapping["hosts"] = list(hosts.values())
    elif known:
        mapping["host_ip"] = _address(known[0])[0]
    for role in Role:
        mine = [c for c in known if c.role == role.value]
        if mine:
            mapping[role.value] = _component(role, mine, placed=bool(hosts))
    if marathon_env:
        mapping.setdefault(Role.MARATHON.value, {})["env"] = dict(marathon_env)
    return mapping


def _address(container: ContainerInfo) -> tuple[str, str]:
    ip, _, port = container.labels.get(LABEL_ENDPOINT, "").rpartition(":")
    return ip, port


def _component(role: Role, containers: Sequence[ContainerInfo], *, placed: bool
               ) -> dict[str, Any]:
    first = containers[0]
    port = _address(first)[1]
    section: dict[str, Any] = {"image": first.image, **({"port": int(port)}
                                                         if port.isdigit() else {})}
    if placed:
        section["on"] = [c.labels.get(LABEL_HOST, "") for c in containers]
    elif len(containers) > 1:
        section["count"] = len(containers)
    if first.labels.get(LABEL_DATA_DIR):
        section["data_dir"] = first.labels[LABEL_DATA_DIR]
    if role is Role.SLAVE and first.labels.get(LABEL_TASKS) in ("docker", "command"):
        section["tasks"] = first.labels[LABEL_TASKS]
    return section


def config_of(stack: Running, *, marathon_env: Mapping[str, str] | None = None
              ) -> StackConfig:
    """The stack `described` gives, checked as a stack file is."""
    from pydantic import ValidationError

    from mesostack.config import StackConfig

    try:
        return StackConfig.model_validate(described(stack, marathon_env=marathon_env))
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise InputError(f"stack {stack.name}: its containers' labels don't make a stack: "
                         f"{where + ': ' if where else ''}{error['msg']}",
                         hint=f"name its stack file with -f FILE ({stack.shown()})") from None


# --- looking -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """The stack found running in the implicit file's stead, and the line that says so."""

    loaded: LoadedConfig
    said: str
    from_labels: bool = False  # no stack file: `loaded` is what its labels describe


def find(implicit: LoadedConfig, *, timeout: float) -> Found | None:
    """The stack to use when the implicit file's stack (`implicit`) doesn't run and one other
    does; None to go on with the implicit file: its stack has containers, no other stack
    runs, or an engine doesn't answer within `timeout` (nothing can be said then)."""
    from mesostack.config import LoadedConfig
    from mesostack.runtime import Engines

    asked = engines_of(implicit.config)
    try:
        docker = Engines.connect(asked, timeout=timeout)
        listed = docker.containers(inspect=False)
    except MesostackError:
        return None
    what = str(implicit.source) if implicit.source else "the built-in default"
    stack = choose(implicit.config.name, stacks(listed), what=what)
    if stack is None:
        return None
    loaded, why = recorded(stack)
    if loaded is not None:
        return Found(loaded, f"mesostack: using the running stack {stack.shown()}; {PICK}")
    stack, docker = _everywhere(stack, docker, asked=asked, timeout=timeout)
    config = config_of(stack, marathon_env=_marathon_env(stack, docker))
    origin = f"the running stack {stack.name} (from its containers' labels)"
    return Found(LoadedConfig(config, None, origin=origin, from_labels=True),
                 f"mesostack: using the running stack {stack.name} (from its containers' "
                 f"labels: {why}); {PICK}", from_labels=True)


def recorded(stack: Running) -> tuple[LoadedConfig | None, str]:
    """The stack file `stack` recorded, loaded, when it still names that stack; else None and
    why not."""
    from mesostack.config import load

    if not stack.file:
        return None, "no stack file recorded"
    if not Path(stack.file).is_file():
        return None, f"{stack.file} is gone"
    try:
        loaded = load(stack.file)
    except MesostackError:
        return None, f"{stack.file} no longer loads"
    if loaded.config.name != stack.name:
        return None, f"{stack.file} now names stack {loaded.config.name}"
    return loaded, ""


def _everywhere(stack: Running, docker: Engines, *, asked: Collection[str | None],
                timeout: float) -> tuple[Running, Engines]:
    """`stack` with its containers on its hosts' other engines too (LABEL_ENGINES), and all
    those engines; one of them out of reach fails as the command would."""
    from mesostack.runtime import Engines

    more = [e for e in dict.fromkeys(stack.engines.values()) if e not in asked]
    if not more:
        return stack, docker
    reached = Engines.connect(more, timeout=timeout)
    every = Engines({**{e: docker[e] for e in asked}, **{e: reached[e] for e in more}})
    return Running(stack.name, tuple(every.containers(stack=stack.name, inspect=False))), every


def _marathon_env(stack: Running, docker: Engines) -> dict[str, str]:
    """The credentials the stack's Marathon was given, from its inspect data (the listing
    carries no environment); {} when it has none."""
    for c in stack.containers:
        if c.role == Role.MARATHON.value:
            info = docker.engine_of(c).get(c.id)
            if info is not None and info.env.get(SERVER_VAR):
                return {SERVER_VAR: info.env[SERVER_VAR]}
    return {}
