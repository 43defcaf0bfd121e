"""What the commands share: the stack file option's result, the plan, the engine."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from mesostack.roles import Role

if TYPE_CHECKING:
    from mesostack.config import LoadedConfig, StackConfig
    from mesostack.plan import Plan
    from mesostack.runtime import ContainerInfo, Engines


class Options:
    """Global options, shared through click's context object (a plain class: `dataclasses`
    would import `inspect`, a tenth of `mesostack --help`'s start-up)."""

    def __init__(self, file: str | None = None, host_ip: str | None = None,
                 command: str | None = None) -> None:
        self.file = file
        self.host_ip = host_ip  # --host-ip: over the file's host_ip
        self.command = command  # the subcommand run: one acting on a running stack may look
        self._loaded: LoadedConfig | None = None
        self._planned: tuple[Plan, str] | None = None
        self.master: str | None = None  # the Mesos master a Marathon command found, once
        self._running: list[ContainerInfo] | None = None  # the stack's containers, looked at once
        self._from_labels = False  # the stack was found running and its labels describe it

    def load(self) -> LoadedConfig:
        """The stack file, loaded once; its warnings (e.g. an even number of masters) are
        printed then. A command acting on a running stack, given no file (-f, $MESOSTACK_FILE),
        uses the one stack the engine runs when the implicit file's doesn't (`discovery`)."""
        if self._loaded is None:
            from mesostack import console
            from mesostack.config import FILE_ENV, load
            from mesostack.discovery import NEEDS_RUNNING

            self._loaded = load(self.file)
            if self.command in NEEDS_RUNNING and not (self.file or os.environ.get(FILE_ENV)):
                self._loaded = self._found_instead(self._loaded)
            for warning in self._loaded.config.warnings():
                console.warn(warning)
        return self._loaded

    def _found_instead(self, implicit: LoadedConfig) -> LoadedConfig:
        """The running stack to use in the implicit file's stead, said in one line; the
        implicit file's when there is none (`discovery.find`)."""
        from mesostack import console, discovery

        found = discovery.find(implicit, timeout=LOOK_TIMEOUT)
        if found is None:
            return implicit
        console.note(found.said)
        self._from_labels = found.from_labels
        return found.loaded

    def stack_name(self) -> str:
        return self.load().config.name

    def endpoints(self, role: Role) -> list[str]:
        """Where the running stack's components of `role` listen, from their containers'
        `io.mesostack.endpoint` labels (what `up` bound them to, whatever the file or
        --host-ip says now); the plan's when none runs or no engine answers."""
        from mesostack.errors import MesostackError
        from mesostack.plan import LABEL_ENDPOINT, LABEL_INDEX

        plan, _ = self.plan()
        if self._running is None:  # one look, however many endpoints a command asks for
            try:
                self._running = engines(self, timeout=LOOK_TIMEOUT).containers(
                    stack=plan.stack, inspect=False)
            except MesostackError:
                self._running = []
        found = sorted((c for c in self._running if c.role == role.value and c.running),
                       key=lambda c: int(c.labels.get(LABEL_INDEX, "0") or 0))
        return ([e for c in found if (e := c.labels.get(LABEL_ENDPOINT, ""))]
                or [spec.endpoint for spec in plan.of(role)])

    def plan(self, *, strict: bool = False, look: bool = True) -> tuple[Plan, str]:
        """The plan and a line saying where host_ip and the stack came from. A setting its
        images can't honour fails a `strict` command (one that would act on it: up, doctor,
        config); the others (down, status, logs...) only warn, so that a stack can always be
        looked at and taken down. `look` False: the file's plan even for a command that would
        look for a running stack (deploy --dry-run asks no engine)."""
        if not look and self._loaded is None:
            self.command = None
        if self._planned is None:
            self._planned = self._build()
            if not self._from_labels:  # no file to fix: what runs is looked at, not changed
                _judge(self.load(), self._planned[0], strict=strict)
        elif strict:
            _judge(self.load(), self._planned[0], strict=True)
        return self._planned

    def _build(self) -> tuple[Plan, str]:
        from mesostack.plan import Origin, build

        loaded = self.load()
        config = loaded.config
        source = str(loaded.source) if loaded.source else "the built-in default stack"
        if self._from_labels:
            source = "its running containers' labels"
        host_ip, how = self._host_ip(config)
        where = f"stack {config.name} from {source}; host_ip {host_ip} ({how})"
        if config.hosts:
            where = f"stack {config.name} from {source}; hosts " + ", ".join(
                f"{h.name} {h.ip}" + (f" ({h.docker})" if h.docker else "") for h in config.hosts)
        origin = Origin(file=os.path.abspath(loaded.source) if loaded.source else "")
        return build(config, host_ip, docker_host=os.environ.get("DOCKER_HOST"),
                     origin=origin), where

    def _host_ip(self, config: StackConfig) -> tuple[str, str]:
        """The stack's address (`auto` resolved), and where it came from."""
        from mesostack import hostinfo

        chosen = config.host_ip
        how = "from its labels" if self._from_labels else "from the stack file"
        if self.host_ip is not None:
            chosen, how = _given_host_ip(self.host_ip, config), "from --host-ip"
        if chosen == "auto":
            return hostinfo.default_route_ip(), "auto: the default route's interface"
        return chosen, how


def _given_host_ip(value: str, config: StackConfig) -> str:
    """--host-ip (or $MESOSTACK_HOST_IP), checked as the file's `host_ip` is."""
    import ipaddress

    from mesostack.errors import InputError

    if config.hosts:
        raise InputError(f"--host-ip {value}: the stack lists `hosts:`, whose own ips are used",
                         hint="drop --host-ip (and $MESOSTACK_HOST_IP), or change hosts[].ip")
    if value != "auto":
        try:
            ipaddress.IPv4Address(value)
        except ValueError:
            raise InputError(f"--host-ip {value!r}: not an IPv4 address or `auto`",
                             hint="e.g. --host-ip 192.168.1.10, or $MESOSTACK_HOST_IP") from None
    return value


def _judge(loaded: LoadedConfig, plan: Plan, *, strict: bool) -> None:
    from mesostack import console
    from mesostack.errors import InputError
    from mesostack.families import refusals

    for refusal in refusals(plan):
        message = f"{loaded.where(refusal.path)}: {'.'.join(refusal.path)}: {refusal.why}"
        if strict:
            raise InputError(message)
        console.warn(message)


def tasks_said(plan: Plan) -> str:
    """What each agent's tasks are, and why when `auto` chose them: `; agent mesostack-slave:
    command tasks (auto: ...)`."""
    from mesostack.plan import tasks_of

    parts = [f"{spec.name}: {tasks_of(dict(spec.labels))}" for spec in plan.of(Role.SLAVE)]
    return "; agent " + ", ".join(parts) if parts else ""


LOOK_TIMEOUT = 5.0  # seconds: an engine asked only where the stack runs, not to act on it


def engines(options: Options, *, also_default: bool = False,
            timeout: float = 60) -> Engines:
    """The engines of the stack's hosts (the usual one for a stack without `hosts:`)."""
    from mesostack.runtime import Engines

    plan, _ = options.plan()
    endpoints = plan.docker_endpoints
    return Engines.connect([None, *endpoints] if also_default else endpoints, timeout=timeout)
