"""The stack.yaml model: its defaults, loading, and errors that name the line.

Nothing here touches Docker or the network; `host_ip: auto` stays "auto" in the model and is
resolved by the caller (see `mesostack.hostinfo.default_route_ip`).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, ClassVar, get_args, get_origin

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from mesostack import yamlfile
from mesostack.errors import InputError
from mesostack.roles import Role
from mesostack.yamlfile import UniqueKeyLoader

DEFAULT_FILE = "stack.yaml"
FILE_ENV = "MESOSTACK_FILE"

_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,47}$")
_ENV_NAME_RE = re.compile(r"^[^=\s]+$")
_RESOURCE_RE = re.compile(
    r"^[A-Za-z_][\w.-]*(\([^)]*\))?:(\d+(\.\d+)?|\[[0-9\s,-]+\]|\{[^{}]*\})$"
)


class Restart(StrEnum):
    """Docker's restart policies."""

    NO = "no"
    ALWAYS = "always"
    UNLESS_STOPPED = "unless-stopped"
    ON_FAILURE = "on-failure"


def _not_bool(value: object) -> object:
    # YAML reads `yes`/`true` as booleans, which pydantic would take as 1.
    if isinstance(value, bool):
        raise ValueError(f"expected a whole number, not {str(value).lower()}")
    return value


Port = Annotated[int, Field(ge=1, le=65535), BeforeValidator(_not_bool)]


class _Model(BaseModel):
    # Built when first validated, and only the model validated: a stack file's whole model
    # (its sections' models are built into it once, not each on its own as well).
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True,
                              defer_build=True)


# Default factories are plain functions: pydantic reads each factory's signature, and a
# builtin's (`dict`, `list`) costs a parse of its text signature. A section left out is
# validated as an empty one (as `zookeeper:` with nothing under it is), within the stack's
# model: its own model is never built on its own.
def _empty() -> Any:  # a mapping, validated into the section's model
    return {}


def _none() -> list[Any]:
    return []


_SYSTEM_DIRS = {
    "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/media", "/mnt", "/opt",
    "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/var/lib",
    "/var/run", "/var/log", "/var/lib/docker",
}


def is_system_dir(path: str) -> bool:
    """A directory `down --purge` must never delete."""
    return os.path.normpath(path) in _SYSTEM_DIRS


def _check_abs(value: str, what: str) -> str:
    if not PurePosixPath(value).is_absolute():
        raise ValueError(f"{what} must be an absolute path, got {value!r}")
    return value


def _check_volume(text: str) -> str:
    parse_volume(text)
    return text


class Component(_Model):
    """What every component takes; each subclass sets its defaults."""

    image: str
    env: dict[str, str] = Field(
        default_factory=_empty, description="Extra or overriding environment variables."
    )
    volumes: list[Annotated[str, AfterValidator(_check_volume)]] = Field(
        default_factory=_none,
        description="Extra mounts as `host:container[:ro|rw]`, both absolute paths.",
    )
    privileged: bool | None = False  # None (the agent's default): as its `tasks` need
    restart: Restart = Field(Restart.ALWAYS, description="Docker's restart policy.")
    port: Port
    data_dir: str | None = Field(
        None, description="Host path for persistent state (none by default, as in the tutorial)."
    )
    count: Annotated[int, Field(ge=1, le=9), BeforeValidator(_not_bool)] | None = Field(
        None, description="How many (spread over `hosts` in order); default 1."
    )
    on: list[str] | None = Field(
        None, description="Placement: the `hosts` (by name) that run one each."
    )
    family: str | None = Field(
        None, description="The image's family, when its name doesn't say (a mirrored or "
        "home-built image); `mesostack doctor` lists the families it knows."
    )

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        if not value.strip() or any(c.isspace() for c in value):
            raise ValueError(f"an image reference has no spaces and is not empty, got {value!r}")
        return value

    @field_validator("env", mode="before")
    @classmethod
    def _env(cls, value: Any) -> Any:
        """YAML reads `1`, `true` and `no` as numbers and booleans; Docker wants strings."""
        if not isinstance(value, Mapping):
            return value
        out: dict[Any, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str) or not _ENV_NAME_RE.match(key):
                raise ValueError(f"variable name {key!r} must be a word without '=' or spaces")
            if isinstance(item, bool):
                out[key] = "true" if item else "false"
            elif isinstance(item, int | float | str):
                out[key] = str(item)
            elif item is None:
                out[key] = ""
            else:
                raise ValueError(f"variable {key} must be a string, number or boolean")
        return out

    @field_validator("restart", mode="before")
    @classmethod
    def _restart(cls, value: Any) -> Any:
        # YAML 1.1 reads a bare `no` as false.
        return "no" if value is False else value

    @field_validator("data_dir")
    @classmethod
    def _data_dir(cls, value: str | None) -> str | None:
        if value is None:
            return None
        _check_abs(value, "data_dir")
        if is_system_dir(value):
            raise ValueError(f"{value} is a system directory; `down --purge` deletes a "
                             "data_dir, so give a directory of its own, e.g. /srv/mesostack/zk")
        return value


class ZooKeeper(Component):
    image: str = "zookeeper:3.9.3"
    port: Port = 2181


class Master(Component):
    image: str = "mesosphere/mesos-master:1.7.1"
    port: Port = 5050
    quorum: Annotated[int, Field(ge=1), BeforeValidator(_not_bool)] | None = Field(
        None, description="MESOS_QUORUM: how many masters must be up; default a majority "
        "(1 for a single master)."
    )


class AgentTasks(StrEnum):
    """What the agent is set up to run; `auto` chooses from its host's facts at `up`."""

    AUTO = "auto"
    DOCKER = "docker"  # Docker and command apps: the tutorial's privileged agent
    COMMAND = "command"  # command apps only: no cgroups, no Docker, unprivileged


TASKS_RULE = ("auto: `docker` where the host has cgroup v1, its engine allows --privileged and "
              "accepts the agent's Docker client; else `command`")


class Slave(Component):
    image: str = "mesosphere/mesos-slave:1.7.1"
    port: Port = 5051
    tasks: AgentTasks = Field(
        AgentTasks.AUTO, description="`docker`: Docker and command apps (the Docker "
        "containerizer, privileged, the host's cgroups and engine socket mounted: needs a "
        "cgroup v1 host); `command`: command apps only (the mesos containerizer with the posix "
        "launcher and isolation, unprivileged: runs on any host); " + TASKS_RULE + ".",
    )
    privileged: bool | None = Field(
        None, description="Run it privileged; default: as `tasks` needs (docker: true, "
        "command: false).",
    )
    resources: str | None = Field(
        None, description="MESOS_RESOURCES, e.g. `cpus:2;mem:2048` (default: the machine's)."
    )

    @field_validator("resources")
    @classmethod
    def _resources(cls, value: str | None) -> str | None:
        if value is None:
            return None
        for part in value.split(";"):
            if not _RESOURCE_RE.match(part.strip()):
                raise ValueError(
                    f"{part.strip()!r} is not a Mesos resource; write `name:value` pairs "
                    "joined by ';', e.g. `cpus:2;mem:2048;ports:[31000-32000]`"
                )
        return value


class Marathon(Component):
    image: str = "mesosphere/marathon:v1.11.24"
    port: Port = 8080

    @field_validator("data_dir")
    @classmethod
    def _no_data_dir(cls, value: str | None) -> str | None:
        if value is not None:
            raise ValueError(
                "Marathon keeps its state in ZooKeeper (MARATHON_ZK); "
                "set zookeeper.data_dir to keep it"
            )
        return value


class Host(_Model):
    """A machine (or, on one engine, an address) that runs some of the stack's containers."""

    name: str = Field(description="Used by `on:` placements and in container names' labels.")
    ip: str = Field(description="The IPv4 address its components bind and advertise.")
    docker: str | None = Field(
        None, description="Its Docker endpoint: unix:///path (default: this machine's), "
        "tcp://host:2376 (TLS from DOCKER_TLS_VERIFY/DOCKER_CERT_PATH) or ssh://user@host.",
    )

    docker_socket: str | None = Field(
        None, description="Where its engine's socket is on that host, for the agents to mount "
        "(the Engine API doesn't say): default the path of a unix:// `docker`, else "
        "/var/run/docker.sock.",
    )

    @field_validator("docker_socket")
    @classmethod
    def _socket(cls, value: str | None) -> str | None:
        return None if value is None else _check_abs(value, "docker_socket")

    @field_validator("name")
    @classmethod
    def _host_name(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError(f"{value!r}: use letters, digits, '_', '.', '-'")
        return value

    @field_validator("ip")
    @classmethod
    def _ip(cls, value: str) -> str:
        try:
            ipaddress.IPv4Address(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an IPv4 address") from None
        return value

    @field_validator("docker")
    @classmethod
    def _docker(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("unix://", "tcp://", "ssh://")):
            raise ValueError(f"{value!r}: a Docker endpoint is unix://, tcp:// or ssh://")
        return value


@dataclass(frozen=True)
class Placement:
    """Where one instance of a component runs."""

    host: str  # the host's name; "" for the implicit single host (host_ip)
    ip: str  # "" when host_ip is `auto` and not resolved yet
    docker: str | None
    index: int  # 1-based
    of: int  # how many instances of this component
    docker_socket: str | None = None  # the host's engine socket as the host sees it, if given


class StackConfig(_Model):
    """A whole stack; every section is optional and has its defaults."""

    ROLES: ClassVar[tuple[Role, ...]] = tuple(Role)

    name: str = Field("mesostack", description="Names and labels the stack's containers.")
    host_ip: str = Field(
        "auto",
        description="IPv4 address the stack binds and advertises; `auto`: the address of the "
        "interface holding the default route (127.0.0.1 when there is none).",
    )
    hosts: list[Host] = Field(
        default_factory=_none,
        description="Machines (or loopback addresses on one engine) for a multi-host or HA "
        "stack; each host's ip replaces host_ip.",
    )
    zookeeper: ZooKeeper = Field(default_factory=_empty)
    master: Master = Field(default_factory=_empty)
    slave: Slave = Field(default_factory=_empty, description="The Mesos agent; `agent` also works.")
    marathon: Marathon = Field(default_factory=_empty)

    @model_validator(mode="before")
    @classmethod
    def _agent_alias(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "agent" in data:
            if "slave" in data:
                raise ValueError("give either `slave` or `agent` (the same section), not both")
            data = {("slave" if k == "agent" else k): v for k, v in data.items()}
        return data

    @field_validator("zookeeper", "master", "slave", "marathon", mode="before")
    @classmethod
    def _empty_section(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError(
                f"{value!r} can't name containers: use letters, digits, '_', '.', '-' "
                "(starting with a letter or digit, at most 48 characters)"
            )
        if value == "mesos" or value.startswith("mesos-"):
            raise ValueError(
                f"{value!r} would give container names starting with 'mesos-', which Mesos "
                "agents remove as orphans; choose another name"
            )
        return value

    @field_validator("host_ip")
    @classmethod
    def _host_ip(cls, value: str) -> str:
        if value == "auto":
            return value
        try:
            ipaddress.IPv4Address(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an IPv4 address (or `auto`)") from None
        return value

    @model_validator(mode="after")
    def _ports(self) -> StackConfig:
        if self.hosts:
            return self  # on several addresses: `_addresses` checks address and port together
        seen: dict[int, str] = {}
        for role in self.ROLES:
            port = self.component(role).port
            if port in seen:
                first, second = seen[port], role
                if "port" not in getattr(self, second).model_fields_set:
                    first, second = second, first  # name the one the file sets
                raise ValueError(
                    f"{second}.port: {port} is also {first}.port; with host networking "
                    "each component needs a port of its own"
                )
            seen[port] = role
        return self

    @model_validator(mode="after")
    def _hosts(self) -> StackConfig:
        names = _check_host_list(self.hosts)
        if self.hosts and "host_ip" in self.model_fields_set and self.host_ip != "auto":
            raise ValueError("host_ip: with `hosts:`, each host's ip is used; drop host_ip")
        for role in self.ROLES:
            _check_placement(role, self.component(role), names)
        zookeepers = len(self.placements("zookeeper"))
        if zookeepers % 2 == 0:
            raise ValueError(f"zookeeper.count: an ensemble of {zookeepers} tolerates no more "
                             "failures than one of " + str(zookeepers - 1) + "; use 1, 3 or 5")
        return self

    @model_validator(mode="after")
    def _quorum(self) -> StackConfig:
        masters = len(self.placements("master"))
        quorum = self.quorum
        if self.master.quorum is None:  # the default, written out: a majority of the masters
            object.__setattr__(self, "master", self.master.model_copy(update={"quorum": quorum}))
        if not masters / 2 < quorum <= masters:
            raise ValueError(
                f"master.quorum: {quorum} doesn't fit {masters} master(s): a quorum is more than "
                f"half the masters and at most all of them ({masters // 2 + 1}..{masters})"
            )
        return self

    @model_validator(mode="after")
    def _addresses(self) -> StackConfig:
        """Two containers can't bind the same address and port (host networking)."""
        seen: dict[tuple[str, int], str] = {}
        for role in self.ROLES:
            port = self.component(role).port
            for place in self.placements(role):
                key = (place.host or "host_ip", port)
                where = f"{role}.count" if self.component(role).count else f"{role}.port"
                if self.component(role).on:
                    where = f"{role}.on"
                if key in seen:
                    address = f"{place.ip or 'host_ip'}:{port}"
                    other_role = not seen[key].startswith(role)
                    if other_role and "port" in self.component(role).model_fields_set:
                        where = f"{role}.port"
                    raise ValueError(
                        f"{where}: {address} would be used twice ({seen[key]} and "
                        f"{role}{f' {place.index}' if place.of > 1 else ''}); "
                        "with host networking each needs an address and port of its own"
                        + ("" if self.hosts else ": list `hosts:` with one address each")
                    )
                seen[key] = f"{role} {place.index}" if place.of > 1 else role
        return self

    @model_validator(mode="after")
    def _families(self) -> StackConfig:
        from mesostack.families import names

        for role in self.ROLES:
            chosen = self.component(role).family
            if chosen is not None and chosen not in names(role):
                raise ValueError(f"{role}.family: no family {chosen!r} for {role}; choose one "
                                 f"of {', '.join(names(role))}")
        return self

    @property
    def quorum(self) -> int:
        masters = len(self.placements("master"))
        return self.master.quorum if self.master.quorum is not None else masters // 2 + 1

    def placements(self, role: str) -> list[Placement]:
        """Where each instance of `role` runs, in order."""
        component = self.component(role)
        if not self.hosts:
            count = component.count or 1
            ip = "" if self.host_ip == "auto" else self.host_ip
            return [Placement("", ip, None, i + 1, count) for i in range(count)]
        by_name = {h.name: h for h in self.hosts}
        if component.on:
            chosen = [by_name[n] for n in component.on if n in by_name]
        else:
            count = component.count or 1
            chosen = [self.hosts[i % len(self.hosts)] for i in range(count)]
        return [Placement(h.name, h.ip, h.docker, i + 1, len(chosen), h.docker_socket)
                for i, h in enumerate(chosen)]

    def warnings(self) -> list[str]:
        masters = len(self.placements("master"))
        notes = []
        if masters > 1 and masters % 2 == 0:
            notes.append(f"master: {masters} masters tolerate no more failures than "
                         f"{masters - 1}; an odd number is usual")
        if masters > 1 and len(self.placements("zookeeper")) == 1:
            notes.append("zookeeper: one server for several masters: ZooKeeper is then the "
                         "single point of failure; use 3")
        return notes

    def component(self, role: str) -> Component:
        value = getattr(self, role)
        assert isinstance(value, Component)
        return value


def _check_host_list(hosts: Sequence[Host]) -> dict[str, int]:
    """Host names and addresses are each used once; the names, with their index."""
    names: dict[str, int] = {}
    ips: dict[str, str] = {}
    for i, host in enumerate(hosts):
        if host.name in names:
            raise ValueError(f"hosts.{i}.name: {host.name!r} is also hosts.{names[host.name]}")
        if host.ip in ips:
            raise ValueError(f"hosts.{i}.ip: {host.ip} is also host {ips[host.ip]!r}'s")
        names[host.name], ips[host.ip] = i, host.name
    return names


def _check_placement(role: str, component: Component, names: Mapping[str, int]) -> None:
    """`count` or `on`, and `on` naming known hosts."""
    if component.count is not None and component.on is not None:
        raise ValueError(f"{role}.on: give either `count` or `on`, not both")
    for name in component.on or []:
        if name not in names:
            known = ", ".join(names) or "none: add a `hosts:` list"
            raise ValueError(f"{role}.on: unknown host {name!r} (hosts: {known})")
    if component.on is not None and not component.on:
        raise ValueError(f"{role}.on: name at least one host")


@dataclass(frozen=True)
class Volume:
    source: str
    target: str
    read_only: bool = False

    def __str__(self) -> str:
        return f"{self.source}:{self.target}" + (":ro" if self.read_only else "")


def parse_volume(text: str) -> Volume:
    parts = text.split(":")
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] not in ("ro", "rw")):
        raise ValueError(f"{text!r} is not `host:container[:ro|rw]`")
    _check_abs(parts[0], "a volume's host path")
    _check_abs(parts[1], "a volume's container path")
    return Volume(parts[0], parts[1], len(parts) == 3 and parts[2] == "ro")


# --- loading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedConfig:
    config: StackConfig
    source: Path | None  # None: no file (the built-in default, a mapping, a preset, labels)
    text: str = ""  # the file as read
    origin: str = "the built-in default stack"  # what the stack is when it has no file
    from_labels: bool = False  # what a running stack's labels describe (no file to fix)

    def what(self) -> str:
        """The stack file's path, or what the stack is without one."""
        return str(self.source) if self.source is not None else self.origin

    def where(self, path: Sequence[str]) -> str:
        """`file:line` of the key at `path` (as far as the file has it), or what the stack is
        when it has no file."""
        if self.source is None:
            return self.origin
        line = _line_of(self._root, path)
        return f"{self.source}:{line}" if line else str(self.source)

    @cached_property
    def _root(self) -> yaml.Node | None:
        """The file's node tree, composed once (only a refusal asks for it)."""
        try:
            return yamlfile.load(self.text, _StackLoader)[1]
        except yaml.YAMLError:
            return None


def find_file(explicit: str | None) -> Path | None:
    """`-f PATH` or $MESOSTACK_FILE, else ./stack.yaml when present, else the built-in default."""
    chosen = explicit or os.environ.get(FILE_ENV) or None
    if chosen is not None:
        path = Path(chosen)
        if not path.is_file():
            raise InputError(
                f"{path}: no such file", hint="check -f/--file or $MESOSTACK_FILE"
            )
        return path
    default = Path(DEFAULT_FILE)
    return default if default.is_file() else None


def load(explicit: str | None = None) -> LoadedConfig:
    path = find_file(explicit)
    if path is None:
        return LoadedConfig(StackConfig(), None)
    return read(path)


def read(path: Path) -> LoadedConfig:
    """One stack file, read, parsed and validated."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: can't read: {exc}") from None
    return LoadedConfig(parse(text, source=str(path)), path, text)


class _StackLoader(UniqueKeyLoader):
    BOOL_KEYS_ARE_NAMES = True  # `on: [n1, n2]` is a placement, not `true: [...]`


def parse(text: str, *, source: str = "stack.yaml") -> StackConfig:
    """Parse and validate; every failure is one InputError naming file, line and field."""
    try:
        data, node = yamlfile.load(text, _StackLoader)
    except yaml.YAMLError as exc:
        raise yamlfile.error(exc, text, source=source, loader_class=_StackLoader) from None
    return validate(data, source=source, node=node)


def validate(data: object, *, source: str, node: yaml.Node | None = None) -> StackConfig:
    """Validate a stack file's data (or a mapping held in memory, `node` None: its messages
    then name `source` without a line), with the file's checks and one-line errors."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        where = f"{source}:1" if node is not None else source
        raise InputError(
            f"{where}: the top level must be a mapping of sections "
            f"(name, host_ip, zookeeper, master, slave, marathon), got {type(data).__name__}"
        )
    try:
        return StackConfig.model_validate(dict(data))
    except ValidationError as exc:
        raise InputError(_describe(exc, node, source)) from None


def _describe(exc: ValidationError, root: yaml.Node | None, source: str) -> str:
    """The first error, as `file:line: path: what is wrong` (plus how many more)."""
    errors = exc.errors()
    first = errors[0]
    loc = [str(p) for p in first["loc"]]
    msg = first["msg"].removeprefix("Value error, ")
    named = re.match(r"^([a-z_]+(?:\.[a-z_0-9]+)*): ", msg)
    if not loc and named:  # a whole-model check names its field at the start of its message
        loc = named.group(1).split(".")
        msg = msg[named.end() :]
    if loc and loc[0] == "agent":
        loc[0] = "slave"
    path = ".".join(p if p.isprintable() else repr(p) for p in loc)
    line = _line_of(root, loc)
    where = f"{source}:{line}" if line else source
    kind = first["type"]
    if kind == "extra_forbidden":
        import difflib  # only a refusal needs it

        message = f"unknown key `{path}`"
        close = difflib.get_close_matches(loc[-1], _keys_at(loc[:-1]), n=1)
        if close:
            message += f"; did you mean `{'.'.join([*loc[:-1], close[0]])}`?"
        else:
            message += f"; valid keys here: {', '.join(_keys_at(loc[:-1]))}"
    else:
        if kind == "enum":
            msg = f"expected one of {', '.join(r.value for r in Restart)}"
        elif kind == "model_type":  # not "... or instance of Master": a Python class name
            msg = "Input should be a valid dictionary (a mapping of keys)"
        message = f"{path}: {msg}" if path else msg
    more = len(errors) - 1
    if more:
        message += f" (and {more} more error{'s' if more > 1 else ''})"
    return f"{where}: {message}"


def _keys_at(loc: Sequence[str]) -> list[str]:
    model: type[BaseModel] = StackConfig
    for part in loc:
        if part.isdigit():  # an item of a list of models, e.g. `hosts.0`
            continue
        field = model.model_fields.get(part)
        annotation = field.annotation if field else None
        if get_origin(annotation) is list:
            annotation = get_args(annotation)[0]
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    keys = list(model.model_fields)
    return [*keys, "agent"] if model is StackConfig else keys


def _line_of(root: yaml.Node | None, loc: Sequence[str]) -> int | None:
    """The 1-based line of the deepest node the error's path reaches (a key's own line)."""
    if root is None:
        return None
    steps = yamlfile.find(root, loc, aliases={"slave": "agent"})
    if not steps:
        return root.start_mark.line + 1
    last = steps[-1]
    return (last.value if last.key is None else last.key).start_mark.line + 1


# --- output ------------------------------------------------------------------------------------


SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "CREDENTIAL")
MASK = "***"


def is_secret(name: str) -> bool:
    """Variables whose values are never shown unless asked (MARATHON_HTTP_CREDENTIALS, ...)."""
    return any(word in name.upper() for word in SECRET_WORDS)


def to_yaml(config: StackConfig, *, show_secrets: bool = False) -> str:
    """The effective stack.yaml: every key, defaults filled in (secret-looking values masked)."""
    data = config.model_dump(mode="json")
    if not show_secrets:
        for role in config.ROLES:
            env = data[role]["env"]
            for key in env:
                if is_secret(key):
                    env[key] = MASK
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
    return _said_beside(text, {"  tasks: auto": TASKS_RULE,
                               "  privileged: null": "as `tasks` needs: docker true, command "
                                                     "false"})


def _said_beside(text: str, comments: Mapping[str, str]) -> str:
    """`text` with a comment after each line that is one of `comments`' keys."""
    return "".join(f"{line}  # {comments[line]}\n" if line in comments else line + "\n"
                   for line in text.splitlines())


def json_schema() -> dict[str, Any]:
    schema = StackConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "mesostack stack.yaml"
    props = schema["properties"]
    # Accept what the loader accepts: an empty section, YAML's `restart: no` (a boolean) and
    # numbers or booleans as variable values.
    for section in StackConfig.ROLES:
        props[section] = {"anyOf": [props[section], {"type": "null"}],
                          "description": props[section].get("description", "")}
    for definition in schema["$defs"].values():
        fields = definition.get("properties", {})
        if "env" in fields:
            fields["env"]["additionalProperties"] = {
                "type": ["string", "number", "boolean", "null"]}
        if "restart" in fields:
            fields["restart"] = {"anyOf": [fields["restart"], {"const": False}],
                                 "description": fields["restart"].get("description", "")}
    props["agent"] = {**props["slave"], "description": "Another name for `slave`."}
    return schema
